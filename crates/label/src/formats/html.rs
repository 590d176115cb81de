//! HTML: `<meta name="AIGC" content='{"AIGC":{...}}'>` in the head (canonical: inserted right
//! after `<head>`, else after `<html>`, else after the doctype, else at the start — parsers put
//! a leading meta in the head either way). Any `<meta name="AIGC">` is read, with either
//! quoting and character references. Removal cuts exactly the tag, so the digest (SHA-256 of
//! the file without label tags) is the same before and after.

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use crate::bytes::find_ci;
use crate::{payload, FormatHandler, FoundLabel, LabelError, Output, Prepared};

const F: &str = "HTML";

/// The HTML handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Html;

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        // Bytes, not `&rest[..12]`: 12 may fall inside a multi-byte char (';' is ASCII, so
        // its position is a char boundary).
        let Some(end) = rest.as_bytes()[..rest.len().min(12)]
            .iter()
            .position(|&b| b == b';')
        else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let c = match name {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                .ok()
                .and_then(char::from_u32),
            n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Attributes of a tag's text after its name.
fn attrs(tag: &str) -> Vec<(String, String)> {
    let b = tag.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let ns = i;
        while i < b.len()
            && !b[i].is_ascii_whitespace()
            && b[i] != b'='
            && b[i] != b'>'
            && b[i] != b'/'
        {
            i += 1;
        }
        if ns == i {
            break;
        }
        let name = tag[ns..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                i = vs;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = decode_entities(&tag[vs..i.min(b.len())]);
                i += 1;
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = decode_entities(&tag[vs..i]);
            }
        }
        out.push((name, value));
    }
    out
}

/// Every `<meta` tag of a document, found in one scan.
struct Metas {
    /// (start, end) of each tag, '>' included.
    spans: Vec<(usize, usize)>,
    /// Label tags: (start, end, content).
    labels: Vec<(usize, usize, String)>,
    /// Start of an unterminated tag (it runs to the end).
    unterminated: Option<usize>,
}

impl Metas {
    fn scan(s: &str) -> Metas {
        let mut spans = Vec::new();
        let mut labels = Vec::new();
        let unterminated = scan_metas(s, |i, j, a| {
            spans.push((i, j + 1));
            let is_label = a
                .iter()
                .any(|(k, v)| k == "name" && v.eq_ignore_ascii_case("AIGC"));
            if is_label {
                let content = a
                    .iter()
                    .find(|(k, _)| k == "content")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                labels.push((i, j + 1, content));
            }
        });
        Metas {
            spans,
            labels,
            unterminated,
        }
    }

    /// Where a new tag can go at or before `at` so that `metas` reads it: not inside any
    /// `<meta` tag as `metas` delimits them (quotes included). An unterminated one runs to the
    /// end of `len` bytes and past it: a tag appended at the end would be read as part of it
    /// (found by the `label_doc` fuzz target: `<meta '<head>`, whose `<head>` is inside the
    /// open quote, had the label appended where the quote swallowed it).
    fn outside(&self, at: usize, len: usize) -> usize {
        self.spans
            .iter()
            .copied()
            .chain(self.unterminated.map(|i| (i, len + 1)))
            .find(|(a, e)| *a < at && at < *e)
            .map_or(at, |(a, _)| a)
    }
}

/// Label meta tags: (start, end, content).
fn metas(s: &str) -> Vec<(usize, usize, String)> {
    Metas::scan(s).labels
}

/// Where the label tag goes in `s`: after `<head …>`, else after `<html …>`, else after the
/// doctype, else at the start, and not inside a `<meta` tag.
fn insertion_point(s: &str, m: &Metas) -> usize {
    m.outside(opening_tag_end(s), s.len())
}

/// After the first `<head` tag (not a longer name such as `header`), else the first `<html`,
/// else the first `<!doctype`, else 0: one pass over the '<'s, stopping at the head.
fn opening_tag_end(s: &str) -> usize {
    let b = s.as_bytes();
    // The end of the tag named `name` starting at `i`: `None` if it is not that tag,
    // `Some(None)` if it is but has no '>' after it.
    let tag = |i: usize, name: &[u8]| -> Option<Option<usize>> {
        let n = i + name.len();
        let named = b.get(i..n).is_some_and(|t| t.eq_ignore_ascii_case(name))
            && b.get(n)
                .is_some_and(|c| c.is_ascii_whitespace() || *c == b'>');
        named.then(|| memchr::memchr(b'>', &b[n..]).map(|e| n + e + 1))
    };
    let (mut html, mut doctype) = (None, None);
    for i in memchr::memchr_iter(b'<', b) {
        if let Some(end) = tag(i, b"<head") {
            // No '>' after the head means none after any later tag either.
            return end.or(html.flatten()).or(doctype.flatten()).unwrap_or(0);
        }
        if html.is_none() {
            html = tag(i, b"<html");
        }
        if doctype.is_none() {
            doctype = tag(i, b"<!doctype");
        }
    }
    html.flatten().or(doctype.flatten()).unwrap_or(0)
}

