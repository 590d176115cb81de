//! The GB 45438 label in XMP: namespace `http://www.tc260.org.cn/ns/AIGC/1.0/`, prefix `TC260`,
//! property `TC260:AIGC` holding the JSON payload. Used by every XMP carrier (PNG iTXt, JPEG
//! APP1, WebP `XMP `, GIF "XMP Data", TIFF tag 700, MP3 PRIV, PDF metadata).
//!
//! Other properties in a packet belong to someone else (creator tools, C2PA, rights): editing
//! removes or inserts only the TC260 property, by byte span, and leaves the rest as it was.

use hegui_types::AigcLabel;

use crate::payload;
use crate::xml;
use crate::LabelError;

/// The TC260 namespace for AIGC labels.
pub const NS: &str = "http://www.tc260.org.cn/ns/AIGC/1.0/";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

/// Our `rdf:Description`: element form, so the JSON needs no quote escaping.
fn description(json: &str) -> String {
    format!(
        "<rdf:Description rdf:about=\"\" xmlns:TC260=\"{NS}\"><TC260:AIGC>{}</TC260:AIGC></rdf:Description>",
        xml::escape(json)
    )
}

/// A complete XMP packet holding only the label.
pub(crate) fn packet(label: &AigcLabel) -> Result<String, LabelError> {
    let json = payload::encode(label)?;
    Ok(format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"{RDF}\">{}</rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>",
        description(&json)
    ))
}

fn parse(format: &'static str, xmp: &str) -> Result<Vec<xml::Elem>, LabelError> {
    xml::parse(xmp).map_err(|e| LabelError::malformed(format, format!("XMP packet: {e}")))
}

/// Decodes XMP bytes (UTF-8, optional BOM).
pub(crate) fn text(format: &'static str, bytes: &[u8]) -> Result<String, LabelError> {
    let b = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let b = match b.iter().rposition(|&c| c != 0) {
        Some(last) => &b[..=last],
        None => &b[..0],
    };
    String::from_utf8(b.to_vec())
        .map_err(|_| LabelError::malformed(format, "XMP packet is not UTF-8"))
}

/// The label JSON in the packet, if it has a `TC260:AIGC` property.
pub(crate) fn find(format: &'static str, xmp: &str) -> Result<Option<String>, LabelError> {
    // Packets of others that never mention the namespace need no parsing (and may be broken).
    if !xmp.contains(NS) {
        return Ok(None);
    }
    for e in parse(format, xmp)? {
        if e.is(NS, "AIGC") {
            return Ok(Some(e.text.clone()));
        }
        if let Some(a) = e
            .attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(NS) && a.local == "AIGC")
        {
            return Ok(Some(a.value.clone()));
        }
    }
    Ok(None)
}

/// The label in the packet, read as a [`crate::FoundLabel`] payload.
pub(crate) fn read_label(
    format: &'static str,
    carrier: &str,
    bytes: &[u8],
) -> Result<Option<AigcLabel>, LabelError> {
    let t = text(format, bytes)?;
    match find(format, &t)? {
        None => Ok(None),
        Some(json) => payload::decode(&json)
            .map(Some)
            .map_err(|r| LabelError::bad_label(format, carrier, r)),
    }
}

