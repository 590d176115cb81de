//! DOCX / PPTX / XLSX (Office Open XML): custom document property `AIGC` in
//! `docProps/custom.xml` (a `vt:lpwstr`). `[Content_Types].xml` and `_rels/.rels` gain (or
//! lose) the override and relationship for the custom-properties part by span edits that leave
//! the rest of their bytes alone.
//!
//! The ZIP is spliced, not rebuilt, when it is plainly laid out (local records from offset 0
//! without gaps, then the central directory, then the end record; no ZIP64, no encryption):
//! every unchanged entry's local record (header, compressed data, data descriptor) is kept as
//! a range of the input, so the media is copied once, where it lands ([`Output`]); replaced
//! parts are left out, and their new versions (and a new custom.xml) follow the kept entries,
//! before a new central directory and end record (the input's comment kept). A changed
//! `[Content_Types].xml` goes first instead, where packages conventionally have it and where
//! tools that sniff OOXML (libmagic) look; OPC itself requires no order. Any other
//! archive is rebuilt with `zip::ZipWriter`, every other part copied raw (compressed bytes as
//! they were, never recompressed).
//!
//! The splice reads and writes ZIP records by hand because the `zip` crate only writes through
//! a `Write` sink (every byte of every entry copied on its way) and has no way to describe an
//! archive as ranges of another; the entries it writes for us (the changed parts) still come
//! from `ZipWriter`, and `ZipArchive` checks the spliced result.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::ops::Range;

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;
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

