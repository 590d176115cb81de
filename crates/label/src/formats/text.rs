//! Plain text: the label is the LAST line of the file, the payload JSON `{"AIGC":{...}}` on a
//! line of its own (chosen over a leading line so the text still starts with its content, and
//! so appending is cheap). A label on the FIRST line is read too.
//!
//! The digest is SHA-256 of the text without its label line and without one final line break
//! (writing adds a line break before the label when the text lacks one).

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use crate::{payload, FormatHandler, FoundLabel, LabelError, Output, Prepared};

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
        TextFile::new(bytes)?.write_parts(label)
    }

    fn prepare<'a>(
        &self,
        bytes: &'a [u8],
    ) -> Result<Option<Box<dyn Prepared<'a> + 'a>>, LabelError> {
        Ok(Some(Box::new(TextFile::new(bytes)?)))
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        Ok(split(as_str(bytes)?).2.as_bytes().to_vec())
    }

    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        TextFile::new(bytes)?.content_digest_with(alg)
    }
}

/// A text file validated and split from its label lines once.
struct TextFile<'a> {
    bytes: &'a [u8],
    /// The text without its label lines.
    s: &'a str,
    /// The line break the file uses, found on first use.
    nl: std::cell::OnceCell<&'static str>,
}

impl<'a> TextFile<'a> {
    fn new(bytes: &'a [u8]) -> Result<TextFile<'a>, LabelError> {
        let (_, _, s) = split(as_str(bytes)?);
        Ok(TextFile {
            bytes,
            s,
            nl: std::cell::OnceCell::new(),
        })
    }
}

impl<'a> Prepared<'a> for TextFile<'a> {
    fn write_parts(&self, label: &AigcLabel) -> Result<Output<'a>, LabelError> {
        let j = payload::encode(label)?;
        let s = self.s;
        let nl = *self.nl.get_or_init(|| {
            if crate::bytes::find(s.as_bytes(), b"\r\n").is_some() {
                "\r\n"
            } else {
                "\n"
            }
        });
        let mut out = Output::over(self.bytes);
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

    fn content_digest_with(&self, alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let s = self.s;
        let s = s
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(s);
        Ok(alg.digest(s.as_bytes()))
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