/// The packet without the TC260 property; `None` when nothing else is left in it (the carrier
/// can then go).
pub(crate) fn strip(format: &'static str, xmp: &str) -> Result<Option<String>, LabelError> {
    if !xmp.contains(NS) {
        return Ok(Some(xmp.to_string()));
    }
    let elems = parse(format, xmp)?;
    let is_label_elem = |e: &xml::Elem| e.is(NS, "AIGC");
    let is_label_attr = |a: &xml::Attr| a.ns.as_deref() == Some(NS) && a.local == "AIGC";
    let mut spans = Vec::new();
    for (i, e) in elems.iter().enumerate() {
        if is_label_elem(e) {
            spans.push((e.start, e.end));
            continue;
        }
        for a in e.attrs.iter().filter(|a| is_label_attr(a)) {
            spans.push(a.span);
        }
        if e.is(RDF, "Description") {
            let children: Vec<&xml::Elem> = elems.iter().filter(|c| c.parent == Some(i)).collect();
            let carries =
                e.attrs.iter().any(is_label_attr) || children.iter().any(|c| is_label_elem(c));
            let only_label = children.iter().all(|c| is_label_elem(c))
                && e.attrs.iter().all(|a| {
                    is_label_attr(a) || a.qname.starts_with("xmlns") || a.ns.as_deref() == Some(RDF)
                });
            if carries && only_label {
                spans.push((e.start, e.end));
            }
        }
    }
    let out = xml::remove_spans(xmp, spans);
    // Anything left that states a property? Descriptions with children or non-RDF attributes.
    let rest = parse(format, &out)?;
    let has_property = rest.iter().enumerate().any(|(i, e)| {
        e.is(RDF, "Description")
            && (rest.iter().any(|c| c.parent == Some(i))
                || e.attrs
                    .iter()
                    .any(|a| !a.qname.starts_with("xmlns") && a.ns.as_deref() != Some(RDF)))
    });
    Ok(has_property.then_some(out))
}

/// `existing` (or a fresh packet) with the label as its only TC260 property.
pub(crate) fn upsert(
    format: &'static str,
    existing: Option<&str>,
    label: &AigcLabel,
) -> Result<String, LabelError> {
    let Some(existing) = existing else {
        return packet(label);
    };
    let Some(kept) = strip(format, existing)? else {
        return packet(label);
    };
    let json = payload::encode(label)?;
    let elems = parse(format, &kept)?;
    let rdf = elems
        .iter()
        .find(|e| e.is(RDF, "RDF"))
        .ok_or_else(|| LabelError::malformed(format, "XMP packet has no rdf:RDF element"))?;
    let at = rdf.end_tag_start;
    if at == rdf.end {
        // `<rdf:RDF/>`: cannot happen with properties left, but do not corrupt it if it does.
        return packet(label);
    }
    let desc = if prefix_of(&rdf.qname) == "rdf" {
        description(&json)
    } else {
        // Another prefix is bound to the RDF namespace here: declare ours on the element.
        description(&json).replacen(
            "<rdf:Description rdf:about",
            &format!("<rdf:Description xmlns:rdf=\"{RDF}\" rdf:about"),
            1,
        )
    };
    let mut out = String::with_capacity(kept.len() + desc.len());
    out.push_str(&kept[..at]);
    out.push_str(&desc);
    out.push_str(&kept[at..]);
    Ok(out)
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map(|(p, _)| p).unwrap_or("")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn label() -> AigcLabel {
        AigcLabel {
            label: "1".into(),
            content_producer: "P&1<x>".into(),
            produce_id: "id-1".into(),
            reserved_code1: None,
            content_propagator: None,
            propagate_id: None,
            reserved_code2: None,
        }
    }

    #[test]
    fn our_packet_round_trips_and_strips_to_nothing() {
        let p = packet(&label()).unwrap();
        let json = find("T", &p).unwrap().unwrap();
        assert_eq!(payload::decode(&json).unwrap(), label());
        assert_eq!(strip("T", &p).unwrap(), None);
    }

    #[test]
    fn foreign_properties_survive_strip_and_upsert() {
        let foreign = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Gimp"/></rdf:RDF></x:xmpmeta>"#;
        let with = upsert("T", Some(foreign), &label()).unwrap();
        assert!(with.contains("xmp:CreatorTool=\"Gimp\""));
        assert!(find("T", &with).unwrap().is_some());
        let back = strip("T", &with).unwrap().unwrap();
        assert_eq!(back, foreign);
    }

    #[test]
    fn attribute_form_is_read_and_stripped() {
        let x = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:a="http://www.tc260.org.cn/ns/AIGC/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/png" a:AIGC="{&quot;AIGC&quot;:{&quot;Label&quot;:&quot;1&quot;}}"/></rdf:RDF></x:xmpmeta>"#;
        let json = find("T", x).unwrap().unwrap();
        assert_eq!(payload::decode(&json).unwrap().label, "1");
        let s = strip("T", x).unwrap().unwrap();
        assert!(!s.contains("a:AIGC"));
        assert!(s.contains("dc:format"));
    }
}
