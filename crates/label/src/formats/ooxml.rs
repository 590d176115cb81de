//! DOCX / PPTX / XLSX (Office Open XML): custom document property `AIGC` in
//! `docProps/custom.xml` (a `vt:lpwstr`). Uses the `zip` crate: every other part is copied
//! raw (compressed bytes as they were, never recompressed); `[Content_Types].xml` and
//! `_rels/.rels` gain (or lose) the override and relationship for the custom-properties part
//! by span edits that leave the rest of their bytes alone.

use std::io::{Cursor, Read, Write};

use hegui_types::AigcLabel;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::{payload, xml, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "OOXML";
const CUSTOM: &str = "docProps/custom.xml";
const TYPES: &str = "[Content_Types].xml";
const RELS: &str = "_rels/.rels";
const NS_CUSTOM: &str = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties";
const NS_VT: &str = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes";
const NS_TYPES: &str = "http://schemas.openxmlformats.org/package/2006/content-types";
const NS_RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const REL_CUSTOM: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties";
const CT_CUSTOM: &str = "application/vnd.openxmlformats-officedocument.custom-properties+xml";
/// FMTID every custom property uses.
const FMTID: &str = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}";
/// Largest XML part read into memory (package parts we edit are small).
const MAX_PART: u64 = 16 << 20;

/// The OOXML handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ooxml;

fn zerr(e: impl std::fmt::Display) -> LabelError {
    LabelError::malformed(F, format!("ZIP container: {e}"))
}

fn open(bytes: &[u8]) -> Result<ZipArchive<Cursor<&[u8]>>, LabelError> {
    ZipArchive::new(Cursor::new(bytes)).map_err(zerr)
}

fn part(a: &mut ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Option<String>, LabelError> {
    let Some(i) = a.index_for_name(name) else {
        return Ok(None);
    };
    let f = a.by_index(i).map_err(zerr)?;
    let mut s = Vec::new();
    f.take(MAX_PART + 1).read_to_end(&mut s).map_err(zerr)?;
    if s.len() as u64 > MAX_PART {
        return Err(LabelError::unsupported(
            F,
            format!("part {name} larger than {MAX_PART} bytes"),
        ));
    }
    let s = s.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&s);
    String::from_utf8(s.to_vec())
        .map(Some)
        .map_err(|_| LabelError::malformed(F, format!("part {name} is not UTF-8")))
}

fn parse(name: &str, s: &str) -> Result<Vec<xml::Elem>, LabelError> {
    xml::parse(s).map_err(|e| LabelError::malformed(F, format!("{name}: {e}")))
}

fn is_label_prop(e: &xml::Elem) -> bool {
    e.is(NS_CUSTOM, "property")
        && e.attr("name")
            .is_some_and(|a| a.value.eq_ignore_ascii_case("AIGC"))
}

/// The label values in custom.xml.
fn labels_in(custom: &str) -> Result<Vec<String>, LabelError> {
    let elems = parse(CUSTOM, custom)?;
    let mut out = Vec::new();
    for (i, e) in elems.iter().enumerate() {
        if is_label_prop(e) {
            let v = elems
                .iter()
                .find(|c| c.parent == Some(i))
                .map(|c| c.text.clone())
                .unwrap_or_default();
            out.push(v);
        }
    }
    Ok(out)
}

/// custom.xml without label properties, plus `json`; `None` when no property is left.
fn edit_custom(existing: Option<&str>, json: Option<&str>) -> Result<Option<String>, LabelError> {
    let prop = |pid: u64, j: &str| {
        format!(
            "<property fmtid=\"{FMTID}\" pid=\"{pid}\" name=\"AIGC\"><vt:lpwstr>{}</vt:lpwstr></property>",
            xml::escape(j)
        )
    };
    let Some(existing) = existing else {
        return Ok(json.map(|j| {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Properties xmlns=\"{NS_CUSTOM}\" xmlns:vt=\"{NS_VT}\">{}</Properties>",
                prop(2, j)
            )
        }));
    };
    let elems = parse(CUSTOM, existing)?;
    let spans: Vec<(usize, usize)> = elems
        .iter()
        .filter(|e| is_label_prop(e))
        .map(|e| (e.start, e.end))
        .collect();
    let kept = xml::remove_spans(existing, spans);
    let elems = parse(CUSTOM, &kept)?;
    let others = elems.iter().filter(|e| e.is(NS_CUSTOM, "property")).count();
    let Some(j) = json else {
        return Ok((others > 0).then_some(kept));
    };
    let pid = elems
        .iter()
        .filter(|e| e.is(NS_CUSTOM, "property"))
        .filter_map(|e| e.attr("pid").and_then(|a| a.value.parse::<u64>().ok()))
        .max()
        .unwrap_or(1)
        + 1;
    let root = elems
        .iter()
        .find(|e| e.is(NS_CUSTOM, "Properties"))
        .ok_or_else(|| LabelError::malformed(F, format!("{CUSTOM} has no Properties element")))?;
    let p = prop(pid, j);
    // The vt prefix must be bound; declare it on our property if the document binds another.
    let p = if kept.contains(&format!("xmlns:vt=\"{NS_VT}\"")) {
        p
    } else {
        p.replacen("<property ", &format!("<property xmlns:vt=\"{NS_VT}\" "), 1)
    };
    if root.end_tag_start == root.end {
        // `<Properties .../>`: open it up.
        let open = kept[root.start..root.end]
            .trim_end_matches("/>")
            .to_string();
        return Ok(Some(format!(
            "{}{open}>{p}</Properties>{}",
            &kept[..root.start],
            &kept[root.end..]
        )));
    }
    Ok(Some(format!(
        "{}{p}{}",
        &kept[..root.end_tag_start],
        &kept[root.end_tag_start..]
    )))
}

