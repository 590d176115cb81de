//! Plain text: the label is the LAST line of the file, the payload JSON `{"AIGC":{...}}` on a
//! line of its own (chosen over a leading line so the text still starts with its content, and
//! so appending is cheap). A label on the FIRST line is read too.
//!
//! The digest is SHA-256 of the text without its label line and without one final line break
//! (writing adds a line break before the label when the text lacks one).

use hegui_types::AigcLabel;
use sha2::{Digest, Sha256};

use crate::{payload, FormatHandler, FoundLabel, LabelError};

const F: &str = "text";

/// The plain-text handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Text;

fn as_str(bytes: &[u8]) -> Result<&str, LabelError> {
    std::str::from_utf8(bytes).map_err(|e| {
        LabelError::malformed(
            F,
            format!("not UTF-8: invalid byte at offset {}", e.valid_up_to()),
        )
    })
}

fn label_line(line: &str) -> Option<AigcLabel> {
    let l = line.trim_end_matches('\r');
    if !l.starts_with("{\"AIGC\"") {
        return None;
    }
    payload::decode(l).ok()
}

/// (first-line label, last-line label, text without them).
fn split(s: &str) -> (Option<AigcLabel>, Option<AigcLabel>, String) {
    let mut rest = s;
    let mut first = None;
    let first_line = rest.split('\n').next().unwrap_or("");
    if let Some(l) = label_line(first_line) {
        if rest[first_line.len()..]
            .trim_start_matches(['\n', '\r'])
            .is_empty()
        {
            // A one-line file: its line is the last line, where `write` puts the label.
            return (None, Some(l), String::new());
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
        Some(l) => (first, Some(l), head.to_string()),
        None => (first, None, rest.to_string()),
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

    fn write(&self, bytes: &[u8], label: &AigcLabel) -> Result<Vec<u8>, LabelError> {
        let j = payload::encode(label)?;
        let (_, _, mut s) = split(as_str(bytes)?);
        let nl = if s.contains("\r\n") { "\r\n" } else { "\n" };
        if !s.is_empty() && !s.ends_with('\n') {
            // After a lone CR, "\n" would turn it into the line break the digest drops.
            s.push_str(if s.ends_with('\r') { "\r\n" } else { nl });
        }
        s.push_str(&j);
        s.push_str(nl);
        Ok(s.into_bytes())
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        Ok(split(as_str(bytes)?).2.into_bytes())
    }

    fn content_digest(&self, bytes: &[u8]) -> Result<[u8; 32], LabelError> {
        let (_, _, s) = split(as_str(bytes)?);
        let s = s
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&s);
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
