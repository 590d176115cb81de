//! PDF: key `/AIGC` in the document Info dictionary (canonical; exiftool reads it as PDF:AIGC),
//! also XMP in the catalog's `/Metadata` stream. Uses `lopdf`.
//!
//! Labeling a file that carries no label yet is an incremental update (PDF 32000-1 §7.5.6):
//! the original bytes stay as they are, followed by a new version of the Info dictionary, a
//! cross-reference section for it (a table, or a stream when the file's last section is one)
//! and a trailer whose `/Prev` is the original `startxref`. Such an update, while it ends the
//! file, is taken off to replace or remove the label ([`peel`]). Every other case (a label
//! elsewhere, a file whose cross-reference data lopdf had to repair) parses the document and
//! writes it again object by object; stream contents (images, fonts, page content) are
//! copied as stored, never decoded and re-encoded. `lopdf` bounds bracket nesting (100) and
//! decompressed sizes (256 MiB); a panic inside it is caught and reported as a malformed file.
//!
//! Reading, the content digest and the incremental update use a light load ([`load_light`]):
//! lopdf parses every object, but leaves the content of each long stream (images, fonts) in
//! the input, where it is hashed, so a document is never copied. Only a full rewrite loads
//! every stream's content.

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::digest::{ContentHasher, DigestAlg};
use hegui_types::AigcLabel;
use lopdf::xref::XrefEntry;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, Stream, StringFormat};

