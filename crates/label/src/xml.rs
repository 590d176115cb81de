//! A flat element list with byte spans over an XML text, for editing metadata XML (XMP, OOXML
//! custom properties) in place: elements and attributes are removed or inserted by span, so
//! everything else in the document stays byte-identical. Tokenising and namespace resolution
//! are quick-xml's; spans of attributes are found by a small scan of the start tag.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Deepest element nesting followed; metadata XML is shallow, hostile XML may not be.
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub ns: Option<String>,
    pub local: String,
    pub qname: String,
    pub value: String,
    /// From the whitespace before the name to after the closing quote.
    pub span: (usize, usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Elem {
    pub ns: Option<String>,
    pub local: String,
    pub qname: String,
    /// Offset of `<` of the start tag.
    pub start: usize,
    /// Offset of `<` of the end tag (== `end` for an empty element).
    pub end_tag_start: usize,
    /// Offset after the `>` of the end tag.
    pub end: usize,
    pub attrs: Vec<Attr>,
    pub parent: Option<usize>,
    /// Direct text content, unescaped.
    pub text: String,
}

impl Elem {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }

    pub fn attr(&self, local: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.local == local)
    }
}

fn resolved(r: &ResolveResult) -> Option<String> {
    match r {
        ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        _ => None,
    }
}

fn pos(r: &NsReader<&[u8]>) -> usize {
    usize::try_from(r.buffer_position()).unwrap_or(usize::MAX)
}

/// Attribute spans of a start tag's text (`<name a="1" b='2'>`), by qualified name.
fn attr_spans(tag: &str, base: usize) -> Vec<(String, (usize, usize))> {
    let b = tag.as_bytes();
    let mut i = 1;
    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
        i += 1;
    }
    let mut out = Vec::new();
    loop {
        let ws = i;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] == b'>' || b[i] == b'/' || b[i] == b'?' {
            break;
        }
        let name_start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let name = &tag[name_start..i];
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'=') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let q = b[i];
        if q != b'"' && q != b'\'' {
            break;
        }
        i += 1;
        while i < b.len() && b[i] != q {
            i += 1;
        }
        i += 1;
        out.push((name.to_string(), (base + ws, base + i.min(b.len()))));
    }
    out
}

/// Every element of `xml` in document order.
pub(crate) fn parse(xml: &str) -> Result<Vec<Elem>, String> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().trim_text(false);
    let mut elems: Vec<Elem> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    loop {
        let before = pos(&reader);
        let res = reader
            .read_resolved_event()
            .map(|(ns, ev)| (resolved(&ns), ev))
            .map_err(|e| e.to_string());
        let (ns, ev) =
            res.map_err(|e| format!("XML error at offset {}: {e}", reader.error_position()))?;
        let after = pos(&reader);
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                if stack.len() >= MAX_DEPTH {
                    return Err(format!(
                        "XML nested deeper than {MAX_DEPTH} elements at offset {before}"
                    ));
                }
                let tag = xml.get(before..after).unwrap_or("");
                let spans = attr_spans(tag, before);
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a =
                        a.map_err(|e| format!("XML attribute error at offset {before}: {e}"))?;
                    let qname = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    let (ans, local) = reader.resolve_attribute(a.key);
                    let value = a
                        .unescape_value()
                        .map_err(|e| format!("XML attribute {qname} at offset {before}: {e}"))?
                        .into_owned();
                    let span = spans
                        .iter()
                        .find(|(n, _)| *n == qname)
                        .map(|(_, s)| *s)
                        .unwrap_or((before, before));
                    attrs.push(Attr {
                        ns: resolved(&ans),
                        local: String::from_utf8_lossy(local.as_ref()).into_owned(),
                        qname,
                        value,
                        span,
                    });
                }
                let idx = elems.len();
                elems.push(Elem {
                    ns: ns.clone(),
                    local: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    qname: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    start: before,
                    end_tag_start: after,
                    end: after,
                    attrs,
                    parent: stack.last().copied(),
                    text: String::new(),
                });
                if !empty {
                    stack.push(idx);
                }
            }
            Event::End(_) => {
                if let Some(idx) = stack.pop() {
                    elems[idx].end_tag_start = before;
                    elems[idx].end = after;
                }
            }
            Event::Text(t) => {
                if let Some(&idx) = stack.last() {
                    let s = t
                        .unescape()
                        .map_err(|e| format!("XML text at offset {before}: {e}"))?;
                    elems[idx].text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(&idx) = stack.last() {
                    elems[idx].text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("XML ends inside an element".into());
    }
    Ok(elems)
}

/// `xml` with the byte ranges in `spans` removed; nested or overlapping ranges are merged.
pub(crate) fn remove_spans(xml: &str, mut spans: Vec<(usize, usize)>) -> String {
    spans.sort();
    let b = xml.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut at = 0;
    for (s, e) in spans {
        let e = e.min(b.len());
        if e <= at {
            continue;
        }
        let s = s.clamp(at, e);
        out.extend_from_slice(&b[at..s]);
        at = e;
    }
    out.extend_from_slice(&b[at..]);
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes text for element content or a double-quoted attribute.
pub(crate) fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}