fn part<R: Read + Seek>(a: &mut ZipArchive<R>, name: &str) -> Result<Option<String>, LabelError> {
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

/// The three package parts we edit, as they are and as they become.
struct Edits {
    custom: Option<String>,
    new_custom: Option<String>,
    types: String,
    new_types: String,
    rels: Option<String>,
    new_rels: Option<String>,
}

impl Edits {
    fn read<R: Read + Seek>(
        a: &mut ZipArchive<R>,
        json: Option<&str>,
    ) -> Result<Edits, LabelError> {
        let custom = part(a, CUSTOM)?;
        let new_custom = edit_custom(custom.as_deref(), json)?;
        let want = new_custom.is_some();
        let types =
            part(a, TYPES)?.ok_or_else(|| LabelError::malformed(F, format!("no {TYPES} part")))?;
        let new_types = edit_types(&types, want)?;
        let rels = part(a, RELS)?;
        let new_rels = match &rels {
            Some(r) => Some(edit_rels(r, want)?),
            None if want => return Err(LabelError::malformed(F, format!("no {RELS} part"))),
            None => None,
        };
        Ok(Edits {
            custom,
            new_custom,
            types,
            new_types,
            rels,
            new_rels,
        })
    }

    /// True when the entry called `name` is replaced or dropped.
    fn replaces(&self, name: &str) -> bool {
        match name {
            CUSTOM => self.new_custom != self.custom,
            TYPES => self.new_types != self.types,
            RELS => self.new_rels != self.rels,
            _ => false,
        }
    }

    /// The parts written anew, with their compression: `[Content_Types].xml` first, as is
    /// conventional. custom.xml is stored, not deflated: its length then depends only on the
    /// label's length, so the signed path's stand-in and real outputs have the same layout
    /// (see `label_bytes`); it is a few hundred bytes.
    fn new_parts(&self) -> Vec<(&'static str, &str, CompressionMethod)> {
        let mut v = Vec::new();
        if self.replaces(TYPES) {
            v.push((TYPES, self.new_types.as_str(), CompressionMethod::Deflated));
        }
        if let (true, Some(r)) = (self.replaces(RELS), &self.new_rels) {
            v.push((RELS, r.as_str(), CompressionMethod::Deflated));
        }
        if let (true, Some(c)) = (self.replaces(CUSTOM), &self.new_custom) {
            v.push((CUSTOM, c.as_str(), CompressionMethod::Stored));
        }
        v
    }
}

/// The whole ZIP rebuilt through `ZipWriter` (unchanged entries raw-copied, in their order;
/// changed parts where they were, a new custom.xml last): the path for archives the splice
/// does not take.
fn rebuild(
    bytes: &[u8],
    a: &mut ZipArchive<Cursor<&[u8]>>,
    e: &Edits,
) -> Result<Vec<u8>, LabelError> {
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut w = ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len() + 4096)));
    let mut wrote_custom = false;
    for i in 0..a.len() {
        let f = a.by_index_raw(i).map_err(zerr)?;
        let name = f.name().map_err(zerr)?.into_owned();
        let replacement: Option<&str> = match name.as_str() {
            CUSTOM => {
                wrote_custom = true;
                match &e.new_custom {
                    Some(c) if Some(c) != e.custom.as_ref() => Some(c),
                    Some(_) => None,
                    None => continue,
                }
            }
            TYPES if e.new_types != e.types => Some(&e.new_types),
            RELS if e.new_rels != e.rels => e.new_rels.as_deref(),
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
    if let (false, Some(c)) = (wrote_custom, &e.new_custom) {
        w.start_file(CUSTOM, opts).map_err(zerr)?;
        w.write_all(c.as_bytes()).map_err(zerr)?;
    }
    Ok(w.finish().map_err(zerr)?.into_inner())
}

// ZIP records (APPNOTE.TXT 4.3.7 local file header, 4.3.12 central directory header, 4.3.16
// end of central directory record, 4.3.15 ZIP64 end of central directory locator, 4.3.9 data
// descriptor).
const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;
const SIG_DESCRIPTOR: u32 = 0x0807_4b50;
const LOCAL_LEN: usize = 30;
const CENTRAL_LEN: usize = 46;
const EOCD_LEN: usize = 22;
/// Offset of "relative offset of local header" in a central directory header.
const CENTRAL_OFFSET_FIELD: usize = 42;
/// General purpose flags: encrypted (bit 0), strong encryption (6), encrypted central
/// directory (13).
const FLAGS_ENCRYPTED: u16 = 1 | 1 << 6 | 1 << 13;
/// General purpose flag bit 3: sizes and CRC in a data descriptor after the data.
const FLAG_DESCRIPTOR: u16 = 1 << 3;
/// Extra field tag of the ZIP64 extended information.
const EXTRA_ZIP64: u16 = 0x0001;

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// True when an extra field block holds a ZIP64 field (or does not parse).
fn has_zip64(extra: &[u8]) -> bool {
    let mut at = 0;
    while at < extra.len() {
        let (Some(tag), Some(len)) = (le16(extra, at), le16(extra, at + 2)) else {
            // A trailing stub shorter than a field header: some writers pad with zeros.
            return extra.get(at..).is_some_and(|t| t.iter().any(|&b| b != 0));
        };
        if tag == EXTRA_ZIP64 {
            return true;
        }
        at += 4 + usize::from(len);
    }
    false
}

/// The end of central directory record: the last signature whose comment runs exactly to the
/// end of the file.
fn find_eocd(b: &[u8]) -> Option<usize> {
    let last = b.len().checked_sub(EOCD_LEN)?;
    let first = last.saturating_sub(usize::from(u16::MAX));
    (first..=last).rev().find(|&at| {
        le32(b, at) == Some(SIG_EOCD)
            && le16(b, at + 20).map(|c| at + EOCD_LEN + usize::from(c)) == Some(b.len())
    })
}

/// One entry of a plainly laid out ZIP.
struct Entry {
    /// Its central directory header (with name, extra field and comment).
    central: Range<usize>,
    /// Its local header, data and data descriptor: up to the next entry's local header.
    local: Range<usize>,
    compressed: u32,
}

/// A ZIP that is exactly its local records from offset 0, one after the other without gaps,
/// then the central directory, then the end record (with any comment): no prefix, no ZIP64, no
/// encryption, no multi-disk fields.
struct Layout {
    /// In central directory order.
    entries: Vec<Entry>,
    /// Indexes into `entries` by local header offset.
    by_offset: Vec<usize>,
    central_dir: Range<usize>,
    comment: Range<usize>,
}

/// The layout of `b`, or `None` when it is not plain (see [`Layout`]).
fn layout(b: &[u8]) -> Option<Layout> {
    let eocd = find_eocd(b)?;
    let n = le16(b, eocd + 8)?;
    if le16(b, eocd + 4)? != 0
        || le16(b, eocd + 6)? != 0
        || n == u16::MAX
        || le16(b, eocd + 10)? != n
        || (eocd >= 20 && le32(b, eocd - 20) == Some(SIG_ZIP64_LOCATOR))
    {
        return None;
    }
    let (size, offset) = (le32(b, eocd + 12)?, le32(b, eocd + 16)?);
    if size == u32::MAX || offset == u32::MAX {
        return None;
    }
    let central_dir = offset as usize..(offset as usize).checked_add(size as usize)?;
    if central_dir.end != eocd {
        return None;
    }
    let mut entries = Vec::with_capacity(usize::from(n));
    let mut offsets = Vec::with_capacity(usize::from(n));
    let mut at = central_dir.start;
    for _ in 0..n {
        let flags = le16(b, at + 8)?;
        let compressed = le32(b, at + 20)?;
        let size = le32(b, at + 24)?;
        let name = usize::from(le16(b, at + 28)?);
        let extra = usize::from(le16(b, at + 30)?);
        let comment = usize::from(le16(b, at + 32)?);
        let local = le32(b, at + CENTRAL_OFFSET_FIELD)?;
        let end = at + CENTRAL_LEN + name + extra + comment;
        if le32(b, at)? != SIG_CENTRAL
            || end > central_dir.end
            || flags & FLAGS_ENCRYPTED != 0
            || [compressed, size, local].contains(&u32::MAX)
            || le16(b, at + 34)? != 0
            || has_zip64(b.get(at + CENTRAL_LEN + name..at + CENTRAL_LEN + name + extra)?)
        {
            return None;
        }
        entries.push(Entry {
            central: at..end,
            local: 0..0,
            compressed,
        });
        offsets.push((local as usize, flags));
        at = end;
    }
    if at != central_dir.end {
        return None;
    }
    let mut by_offset: Vec<usize> = (0..entries.len()).collect();
    by_offset.sort_by_key(|&i| offsets.get(i).map(|o| o.0));
    // Each local record must start where the previous one ends, the first at 0.
    let mut next = 0usize;
    for &i in &by_offset {
        let (start, central_flags) = *offsets.get(i)?;
        let entry = entries.get_mut(i)?;
        let flags = le16(b, start + 6)?;
        let name = usize::from(le16(b, start + 26)?);
        let extra = usize::from(le16(b, start + 28)?);
        if start != next
            || le32(b, start)? != SIG_LOCAL
            || flags & FLAGS_ENCRYPTED != 0
            || has_zip64(b.get(start + LOCAL_LEN + name..start + LOCAL_LEN + name + extra)?)
        {
            return None;
        }
        let data_end = (start + LOCAL_LEN + name + extra).checked_add(entry.compressed as usize)?;
        next = if (flags | central_flags) & FLAG_DESCRIPTOR == 0 {
            data_end
        } else if le32(b, data_end) == Some(SIG_DESCRIPTOR) {
            data_end + 16
        } else {
            data_end + 12
        };
        entry.local = start..next;
    }
    if next != central_dir.start {
        return None;
    }
    Some(Layout {
        entries,
        by_offset,
        central_dir,
        comment: eocd + EOCD_LEN..b.len(),
    })
}

/// A u32 field value that is not the ZIP64 marker.
fn field32(v: usize) -> Option<u32> {
    u32::try_from(v).ok().filter(|&v| v != u32::MAX)
}

/// `record` (a central directory header) with its local header offset set to `to`.
fn with_offset(record: &[u8], to: u32) -> Vec<u8> {
    let mut r = record.to_vec();
    if let Some(f) = r.get_mut(CENTRAL_OFFSET_FIELD..CENTRAL_OFFSET_FIELD + 4) {
        f.copy_from_slice(&to.to_le_bytes());
    }
    r
}

/// The edited package without rebuilding the ZIP, or `None` when the archive is not plainly
/// laid out (then it is rebuilt). Every unchanged entry's local record (header, data, data
/// descriptor) stays where it is in the input and is kept as an input range; the replaced
/// parts are left out; the new parts follow, taken from a small ZIP that `ZipWriter` makes of
/// just them; then a new central directory (the input's headers for the kept entries with
/// their new offsets, the small ZIP's for the new ones) and end record (the input's comment).
fn splice<'a>(
    bytes: &'a [u8],
    a: &ZipArchive<Cursor<&[u8]>>,
    e: &Edits,
    json: Option<&str>,
) -> Result<Option<Output<'a>>, LabelError> {
    let Some(old) = layout(bytes) else {
        return Ok(None);
    };
    // The zip crate read the same directory.
    if a.offset() != 0
        || a.has_duplicate_names()
        || a.len() != old.entries.len()
        || a.central_directory_start() != old.central_dir.start as u64
        || a.comment() != bytes.get(old.comment.clone()).unwrap_or_default()
    {
        return Ok(None);
    }
    let mut names = Vec::with_capacity(old.entries.len());
    for (i, entry) in old.entries.iter().enumerate() {
        let f = a.by_index_data(i).map_err(zerr)?;
        if f.header_start() != entry.local.start as u64
            || f.central_header_start() != entry.central.start as u64
            || f.compressed_size() != u64::from(entry.compressed)
        {
            return Ok(None);
        }
        names.push(f.name().map_err(zerr)?.into_owned());
    }
    let parts = e.new_parts();
    let small = {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text, method) in &parts {
            let opts = SimpleFileOptions::default().compression_method(*method);
            w.start_file(*name, opts).map_err(zerr)?;
            w.write_all(text.as_bytes()).map_err(zerr)?;
        }
        w.finish().map_err(zerr)?.into_inner()
    };
    let Some(new) = layout(&small).filter(|l| l.entries.len() == parts.len()) else {
        return Ok(None);
    };

    // A new `[Content_Types].xml` goes first, where packages conventionally have it (tools
    // that sniff OOXML look at the first entry); its length does not depend on the label's
    // value, only on whether there is one, so the signed layout stays the stand-in's.
    let types_first = parts.first().is_some_and(|(n, ..)| *n == TYPES);
    let head: &[u8] = match new.entries.first() {
        Some(t) if types_first => small.get(t.local.clone()).unwrap_or_default(),
        _ => &[],
    };
    // Local records: the new `[Content_Types].xml`, the kept ones in input order, then the
    // other new ones.
    let mut kept: Vec<Range<usize>> = Vec::new();
    let mut offset = vec![None; old.entries.len()];
    let mut pos = head.len();
    for &i in &old.by_offset {
        let (Some(entry), Some(name)) = (old.entries.get(i), names.get(i)) else {
            return Ok(None);
        };
        if e.replaces(name) {
            continue;
        }
        if let Some(o) = offset.get_mut(i) {
            *o = Some(pos);
        }
        pos += entry.local.len();
        match kept.last_mut() {
            Some(r) if r.end == entry.local.start => r.end = entry.local.end,
            _ => kept.push(entry.local.clone()),
        }
    }
    let base = pos;
    let mut tail = small
        .get(head.len()..new.central_dir.start)
        .unwrap_or_default()
        .to_vec();
    let central_start = base + tail.len();
    let mut expect_names = Vec::with_capacity(names.len() + parts.len());
    // Where new entry `i` of the small ZIP lands.
    let new_at = |i: usize, local_start: usize| {
        if i == 0 && types_first {
            Some(0)
        } else {
            (base + local_start).checked_sub(head.len())
        }
    };
    let new_central = |i: usize, tail: &mut Vec<u8>| -> Option<()> {
        let entry = new.entries.get(i)?;
        let rec = small.get(entry.central.clone())?;
        let at = field32(new_at(i, entry.local.start)?)?;
        tail.extend_from_slice(&with_offset(rec, at));
        Some(())
    };
    if types_first {
        if new_central(0, &mut tail).is_none() {
            return Ok(None);
        }
        expect_names.push(TYPES);
    }
    for ((entry, at), name) in old.entries.iter().zip(&offset).zip(&names) {
        let Some(at) = at else { continue };
        let (Some(rec), Some(at)) = (bytes.get(entry.central.clone()), field32(*at)) else {
            return Ok(None);
        };
        tail.extend_from_slice(&with_offset(rec, at));
        expect_names.push(name.as_str());
    }
    for (i, (name, ..)) in parts.iter().enumerate() {
        if i == 0 && types_first {
            continue;
        }
        if new_central(i, &mut tail).is_none() {
            return Ok(None);
        }
        expect_names.push(name);
    }
    let central_end = base + tail.len();
    let comment = bytes.get(old.comment.clone()).unwrap_or_default();
    let (Some(count), Some(size), Some(start), Ok(comment_len)) = (
        u16::try_from(expect_names.len())
            .ok()
            .filter(|&c| c != u16::MAX),
        field32(central_end - central_start),
        field32(central_start),
        u16::try_from(comment.len()),
    ) else {
        return Ok(None);
    };
    tail.extend_from_slice(&SIG_EOCD.to_le_bytes());
    tail.extend_from_slice(&[0; 4]); // this disk, the central directory's disk
    tail.extend_from_slice(&count.to_le_bytes());
    tail.extend_from_slice(&count.to_le_bytes());
    tail.extend_from_slice(&size.to_le_bytes());
    tail.extend_from_slice(&start.to_le_bytes());
    tail.extend_from_slice(&comment_len.to_le_bytes());
    tail.extend_from_slice(comment);

    let mut segments: Vec<&[u8]> = vec![head];
    segments.extend(kept.iter().filter_map(|r| bytes.get(r.clone())));
    segments.push(&tail);
    if !spliced_ok(segments, &expect_names, json) {
        return Ok(None);
    }
    let mut out = Output::over(bytes);
    out.push(head);
    for r in kept {
        if let Some(b) = bytes.get(r) {
            out.keep(b);
        }
    }
    out.push(&tail);
    Ok(Some(out))
}