/// Inserts or removes the custom-properties override in [Content_Types].xml.
fn edit_types(s: &str, want: bool) -> Result<String, LabelError> {
    let elems = parse(TYPES, s)?;
    let is_ours = |e: &xml::Elem| {
        e.is(NS_TYPES, "Override")
            && e.attr("PartName")
                .is_some_and(|a| a.value.eq_ignore_ascii_case("/docProps/custom.xml"))
    };
    let has = elems.iter().any(is_ours);
    if want == has {
        return Ok(s.to_string());
    }
    if !want {
        return Ok(xml::remove_spans(
            s,
            elems
                .iter()
                .filter(|e| is_ours(e))
                .map(|e| (e.start, e.end))
                .collect(),
        ));
    }
    let root = elems
        .iter()
        .find(|e| e.is(NS_TYPES, "Types"))
        .ok_or_else(|| LabelError::malformed(F, format!("{TYPES} has no Types element")))?;
    let o = format!("<Override PartName=\"/docProps/custom.xml\" ContentType=\"{CT_CUSTOM}\"/>");
    Ok(format!(
        "{}{o}{}",
        &s[..root.end_tag_start],
        &s[root.end_tag_start..]
    ))
}

/// Inserts or removes the custom-properties relationship in _rels/.rels.
fn edit_rels(s: &str, want: bool) -> Result<String, LabelError> {
    let elems = parse(RELS, s)?;
    let is_ours = |e: &xml::Elem| {
        e.is(NS_RELS, "Relationship") && e.attr("Type").is_some_and(|a| a.value == REL_CUSTOM)
    };
    let has = elems.iter().any(is_ours);
    if want == has {
        return Ok(s.to_string());
    }
    if !want {
        return Ok(xml::remove_spans(
            s,
            elems
                .iter()
                .filter(|e| is_ours(e))
                .map(|e| (e.start, e.end))
                .collect(),
        ));
    }
    let root = elems
        .iter()
        .find(|e| e.is(NS_RELS, "Relationships"))
        .ok_or_else(|| LabelError::malformed(F, format!("{RELS} has no Relationships element")))?;
    let ids: Vec<&str> = elems
        .iter()
        .filter_map(|e| e.attr("Id").map(|a| a.value.as_str()))
        .collect();
    let mut id = "rIdAIGC".to_string();
    while ids.contains(&id.as_str()) {
        id.push('X');
    }
    let r =
        format!("<Relationship Id=\"{id}\" Type=\"{REL_CUSTOM}\" Target=\"docProps/custom.xml\"/>");
    Ok(format!(
        "{}{r}{}",
        &s[..root.end_tag_start],
        &s[root.end_tag_start..]
    ))
}

