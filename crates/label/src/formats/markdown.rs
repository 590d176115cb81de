//! Markdown: an `AIGC:` mapping in the YAML front matter (canonical: a block mapping with one
//! double-quoted scalar per field; a flow mapping `AIGC: {...}` in JSON form is read too).
//! Only the `AIGC` entry is touched; front matter that holds nothing else is created and
//! removed with it. The digest is SHA-256 of the file without the label.

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use crate::{payload, FormatHandler, FoundLabel, LabelError, Output, Prepared};

const F: &str = "Markdown";
const FIELDS: [&str; 7] = [
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
];

/// The Markdown handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Markdown;

/// Lines of the front matter with their byte ranges, and where it ends (after the closing
/// fence line).
struct Front<'a> {
    /// (start, end including line break, text without line break)
    lines: Vec<(usize, usize, &'a str)>,
    /// Offset of the closing fence line.
    close: usize,
    /// Offset after the closing fence line.
    end: usize,
    nl: &'static str,
}

fn front(s: &str) -> Option<Front<'_>> {
    let bom = if s.starts_with('\u{feff}') { 3 } else { 0 };
    let first_end = s[bom..].find('\n')? + bom + 1;
    if s[bom..first_end].trim_end() != "---" {
        return None;
    }
    let nl = if s[..first_end].ends_with("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut lines = Vec::new();
    let mut at = first_end;
    while at < s.len() {
        let e = s[at..].find('\n').map(|i| at + i + 1).unwrap_or(s.len());
        let text = s[at..e].trim_end_matches(['\n', '\r']);
        if text == "---" || text == "..." {
            return Some(Front {
                lines,
                close: at,
                end: e,
                nl,
            });
        }
        lines.push((at, e, text));
        at = e;
    }
    None
}

fn scalar(v: &str) -> String {
    let v = v.trim();
    if let Some(r) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut it = r.chars();
        while let Some(c) = it.next() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(n) = it.next() {
                        out.push(n);
                    }
                }
                c => out.push(c),
            }
        }
        out
    } else if let Some(r) = v.strip_prefix('\'') {
        let mut out = String::new();
        let mut it = r.chars().peekable();
        while let Some(c) = it.next() {
            if c == '\'' {
                if it.peek() == Some(&'\'') {
                    it.next();
                    out.push('\'');
                } else {
                    break;
                }
            } else {
                out.push(c);
            }
        }
        out
    } else {
        v.split(" #").next().unwrap_or("").trim().to_string()
    }
}

/// The AIGC entries: (first line index, line index after the entry, label or error).
fn entries(fm: &Front<'_>) -> Vec<(usize, usize, Result<AigcLabel, String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < fm.lines.len() {
        let text = fm.lines[i].2;
        let Some(rest) = text.strip_prefix("AIGC:") else {
            i += 1;
            continue;
        };
        let start = i;
        i += 1;
        let rest = rest.trim();
        if !rest.is_empty() {
            let r = if rest.starts_with('{') {
                rest.to_string()
            } else {
                scalar(rest)
            };
            out.push((start, i, payload::decode(&r)));
            continue;
        }
        let mut map = serde_json::Map::new();
        while i < fm.lines.len() {
            let t = fm.lines[i].2;
            if !(t.starts_with(' ') || t.starts_with('\t') || t.trim().is_empty()) {
                break;
            }
            if let Some((k, v)) = t.trim().split_once(':') {
                map.insert(k.trim().to_string(), serde_json::Value::String(scalar(v)));
            }
            i += 1;
        }
        let json = serde_json::Value::Object(map).to_string();
        out.push((start, i, payload::decode(&json)));
    }
    out
}

fn block(label: &AigcLabel, nl: &str) -> Result<String, LabelError> {
    label.validate()?;
    let v = serde_json::to_value(label).map_err(|e| LabelError::malformed(F, e.to_string()))?;
    let mut s = format!("AIGC:{nl}");
    for f in FIELDS {
        if let Some(serde_json::Value::String(x)) = v.get(f) {
            s.push_str(&format!("  {f}: \"{x}\"{nl}"));
        }
    }
    Ok(s)
}

fn as_str(bytes: &[u8]) -> Result<&str, LabelError> {
    crate::bytes::utf8(F, bytes)
}