/// Checks the spliced file without joining it: the zip crate opens it (reading the new
/// central directory and end record), finds every entry's local header at its new offset, in
/// the expected order, and custom.xml holds exactly `json`.
fn spliced_ok(segments: Vec<&[u8]>, names: &[&str], json: Option<&str>) -> bool {
    let len = segments.iter().map(|s| s.len() as u64).sum();
    let Ok(mut a) = ZipArchive::new(Joined {
        segments,
        pos: 0,
        len,
    }) else {
        return false;
    };
    if a.offset() != 0 || a.len() != names.len() {
        return false;
    }
    for (i, name) in names.iter().enumerate() {
        match a.by_index_raw(i) {
            Ok(f) if f.name().is_ok_and(|n| n == *name) => {}
            _ => return false,
        }
    }
    match part(&mut a, CUSTOM) {
        Ok(Some(c)) => labels_in(&c).is_ok_and(|l| l.iter().map(String::as_str).eq(json)),
        Ok(None) => json.is_none(),
        Err(_) => false,
    }
}

/// Slices read as one file.
struct Joined<'a> {
    segments: Vec<&'a [u8]>,
    pos: u64,
    len: u64,
}

impl Read for Joined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut start = 0u64;
        for s in &self.segments {
            let end = start + s.len() as u64;
            if self.pos < end {
                let from = usize::try_from(self.pos - start).unwrap_or(usize::MAX);
                let src = s.get(from..).unwrap_or_default();
                let n = src.len().min(buf.len());
                if let (Some(d), Some(s)) = (buf.get_mut(..n), src.get(..n)) {
                    d.copy_from_slice(s);
                }
                self.pos += n as u64;
                return Ok(n);
            }
            start = end;
        }
        Ok(0)
    }
}