/// Calls `f(start, offset of '>', attributes)` for every `<meta` tag; returns the start of an
/// unterminated one (the scan stops there).
fn scan_metas(s: &str, mut f: impl FnMut(usize, usize, Vec<(String, String)>)) -> Option<usize> {
    let b = s.as_bytes();
    let mut at = 0;
    while let Some(i) = find_ci(b, b"<meta", at) {
        at = i + 5;
        if !b
            .get(i + 5)
            .is_some_and(|c| c.is_ascii_whitespace() || *c == b'/')
        {
            continue;
        }
        // The tag ends at the first '>' outside quotes.
        let mut j = i + 5;
        let mut q = 0u8;
        while j < b.len() {
            let c = b[j];
            if q != 0 {
                if c == q {
                    q = 0;
                }
            } else if c == b'"' || c == b'\'' {
                q = c;
            } else if c == b'>' {
                break;
            }
            j += 1;
        }
        if j >= b.len() {
            return Some(i);
        }
        f(i, j, attrs(&s[i + 5..j]));
        at = j + 1;
    }
    None
}

/// `s` without its label tags, or an error when cutting them out joins the text around a cut
/// into another label tag (found by the `label_doc` fuzz target: in
/// `<meta<meta name="AIGC">\nname="AIGC">`, the first `<meta` is no tag, as `<` follows it,
/// until the label tag after it is cut). Such a file has no one reading without its label,
/// so nothing is written or digested for it. `labels` are `s`'s label tags ([`metas`]); the
/// result comes with its own scan, which the check needed anyway.
fn strip(s: &str, labels: &[(usize, usize, String)]) -> Result<(String, Metas), LabelError> {
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for &(a, b, _) in labels {
        out.push_str(&s[at..a]);
        at = b;
    }
    out.push_str(&s[at..]);
    let scanned = Metas::scan(&out);
    if !scanned.labels.is_empty() {
        return Err(LabelError::malformed(
            F,
            "cutting out the AIGC meta tag joins the text around it into another AIGC meta \
             tag (a `<meta` that is not a tag before the cut becomes one after it); repair the \
             markup so every `<meta` starts a tag, then label the file",
        ));
    }
    Ok((out, scanned))
}

/// Offset after the opening tag called `name` (not a longer name such as `header`).
#[cfg(test)]
fn after_tag(s: &str, name: &[u8]) -> Option<usize> {
    let b = s.as_bytes();
    let mut at = 0;
    while let Some(i) = find_ci(b, name, at) {
        let n = i + name.len();
        if b.get(n)
            .is_some_and(|c| c.is_ascii_whitespace() || *c == b'>')
        {
            return s[n..].find('>').map(|e| n + e + 1);
        }
        at = n;
    }
    None
}

fn as_str(bytes: &[u8]) -> Result<&str, LabelError> {
    crate::bytes::utf8(F, bytes)
}

impl FormatHandler for Html {
    fn name(&self) -> &'static str {
        "html"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["html", "htm", "xhtml"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        let b = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let start = b
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(b.len());
        let head = &b[start..b.len().min(start + 14)];
        head.len() >= 5
            && (head.eq_ignore_ascii_case(b"<!doctype html")
                || head[..5].eq_ignore_ascii_case(b"<html"))
    }
    fn canonical_carrier(&self) -> &'static str {
        "html:meta:AIGC"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        metas(as_str(bytes)?)
            .into_iter()
            .map(|(_, _, c)| {
                payload::decode(&c)
                    .map(|label| FoundLabel {
                        carrier: "html:meta:AIGC".into(),
                        label,
                    })
                    .map_err(|r| LabelError::bad_label(F, "html:meta:AIGC", r))
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
        HtmlFile::new(bytes)?.write_parts(label)
    }

    fn prepare<'a>(
        &self,
        bytes: &'a [u8],
    ) -> Result<Option<Box<dyn Prepared<'a> + 'a>>, LabelError> {
        Ok(Some(Box::new(HtmlFile::new(bytes)?)))
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        let s = as_str(bytes)?;
        Ok(strip(s, &metas(s))?.0.into_bytes())
    }

    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        HtmlFile::new(bytes)?.content_digest_with(alg)
    }
}