use crate::{payload, xmp, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "PDF";
/// Deepest object nesting hashed.
const MAX_DEPTH: usize = 64;

/// The PDF handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pdf;

/// Where the `%PDF-` header starts (lopdf counts offsets from there).
fn header_at(bytes: &[u8]) -> Result<usize, LabelError> {
    crate::bytes::find(&bytes[..bytes.len().min(1024)], b"%PDF-")
        .ok_or_else(|| LabelError::malformed(F, "no %PDF- header in the first 1024 bytes"))
}

/// The whole document, every stream's content included (for a full rewrite).
fn load(bytes: &[u8]) -> Result<Document, LabelError> {
    load_with(bytes, LoadOptions::default())
}

fn load_with(bytes: &[u8], options: LoadOptions) -> Result<Document, LabelError> {
    header_at(bytes)?;
    let doc = match catch_unwind(AssertUnwindSafe(|| {
        Document::load_mem_with_options(bytes, options)
    })) {
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

/// Streams this long or longer are left in the input by a light load. Tests and fuzzing leave
/// nearly every stream, so their small files go through the same path as large ones.
const LEAVE_FROM: usize = if cfg!(any(test, fuzzing)) {
    16
} else {
    64 * 1024
};

/// A stream whose content a light load left in the input.
#[derive(Debug, Clone, Copy)]
struct Left {
    /// Where the content lies in the input: its first byte and its length.
    start: usize,
    len: usize,
    /// The digest of the content (in the algorithm named), for the content digest, when the
    /// load was asked for it.
    digest: Option<(DigestAlg, [u8; 32])>,
}

/// The same place in the input. Two loads compared are of one file and a file that starts with
/// it (a file and its label update appended, or the file before that update), so the same
/// range means the same content; a digest one load computed and the other did not does not
/// count.
impl PartialEq for Left {
    fn eq(&self, o: &Self) -> bool {
        (self.start, self.len) == (o.start, o.len)
    }
}

/// A parsed document, and what is known of the content of the long streams it does not hold.
struct Parsed {
    doc: Document,
    /// The streams whose content was left in the input, by object.
    left: BTreeMap<ObjectId, Left>,
}

impl Parsed {
    /// A document loaded in full.
    fn whole(doc: Document) -> Self {
        Parsed {
            doc,
            left: BTreeMap::new(),
        }
    }

    /// The length and digest (in `alg`) of the stored (undecoded) content of the stream `s`,
    /// object `id`.
    fn content_hash(
        &self,
        alg: DigestAlg,
        id: ObjectId,
        s: &Stream,
    ) -> Result<(usize, [u8; 32]), LabelError> {
        match self.left.get(&id) {
            None => Ok((s.content.len(), alg.digest(&s.content))),
            Some(Left {
                len,
                digest: Some((a, h)),
                ..
            }) if *a == alg => Ok((*len, *h)),
            // A caller's mistake, not the file's: a light load for the digest hashes them all
            // in the algorithm asked for.
            Some(_) => Err(LabelError::malformed(
                F,
                "internal error: a stream's content was not kept for the digest",
            )),
        }
    }
}

/// The document without the content of its long streams (see the module documentation); it
/// reads as [`load`] reads it, object for object, and has the same content digest.
///
/// lopdf copies every stream's content out of the input as it parses it; the copy of lopdf
/// this project builds (`vendor/lopdf`, see its `HEGUI.md`) has an option to leave long
/// streams' content where it lies and say where that is. Their content is hashed from the
/// input: with `for_digest`, in that algorithm, for [`digest_doc`]. XMP metadata, which the
/// label reader reads, is copied in.
fn load_light(bytes: &[u8], for_digest: Option<DigestAlg>) -> Result<Parsed, LabelError> {
    let header = header_at(bytes)?;
    let options = LoadOptions {
        leave_streams_from: Some(LEAVE_FROM),
        ..LoadOptions::default()
    };
    let mut doc = load_with(bytes, options)?;
    let ranges = std::mem::take(&mut doc.left_streams);
    let meta = metadata_id(&doc);
    let mut left = BTreeMap::new();
    for (id, (start, len)) in ranges {
        // lopdf counts offsets from the header, and checked that the content is in the input.
        let content = header
            .checked_add(start)
            .and_then(|at| bytes.get(at..at.checked_add(len)?))
            .ok_or_else(|| {
                LabelError::malformed(F, "internal error: a stream left in the input is not in it")
            })?;
        let Some(Object::Stream(s)) = doc.objects.get_mut(&id) else {
            continue;
        };
        if Some(id) == meta {
            s.set_content(content.to_vec());
            continue;
        }
        left.insert(
            id,
            Left {
                start,
                len,
                digest: for_digest.map(|a| (a, a.digest(content))),
            },
        );
    }
    Ok(Parsed { doc, left })
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

/// The XMP metadata packet, decoded, and its object. `None` when there is none, or it
/// cannot be decoded.
fn metadata_xmp(p: &Parsed) -> Option<(ObjectId, Vec<u8>)> {
    let id = metadata_id(&p.doc)?;
    let Object::Stream(s) = p.doc.objects.get(&id)? else {
        return None;
    };
    if p.left.contains_key(&id) {
        // Not read by a light load (see `load_light`).
        return None;
    }
    let c = if s.dict.get(b"Filter").is_ok() {
        s.decompressed_content().ok()?
    } else {
        s.content.clone()
    };
    Some((id, c))
}

/// `doc` (the parsed input, `len` bytes long) written again in full with the label JSON `json`
/// in the Info dictionary, or without any label for `None`.
fn rebuild(doc: Document, len: usize, json: Option<&str>) -> Result<Vec<u8>, LabelError> {
    let p = Parsed::whole(doc);
    let found = metadata_xmp(&p);
    let mut doc = p.doc;
    // XMP metadata: take the label out (the Info dictionary is the one carrier we write).
    if let Some((id, x)) = found {
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
    match (info_id(&doc), json) {
        (Some(id), _) => {
            if let Ok(Object::Dictionary(d)) = doc.get_object_mut(id) {
                d.remove(b"AIGC");
                if let Some(j) = json {
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
    let mut out = Vec::with_capacity(len + 1024);
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

fn hash_obj(
    h: &mut ContentHasher,
    alg: DigestAlg,
    o: &Object,
    depth: usize,
    skip: &[&[u8]],
) -> Result<(), LabelError> {
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
                hash_obj(h, alg, x, depth + 1, &[])?;
            }
        }
        Object::Dictionary(d) => hash_dict(h, alg, d, depth, skip)?,
        Object::Stream(s) => hash_stream(
            h,
            alg,
            &s.dict,
            (s.content.len(), alg.digest(&s.content)),
            depth,
        )?,
        Object::Reference((n, g)) => {
            h.update(b"R");
            h.update(n.to_be_bytes());
            h.update(g.to_be_bytes());
        }
    }
    Ok(())
}

/// A stream: its dictionary, then the length and digest of its stored content (hashed apart,
/// so a light load can hash a long stream's content as soon as it is parsed).
fn hash_stream(
    h: &mut ContentHasher,
    alg: DigestAlg,
    dict: &Dictionary,
    (len, content): (usize, [u8; 32]),
    depth: usize,
) -> Result<(), LabelError> {
    h.update(b"S");
    hash_dict(h, alg, dict, depth, &[b"Length"])?;
    h.update((len as u64).to_be_bytes());
    h.update(content);
    Ok(())
}

fn hash_dict(
    h: &mut ContentHasher,
    alg: DigestAlg,
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
        hash_obj(h, alg, v, depth + 1, &[])?;
    }
    Ok(())
}

const INFO_CARRIER: &str = "pdf:Info:AIGC";

/// The label JSON as the PDF string written in the Info dictionary.
fn label_string(json: &str) -> Object {
    Object::String(json.as_bytes().to_vec(), StringFormat::Literal)
}

/// Every label carrier in the parsed document.
fn read_doc(p: &Parsed) -> Result<Vec<FoundLabel>, LabelError> {
    let mut found = Vec::new();
    if let Some(t) = info(&p.doc)
        .and_then(|d| d.get(b"AIGC").ok())
        .and_then(text)
    {
        let label = payload::decode(&t).map_err(|r| LabelError::bad_label(F, INFO_CARRIER, r))?;
        found.push(FoundLabel {
            carrier: INFO_CARRIER.into(),
            label,
        });
    }
    if let Some((_, x)) = metadata_xmp(p) {
        if let Some(label) = xmp::read_label(F, "xmp", &x)? {
            found.push(FoundLabel {
                carrier: "xmp".into(),
                label,
            });
        }
    }
    Ok(found)
}

/// The content digest (in `alg`) of the parsed document (see [`Pdf::content_digest_with`]).
fn digest_doc(p: &Parsed, alg: DigestAlg) -> Result<[u8; 32], LabelError> {
    let doc = &p.doc;
    let info = info_id(doc);
    let meta = metadata_id(doc);
    let cat = catalog_id(doc);
    let mut h = alg.hasher();
    for (id, o) in &doc.objects {
        if Some(*id) == info || Some(*id) == meta {
            continue;
        }
        if is_structural(o) {
            continue;
        }
        h.update(id.0.to_be_bytes());
        h.update(id.1.to_be_bytes());
        let skip: &[&[u8]] = if Some(*id) == cat {
            &[b"Metadata"]
        } else {
            &[]
        };
        match o {
            Object::Stream(s) => {
                hash_stream(&mut h, alg, &s.dict, p.content_hash(alg, *id, s)?, 0)?
            }
            o => hash_obj(&mut h, alg, o, 0, skip)?,
        }
    }
    Ok(h.finalize())
}

/// Object streams and cross-reference streams: file structure, not content.
fn is_structural(o: &Object) -> bool {
    matches!(o, Object::Stream(s) if s.dict.has_type(b"ObjStm") || s.dict.has_type(b"XRef"))
}

/// True when the document carries a label carrier, or one that cannot be told apart from
/// none: an Info `/AIGC` entry of any value, or XMP metadata that mentions the label or cannot
/// be read.
fn has_carrier(p: &Parsed) -> bool {
    if info(&p.doc).is_some_and(|d| d.has(b"AIGC")) {
        return true;
    }
    match metadata_xmp(p) {
        None => false,
        Some((_, x)) => !matches!(xmp::text(F, &x).and_then(|t| xmp::find(F, &t)), Ok(None)),
    }
}

/// True when lopdf loaded every object the cross-reference data names as in use, under the
/// number and generation it names. Lenient loading skips an object it cannot parse; a file
/// with such a gap is read differently by others, and by lopdf once written again, so it is
/// not updated in place (the full rewrite checks it, and refuses it if need be).
fn loaded_as_listed(doc: &Document) -> bool {
    doc.reference_table.entries.iter().all(|(&n, e)| match e {
        XrefEntry::Normal { generation, .. } => doc.objects.contains_key(&(n, *generation)),
        XrefEntry::Compressed { .. } => doc.objects.contains_key(&(n, 0)),
        XrefEntry::Free | XrefEntry::UnusableFree => true,
    })
}

/// The last cross-reference section of the file: the offset after the last `startxref` in
/// its final 2 KiB, and whether the section there is a cross-reference stream (`N G obj`)
/// rather than a table (`xref`). `None` when there is no such keyword or it points elsewhere.
fn last_xref(bytes: &[u8]) -> Option<(usize, bool)> {
    let from = bytes.len().saturating_sub(2048);
    let at = from + memchr::memmem::rfind(bytes.get(from..)?, b"startxref")? + b"startxref".len();
    let rest = bytes.get(at..)?;
    let rest = &rest[rest.iter().take_while(|c| c.is_ascii_whitespace()).count()..];
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let offset: usize = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let section = bytes.get(offset..)?;
    if section.starts_with(b"xref") {
        return Some((offset, false));
    }
    // `N G obj`
    let mut s = section;
    for _ in 0..2 {
        let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let w = s[n..]
            .iter()
            .take_while(|c| c.is_ascii_whitespace())
            .count();
        if n == 0 || w == 0 {
            return None;
        }
        s = &s[n + w..];
    }
    s.starts_with(b"obj").then_some((offset, true))
}

/// The section appended by an incremental update, and what it claims, for the check.
struct Update {
    /// The bytes after the original's.
    tail: Vec<u8>,
    /// The Info dictionary's object.
    info: ObjectId,
    /// The cross-reference stream's own object, when the update has one.
    xref_obj: Option<ObjectId>,
    /// Where the update's cross-reference section starts in the output.
    xref_at: usize,
}

/// The incremental update adding the label JSON `json` to the Info dictionary of `doc`, the
/// parsed `bytes`; `None` when the file does not allow one (see [`Pdf::write_parts`]).
fn update(bytes: &[u8], p: &Parsed, json: &str) -> Option<Update> {
    let doc = &p.doc;
    if !bytes.starts_with(b"%PDF-")
        || doc.xref_recovery.is_some()
        || doc.encryption_state.is_some()
        || doc.trailer.has(b"Encrypt")
        || has_carrier(p)
        || !loaded_as_listed(doc)
    {
        return None;
    }
    let (prev, stream) = last_xref(bytes)?;
    if prev != doc.xref_start {
        return None;
    }
    let root = doc.trailer.get(b"Root").ok().and_then(reference)?;
    if !matches!(doc.objects.get(&root), Some(Object::Dictionary(_))) {
        return None;
    }
    let size = doc
        .trailer
        .get(b"Size")
        .ok()
        .and_then(|s| s.as_i64().ok())
        .and_then(|s| u32::try_from(s).ok())?
        .max(doc.max_id.checked_add(1)?);
    let mut next = size;
    let mut new_id = || {
        let id = (next, 0);
        next = next.checked_add(1)?;
        Some(id)
    };
    let (info, mut dict) = match doc.trailer.get(b"Info") {
        Ok(Object::Reference(id)) => match doc.objects.get(id) {
            Some(Object::Dictionary(d)) => (*id, d.clone()),
            _ => return None,
        },
        Ok(Object::Dictionary(d)) => (new_id()?, d.clone()),
        Ok(Object::Null) | Err(_) => (new_id()?, Dictionary::new()),
        Ok(_) => return None,
    };
    dict.set("AIGC", label_string(json));
    let xref_obj = if stream { Some(new_id()?) } else { None };

    let mut tail = Vec::with_capacity(json.len() + 512);
    if !matches!(bytes.last(), Some(b'\n' | b'\r')) {
        tail.push(b'\n');
    }
    let info_at = bytes.len() + tail.len();
    writeln!(tail, "{} {} obj", info.0, info.1).ok()?;
    lopdf::Writer::write_object(&mut tail, &Object::Dictionary(dict)).ok()?;
    tail.extend_from_slice(b"\nendobj\n");
    let xref_at = bytes.len() + tail.len();

    let mut trailer = Dictionary::new();
    trailer.set("Size", i64::from(next));
    trailer.set("Root", Object::Reference(root));
    trailer.set("Info", Object::Reference(info));
    if let Ok(id) = doc.trailer.get(b"ID") {
        trailer.set("ID", id.clone());
    }
    trailer.set("Prev", i64::try_from(prev).ok()?);
    match xref_obj {
        None => {
            write!(
                tail,
                "xref\n{} 1\n{:010} {:05} n\r\ntrailer\n",
                info.0, info_at, info.1
            )
            .ok()?;
            lopdf::Writer::write_object(&mut tail, &Object::Dictionary(trailer)).ok()?;
            tail.push(b'\n');
        }
        Some(x) => {
            // Type 1 entries, `/W [1 4 2]`: offsets must fit in four bytes.
            let entry = |at: usize, gen: u16| -> Option<Vec<u8>> {
                let mut e = vec![1];
                e.extend_from_slice(&u32::try_from(at).ok()?.to_be_bytes());
                e.extend_from_slice(&gen.to_be_bytes());
                Some(e)
            };
            let mut data = entry(info_at, info.1)?;
            data.extend(entry(xref_at, 0)?);
            let index: Vec<Object> = if info.0.checked_add(1) == Some(x.0) {
                vec![info.0.into(), 2.into()]
            } else {
                vec![info.0.into(), 1.into(), x.0.into(), 1.into()]
            };
            let mut d = Dictionary::new();
            d.set("Type", Object::Name(b"XRef".to_vec()));
            d.set("W", Object::Array(vec![1.into(), 4.into(), 2.into()]));
            d.set("Index", Object::Array(index));
            for (k, v) in trailer.iter() {
                d.set(k.clone(), v.clone());
            }
            writeln!(tail, "{} {} obj", x.0, x.1).ok()?;
            lopdf::Writer::write_object(&mut tail, &Object::Stream(Stream::new(d, data))).ok()?;
            tail.extend_from_slice(b"\nendobj\n");
        }
    }
    write!(tail, "startxref\n{xref_at}\n%%EOF\n").ok()?;
    Some(Update {
        tail,
        info,
        xref_obj,
        xref_at,
    })
}

/// True when `out` (the input `doc` with `u` appended) reads back as intended: its
/// cross-reference data read as written and ending at the update, the one label `label` in
/// the Info dictionary, and every other object as in the input. This guards against lopdf
/// having read the input differently from what the update builds on (a damaged file).
fn update_holds(p: &Parsed, out: &[u8], u: &Update, label: &AigcLabel) -> bool {
    let Ok(back) = load_light(out, None) else {
        return false;
    };
    let one_label = matches!(read_doc(&back), Ok(f) if f.len() == 1 && f[0].carrier == INFO_CARRIER && f[0].label == *label);
    // The streams not kept have the same content.
    let same_left = back.left == p.left;
    let (doc, back) = (&p.doc, &back.doc);
    let numbered = |n: u32| n == u.info.0 || Some(n) == u.xref_obj.map(|x| x.0);
    one_label
        && same_left
        // Every other object read from where the input has it.
        && same_entries(
            back.reference_table.entries.iter().filter(|(n, _)| !numbered(**n)),
            doc.reference_table.entries.iter().filter(|(n, _)| **n != u.info.0),
        )
        && back.xref_recovery.is_none()
        && back.xref_start == u.xref_at
        && info_id(back) == Some(u.info)
        && catalog_id(back) == catalog_id(doc)
        && metadata_id(back) == metadata_id(doc)
        && back
            .objects
            .keys()
            .filter(|id| **id != u.info && Some(**id) != u.xref_obj)
            .eq(doc.objects.keys().filter(|id| **id != u.info))
        && back
            .objects
            .iter()
            .filter(|(id, _)| **id != u.info && Some(**id) != u.xref_obj)
            .all(|(id, o)| doc.objects.get(id) == Some(o))
}

/// The content of the long streams the update's check may leave out of its copy of the labeled
/// file (`readbuf::concat_sparse`), as ranges of `bytes`: its light load leaves them in place
/// unread, as `p`'s did. lopdf never leaves a stream it may decode while loading (an object or
/// cross-reference stream, by its type or, when a damaged file lost that, by `/First` or `/W`:
/// found by fuzzing), and reads the stream where a cross-reference section is in full. Whenever
/// else it would read a left stream's content (a table it must rebuild by scanning the file),
/// the check fails either way, since it requires the cross-reference data read as written.
fn holes(bytes: &[u8], p: &Parsed) -> Result<Vec<std::ops::Range<usize>>, LabelError> {
    let header = header_at(bytes)?;
    Ok(p.left
        .values()
        .map(|l| header + l.start..header + l.start + l.len)
        .collect())
}

/// A labeled PDF: the input's first `cut` bytes (all of it, or all but its label update) and
/// the update `tail`; or written again in full.
enum Joined {
    Update { cut: usize, tail: Vec<u8> },
    Rewritten(Vec<u8>),
}

/// Where the label update ends the file, if it does: the length of the file before it, and
/// that file parsed. A label update is
/// what [`update`] appends: a new version of the Info dictionary, with `/AIGC`, and nothing
/// else (a cross-reference section, and its stream's own object). `p` is `bytes` parsed.
/// Without the update the file reads exactly as it does with it, Info's `/AIGC` apart, and
/// carries no label: so the update can be taken off (to remove the label, or to replace it by
/// another update) instead of writing the file again in full, which would change its bytes
/// everywhere (and invalidate a digital signature of the document).
fn peel(bytes: &[u8], p: &Parsed) -> Option<(usize, Parsed)> {
    let doc = &p.doc;
    if !bytes.starts_with(b"%PDF-")
        || doc.xref_recovery.is_some()
        || doc.encryption_state.is_some()
        || doc.trailer.has(b"Encrypt")
        || !info(doc).is_some_and(|d| d.has(b"AIGC"))
    {
        return None;
    }
    let (xref_at, stream) = last_xref(bytes)?;
    if xref_at != doc.xref_start {
        return None;
    }
    let info_obj = info_id(doc)?;
    let entries = &doc.reference_table.entries;
    // The update starts with the Info dictionary's new version, under the number and
    // generation the trailer names.
    let cut = match entries.get(&info_obj.0) {
        Some(XrefEntry::Normal { offset, generation }) if *generation == info_obj.1 => {
            usize::try_from(*offset).ok()?
        }
        _ => return None,
    };
    // The cross-reference stream's own object, which is the update's section.
    let xref_obj = entries.iter().find_map(|(&n, e)| match e {
        XrefEntry::Normal { offset, generation }
            if stream && usize::try_from(*offset).ok() == Some(xref_at) =>
        {
            Some((n, *generation))
        }
        _ => None,
    });
    if stream && xref_obj.is_none() {
        return None;
    }
    let in_update = |id: ObjectId| id == info_obj || Some(id) == xref_obj;
    let numbered = |n: u32| n == info_obj.0 || Some(n) == xref_obj.map(|x| x.0);
    let offset = |n: u32| match entries.get(&n) {
        Some(XrefEntry::Normal { offset, .. }) => usize::try_from(*offset).ok(),
        _ => None,
    };
    // Every other object comes before the update.
    let before = entries.iter().all(|(&n, e)| match e {
        _ if numbered(n) => true,
        XrefEntry::Normal { offset, .. } => usize::try_from(*offset).is_ok_and(|o| o < cut),
        XrefEntry::Compressed { container, .. } => offset(*container).is_some_and(|o| o < cut),
        XrefEntry::Free | XrefEntry::UnusableFree => true,
    });
    if !before || cut >= xref_at {
        return None;
    }
    let base = &bytes[..cut];
    let q = load_light(base, None).ok()?;
    let without_label = |d: Option<&Dictionary>| {
        let mut d = d.cloned().unwrap_or_default();
        d.remove(b"AIGC");
        d
    };
    let q_info = info_id(&q.doc);
    let same = q.doc.xref_recovery.is_none()
        && last_xref(base).map(|x| x.0) == Some(q.doc.xref_start)
        && !has_carrier(&q)
        && q.left == p.left
        && catalog_id(&q.doc) == catalog_id(doc)
        && without_label(info(&q.doc)) == without_label(info(doc))
        && q_info.is_none_or(|i| i == info_obj)
        // Every other object where it was: the same bytes (two objects equal as parsed, with
        // streams of the same length and content, could still be two places in the file).
        && same_entries(
            entries.iter().filter(|(n, _)| !numbered(**n)),
            q.doc.reference_table.entries.iter().filter(|(n, _)| **n != info_obj.0),
        )
        && doc
            .objects
            .iter()
            .filter(|(id, _)| !in_update(**id))
            .eq(q.doc.objects.iter().filter(|(id, _)| Some(**id) != q_info));
    same.then_some((cut, q))
}

/// True when the two runs of cross-reference entries are the same, number for number.
fn same_entries<'a>(
    a: impl Iterator<Item = (&'a u32, &'a XrefEntry)>,
    b: impl Iterator<Item = (&'a u32, &'a XrefEntry)>,
) -> bool {
    fn key(e: &XrefEntry) -> (u8, u32, u16) {
        match e {
            XrefEntry::Free => (0, 0, 0),
            XrefEntry::UnusableFree => (1, 0, 0),
            XrefEntry::Normal { offset, generation } => (2, *offset, *generation),
            XrefEntry::Compressed { container, index } => (3, *container, *index),
        }
    }
    a.map(|(n, e)| (*n, key(e)))
        .eq(b.map(|(n, e)| (*n, key(e))))
}

impl Pdf {
    /// Rebuilds through lopdf, then reads the result back: lopdf loads some damaged files
    /// (a broken cross-reference stream, say) whose rewrite loses the label or changes what
    /// the content digest covers. Such a file is refused rather than written wrong (found by
    /// the `label_doc` fuzz target). `doc` is the parsed input, `len` bytes long; `digest` its
    /// content digest when the caller has it.
    fn checked_rebuild(
        &self,
        doc: Document,
        len: usize,
        label: Option<&AigcLabel>,
        digest: Option<[u8; 32]>,
    ) -> Result<Vec<u8>, LabelError> {
        let json = label.map(payload::encode).transpose()?;
        let p = Parsed::whole(doc);
        let before = match digest {
            Some(d) => d,
            None => digest_doc(&p, DigestAlg::CURRENT)?,
        };
        let out = rebuild(p.doc, len, json.as_deref())?;
        let damaged = |what: &str| {
            LabelError::malformed(
                F,
                format!("the document is damaged so that rewriting it {what}; repair it (e.g. `qpdf in.pdf out.pdf`) and label the repaired file"),
            )
        };
        let back = load_light(&out, Some(DigestAlg::CURRENT))
            .map_err(|_| damaged("gives a file that cannot be read back"))?;
        let found =
            read_doc(&back).map_err(|_| damaged("gives a file that cannot be read back"))?;
        match label {
            Some(l) if found.len() != 1 || &found[0].label != l => {
                return Err(damaged("does not keep exactly the one label written"))
            }
            None if !found.is_empty() => return Err(damaged("does not remove the label")),
            _ => {}
        }
        if digest_doc(&back, DigestAlg::CURRENT)? != before {
            return Err(damaged("changes the content"));
        }
        Ok(out)
    }

    /// [`FormatHandler::write_parts`] on the parsed input `doc` (see there), whose content
    /// digest is `digest` when the caller has it.
    fn write_doc<'a>(
        &self,
        bytes: &'a [u8],
        p: Parsed,
        label: &AigcLabel,
        digest: Option<[u8; 32]>,
    ) -> Result<Output<'a>, LabelError> {
        // The output keeps the input as a range, so a file is written from the input and the
        // update.
        Ok(match self.write_doc_with(bytes, p, label, digest)? {
            Joined::Update { cut, tail } => {
                let mut out = Output::over(bytes);
                out.keep(&bytes[..cut]);
                out.push(&tail);
                out
            }
            Joined::Rewritten(v) => Output::from_vec(v),
        })
    }

    /// [`Pdf::write_doc`]: the input's first bytes and the update when the update is used,
    /// else the file rewritten in full.
    fn write_doc_with(
        &self,
        bytes: &[u8],
        p: Parsed,
        label: &AigcLabel,
        digest: Option<[u8; 32]>,
    ) -> Result<Joined, LabelError> {
        let json = payload::encode(label)?;
        let holes = holes(bytes, &p)?;
        // A label this handler appended is replaced by taking its update off first.
        let peeled = if has_carrier(&p) {
            peel(bytes, &p)
        } else {
            None
        };
        let (cut, base) = match &peeled {
            Some((cut, q)) => (*cut, q),
            None => (bytes.len(), &p),
        };
        if let Some(u) = update(&bytes[..cut], base, &json) {
            // The check parses the labeled file, which lopdf needs in one buffer: a copy
            // without the long streams' content ([`holes`]), whose pages are never touched.
            let joined = crate::readbuf::concat_sparse(&[&bytes[..cut], &u.tail], &holes);
            if update_holds(base, &joined, &u, label) {
                return Ok(Joined::Update { cut, tail: u.tail });
            }
        }
        drop(peeled);
        // A rewrite needs every stream's content.
        let doc = if p.left.is_empty() {
            p.doc
        } else {
            load(bytes)?
        };
        self.checked_rebuild(doc, bytes.len(), Some(label), digest)
            .map(Joined::Rewritten)
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
        INFO_CARRIER
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        read_doc(&load_light(bytes, None)?)
    }

    /// A file without any label carrier gets an incremental update: the input kept as it is,
    /// then the new Info dictionary, cross-reference section and trailer. The output is parsed
    /// once to check it (see [`update_holds`]). A file with a carrier (whose old copy an update
    /// would leave in the body), one whose cross-reference data lopdf repaired, which names an
    /// object lopdf skipped, or whose `startxref` does not lead to the last section, or an
    /// update that does not read back as intended, is written again in full instead
    /// ([`Pdf::checked_rebuild`]). The input is parsed once either way.
    fn write_parts<'a>(
        &self,
        bytes: &'a [u8],
        label: &AigcLabel,
    ) -> Result<Output<'a>, LabelError> {
        self.write_doc(bytes, load_light(bytes, None)?, label, None)
    }

    /// [`FormatHandler::write_parts`] joined: the same check (on the same copy without the
    /// long streams' content), so both always decide alike.
    fn write(&self, bytes: &[u8], label: &AigcLabel) -> Result<Vec<u8>, LabelError> {
        let p = load_light(bytes, None)?;
        Ok(match self.write_doc_with(bytes, p, label, None)? {
            Joined::Update { cut, tail } => [&bytes[..cut], &tail].concat(),
            Joined::Rewritten(v) => v,
        })
    }

    /// One parse for the digest and the write (the default parses twice).
    fn write_with_digest<'a>(
        &self,
        bytes: &'a [u8],
        label: &mut dyn FnMut(&[u8; 32]) -> Result<AigcLabel, LabelError>,
    ) -> Result<(Output<'a>, AigcLabel), LabelError> {
        let p = load_light(bytes, Some(DigestAlg::CURRENT))?;
        let digest = digest_doc(&p, DigestAlg::CURRENT)?;
        let l = label(&digest)?;
        Ok((self.write_doc(bytes, p, &l, Some(digest))?, l))
    }

    /// A label update this handler appended is taken off ([`peel`]): the file as it was
    /// before. Any other label is removed by writing the file again in full.
    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        let p = load_light(bytes, None)?;
        if let Some((cut, _)) = peel(bytes, &p) {
            return Ok(bytes[..cut].to_vec());
        }
        let doc = if p.left.is_empty() {
            p.doc
        } else {
            load(bytes)?
        };
        self.checked_rebuild(doc, bytes.len(), None, None)
    }

    /// Every object by id (the parsed form, so the serialisation does not matter) except the
    /// Info dictionary, the XMP metadata stream, object and cross-reference streams; the catalog
    /// without `/Metadata`; stream dictionaries without `/Length`, each followed by the length
    /// and digest of its stored content. An incremental update of the Info dictionary
    /// therefore leaves it as it was.
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        digest_doc(&load_light(bytes, Some(alg))?, alg)
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
    // Into the document's XMP metadata if it has some, else a new stream.
    if let Some(id) = metadata_id(&doc) {
        if let Ok(Object::Stream(s)) = doc.get_object_mut(id) {
            s.dict.remove(b"Filter");
            s.set_content(x);
            let mut out = Vec::new();
            let _ = doc.save_to(&mut out);
            return out;
        }
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::conformance::{label, samples};

    /// The sample saved again by lopdf with `options` and `change` applied to it first.
    fn resaved(options: lopdf::SaveOptions, change: impl FnOnce(&mut Document)) -> Vec<u8> {
        let mut doc = Document::load_mem(&samples::pdf()).unwrap();
        change(&mut doc);
        let mut out = Vec::new();
        doc.save_with_options(&mut out, options).unwrap();
        out
    }

    /// The sample with a classic cross-reference table (lopdf writes the 1.5 sample with a
    /// cross-reference stream).
    fn with_table(change: impl FnOnce(&mut Document)) -> Vec<u8> {
        resaved(Default::default(), |d| {
            d.reference_table.cross_reference_type = lopdf::xref::XrefType::CrossReferenceTable;
            change(d);
        })
    }

    fn count(hay: &[u8], needle: &[u8]) -> usize {
        memchr::memmem::find_iter(hay, needle).count()
    }

    /// Writes `l` into `input` and checks the result is an incremental update: the input
    /// bytes first, then one appended section; one label read back; the digest unchanged;
    /// the update's cross-reference section of the kind given. Returns the output.
    fn assert_incremental(input: &[u8], l: &AigcLabel, xref_stream: bool) -> Vec<u8> {
        let h = Pdf;
        let d0 = h.content_digest(input).unwrap();
        let out = h.write_parts(input, l).unwrap().into_vec();
        assert!(
            out.starts_with(input),
            "the input bytes come first, unchanged"
        );
        let tail = &out[input.len()..];
        assert!(tail.len() < 2048, "{} bytes appended", tail.len());
        assert_eq!(count(tail, b"%%EOF"), 1);
        assert_eq!(count(tail, b"/Type/XRef") == 1, xref_stream);
        assert_eq!(count(tail, b"\ntrailer\n") == 1, !xref_stream);
        assert_eq!(last_xref(&out).map(|x| x.1), Some(xref_stream));
        let found = h.read(&out).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].carrier, "pdf:Info:AIGC");
        assert_eq!(&found[0].label, l);
        assert_eq!(h.content_digest(&out).unwrap(), d0);
        // The /Prev chain is followed: the original revision is still the one lopdf reads for
        // every other object, and removing the label gives the original's digest.
        let r = h.remove(&out).unwrap();
        assert!(h.read(&r).unwrap().is_empty());
        assert_eq!(h.content_digest(&r).unwrap(), d0);
        out
    }

    #[test]
    fn an_unlabeled_pdf_gets_an_incremental_update_of_its_info_dictionary() {
        let input = with_table(|_| {});
        assert_eq!(last_xref(&input).map(|x| x.1), Some(false));
        let l = label("0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11");
        let out = assert_incremental(&input, &l, false);
        let tail = &out[input.len()..];
        let tail = tail.strip_prefix(b"\n").unwrap_or(tail);
        // Same object number and generation as the Info dictionary, other entries kept.
        let doc = Document::load_mem(&input).unwrap();
        let (n, g) = info_id(&doc).unwrap();
        assert!(tail.starts_with(format!("{n} {g} obj\n").as_bytes()));
        assert_eq!(count(tail, b"/Producer(hegui tests)"), 1);
        let back = Document::load_mem(&out).unwrap();
        assert_eq!(info_id(&back), Some((n, g)));
        assert_eq!(
            back.trailer.get(b"Size").unwrap(),
            doc.trailer.get(b"Size").unwrap()
        );
        assert_eq!(
            info(&back).unwrap().get(b"Producer").unwrap(),
            info(&doc).unwrap().get(b"Producer").unwrap()
        );
        // The conformance harness's overlapped signing path uses the same layout twice.
        let key = crate::LabelSigningKey::from_secret([9; 32]);
        let signed = crate::ops::label_bytes_from(&Pdf, &input, &l, Some(&key), 0).unwrap();
        assert!(signed.starts_with(&input));
        assert_eq!(
            crate::verify(&Pdf, &signed, &[key.public()]).unwrap(),
            crate::Verdict::Intact
        );
    }

    #[test]
    fn a_pdf_without_a_final_eol_gets_one_before_the_update() {
        let mut input = with_table(|_| {});
        while input.last().is_some_and(|c| c.is_ascii_whitespace()) {
            input.pop();
        }
        assert!(input.ends_with(b"%%EOF"));
        let out = assert_incremental(&input, &label("eol"), false);
        assert_eq!(out[input.len()], b'\n');
        assert!(out[input.len() + 1].is_ascii_digit());
        for eol in ["\n", "\r\n", "\r"] {
            let mut with_eol = input.clone();
            with_eol.extend_from_slice(eol.as_bytes());
            let out = assert_incremental(&with_eol, &label("eol"), false);
            assert!(
                out[with_eol.len()].is_ascii_digit(),
                "{eol:?}: no second EOL"
            );
        }
    }

    #[test]
    fn a_pdf_with_a_cross_reference_stream_gets_a_cross_reference_stream_update() {
        // The shared sample (the conformance harness's and the interop test's) is one.
        let input = samples::pdf();
        assert_eq!(last_xref(&input).map(|x| x.1), Some(true));
        let out = assert_incremental(&input, &label("xref-stream"), true);
        let back = Document::load_mem(&out).unwrap();
        let doc = Document::load_mem(&input).unwrap();
        // The stream's own object number is the old /Size; /Size grows by one.
        let size = |d: &Document| d.trailer.get(b"Size").unwrap().as_i64().unwrap();
        assert_eq!(size(&back), size(&doc) + 1);
        assert_eq!(info_id(&back), info_id(&doc));
        assert_eq!(back.trailer.get(b"ID").ok(), doc.trailer.get(b"ID").ok());
    }

    #[test]
    fn an_info_dictionary_inside_an_object_stream_gets_a_new_version_outside_it() {
        let opts = lopdf::SaveOptions {
            use_xref_streams: true,
            use_object_streams: true,
            ..Default::default()
        };
        let input = resaved(opts, |_| {});
        let doc = Document::load_mem(&input).unwrap();
        let (n, g) = info_id(&doc).unwrap();
        assert!(
            crate::bytes::find(&input, format!("\n{n} {g} obj").as_bytes()).is_none(),
            "the Info dictionary is in an object stream"
        );
        assert_incremental(&input, &label("objstm"), true);
    }

    #[test]
    fn a_direct_or_missing_info_dictionary_becomes_a_new_object() {
        let direct = with_table(|d| {
            d.trailer.set(
                "Info",
                lopdf::dictionary! {"Title" => Object::string_literal("direct")},
            );
        });
        let missing = with_table(|d| {
            d.trailer.remove(b"Info");
        });
        let stream_missing = resaved(
            lopdf::SaveOptions {
                use_xref_streams: true,
                ..Default::default()
            },
            |d| {
                d.trailer.remove(b"Info");
            },
        );
        for (input, stream) in [(direct, false), (missing, false), (stream_missing, true)] {
            let doc = Document::load_mem(&input).unwrap();
            let size = doc.trailer.get(b"Size").unwrap().as_i64().unwrap();
            let out = assert_incremental(&input, &label("new-info"), stream);
            let back = Document::load_mem(&out).unwrap();
            assert_eq!(info_id(&back), Some((size as u32, 0)));
            let grown = if stream { 2 } else { 1 };
            assert_eq!(
                back.trailer.get(b"Size").unwrap().as_i64().unwrap(),
                size + grown
            );
            if let Ok(Object::Dictionary(d)) = doc.trailer.get(b"Info") {
                assert_eq!(
                    info(&back).unwrap().get(b"Title").unwrap(),
                    d.get(b"Title").unwrap()
                );
            }
        }
    }

    /// A label this handler appended as the file's last update is taken off to remove it
    /// (giving back the file it labeled) or to replace it (another update on that file).
    #[test]
    fn a_label_update_is_taken_off_to_remove_or_replace_the_label() {
        let h = Pdf;
        for input in [samples::pdf(), with_table(|_| {}), samples::pdf_long()] {
            let d0 = h.content_digest(&input).unwrap();
            let w1 = h.write(&input, &label("first")).unwrap();
            assert!(w1.starts_with(&input));
            // The file as it was, with the line break the update put after a final `%%EOF`
            // that had none.
            let before = match input.last() {
                Some(b'\n' | b'\r') => input.clone(),
                _ => [input.as_slice(), b"\n"].concat(),
            };
            assert_eq!(h.remove(&w1).unwrap(), before, "the file as it was");
            let parts = h.write_parts(&w1, &label("second")).unwrap();
            assert_eq!(
                parts.kept_len(),
                before.len(),
                "the input kept, not rewritten"
            );
            let w2 = parts.into_vec();
            assert!(w2.starts_with(&input));
            assert_eq!(count(&w2, b"/AIGC"), 1, "the old copy is gone");
            let found = h.read(&w2).unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].label, label("second"));
            assert_eq!(h.content_digest(&w2).unwrap(), d0);
            // Signed, then a propagator's fields added: still the input and one update.
            let key = crate::LabelSigningKey::from_secret([5; 32]);
            let signed = crate::label_bytes(&h, &input, &label("first"), Some(&key)).unwrap();
            let mut p = h.read(&signed).unwrap()[0].label.clone();
            p.content_propagator = Some("PLATFORM01".into());
            let propagated = h.write(&signed, &p).unwrap();
            assert!(propagated.starts_with(&input));
            assert_eq!(
                crate::verify(&h, &propagated, &[key.public()]).unwrap(),
                crate::Verdict::Intact
            );
        }
    }

    /// Anything else is written again in full: a label update on top of another label, an
    /// update that changes more than the label, a label in XMP only.
    #[test]
    fn a_label_not_alone_in_the_last_update_is_written_again_in_full() {
        let h = Pdf;
        let input = samples::pdf();
        let d0 = h.content_digest(&input).unwrap();
        let json = payload::encode(&label("inner")).unwrap();
        // Two label updates stacked (the inner one's file carries a label).
        let w1 = h.write(&input, &label("first")).unwrap();
        let u = update(&w1, &load_light(&w1, None).unwrap(), &json);
        assert!(u.is_none(), "no update over a label");
        // An update that also changes the title.
        let mut p = load_light(&input, None).unwrap();
        let info = info_id(&p.doc).unwrap();
        if let Ok(Object::Dictionary(d)) = p.doc.get_object_mut(info) {
            d.set("Title", Object::string_literal("changed"));
        }
        let u = update(&input, &p, &json).unwrap();
        let titled = [input.as_slice(), &u.tail].concat();
        assert!(peel(&titled, &load_light(&titled, None).unwrap()).is_none());
        for (what, file) in [
            ("title changed with the label", titled),
            ("XMP only", with_foreign(&input, &label("xmp"))),
        ] {
            let parts = h.write_parts(&file, &label("second")).unwrap();
            assert_eq!(parts.kept_len(), 0, "{what}: full rewrite");
            let w = parts.into_vec();
            assert_eq!(count(&w, b"/AIGC"), 1, "{what}");
            let found = h.read(&w).unwrap();
            assert_eq!(found.len(), 1, "{what}");
            assert_eq!(found[0].carrier, "pdf:Info:AIGC", "{what}");
            assert_eq!(found[0].label, label("second"), "{what}");
            assert_eq!(h.content_digest(&w).unwrap(), d0, "{what}");
            let removed = h.remove(&file).unwrap();
            assert!(h.read(&removed).unwrap().is_empty(), "{what}");
        }
    }

    #[test]
    fn a_damaged_startxref_is_written_in_full_or_refused_never_updated() {
        for input in [samples::pdf(), with_table(|_| {})] {
            damaged_startxref(&input);
        }
    }

    fn damaged_startxref(input: &[u8]) {
        let (at, _) = last_xref(input).unwrap();
        let pos = memchr::memmem::rfind(input, b"startxref").unwrap();
        let with_tail = |t: &[u8]| {
            let mut v = input[..pos].to_vec();
            v.extend_from_slice(t);
            v
        };
        let cases = [
            with_tail(format!("startxref\n{}\n%%EOF\n", at + 3).as_bytes()),
            with_tail(b"startxref\n12\n%%EOF\n"),
            with_tail(b"startxref\n99999999\n%%EOF\n"),
            with_tail(b"startxref\n99999999999999999999999\n%%EOF\n"),
            with_tail(b"startxref\n%%EOF\n"),
            with_tail(b"%%EOF\n"),
            input[..pos].to_vec(),
        ];
        let h = Pdf;
        let d0 = h.content_digest(input).unwrap();
        for (i, bad) in cases.iter().enumerate() {
            match h.write_parts(bad, &label("damaged")) {
                Ok(parts) => {
                    assert_eq!(parts.kept_len(), 0, "case {i}: written in full");
                    let out = parts.into_vec();
                    let found = h.read(&out).unwrap();
                    assert_eq!(found.len(), 1, "case {i}");
                    assert_eq!(h.content_digest(&out).unwrap(), d0, "case {i}");
                }
                Err(e) => assert!(e.to_string().contains("PDF"), "case {i}: {e}"),
            }
        }
    }

    /// Found by mutating the samples: lopdf skips an object whose header it cannot parse (here
    /// the catalog's), an update on top would pass its check, but the labeled file could not be
    /// written again.
    #[test]
    fn a_pdf_with_an_object_lopdf_skips_is_not_updated_in_place() {
        for input in [samples::pdf(), with_table(|_| {})] {
            let doc = load(&input).unwrap();
            for id in [catalog_id(&doc).unwrap(), info_id(&doc).unwrap(), (3, 0)] {
                let header = format!("\n{} {} obj", id.0, id.1);
                let at = crate::bytes::find(&input, header.as_bytes()).unwrap();
                let mut bad = input.clone();
                bad[at + header.len() - 3] = b'7';
                let h = Pdf;
                match h.write_parts(&bad, &label("skipped")) {
                    Ok(parts) => {
                        assert_eq!(parts.kept_len(), 0, "{id:?}: written in full");
                        let w = parts.into_vec();
                        assert_eq!(h.read(&w).unwrap().len(), 1);
                        assert_eq!(
                            h.read(&h.write(&w, &label("again")).unwrap())
                                .unwrap()
                                .len(),
                            1
                        );
                    }
                    Err(e) => assert!(e.to_string().contains("PDF"), "{id:?}: {e}"),
                }
            }
        }
    }

    #[test]
    fn an_update_that_does_not_read_back_as_built_is_not_used() {
        for input in [samples::pdf(), with_table(|_| {})] {
            let doc = load_light(&input, None).unwrap();
            let l = label("check");
            let json = payload::encode(&l).unwrap();
            let u = update(&input, &doc, &json).unwrap();
            let joined = [input.as_slice(), &u.tail].concat();
            assert!(update_holds(&doc, &joined, &u, &l));
            // Another label than the one written.
            assert!(!update_holds(&doc, &joined, &u, &label("other")));
            // Every offset the update names off by one (lopdf corrects or rebuilds).
            let mut shifted = input.clone();
            shifted.push(b' ');
            shifted.extend_from_slice(&u.tail);
            let shifted_u = Update {
                xref_at: u.xref_at + 1,
                tail: Vec::new(),
                ..u
            };
            assert!(!update_holds(&doc, &shifted, &shifted_u, &l));
            // An object besides the Info dictionary read differently from the input's.
            let mut other = load_light(&input, None).unwrap();
            let cat = catalog_id(&other.doc).unwrap();
            if let Ok(Object::Dictionary(d)) = other.doc.get_object_mut(cat) {
                d.set("Lang", Object::string_literal("zh"));
            }
            assert!(!update_holds(&other, &joined, &u, &l));
        }
    }

    /// The light load leaves the long streams' content in the input but reads every object
    /// as the full load does and gives the same digest.
    #[test]
    fn a_light_load_reads_as_a_full_load_without_the_long_streams() {
        let input = samples::pdf_long();
        let full = Parsed::whole(load(&input).unwrap());
        let light = load_light(&input, Some(DigestAlg::CURRENT)).unwrap();
        // The image and the page content (whose indirect `/Length` lopdf resolves as it
        // parses), not the object and cross-reference streams or XMP metadata.
        let long: Vec<ObjectId> = full
            .doc
            .objects
            .iter()
            .filter_map(|(id, o)| match o {
                Object::Stream(s)
                    if s.content.len() >= LEAVE_FROM
                        && !s.dict.has_type(b"ObjStm")
                        && !s.dict.has_type(b"XRef")
                        && !s.dict.has_type(b"Metadata") =>
                {
                    Some(*id)
                }
                _ => None,
            })
            .collect();
        assert_eq!(light.left.keys().copied().collect::<Vec<_>>(), long);
        let mut lens: Vec<usize> = light.left.values().map(|l| l.len).collect();
        lens.sort_unstable();
        assert_eq!(lens, [81_908, 128 * 256 * 3]);
        assert_eq!(
            light.doc.objects.keys().collect::<Vec<_>>(),
            full.doc.objects.keys().collect::<Vec<_>>()
        );
        for (id, o) in &full.doc.objects {
            let l = &light.doc.objects[id];
            match (o, l) {
                (Object::Stream(f), Object::Stream(s)) if light.left.contains_key(id) => {
                    assert_eq!(f.dict, s.dict);
                    assert!(s.content.is_empty());
                    assert_eq!(
                        light.content_hash(DigestAlg::CURRENT, *id, s).unwrap(),
                        full.content_hash(DigestAlg::CURRENT, *id, f).unwrap()
                    );
                }
                // Where lopdf found a stream's content (`start_position`) depends on how it
                // read it, not on the document.
                (Object::Stream(f), Object::Stream(s)) => {
                    assert_eq!((&f.dict, &f.content), (&s.dict, &s.content), "{id:?}")
                }
                _ => assert_eq!(o, l, "{id:?}"),
            }
        }
        assert_eq!(
            digest_doc(&light, DigestAlg::CURRENT).unwrap(),
            digest_doc(&full, DigestAlg::CURRENT).unwrap()
        );
        // A load that was not asked for the digest cannot give one.
        assert!(digest_doc(&load_light(&input, None).unwrap(), DigestAlg::CURRENT).is_err());
        // XMP metadata without `/Type /Metadata`, long: it is read all the same, the other
        // long streams are left.
        let mut doc = load(&input).unwrap();
        let meta = metadata_id(&doc).unwrap();
        if let Ok(Object::Stream(s)) = doc.get_object_mut(meta) {
            let mut c = xmp::packet(&label("long-xmp")).unwrap().into_bytes();
            c.extend(std::iter::repeat_n(b'\n', 70 * 1024));
            s.set_content(c);
            s.dict.remove(b"Type");
        }
        let mut with_xmp = Vec::new();
        doc.save_to(&mut with_xmp).unwrap();
        let p = load_light(&with_xmp, Some(DigestAlg::CURRENT)).unwrap();
        assert!(!p.left.contains_key(&meta) && !p.left.is_empty());
        assert_eq!(
            digest_doc(&p, DigestAlg::CURRENT).unwrap(),
            digest_doc(&Parsed::whole(load(&with_xmp).unwrap()), DigestAlg::CURRENT).unwrap()
        );
        let found = read_doc(&p).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].label, label("long-xmp"));
    }

    /// `objects` (xref entry number, bytes) written in order after `prefix` (the header),
    /// then a cross-reference table for them and a trailer (`trailer` inside `<< >>`, `/Size`
    /// added).
    fn section(prefix: &[u8], objects: &[(u32, &[u8])], trailer: &str) -> Vec<u8> {
        let mut f = prefix.to_vec();
        let mut at = BTreeMap::new();
        for (n, body) in objects {
            at.insert(*n, f.len());
            f.extend_from_slice(body);
        }
        let xref = f.len();
        f.extend_from_slice(b"xref\n");
        let size = at.keys().max().map_or(1, |m| m + 1);
        f.extend_from_slice(format!("0 {size}\n0000000000 65535 f\r\n").as_bytes());
        for n in 1..size {
            match at.get(&n) {
                Some(o) => f.extend_from_slice(format!("{o:010} 00000 n\r\n").as_bytes()),
                None => f.extend_from_slice(b"0000000000 00000 f\r\n"),
            }
        }
        f.extend_from_slice(
            format!("trailer\n<<{trailer}/Size {size}>>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        f
    }

    const CATALOG: &[u8] = b"1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n";
    const PAGES: &[u8] = b"2 0 obj <</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n";
    const PAGE: &[u8] = b"3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]/Resources<</XObject<</Im 7 0 R>>>>>> endobj\n";

    fn image(n: u32, fill: u8) -> Vec<u8> {
        let mut o = format!("{n} 0 obj <</Type/XObject/Subtype/Image/Width 100/Height 700/BitsPerComponent 8/ColorSpace/DeviceGray/Length 70000>>\nstream\n").into_bytes();
        o.extend(std::iter::repeat_n(fill, 70_000));
        o.extend_from_slice(b"\nendstream\nendobj\n");
        o
    }

    /// Found in review (of the earlier light load, which hashed streams in a load filter): an
    /// object stream lopdf drops, under the number of an earlier long stream, must not change
    /// what the digest covers: the image, as a full load reads it.
    #[test]
    fn a_long_stream_under_the_number_of_a_dropped_object_stream_is_hashed_as_read() {
        let file = |fill: u8| {
            let img = image(7, fill);
            section(
                b"%PDF-1.5\n",
                &[
                    (1, CATALOG),
                    (2, PAGES),
                    (3, PAGE),
                    (5, &img),
                    (6, b"6 0 obj <</Type/ObjStm/N 1/First 4/Length 8>>\nstream\n5 0 <<>>\nendstream\nendobj\n"),
                    (7, b"7 0 obj <</Type/ObjStm/N 1/Length 5>>\nstream\nhello\nendstream\nendobj\n"),
                ],
                "/Root 1 0 R",
            )
        };
        let (a, b) = (file(b'A'), file(b'B'));
        let full =
            |f: &[u8]| digest_doc(&Parsed::whole(load(f).unwrap()), DigestAlg::CURRENT).unwrap();
        let h = Pdf;
        assert_eq!(h.content_digest(&a).unwrap(), full(&a));
        assert_ne!(h.content_digest(&a).unwrap(), h.content_digest(&b).unwrap());
    }

    /// Found in review: a label update whose table also points an object at another copy of
    /// it elsewhere in the file (same length and content) is not a label update: taking it
    /// off would bring the other copy back.
    #[test]
    fn an_update_that_moves_an_object_is_not_taken_off() {
        let base = section(
            b"%PDF-1.5\n",
            &[
                (1, CATALOG),
                (2, PAGES),
                (3, PAGE),
                (7, &image(7, b'A')),
                (8, b"8 0 obj <</Producer (t)>> endobj\n"),
                // A dead copy of object 7 that no table entry names.
                (9, &image(7, b'A')),
            ],
            "/Root 1 0 R/Info 8 0 R",
        );
        let copy = crate::bytes::find(&base[20..], b"7 0 obj").map(|i| i + 20);
        let second =
            copy.and_then(|c| crate::bytes::find(&base[c + 8..], b"7 0 obj").map(|i| i + c + 8));
        let (Some(_), Some(dead)) = (copy, second) else {
            panic!("two copies of object 7");
        };
        // `base` and an update: the Info dictionary with a label, as object 8 generation
        // `gen`, and object 7 at `seven` if given.
        let update = |gen: u16, seven: Option<usize>| {
            let mut f = base.clone();
            let info_at = f.len();
            f.extend_from_slice(
                format!("8 {gen} obj <</Producer (t)/AIGC (x)>> endobj\n").as_bytes(),
            );
            let xref = f.len();
            let entries = match seven {
                Some(s) => format!("7 2\n{s:010} 00000 n\r\n{info_at:010} {gen:05} n\r\n"),
                None => format!("8 1\n{info_at:010} {gen:05} n\r\n"),
            };
            let prev = last_xref(&base).unwrap().0;
            f.extend_from_slice(
                format!("xref\n{entries}trailer\n<</Root 1 0 R/Info 8 0 R/Size 20/Prev {prev}>>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
            );
            f
        };
        // Object 7 pointed at the dead copy: not a label update.
        let moved = update(0, Some(dead));
        let p = load_light(&moved, None).unwrap();
        assert!(info(&p.doc).unwrap().has(b"AIGC"));
        assert!(peel(&moved, &p).is_none());
        // The same update without the moved object is one.
        let ok = update(0, None);
        let p = load_light(&ok, None).unwrap();
        assert_eq!(peel(&ok, &p).map(|(cut, _)| cut), Some(base.len()));
        // Under another generation than the trailer names, the Info object is not the update's.
        let other_gen = update(1, None);
        let p = load_light(&other_gen, None).unwrap();
        assert!(peel(&other_gen, &p).is_none());
        assert!(Pdf.remove(&other_gen).is_ok_and(|r| r != base));
    }

    /// Found by the `label_doc` fuzz target: a cross-reference stream whose `/Type /XRef` was
    /// damaged was left in the input by the light load (it looked like any long stream), so
    /// the table could not be read and lopdf rebuilt it by scanning, finding fewer objects
    /// than the full load; the digest then changed when the (absent) label was removed. The
    /// stream lopdf reads as the cross-reference section is now always read in full.
    #[test]
    fn a_cross_reference_stream_without_its_type_is_read_as_a_full_load_reads_it() {
        let bytes = include_bytes!("../../tests/fixtures/fuzz-untyped-xref-stream.pdf");
        let full = Parsed::whole(load(bytes).unwrap());
        let light = load_light(bytes, Some(DigestAlg::CURRENT)).unwrap();
        assert_eq!(light.doc.xref_recovery, full.doc.xref_recovery);
        assert_eq!(
            light.doc.objects.keys().collect::<Vec<_>>(),
            full.doc.objects.keys().collect::<Vec<_>>()
        );
        let d = digest_doc(&full, DigestAlg::CURRENT).unwrap();
        assert_eq!(digest_doc(&light, DigestAlg::CURRENT).unwrap(), d);
        let h = Pdf;
        assert_eq!(h.content_digest(&h.remove(bytes).unwrap()).unwrap(), d);
    }

    /// Found by the `label_doc` fuzz target: the cross-reference stream of this file, its
    /// `/Type /XRef` damaged, was also an object the light load left in place; the update's
    /// check left its content out of its copy, could not read the table there and rewrote the
    /// file, while `write`, which checked a full copy, appended the update. A stream with `/W`
    /// is no longer left, and both paths run the same check.
    #[test]
    fn a_cross_reference_stream_without_its_type_stays_in_the_checks_copy() {
        let bytes = include_bytes!("../../tests/fixtures/fuzz-untyped-xref-stream-2.pdf");
        let p = load_light(bytes, None).unwrap();
        assert!(p.left.is_empty() && holes(bytes, &p).unwrap().is_empty());
        let h = Pdf;
        let key = crate::LabelSigningKey::from_secret([42; 32]);
        let l = label("xref");
        let signed = crate::label_bytes(&h, bytes, &l, Some(&key)).unwrap();
        let mut one_by_one = l.clone();
        crate::sign::sign_producer(&mut one_by_one, &h.content_digest(bytes).unwrap(), &key)
            .unwrap();
        let written = h.write(bytes, &one_by_one).unwrap();
        assert_eq!(signed, written);
        assert!(written.starts_with(bytes), "an incremental update");
    }

    /// An object stream whose `/Type /ObjStm` is damaged is still decoded by the load as the
    /// container of the compressed objects the cross-reference stream names (by `/N` and
    /// `/First`), so the light load must read it too, as it reads a cross-reference stream
    /// without its type.
    #[test]
    fn an_object_stream_without_its_type_is_read_as_a_full_load_reads_it() {
        let mut doc = load(&samples::pdf_long()).unwrap();
        let mut bytes = Vec::new();
        doc.save_modern(&mut bytes).unwrap();
        let at = crate::bytes::find(&bytes, b"/ObjStm").expect("object streams written");
        bytes[at + 6] = b'X';
        let full = Parsed::whole(load(&bytes).unwrap());
        let light = load_light(&bytes, Some(DigestAlg::CURRENT)).unwrap();
        assert!(!light.left.is_empty());
        assert_eq!(
            light.doc.objects.keys().collect::<Vec<_>>(),
            full.doc.objects.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            digest_doc(&light, DigestAlg::CURRENT).unwrap(),
            digest_doc(&full, DigestAlg::CURRENT).unwrap()
        );
    }

    #[test]
    fn the_damaged_fuzz_fixture_never_panics_and_keeps_the_invariants() {
        let bytes = include_bytes!("../../tests/fixtures/fuzz-damaged.pdf");
        let h = Pdf;
        if let Ok(out) = h.write(bytes, &label("fuzz")) {
            let found = h.read(&out).unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!(
                h.content_digest(&out).unwrap(),
                h.content_digest(bytes).unwrap()
            );
        }
    }
}