impl Seek for Joined<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

/// The package with custom.xml holding `json` (none: without the label property), spliced
/// when the archive allows, else rebuilt.
fn edit<'a>(bytes: &'a [u8], json: Option<&str>) -> Result<Output<'a>, LabelError> {
    let mut a = open(bytes)?;
    let e = Edits::read(&mut a, json)?;
    if let Some(out) = splice(bytes, &a, &e, json)? {
        return Ok(out);
    }
    rebuild(bytes, &mut a, &e).map(Output::from_vec)
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
        edit(bytes, Some(&j))
    }

    fn keeps_media(&self) -> bool {
        true
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        edit(bytes, None).map(Output::into_vec)
    }

    /// Every part by name (sorted) and uncompressed content, streamed; except custom.xml, and
    /// with the custom-properties override and relationship taken out of [Content_Types].xml
    /// and _rels/.rels.
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let mut a = open(bytes)?;
        let mut names: Vec<(String, usize)> = Vec::with_capacity(a.len());
        for i in 0..a.len() {
            let f = a.by_index_raw(i).map_err(zerr)?;
            names.push((f.name().map_err(zerr)?.into_owned(), i));
        }
        names.sort();
        let mut h = alg.hasher();
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
        Ok(h.finalize())
    }
}

/// An OOXML package whose custom property is named `aigc` and holds the bare JSON object (a
/// non-canonical form), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let bare = serde_json::to_string(label).unwrap_or_default();
    let Ok(out) = edit(bytes, Some(&bare)).map(Output::into_vec) else {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::conformance::{label, samples};
    use crate::LabelSigningKey;

    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// Every entry's name and uncompressed bytes, in central directory order.
    fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut a = open(zip).unwrap();
        (0..a.len())
            .map(|i| {
                let mut f = a.by_index(i).unwrap();
                let mut v = Vec::new();
                f.read_to_end(&mut v).unwrap();
                (f.name().unwrap().into_owned(), v)
            })
            .collect()
    }

    /// `base` with more entries (raw-copied entries first) and a comment.
    fn with_entries(
        base: &[u8],
        more: &[(&str, &[u8], CompressionMethod)],
        comment: &str,
    ) -> Vec<u8> {
        let mut a = open(base).unwrap();
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..a.len() {
            w.raw_copy_file(a.by_index_raw(i).unwrap()).unwrap();
        }
        for (name, data, method) in more {
            let opts = SimpleFileOptions::default().compression_method(*method);
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.set_comment(comment.to_string()).unwrap();
        w.finish().unwrap().into_inner()
    }

    /// A sample DOCX with a 300 KB stored image and a deflated part after the usual ones.
    fn big_docx() -> Vec<u8> {
        let text = "<w:t>AI</w:t>".repeat(2000);
        with_entries(
            &samples::docx(),
            &[
                (
                    "word/media/image1.png",
                    &noise(300_000),
                    CompressionMethod::Stored,
                ),
                (
                    "word/header1.xml",
                    text.as_bytes(),
                    CompressionMethod::Deflated,
                ),
            ],
            "made by a test",
        )
    }

    /// Checks a spliced write of `doc`: media kept as input ranges, every other entry the
    /// same, one label, the digest unchanged, and the result spliced again on a relabel.
    fn check_spliced(doc: &[u8], media: usize) -> Vec<u8> {
        let h = Ooxml;
        let l = label("0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11");
        let parts = h.write_parts(doc, &l).unwrap();
        assert!(
            parts.kept_len() >= media,
            "{} of {} bytes kept",
            parts.kept_len(),
            parts.len()
        );
        let out = parts.into_vec();
        assert!(layout(&out).is_some(), "the output is plainly laid out");
        let before = entries(doc);
        let after = entries(&out);
        for (name, data) in &before {
            let (_, got) = after
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            match name.as_str() {
                TYPES => assert!(std::str::from_utf8(got).unwrap().contains(CT_CUSTOM)),
                RELS => assert!(std::str::from_utf8(got).unwrap().contains(REL_CUSTOM)),
                _ => assert_eq!(got, data, "{name}"),
            }
        }
        assert_eq!(after.len(), before.len() + 1, "custom.xml added");
        // `[Content_Types].xml` stays the first entry in the file and in the directory.
        let first_local = |zip: &[u8]| {
            let n = usize::from(u16::from_le_bytes([zip[26], zip[27]]));
            String::from_utf8(zip[30..30 + n].to_vec()).unwrap()
        };
        assert_eq!(first_local(doc), TYPES, "the sample starts with it");
        assert_eq!(first_local(&out), TYPES);
        assert_eq!(after[0].0, TYPES);
        assert_eq!(open(&out).unwrap().comment(), open(doc).unwrap().comment());
        let found = h.read(&out).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].label, l);
        assert_eq!(
            h.content_digest(&out).unwrap(),
            h.content_digest(doc).unwrap()
        );
        // Relabeling the output splices too: custom.xml is replaced, one label.
        let l2 = label("0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e12");
        let again = h.write_parts(&out, &l2).unwrap();
        assert!(again.kept_len() >= media);
        let again = again.into_vec();
        let found = h.read(&again).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].label, l2);
        assert_eq!(entries(&again).len(), after.len());
        // Removing splices too and leaves no label, the digest the same.
        let removed = h.remove(&out).unwrap();
        assert!(h.read(&removed).unwrap().is_empty());
        assert_eq!(
            h.content_digest(&removed).unwrap(),
            h.content_digest(doc).unwrap()
        );
        assert!(open(&removed).unwrap().index_for_name(CUSTOM).is_none());
        out
    }

    #[test]
    fn a_plain_docx_is_spliced_with_its_media_kept_in_place() {
        check_spliced(&big_docx(), 300_000);
    }

    #[test]
    fn the_signed_layout_does_not_depend_on_the_signature() {
        let h = Ooxml;
        let doc = big_docx();
        let key = LabelSigningKey::from_secret([42; 32]);
        let mut a = label("0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11");
        let mut b = a.clone();
        crate::sign::sign_producer(&mut a, &[0; 32], &key).unwrap();
        crate::sign::sign_producer(&mut b, &h.content_digest(&doc).unwrap(), &key).unwrap();
        assert_ne!(a, b);
        let (pa, pb) = (
            h.write_parts(&doc, &a).unwrap(),
            h.write_parts(&doc, &b).unwrap(),
        );
        assert!(pa.same_layout(&pb), "stand-in and signed outputs line up");
        let l = label("0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11");
        let overlapped = crate::label_bytes_from(&h, &doc, &l, Some(&key), 0).unwrap();
        assert_eq!(overlapped, h.write(&doc, &b).unwrap());
        assert_eq!(
            crate::verify(&h, &overlapped, &[key.public()]).unwrap(),
            crate::Verdict::Intact
        );
    }

    /// How a hand-made entry ends.
    #[derive(Clone, Copy)]
    enum Desc {
        /// Sizes and CRC in the local header.
        No,
        /// Flag bit 3, zeros in the local header, a data descriptor with its signature.
        Signed,
        /// The same without the signature.
        Bare,
    }

    /// A ZIP of stored entries made by hand (some with data descriptors, which `ZipWriter`
    /// does not write to a seekable output), the central directory listing them in reverse.
    fn hand_zip(items: &[(&str, &[u8], Desc)]) -> Vec<u8> {
        let mut z = Vec::new();
        let mut central = Vec::new();
        for (name, data, desc) in items {
            let crc = crc32fast::hash(data);
            let n = data.len() as u32;
            let flags: u16 = if matches!(desc, Desc::No) { 0 } else { 8 };
            let in_local = if matches!(desc, Desc::No) {
                [crc, n, n]
            } else {
                [0; 3]
            };
            let offset = z.len() as u32;
            z.extend_from_slice(&SIG_LOCAL.to_le_bytes());
            z.extend_from_slice(&20u16.to_le_bytes());
            z.extend_from_slice(&flags.to_le_bytes());
            z.extend_from_slice(&[0, 0, 0, 0, 0x21, 0]); // stored, 1980-01-01 00:00
            for v in in_local {
                z.extend_from_slice(&v.to_le_bytes());
            }
            z.extend_from_slice(&(name.len() as u16).to_le_bytes());
            z.extend_from_slice(&0u16.to_le_bytes());
            z.extend_from_slice(name.as_bytes());
            z.extend_from_slice(data);
            if matches!(desc, Desc::Signed) {
                z.extend_from_slice(&SIG_DESCRIPTOR.to_le_bytes());
            }
            if !matches!(desc, Desc::No) {
                for v in [crc, n, n] {
                    z.extend_from_slice(&v.to_le_bytes());
                }
            }
            let mut c = Vec::new();
            c.extend_from_slice(&SIG_CENTRAL.to_le_bytes());
            c.extend_from_slice(&20u16.to_le_bytes());
            c.extend_from_slice(&20u16.to_le_bytes());
            c.extend_from_slice(&flags.to_le_bytes());
            c.extend_from_slice(&[0, 0, 0, 0, 0x21, 0]);
            for v in [crc, n, n] {
                c.extend_from_slice(&v.to_le_bytes());
            }
            c.extend_from_slice(&(name.len() as u16).to_le_bytes());
            c.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
            c.extend_from_slice(&offset.to_le_bytes());
            c.extend_from_slice(name.as_bytes());
            central.push(c);
        }
        let start = z.len() as u32;
        for c in central.iter().rev() {
            z.extend_from_slice(c);
        }
        let size = z.len() as u32 - start;
        z.extend_from_slice(&SIG_EOCD.to_le_bytes());
        z.extend_from_slice(&[0; 4]);
        z.extend_from_slice(&(items.len() as u16).to_le_bytes());
        z.extend_from_slice(&(items.len() as u16).to_le_bytes());
        z.extend_from_slice(&size.to_le_bytes());
        z.extend_from_slice(&start.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z
    }

    #[test]
    fn entries_with_data_descriptors_are_kept_as_they_are() {
        let base = entries(&samples::docx());
        let image = noise(200_000);
        let audio = noise(100_000);
        let mut items: Vec<(&str, &[u8], Desc)> = base
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice(), Desc::No))
            .collect();
        items.insert(1, ("word/media/image1.png", &image, Desc::Signed));
        // The last entry before the central directory has a descriptor too.
        items.push(("word/media/audio1.bin", &audio, Desc::Bare));
        let doc = hand_zip(&items);
        assert_eq!(entries(&doc).len(), items.len(), "the zip crate reads it");
        let l = layout(&doc).unwrap();
        assert_eq!(l.by_offset.first(), Some(&(items.len() - 1)), "CD reversed");
        check_spliced(&doc, 300_000);
    }

    #[test]
    fn zip64_and_prefixed_archives_are_rebuilt_and_labeled() {
        let h = Ooxml;
        let plain = big_docx();
        let zip64 = {
            let mut a = open(&plain).unwrap();
            let mut w = ZipWriter::new(Cursor::new(Vec::new()));
            for i in 0..a.len() {
                let mut f = a.by_index(i).unwrap();
                let name = f.name().unwrap().into_owned();
                let mut data = Vec::new();
                f.read_to_end(&mut data).unwrap();
                let opts = SimpleFileOptions::default()
                    .compression_method(CompressionMethod::Stored)
                    .large_file(true);
                w.start_file(name.as_str(), opts).unwrap();
                w.write_all(&data).unwrap();
            }
            w.finish().unwrap().into_inner()
        };
        let mut prefixed = b"#!/bin/sh\nexit 0\n".to_vec();
        prefixed.extend_from_slice(&plain);
        // 16 bytes between the first entry and the second.
        let gapped = {
            let l = layout(&plain).unwrap();
            let second = l.entries[l.by_offset[1]].local.start;
            let mut z = plain[..second].to_vec();
            z.extend_from_slice(&[0; 16]);
            z.extend_from_slice(&plain[second..l.central_dir.start]);
            let cd_start = z.len() as u32;
            for e in &l.entries {
                let at = le32(&plain, e.central.start + CENTRAL_OFFSET_FIELD).unwrap();
                let at = if at as usize >= second { at + 16 } else { at };
                z.extend_from_slice(&with_offset(&plain[e.central.clone()], at));
            }
            let mut eocd = plain[l.central_dir.end..].to_vec();
            eocd[16..20].copy_from_slice(&cd_start.to_le_bytes());
            z.append(&mut eocd);
            assert_eq!(entries(&z), entries(&plain));
            z
        };
        for (what, doc) in [("zip64", zip64), ("prefixed", prefixed), ("gap", gapped)] {
            assert!(layout(&doc).is_none(), "{what}");
            let d0 = h.content_digest(&doc).unwrap();
            let l = label("0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11");
            let parts = h.write_parts(&doc, &l).unwrap();
            assert_eq!(parts.kept_len(), 0, "{what}: rebuilt");
            let out = parts.into_vec();
            let found = h.read(&out).unwrap();
            assert_eq!(found.len(), 1, "{what}");
            assert_eq!(found[0].label, l, "{what}");
            assert_eq!(h.content_digest(&out).unwrap(), d0, "{what}");
            let media = entries(&doc)
                .into_iter()
                .find(|(n, _)| n == "word/media/image1.png")
                .unwrap();
            assert!(entries(&out).contains(&media), "{what}");
        }
    }

    #[test]
    fn relabeling_keeps_the_other_custom_properties() {
        let h = Ooxml;
        let custom = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Properties xmlns=\"{NS_CUSTOM}\" xmlns:vt=\"{NS_VT}\"><property fmtid=\"{FMTID}\" pid=\"2\" name=\"Client\"><vt:lpwstr>Acme</vt:lpwstr></property><property fmtid=\"{FMTID}\" pid=\"3\" name=\"AIGC\"><vt:lpwstr>{{\"AIGC\":{{\"Label\":\"1\"}}}}</vt:lpwstr></property></Properties>"
        );
        let plain = big_docx();
        let mut a = open(&plain).unwrap();
        let types = edit_types(&part(&mut a, TYPES).unwrap().unwrap(), true).unwrap();
        let rels = edit_rels(&part(&mut a, RELS).unwrap().unwrap(), true).unwrap();
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..a.len() {
            let f = a.by_index_raw(i).unwrap();
            let name = f.name().unwrap().into_owned();
            let text = match name.as_str() {
                TYPES => &types,
                RELS => &rels,
                _ => {
                    w.raw_copy_file(f).unwrap();
                    continue;
                }
            };
            drop(f);
            w.start_file(name.as_str(), SimpleFileOptions::default())
                .unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.start_file(CUSTOM, SimpleFileOptions::default()).unwrap();
        w.write_all(custom.as_bytes()).unwrap();
        let doc = w.finish().unwrap().into_inner();
        assert_eq!(labels_in(&custom).unwrap().len(), 1);

        let l = label("0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11");
        let parts = h.write_parts(&doc, &l).unwrap();
        assert!(parts.kept_len() >= 300_000);
        let out = parts.into_vec();
        let found = h.read(&out).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].label, l);
        let mut o = open(&out).unwrap();
        let c = part(&mut o, CUSTOM).unwrap().unwrap();
        assert!(
            c.contains("name=\"Client\"><vt:lpwstr>Acme</vt:lpwstr>"),
            "{c}"
        );
        // [Content_Types].xml and _rels/.rels already had their entries: kept, not rewritten.
        let before = entries(&doc);
        let after = entries(&out);
        for name in [TYPES, RELS] {
            let find = |v: &[(String, Vec<u8>)]| v.iter().find(|(n, _)| n == name).cloned();
            assert_eq!(find(&before), find(&after), "{name}");
        }
        assert_eq!(after.len(), before.len());
        assert_eq!(
            h.content_digest(&out).unwrap(),
            h.content_digest(&doc).unwrap()
        );
        // Removing leaves the other property, so custom.xml and its references stay.
        let removed = h.remove(&out).unwrap();
        assert!(h.read(&removed).unwrap().is_empty());
        let mut r = open(&removed).unwrap();
        assert!(part(&mut r, CUSTOM).unwrap().unwrap().contains("Acme"));
        assert!(part(&mut r, TYPES).unwrap().unwrap().contains(CT_CUSTOM));
    }

    #[test]
    fn a_joined_reader_reads_and_seeks_across_slices() {
        let (a, b, c) = (b"hello ".as_slice(), b"".as_slice(), b"world".as_slice());
        let mut j = Joined {
            segments: vec![a, b, c],
            pos: 0,
            len: 11,
        };
        let mut all = Vec::new();
        j.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"hello world");
        assert_eq!(j.seek(SeekFrom::End(-5)).unwrap(), 6);
        let mut w = [0u8; 3];
        j.read_exact(&mut w).unwrap();
        assert_eq!(&w, b"wor");
        assert_eq!(j.seek(SeekFrom::Current(-6)).unwrap(), 3);
        j.read_exact(&mut w).unwrap();
        assert_eq!(&w, b"lo ");
        assert!(j.seek(SeekFrom::Current(-7)).is_err());
        assert_eq!(j.seek(SeekFrom::Start(40)).unwrap(), 40);
        assert_eq!(j.read(&mut w).unwrap(), 0);
    }
}