/// An HTML file validated and scanned for its meta tags once.
struct HtmlFile<'a> {
    bytes: &'a [u8],
    s: &'a str,
    metas: Metas,
}

impl<'a> HtmlFile<'a> {
    fn new(bytes: &'a [u8]) -> Result<HtmlFile<'a>, LabelError> {
        let s = as_str(bytes)?;
        Ok(HtmlFile {
            bytes,
            s,
            metas: Metas::scan(s),
        })
    }
}

impl<'a> Prepared<'a> for HtmlFile<'a> {
    fn write_parts(&self, label: &AigcLabel) -> Result<Output<'a>, LabelError> {
        let j = payload::encode(label)?
            .replace('&', "&amp;")
            .replace('\'', "&#39;");
        let tag = format!("<meta name=\"AIGC\" content='{j}'>");
        let (bytes, m) = (self.bytes, &self.metas);
        if m.labels.is_empty() {
            // Nothing to strip: the file's own bytes around the new tag.
            let at = insertion_point(self.s, m);
            let mut out = Output::over(bytes);
            out.keep(&bytes[..at]);
            out.push(tag.as_bytes());
            out.keep(&bytes[at..]);
            return Ok(out);
        }
        let (s, scanned) = strip(self.s, &m.labels)?;
        let at = insertion_point(&s, &scanned);
        Ok(Output::from_vec(
            format!("{}{tag}{}", &s[..at], &s[at..]).into_bytes(),
        ))
    }

    fn content_digest_with(&self, alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        if self.metas.labels.is_empty() {
            return Ok(alg.digest(self.bytes));
        }
        Ok(alg.digest(strip(self.s, &self.metas.labels)?.0.as_bytes()))
    }
}

/// HTML with the label in a lower-case, double-quoted, entity-escaped meta tag, for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let j = payload::encode(label)
        .unwrap_or_default()
        .replace('&', "&amp;")
        .replace('"', "&quot;");
    let s = String::from_utf8_lossy(bytes);
    let at = after_tag(&s, b"<head").unwrap_or(0);
    format!("{}<meta name=aigc content=\"{j}\" />{}", &s[..at], &s[at..]).into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Found by the `label_doc` fuzz target (minimised input; the other HTML finding is
    /// in `conformance::html_label_is_not_inserted_inside_an_unterminated_meta_quote`).
    #[test]
    fn a_cut_that_would_join_text_into_another_label_tag_is_refused() {
        let h = Html;
        let doc = b"<meta<meta name=\"AIGC\">\nname=\"AIGC\"\nTS>S";
        for e in [
            h.remove(doc).unwrap_err(),
            h.content_digest(doc).unwrap_err(),
            h.write(doc, &crate::conformance::label("j")).unwrap_err(),
        ] {
            assert!(e.to_string().contains("joins the text around it"), "{e}");
        }
        // Other label tags are still cut out and read as before.
        let ok = b"<meta name=x><meta name=\"AIGC\" content='y'><p>";
        assert_eq!(h.remove(ok).unwrap(), b"<meta name=x><p>");
    }

    /// The one-pass search agrees with searching for each tag in turn, on documents made of
    /// pieces that stress it (tags with and without '>', longer names, case, text).
    #[test]
    fn one_pass_insertion_point_agrees_with_searching_each_tag_in_turn() {
        let pieces = [
            "<head>",
            "<HEAD lang=x>",
            "<header>",
            "<head",
            "<html>",
            "<Html a>",
            "<htmlx>",
            "<!DOCTYPE html>",
            "<!doctype",
            "text ",
            "中文",
            ">",
            "<",
            "<meta name=x>",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut doc = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 7) as usize;
            let mut x = seed;
            for _ in 0..n {
                doc.push_str(pieces[(x % pieces.len() as u64) as usize]);
                x /= pieces.len() as u64;
            }
            let expect = after_tag(&doc, b"<head")
                .or_else(|| after_tag(&doc, b"<html"))
                .or_else(|| after_tag(&doc, b"<!doctype"))
                .unwrap_or(0);
            assert_eq!(opening_tag_end(&doc), expect, "{doc:?}");
        }
    }
}