fn rebuild(bytes: &[u8], json: Option<&str>) -> Result<Vec<u8>, LabelError> {
    let mut a = open(bytes)?;
    let custom = part(&mut a, CUSTOM)?;
    let new_custom = edit_custom(custom.as_deref(), json)?;
    let want = new_custom.is_some();
    let types =
        part(&mut a, TYPES)?.ok_or_else(|| LabelError::malformed(F, format!("no {TYPES} part")))?;
    let new_types = edit_types(&types, want)?;
    let rels = part(&mut a, RELS)?;
    let new_rels = match &rels {
        Some(r) => Some(edit_rels(r, want)?),
        None if want => return Err(LabelError::malformed(F, format!("no {RELS} part"))),
        None => None,
    };
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut w = ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len() + 4096)));
    let mut wrote_custom = false;
    for i in 0..a.len() {
        let f = a.by_index_raw(i).map_err(zerr)?;
        let name = f.name().map_err(zerr)?.into_owned();
        let replacement: Option<&str> = match name.as_str() {
            CUSTOM => {
                wrote_custom = true;
                match &new_custom {
                    Some(c) if Some(c) != custom.as_ref() => Some(c),
                    Some(_) => None,
                    None => continue,
                }
            }
            TYPES if new_types != types => Some(&new_types),
            RELS if new_rels != rels => new_rels.as_deref(),
            _ => None,
        };
        match replacement {
            Some(text) => {
                drop(f);
                w.start_file(name.as_str(), opts).map_err(zerr)?;
                w.write_all(text.as_bytes()).map_err(zerr)?;
            }
            None => w.raw_copy_file(f).map_err(zerr)?,
        }
    }
    if let (false, Some(c)) = (wrote_custom, &new_custom) {
        w.start_file(CUSTOM, opts).map_err(zerr)?;
        w.write_all(c.as_bytes()).map_err(zerr)?;
    }
    Ok(w.finish().map_err(zerr)?.into_inner())
}

impl FormatHandler for Ooxml {
    fn name(&self) -> &'static str {
        "ooxml"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["docx", "pptx", "xlsx", "docm", "pptm", "xlsm"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(b"PK\x03\x04") && crate::bytes::find(bytes, TYPES.as_bytes()).is_some()
    }
    fn canonical_carrier(&self) -> &'static str {
        "ooxml:custom:AIGC"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let mut a = open(bytes)?;
        let Some(c) = part(&mut a, CUSTOM)? else {
            return Ok(Vec::new());
        };
        labels_in(&c)?
            .into_iter()
            .map(|v| {
                payload::decode(&v)
                    .map(|label| FoundLabel {
                        carrier: "ooxml:custom:AIGC".into(),
                        label,
                    })
                    .map_err(|r| LabelError::bad_label(F, "ooxml:custom:AIGC", r))
            })
            .collect()
    }

    fn write_parts<'a>(
        &self,
        bytes: &'a [u8],
        label: &AigcLabel,
    ) -> Result<Output<'a>, LabelError> {
        let j = payload::encode(label)?;
        rebuild(bytes, Some(&j)).map(Output::from_vec)
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        rebuild(bytes, None)
    }

    /// Every part by name (sorted) and uncompressed content, streamed; except custom.xml, and
    /// with the custom-properties override and relationship taken out of [Content_Types].xml
    /// and _rels/.rels.
    fn content_digest(&self, bytes: &[u8]) -> Result<[u8; 32], LabelError> {
        let mut a = open(bytes)?;
        let mut names: Vec<(String, usize)> = Vec::with_capacity(a.len());
        for i in 0..a.len() {
            let f = a.by_index_raw(i).map_err(zerr)?;
            names.push((f.name().map_err(zerr)?.into_owned(), i));
        }
        names.sort();
        let mut h = Sha256::new();
        for (name, i) in names {
            if name == CUSTOM {
                continue;
            }
            h.update((name.len() as u64).to_be_bytes());
            h.update(name.as_bytes());
            if name == TYPES || name == RELS {
                let s = part(&mut a, &name)?.unwrap_or_default();
                let s = if name == TYPES {
                    edit_types(&s, false)?
                } else {
                    edit_rels(&s, false)?
                };
                h.update(s.as_bytes());
                continue;
            }
            let mut f = a.by_index(i).map_err(zerr)?;
            let mut buf = [0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf).map_err(zerr)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
        Ok(h.finalize().into())
    }
}

/// An OOXML package whose custom property is named `aigc` and holds the bare JSON object (a
/// non-canonical form), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let bare = serde_json::to_string(label).unwrap_or_default();
    let Ok(out) = rebuild(bytes, Some(&bare)) else {
        return Vec::new();
    };
    // Rename the property in place: same length, so the raw edit is safe after re-zipping.
    let Ok(mut a) = open(&out) else {
        return Vec::new();
    };
    let Ok(Some(c)) = part(&mut a, CUSTOM) else {
        return Vec::new();
    };
    let c = c.replace("name=\"AIGC\"", "name=\"aigc\"");
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..a.len() {
        let Ok(f) = a.by_index_raw(i) else {
            return Vec::new();
        };
        let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
        if name == CUSTOM {
            drop(f);
            let _ = w.start_file(name.as_str(), SimpleFileOptions::default());
            let _ = w.write_all(c.as_bytes());
        } else {
            let _ = w.raw_copy_file(f);
        }
    }
    w.finish().map(|c| c.into_inner()).unwrap_or_default()
}
