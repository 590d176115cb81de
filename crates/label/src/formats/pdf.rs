//! PDF: key `/AIGC` in the document Info dictionary (canonical; exiftool reads it as PDF:AIGC),
//! also XMP in the catalog's `/Metadata` stream. Uses `lopdf`: the document is parsed and
//! written again object by object; stream contents (images, fonts, page content) are copied as
//! stored, never decoded and re-encoded. `lopdf` bounds bracket nesting (100) and decompressed
//! sizes (256 MiB); a panic inside it is caught and reported as a malformed file.

use std::panic::{catch_unwind, AssertUnwindSafe};

use hegui_types::AigcLabel;
use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};
use sha2::{Digest, Sha256};

use crate::{payload, xmp, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "PDF";
/// Deepest object nesting hashed.
const MAX_DEPTH: usize = 64;

/// The PDF handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pdf;

fn load(bytes: &[u8]) -> Result<Document, LabelError> {
    if crate::bytes::find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_none() {
        return Err(LabelError::malformed(
            F,
            "no %PDF- header in the first 1024 bytes",
        ));
    }
    let doc = match catch_unwind(AssertUnwindSafe(|| Document::load_mem(bytes))) {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return Err(LabelError::malformed(F, e.to_string())),
        Err(_) => {
            return Err(LabelError::malformed(
                F,
                "the PDF parser failed on this file",
            ))
        }
    };
    if doc.is_encrypted() || doc.trailer.get(b"Encrypt").is_ok() {
        return Err(LabelError::unsupported(F, "encrypted documents"));
    }
    Ok(doc)
}

fn reference(o: &Object) -> Option<ObjectId> {
    match o {
        Object::Reference(id) => Some(*id),
        _ => None,
    }
}

fn info_id(doc: &Document) -> Option<ObjectId> {
    doc.trailer.get(b"Info").ok().and_then(reference)
}

fn catalog_id(doc: &Document) -> Option<ObjectId> {
    doc.trailer.get(b"Root").ok().and_then(reference)
}

fn metadata_id(doc: &Document) -> Option<ObjectId> {
    let cat = catalog_id(doc)?;
    match doc.objects.get(&cat)? {
        Object::Dictionary(d) => d.get(b"Metadata").ok().and_then(reference),
        _ => None,
    }
}

fn info(doc: &Document) -> Option<&Dictionary> {
    match doc.trailer.get(b"Info").ok()? {
        Object::Dictionary(d) => Some(d),
        Object::Reference(id) => match doc.objects.get(id)? {
            Object::Dictionary(d) => Some(d),
            _ => None,
        },
        _ => None,
    }
}

fn text(o: &Object) -> Option<String> {
    match o {
        Object::String(b, _) => Some(match b.strip_prefix(b"\xfe\xff") {
            Some(u) => String::from_utf16_lossy(
                &u.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect::<Vec<_>>(),
            ),
            None => String::from_utf8_lossy(b).into_owned(),
        }),
        Object::Name(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

fn metadata_xmp(doc: &Document) -> Option<(ObjectId, Vec<u8>)> {
    let id = metadata_id(doc)?;
    match doc.objects.get(&id)? {
        Object::Stream(s) => {
            let c = if s.dict.get(b"Filter").is_ok() {
                s.decompressed_content().ok()?
            } else {
                s.content.clone()
            };
            Some((id, c))
        }
        _ => None,
    }
}

fn rebuild(bytes: &[u8], label: Option<&AigcLabel>) -> Result<Vec<u8>, LabelError> {
    let json = label.map(payload::encode).transpose()?;
    let mut doc = load(bytes)?;
    // XMP metadata: take the label out (the Info dictionary is the one carrier we write).
    if let Some((id, x)) = metadata_xmp(&doc) {
        let x = xmp::text(F, &x)?;
        match xmp::strip(F, &x)? {
            Some(k) if k == x => {}
            Some(k) => {
                if let Ok(Object::Stream(s)) = doc.get_object_mut(id) {
                    s.dict.remove(b"Filter");
                    s.dict.remove(b"DecodeParms");
                    s.set_content(k.into_bytes());
                }
            }
            None => {
                doc.objects.remove(&id);
                if let Some(cat) = catalog_id(&doc) {
                    if let Ok(Object::Dictionary(d)) = doc.get_object_mut(cat) {
                        d.remove(b"Metadata");
                    }
                }
            }
        }
    }
    match (info_id(&doc), &json) {
        (Some(id), _) => {
            if let Ok(Object::Dictionary(d)) = doc.get_object_mut(id) {
                d.remove(b"AIGC");
                if let Some(j) = &json {
                    d.set(
                        "AIGC",
                        Object::String(j.as_bytes().to_vec(), StringFormat::Literal),
                    );
                }
            }
        }
        (None, Some(j)) => {
            if let Ok(Object::Dictionary(d)) = doc.trailer.get_mut(b"Info") {
                d.remove(b"AIGC");
                d.set(
                    "AIGC",
                    Object::String(j.as_bytes().to_vec(), StringFormat::Literal),
                );
            } else {
                let mut d = Dictionary::new();
                d.set(
                    "AIGC",
                    Object::String(j.as_bytes().to_vec(), StringFormat::Literal),
                );
                let id = doc
                    .try_add_object(d)
                    .map_err(|e| LabelError::malformed(F, e.to_string()))?;
                doc.trailer.set("Info", Object::Reference(id));
            }
        }
        (None, None) => {
            if let Ok(Object::Dictionary(d)) = doc.trailer.get_mut(b"Info") {
                d.remove(b"AIGC");
            }
        }
    }
    let mut out = Vec::with_capacity(bytes.len() + 1024);
    match catch_unwind(AssertUnwindSafe(|| doc.save_to(&mut out))) {
        Ok(Ok(())) => Ok(out),
        Ok(Err(e)) => Err(LabelError::malformed(
            F,
            format!("cannot write the document: {e}"),
        )),
        Err(_) => Err(LabelError::malformed(
            F,
            "the PDF writer failed on this file",
        )),
    }
}

fn hash_obj(h: &mut Sha256, o: &Object, depth: usize, skip: &[&[u8]]) -> Result<(), LabelError> {
    if depth >= MAX_DEPTH {
        return Err(LabelError::TooDeep {
            format: F,
            limit: MAX_DEPTH,
            offset: 0,
        });
    }
    match o {
        Object::Null => h.update(b"n"),
        Object::Boolean(b) => h.update(if *b { b"t" } else { b"f" }),
        Object::Integer(i) => {
            h.update(b"i");
            h.update(i.to_be_bytes());
        }
        Object::Real(r) => {
            h.update(b"r");
            h.update(r.to_bits().to_be_bytes());
        }
        Object::Name(n) => {
            h.update(b"N");
            h.update((n.len() as u64).to_be_bytes());
            h.update(n);
        }
        Object::String(s, _) => {
            h.update(b"s");
            h.update((s.len() as u64).to_be_bytes());
            h.update(s);
        }
        Object::Array(a) => {
            h.update(b"a");
            h.update((a.len() as u64).to_be_bytes());
            for x in a {
                hash_obj(h, x, depth + 1, &[])?;
            }
        }
        Object::Dictionary(d) => hash_dict(h, d, depth, skip)?,
        Object::Stream(s) => {
            h.update(b"S");
            hash_dict(h, &s.dict, depth, &[b"Length"])?;
            h.update((s.content.len() as u64).to_be_bytes());
            h.update(&s.content);
        }
        Object::Reference((n, g)) => {
            h.update(b"R");
            h.update(n.to_be_bytes());
            h.update(g.to_be_bytes());
        }
    }
    Ok(())
}

fn hash_dict(
    h: &mut Sha256,
    d: &Dictionary,
    depth: usize,
    skip: &[&[u8]],
) -> Result<(), LabelError> {
    let mut entries: Vec<(&Vec<u8>, &Object)> = d
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_slice()))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    h.update(b"d");
    h.update((entries.len() as u64).to_be_bytes());
    for (k, v) in entries {
        h.update((k.len() as u64).to_be_bytes());
        h.update(k);
        hash_obj(h, v, depth + 1, &[])?;
    }
    Ok(())
}

impl Pdf {
    /// Rebuilds through lopdf, then reads the result back: lopdf loads some damaged files
    /// (a broken cross-reference stream, say) whose rewrite loses the label or changes what
    /// the content digest covers. Such a file is refused rather than written wrong (found by
    /// the `label_doc` fuzz target).
    fn checked_rebuild(
        &self,
        bytes: &[u8],
        label: Option<&AigcLabel>,
    ) -> Result<Vec<u8>, LabelError> {
        let out = rebuild(bytes, label)?;
        let damaged = |what: &str| {
            LabelError::malformed(
                F,
                format!("the document is damaged so that rewriting it {what}; repair it (e.g. `qpdf in.pdf out.pdf`) and label the repaired file"),
            )
        };
        let found = self
            .read(&out)
            .map_err(|_| damaged("gives a file that cannot be read back"))?;
        match label {
            Some(l) if found.len() != 1 || &found[0].label != l => {
                return Err(damaged("does not keep exactly the one label written"))
            }
            None if !found.is_empty() => return Err(damaged("does not remove the label")),
            _ => {}
        }
        if self.content_digest(&out)? != self.content_digest(bytes)? {
            return Err(damaged("changes the content"));
        }
        Ok(out)
    }
}

impl FormatHandler for Pdf {
    fn name(&self) -> &'static str {
        "pdf"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["pdf"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        crate::bytes::find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some()
    }
    fn canonical_carrier(&self) -> &'static str {
        "pdf:Info:AIGC"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let doc = load(bytes)?;
        let mut found = Vec::new();
        if let Some(t) = info(&doc).and_then(|d| d.get(b"AIGC").ok()).and_then(text) {
            let label =
                payload::decode(&t).map_err(|r| LabelError::bad_label(F, "pdf:Info:AIGC", r))?;
            found.push(FoundLabel {
                carrier: "pdf:Info:AIGC".into(),
                label,
            });
        }
        if let Some((_, x)) = metadata_xmp(&doc) {
            if let Some(label) = xmp::read_label(F, "xmp", &x)? {
                found.push(FoundLabel {
                    carrier: "xmp".into(),
                    label,
                });
            }
        }
        Ok(found)
    }

    fn write_parts<'a>(
        &self,
        bytes: &'a [u8],
        label: &AigcLabel,
    ) -> Result<Output<'a>, LabelError> {
        self.checked_rebuild(bytes, Some(label))
            .map(Output::from_vec)
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        self.checked_rebuild(bytes, None)
    }

    /// Every object by id (the parsed form, so the serialisation does not matter) except the
    /// Info dictionary, the XMP metadata stream, object and cross-reference streams; the catalog
    /// without `/Metadata`; stream dictionaries without `/Length`.
    fn content_digest(&self, bytes: &[u8]) -> Result<[u8; 32], LabelError> {
        let doc = load(bytes)?;
        let info = info_id(&doc);
        let meta = metadata_id(&doc);
        let cat = catalog_id(&doc);
        let mut h = Sha256::new();
        for (id, o) in &doc.objects {
            if Some(*id) == info || Some(*id) == meta {
                continue;
            }
            if let Object::Stream(s) = o {
                if s.dict.has_type(b"ObjStm") || s.dict.has_type(b"XRef") {
                    continue;
                }
            }
            h.update(id.0.to_be_bytes());
            h.update(id.1.to_be_bytes());
            let skip: &[&[u8]] = if Some(*id) == cat {
                &[b"Metadata"]
            } else {
                &[]
            };
            hash_obj(&mut h, o, 0, skip)?;
        }
        Ok(h.finalize().into())
    }
}

/// A PDF with the label only in XMP metadata (a foreign carrier), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let Ok(mut doc) = load(bytes) else {
        return Vec::new();
    };
    let mut d = Dictionary::new();
    d.set("Type", Object::Name(b"Metadata".to_vec()));
    d.set("Subtype", Object::Name(b"XML".to_vec()));
    let x = xmp::packet(label).unwrap_or_default().into_bytes();
    let Ok(id) = doc.try_add_object(Object::Stream(lopdf::Stream::new(d, x))) else {
        return Vec::new();
    };
    if let Some(cat) = catalog_id(&doc) {
        if let Ok(Object::Dictionary(c)) = doc.get_object_mut(cat) {
            c.set("Metadata", Object::Reference(id));
        }
    }
    let mut out = Vec::new();
    let _ = doc.save_to(&mut out);
    out
}