/// A Markdown file validated once, its line break found on first use.
struct MarkdownFile<'a> {
    s: &'a str,
    nl: std::cell::OnceCell<&'static str>,
}

impl<'a> MarkdownFile<'a> {
    fn new(bytes: &'a [u8]) -> Result<MarkdownFile<'a>, LabelError> {
        Ok(MarkdownFile {
            s: as_str(bytes)?,
            nl: std::cell::OnceCell::new(),
        })
    }
}

impl<'a> Prepared<'a> for MarkdownFile<'a> {
    fn write_parts(&self, label: &AigcLabel) -> Result<Output<'a>, LabelError> {
        rebuild(self, Some(label))
    }

    fn content_digest_with(&self, alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let mut h = alg.hasher();
        rebuild(self, None)?.for_each_piece(|p| h.update(p));
        Ok(h.finalize())
    }
}

fn rebuild<'a>(f: &MarkdownFile<'a>, label: Option<&AigcLabel>) -> Result<Output<'a>, LabelError> {
    let s = f.s;
    let mut out = Output::over(s.as_bytes());
    let Some(fm) = front(s) else {
        if let Some(l) = label {
            let nl = *f.nl.get_or_init(|| {
                if crate::bytes::find(s.as_bytes(), b"\r\n").is_some() {
                    "\r\n"
                } else {
                    "\n"
                }
            });
            out.push(format!("---{nl}{}---{nl}", block(l, nl)?).as_bytes());
        }
        out.keep(s.as_bytes());
        return Ok(out);
    };
    let drop: Vec<(usize, usize)> = entries(&fm).iter().map(|(a, b, _)| (*a, *b)).collect();
    let kept: Vec<&(usize, usize, &str)> = fm
        .lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.iter().any(|(a, b)| i >= a && i < b))
        .map(|(_, l)| l)
        .collect();
    let mut body = String::new();
    for (a, b, _) in &kept {
        body.push_str(&s[*a..*b]);
    }
    if let Some(l) = label {
        body.push_str(&block(l, fm.nl)?);
    }
    if label.is_none() && body.trim().is_empty() {
        out.keep(&s.as_bytes()[fm.end..]);
        return Ok(out);
    }
    let opening_end = s.find('\n').map(|i| i + 1).unwrap_or(0);
    out.push(&s.as_bytes()[..opening_end]);
    out.push(body.as_bytes());
    out.keep(&s.as_bytes()[fm.close..]);
    Ok(out)
}

impl FormatHandler for Markdown {
    fn name(&self) -> &'static str {
        "markdown"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["md", "markdown", "mdx"]
    }
    fn sniff(&self, _bytes: &[u8]) -> bool {
        false
    }
    fn canonical_carrier(&self) -> &'static str {
        "markdown:front-matter:AIGC"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let s = as_str(bytes)?;
        let Some(fm) = front(s) else {
            return Ok(Vec::new());
        };
        entries(&fm)
            .into_iter()
            .map(|(_, _, r)| {
                r.map(|label| FoundLabel {
                    carrier: "markdown:front-matter:AIGC".into(),
                    label,
                })
                .map_err(|e| LabelError::bad_label(F, "markdown:front-matter:AIGC", e))
            })
            .collect()
    }

    fn keeps_media(&self) -> bool {
        true
    }
    fn write_parts<'a>(
        &self,
        bytes: &'a [u8],
        label: &AigcLabel,
    ) -> Result<Output<'a>, LabelError> {
        MarkdownFile::new(bytes)?.write_parts(label)
    }

    fn prepare<'a>(
        &self,
        bytes: &'a [u8],
    ) -> Result<Option<Box<dyn Prepared<'a> + 'a>>, LabelError> {
        Ok(Some(Box::new(MarkdownFile::new(bytes)?)))
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        Ok(rebuild(&MarkdownFile::new(bytes)?, None)?.into_vec())
    }

    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        MarkdownFile::new(bytes)?.content_digest_with(alg)
    }
}

/// Markdown whose front matter holds the label as a flow mapping in JSON form, for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let inner = serde_json::to_string(label).unwrap_or_default();
    let s = String::from_utf8_lossy(bytes);
    format!("---\nAIGC: {inner}\n---\n{s}").into_bytes()
}
