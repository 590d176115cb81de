//! Plain text: the label is the LAST line of the file, the payload JSON `{"AIGC":{...}}` on a
//! line of its own (chosen over a leading line so the text still starts with its content, and
//! so appending is cheap). A label on the FIRST line is read too.
//!
//! The digest is SHA-256 of the text without its label line and without one final line break
//! (writing adds a line break before the label when the text lacks one).

use hegui_types::AigcLabel;
use sha2::{Digest, Sha256};

use crate::{payload, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "text";

/// The plain-text handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Text;

fn as_str(bytes: &[u8]) -> Result<&str, LabelError> {
    crate::bytes::utf8(F, bytes)
}

fn label_line(line: &str) -> Option<AigcLabel> {
    let l = line.trim_end_matches('\r');
    if !l.starts_with("{\"AIGC\"") {
        return None;
    }
    payload::decode(l).ok()
}

/// (first-line label, last-line label, text without them).
fn split(s: &str) -> (Option<AigcLabel>, Option<AigcLabel>, &str) {
    let mut rest = s;
    let mut first = None;
    let first_line = rest.split('\n').next().unwrap_or("");
    if let Some(l) = label_line(first_line) {
        if rest[first_line.len()..]
            .trim_start_matches(['\n', '\r'])
            .is_empty()
        {
            // A one-line file: its line is the last line, where `write` puts the label.
            return (None, Some(l), "");
        }
        first = Some(l);
        rest = rest.get(first_line.len() + 1..).unwrap_or("");
    }
    let body = rest.trim_end_matches(['\n', '\r']);
    let (head, line) = match body.rfind('\n') {
        Some(i) => (&rest[..i + 1], &body[i + 1..]),
        None => ("", body),
    };
    match label_line(line) {
        Some(l) => (first, Some(l), head),
        None => (first, None, rest),
    }
}

impl FormatHandler for Text {
    fn name(&self) -> &'static str {
        "text"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["txt", "text", "log", "csv"]
    }
    fn sniff(&self, _bytes: &[u8]) -> bool {
        false
    }
    fn canonical_carrier(&self) -> &'static str {
        "text:last-line"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let (first, last, _) = split(as_str(bytes)?);
        let mut found = Vec::new();
        if let Some(label) = first {
            found.push(FoundLabel {
                carrier: "text:first-line".into(),
                label,
            });
        }
        if let Some(label) = last {
            found.push(FoundLabel {
                carrier: "text:last-line".into(),
                label,
            });
        }
        Ok(found)
    }

    fn keeps_media(&self) -> bool {
        true
    }
    fn write_parts<'a>(
        &self,
        bytes: &'a [u8],
        label: &AigcLabel,
    ) -> Result<Output<'a>, LabelError> {
        let j = payload::encode(label)?;
        let (_, _, s) = split(as_str(bytes)?);
        let nl = if crate::bytes::find(s.as_bytes(), b"\r\n").is_some() {
            "\r\n"
        } else {
            "\n"
        };
        let mut out = Output::over(bytes);
        out.keep(s.as_bytes());
        if !s.is_empty() && !s.ends_with('\n') {
            // After a lone CR, "\n" would turn it into the line break the digest drops.
            out.push(if s.ends_with('\r') {
                b"\r\n"
            } else {
                nl.as_bytes()
            });
        }
        out.push(j.as_bytes());
        out.push(nl.as_bytes());
        Ok(out)
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        Ok(split(as_str(bytes)?).2.as_bytes().to_vec())
    }

    fn content_digest(&self, bytes: &[u8]) -> Result<[u8; 32], LabelError> {
        let (_, _, s) = split(as_str(bytes)?);
        let s = s
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(s);
        Ok(Sha256::digest(s.as_bytes()).into())
    }
}

/// Text with the label on its first line (the non-canonical position), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let mut v = payload::encode(label).unwrap_or_default().into_bytes();
    v.push(b'\n');
    v.extend_from_slice(bytes);
    v
}
