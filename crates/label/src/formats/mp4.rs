//! MP4 / MOV (ISO BMFF, QuickTime): the label is a `keys` entry `AIGC` with its `ilst` value in
//! an `mdta` metadata box, as `ffmpeg -movflags use_metadata_tags` writes (ffprobe and
//! exiftool read it). Canonical place: `moov/meta` (where QuickTime keeps `mdta` keys), so it
//! never collides with the iTunes-style `mdir` list ffmpeg puts in `moov/udta/meta`; written
//! QuickTime-style, without version and flags (exiftool reads `moov/meta` only that way,
//! ffmpeg either way). Also read:
//! an `mdta` `moov/udta/meta`, XMP in `moov/udta/XMP_` or a top-level XMP `uuid` box.
//!
//! Boxes are walked by hand (no crate writes BMFF without remuxing). Only `moov` is rebuilt;
//! media data (`mdat`) is copied verbatim, and when `moov` changes size every `stco`/`co64`
//! chunk offset is remapped to where its data moved.

use crate::digest::{ContentHasher, DigestAlg};
use hegui_types::AigcLabel;

use crate::bytes::Cur;
use crate::{payload, xmp, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "MP4";
/// Deepest box nesting followed.
pub(crate) const MAX_DEPTH: usize = 32;
const XMP_UUID: [u8; 16] = [
    0xbe, 0x7a, 0xcf, 0xcb, 0x97, 0xa9, 0x42, 0xe8, 0x9c, 0x71, 0x99, 0x94, 0x91, 0xe3, 0xaf, 0xac,
];
const CONTAINERS: &[&[u8; 4]] = &[
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf", b"mvex", b"moof",
    b"traf",
];

/// The MP4/MOV handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mp4;

#[derive(Debug, Clone, Copy)]
struct Bx<'a> {
    typ: [u8; 4],
    /// Absolute offset of the box in the file.
    start: usize,
    /// Payload after the header.
    data: &'a [u8],
    raw: &'a [u8],
}

impl Bx<'_> {
    fn name(&self) -> String {
        String::from_utf8_lossy(&self.typ).into_owned()
    }
    fn end(&self) -> usize {
        self.start + self.raw.len()
    }
}

/// The boxes in `data`, which starts at absolute offset `base`.
fn boxes(data: &[u8], base: usize) -> Result<Vec<Bx<'_>>, LabelError> {
    boxes_in(data, base, true)
}

/// The boxes inside another box. Size 0 ("to the end of the file") is only valid for a
/// top-level box: a nested one would swallow whatever a rebuild appends after it.
fn nested_boxes(data: &[u8], base: usize) -> Result<Vec<Bx<'_>>, LabelError> {
    boxes_in(data, base, false)
}

fn boxes_in(data: &[u8], base: usize, top_level: bool) -> Result<Vec<Bx<'_>>, LabelError> {
    let mut c = Cur::new(F, data);
    let mut out = Vec::new();
    while !c.is_empty() {
        let start = c.pos;
        if c.remaining() < 8 {
            return Err(LabelError::malformed(
                F,
                format!(
                    "{} stray bytes at offset {} (too short for a box header)",
                    c.remaining(),
                    base + start
                ),
            ));
        }
        let size32 = c.be32("box size")?;
        let t = c.take(4, "box type")?;
        let typ = [t[0], t[1], t[2], t[3]];
        let (size, header) = match size32 {
            0 if !top_level => {
                return Err(LabelError::malformed(
                    F,
                    format!(
                    "box '{}' at offset {} has size 0 (to the end of the file) inside another box",
                    String::from_utf8_lossy(&typ),
                    base + start
                ),
                ))
            }
            0 => ((data.len() - start) as u64, 8u64),
            1 => (c.be64("box large size")?, 16),
            n => (u64::from(n), 8),
        };
        if size < header {
            return Err(LabelError::malformed(
                F,
                format!(
                    "box '{}' at offset {} declares size {size}, smaller than its header",
                    String::from_utf8_lossy(&typ),
                    base + start
                ),
            ));
        }
        let avail = data.len() - start;
        if size > avail as u64 {
            return Err(LabelError::overrun(
                F,
                format!("box '{}'", String::from_utf8_lossy(&typ)),
                size,
                avail,
                base + start,
            ));
        }
        let end = start + size as usize;
        out.push(Bx {
            typ,
            start: base + start,
            data: &data[start + header as usize..end],
            raw: &data[start..end],
        });
        c.pos = end;
    }
    Ok(out)
}

fn children<'a>(b: &Bx<'a>, depth: usize) -> Result<Vec<Bx<'a>>, LabelError> {
    if depth >= MAX_DEPTH {
        return Err(LabelError::TooDeep {
            format: F,
            limit: MAX_DEPTH,
            offset: b.start as u64,
        });
    }
    let header = b.raw.len() - b.data.len();
    nested_boxes(b.data, b.start + header)
}

fn mkbox(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 8);
    v.extend_from_slice(&((payload.len() + 8) as u32).to_be_bytes());
    v.extend_from_slice(typ);
    v.extend_from_slice(payload);
    v
}

/// An `mdta` metadata box: keys and their item boxes (payloads, without the index header).
#[derive(Debug, Default)]
struct Mdta<'a> {
    is_mdta: bool,
    /// ISO full box (version and flags) rather than QuickTime's plain `meta`.
    full: bool,
    keys: Vec<(Vec<u8>, Vec<u8>)>,
    /// Item payload by key index (1-based).
    items: Vec<(u32, &'a [u8])>,
    /// Other children of `meta` (kept).
    others: Vec<&'a [u8]>,
}

fn meta_boxes<'a>(meta: &Bx<'a>, depth: usize) -> Result<Vec<Bx<'a>>, LabelError> {
    let header = meta.raw.len() - meta.data.len();
    // ISO `meta` is a full box (version and flags first); QuickTime's is not.
    let skip = if meta.data.get(4..8) == Some(b"hdlr") {
        0
    } else {
        4
    };
    if depth >= MAX_DEPTH {
        return Err(LabelError::TooDeep {
            format: F,
            limit: MAX_DEPTH,
            offset: meta.start as u64,
        });
    }
    let d = meta.data.get(skip..).ok_or_else(|| {
        LabelError::malformed(F, format!("box 'meta' at offset {} is empty", meta.start))
    })?;
    nested_boxes(d, meta.start + header + skip)
}

fn parse_meta<'a>(meta: &Bx<'a>, depth: usize) -> Result<Mdta<'a>, LabelError> {
    let mut m = Mdta {
        full: meta.data.get(4..8) != Some(b"hdlr"),
        ..Mdta::default()
    };
    for b in meta_boxes(meta, depth)? {
        match &b.typ {
            b"hdlr" => {
                m.is_mdta = b.data.get(8..12) == Some(b"mdta");
                m.others.push(b.raw);
            }
            b"keys" => {
                let mut c = Cur::new(F, b.data);
                c.take(4, "keys version and flags")?;
                let n = c.be32("keys entry count")?;
                if u64::from(n) * 8 > c.remaining() as u64 {
                    return Err(LabelError::overrun(
                        F,
                        "box 'keys' entries",
                        u64::from(n) * 8,
                        c.remaining(),
                        b.start,
                    ));
                }
                for _ in 0..n {
                    let size = c.be32("key size")?;
                    if size < 8 {
                        return Err(LabelError::malformed(
                            F,
                            format!(
                                "key entry of size {size} in box 'keys' at offset {}",
                                b.start
                            ),
                        ));
                    }
                    let ns = c.take(4, "key namespace")?.to_vec();
                    let name = c
                        .take_declared(u64::from(size) - 8, || "key name".into())?
                        .to_vec();
                    m.keys.push((ns, name));
                }
            }
            b"ilst" => {
                for item in nested_boxes(b.data, b.start + 8)? {
                    m.items.push((u32::from_be_bytes(item.typ), item.data));
                }
            }
            _ => m.others.push(b.raw),
        }
    }
    Ok(m)
}

impl Mdta<'_> {
    fn label_index(&self) -> Option<usize> {
        self.keys
            .iter()
            .position(|(_, k)| k.eq_ignore_ascii_case(b"AIGC"))
    }

    /// The value of the `AIGC` key: the first `data` box of its item.
    fn label_value(&self) -> Result<Option<String>, LabelError> {
        let Some(i) = self.label_index() else {
            return Ok(None);
        };
        let Some((_, item)) = self.items.iter().find(|(n, _)| *n as usize == i + 1) else {
            return Ok(None);
        };
        for d in nested_boxes(item, 0)? {
            if &d.typ == b"data" && d.data.len() >= 8 {
                return Ok(Some(String::from_utf8_lossy(&d.data[8..]).into_owned()));
            }
        }
        Ok(None)
    }

    /// The box without the label key, plus `label` if given; `None` if nothing is left.
    fn rebuild(&self, label: Option<&str>) -> Option<Vec<u8>> {
        let drop = self.label_index();
        let mut keys = Vec::new();
        let mut items: Vec<Vec<u8>> = Vec::new();
        for (i, (ns, k)) in self.keys.iter().enumerate() {
            if Some(i) == drop {
                continue;
            }
            keys.push((ns.clone(), k.clone()));
            let idx = keys.len() as u32;
            if let Some((_, item)) = self.items.iter().find(|(n, _)| *n as usize == i + 1) {
                items.push(mkbox(&idx.to_be_bytes(), item));
            }
        }
        if let Some(v) = label {
            keys.push((b"mdta".to_vec(), b"AIGC".to_vec()));
            let idx = keys.len() as u32;
            let mut data = vec![0, 0, 0, 1, 0, 0, 0, 0];
            data.extend_from_slice(v.as_bytes());
            items.push(mkbox(&idx.to_be_bytes(), &mkbox(b"data", &data)));
        }
        if keys.is_empty() {
            return None;
        }
        let mut k = vec![0, 0, 0, 0];
        k.extend_from_slice(&(keys.len() as u32).to_be_bytes());
        for (ns, name) in &keys {
            k.extend_from_slice(&((name.len() + 8) as u32).to_be_bytes());
            k.extend_from_slice(ns);
            k.extend_from_slice(name);
        }
        let mut payload = if self.full {
            vec![0, 0, 0, 0]
        } else {
            Vec::new()
        };
        if self.others.is_empty() {
            let mut h = vec![0u8; 8];
            h.extend_from_slice(b"mdta");
            h.extend_from_slice(&[0u8; 13]);
            payload.extend_from_slice(&mkbox(b"hdlr", &h));
        }
        for o in &self.others {
            payload.extend_from_slice(o);
        }
        payload.extend_from_slice(&mkbox(b"keys", &k));
        payload.extend_from_slice(&mkbox(b"ilst", &items.concat()));
        Some(mkbox(b"meta", &payload))
    }
}

fn xmp_uuid<'a>(b: &Bx<'a>) -> Option<&'a [u8]> {
    (&b.typ == b"uuid" && b.data.starts_with(&XMP_UUID)).then(|| &b.data[16..])
}

fn top(bytes: &[u8]) -> Result<(Vec<Bx<'_>>, usize), LabelError> {
    let top = boxes(bytes, 0)?;
    let mut moovs = top.iter().enumerate().filter(|(_, b)| &b.typ == b"moov");
    let (i, _) = moovs
        .next()
        .ok_or_else(|| LabelError::malformed(F, "no 'moov' box"))?;
    if moovs.next().is_some() {
        return Err(LabelError::malformed(F, "more than one 'moov' box"));
    }
    Ok((top, i))
}

fn label_of(carrier: &str, text: &str) -> Result<AigcLabel, LabelError> {
    payload::decode(text).map_err(|r| LabelError::bad_label(F, carrier, r))
}

/// Adds `delta` mapping to every chunk offset in the `stco`/`co64` boxes of `moov` (rebuilt).
fn patch_offsets(
    moov: &mut [u8],
    map: &dyn Fn(u64) -> Result<u64, LabelError>,
    depth: usize,
) -> Result<(), LabelError> {
    if depth >= MAX_DEPTH {
        return Err(LabelError::TooDeep {
            format: F,
            limit: MAX_DEPTH,
            offset: 0,
        });
    }
    let mut at = 0;
    while at + 8 <= moov.len() {
        let size =
            u32::from_be_bytes([moov[at], moov[at + 1], moov[at + 2], moov[at + 3]]) as usize;
        let typ = [moov[at + 4], moov[at + 5], moov[at + 6], moov[at + 7]];
        let (size, header) = match size {
            0 => (moov.len() - at, 8),
            1 => {
                let mut s = [0u8; 8];
                s.copy_from_slice(moov.get(at + 8..at + 16).unwrap_or(&[0; 8]));
                (u64::from_be_bytes(s) as usize, 16)
            }
            n => (n, 8),
        };
        if size < header || size > moov.len() - at {
            return Err(LabelError::malformed(
                F,
                "box sizes inside 'moov' are inconsistent",
            ));
        }
        let body = &mut moov[at + header..at + size];
        match &typ {
            b"stco" | b"co64" => {
                let wide = &typ == b"co64";
                let n = body
                    .get(4..8)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0) as usize;
                let w = if wide { 8 } else { 4 };
                if 8 + n * w > body.len() {
                    return Err(LabelError::overrun(
                        F,
                        format!("box '{}' entries", String::from_utf8_lossy(&typ)),
                        (n * w) as u64,
                        body.len().saturating_sub(8),
                        0,
                    ));
                }
                for i in 0..n {
                    let p = 8 + i * w;
                    if wide {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&body[p..p + 8]);
                        let v = map(u64::from_be_bytes(b))?;
                        body[p..p + 8].copy_from_slice(&v.to_be_bytes());
                    } else {
                        let v = map(u64::from(u32::from_be_bytes([
                            body[p],
                            body[p + 1],
                            body[p + 2],
                            body[p + 3],
                        ])))?;
                        let v = u32::try_from(v).map_err(|_| LabelError::unsupported(F, "a 32-bit chunk offset ('stco') pushed past 4 GiB by the larger 'moov'"))?;
                        body[p..p + 4].copy_from_slice(&v.to_be_bytes());
                    }
                }
            }
            t if CONTAINERS.contains(&t) => patch_offsets(body, map, depth + 1)?,
            _ => {}
        }
        at += size;
    }
    Ok(())
}

fn has_tfhd_base_offset(b: &Bx<'_>, depth: usize) -> Result<bool, LabelError> {
    for c in children(b, depth)? {
        if &c.typ == b"tfhd" && c.data.get(3).is_some_and(|f| f & 1 == 1) {
            return Ok(true);
        }
        if CONTAINERS.contains(&&c.typ) && has_tfhd_base_offset(&c, depth + 1)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn rebuild<'a>(bytes: &'a [u8], label: Option<&AigcLabel>) -> Result<Output<'a>, LabelError> {
    let json = label.map(payload::encode).transpose()?;
    let (top, moov_i) = top(bytes)?;
    let moov = top[moov_i];
    let mut placed = false;
    let mut kids = Vec::new();
    for c in children(&moov, 1)? {
        match &c.typ {
            b"meta" => {
                let m = parse_meta(&c, 2)?;
                if !m.is_mdta {
                    if json.is_some() {
                        return Err(LabelError::unsupported(
                            F,
                            "a 'moov/meta' box whose handler is not 'mdta'",
                        ));
                    }
                    kids.push(c.raw.to_vec());
                    continue;
                }
                placed = true;
                if let Some(b) = m.rebuild(json.as_deref()) {
                    kids.push(b);
                }
            }
            b"udta" => {
                let mut u = Vec::new();
                for d in children(&c, 2)? {
                    match &d.typ {
                        b"meta" => {
                            let m = parse_meta(&d, 3)?;
                            if m.is_mdta && m.label_index().is_some() {
                                if let Some(b) = m.rebuild(None) {
                                    u.push(b);
                                }
                            } else {
                                u.push(d.raw.to_vec());
                            }
                        }
                        b"XMP_" => {
                            let x = xmp::text(F, d.data)?;
                            match xmp::strip(F, &x)? {
                                Some(k) if k == x => u.push(d.raw.to_vec()),
                                Some(k) => u.push(mkbox(b"XMP_", k.as_bytes())),
                                None => {}
                            }
                        }
                        _ => u.push(d.raw.to_vec()),
                    }
                }
                kids.push(mkbox(b"udta", &u.concat()));
            }
            _ => kids.push(c.raw.to_vec()),
        }
    }
    if !placed {
        if let Some(j) = &json {
            if let Some(b) = (Mdta {
                is_mdta: true,
                ..Default::default()
            })
            .rebuild(Some(j))
            {
                kids.push(b);
            }
        }
    }
    let mut new_moov = mkbox(b"moov", &kids.concat());
    // Top-level pieces in order: `Verbatim(i)` copies box i, `Moov` is the rebuilt moov,
    // `New` a rewritten XMP box; dropped boxes are absent.
    enum Piece {
        Verbatim(usize),
        Moov,
        New(Vec<u8>),
    }
    let mut pieces = Vec::with_capacity(top.len());
    for (i, b) in top.iter().enumerate() {
        if i == moov_i {
            pieces.push(Piece::Moov);
        } else if let Some(x) = xmp_uuid(b) {
            let x = xmp::text(F, x)?;
            match xmp::strip(F, &x)? {
                Some(k) if k == x => pieces.push(Piece::Verbatim(i)),
                Some(k) => {
                    let mut p = XMP_UUID.to_vec();
                    p.extend_from_slice(k.as_bytes());
                    pieces.push(Piece::New(mkbox(b"uuid", &p)));
                }
                None => {}
            }
        } else {
            pieces.push(Piece::Verbatim(i));
        }
    }
    // Where each verbatim box lands (old start, old end, new start). Patching changes values
    // in moov, not its size, so the layout is known before it.
    let mut layout: Vec<(usize, usize, usize)> = Vec::new();
    let mut pos = 0usize;
    for p in &pieces {
        match p {
            Piece::Verbatim(i) => {
                let b = &top[*i];
                layout.push((b.start, b.end(), pos));
                pos += b.raw.len();
            }
            Piece::Moov => pos += new_moov.len(),
            Piece::New(v) => pos += v.len(),
        }
    }
    if !layout.iter().all(|(s, _, n)| s == n) {
        if top.iter().any(|b| &b.typ == b"mfra") {
            return Err(LabelError::unsupported(
                F,
                "relabeling a fragmented file with an 'mfra' index",
            ));
        }
        for b in top.iter().filter(|b| &b.typ == b"moof") {
            if has_tfhd_base_offset(b, 1)? {
                return Err(LabelError::unsupported(
                    F,
                    "fragments with explicit base data offsets",
                ));
            }
        }
        let map = |o: u64| -> Result<u64, LabelError> {
            let o = usize::try_from(o).unwrap_or(usize::MAX);
            layout
                .iter()
                .find(|(s, e, _)| *s <= o && o < *e)
                .map(|(s, _, n)| (n + (o - s)) as u64)
                .ok_or_else(|| {
                    LabelError::malformed(
                        F,
                        format!("chunk offset {o} points outside every media box"),
                    )
                })
        };
        patch_offsets(&mut new_moov[8..], &map, 1)?;
    }
    let mut out = Output::over(bytes);
    for p in &pieces {
        match p {
            Piece::Verbatim(i) => out.keep(top[*i].raw),
            Piece::Moov => out.push(&new_moov),
            Piece::New(v) => out.push(v),
        }
    }
    Ok(out)
}

fn hash_box(
    h: &mut ContentHasher,
    b: &Bx<'_>,
    depth: usize,
    norm: &dyn Fn(u64) -> (u64, u64),
    in_moov: bool,
) -> Result<(), LabelError> {
    h.update(b.typ);
    if CONTAINERS.contains(&&b.typ) {
        for c in children(b, depth)? {
            if &b.typ == b"moov" && matches!(&c.typ, b"meta" | b"udta") {
                continue;
            }
            hash_box(h, &c, depth + 1, norm, in_moov)?;
        }
        return Ok(());
    }
    // Only offsets `rebuild` remaps (those in `moov`) are normalised; a chunk offset box
    // elsewhere is plain data, copied as it is.
    if in_moov && matches!(&b.typ, b"stco" | b"co64") {
        let wide = &b.typ == b"co64";
        let mut c = Cur::new(F, b.data);
        h.update(c.take(4, "chunk offset box version and flags")?);
        let n = c.be32("chunk offset count")?;
        let w = if wide { 8 } else { 4 };
        if u64::from(n) * w > c.remaining() as u64 {
            return Err(LabelError::overrun(
                F,
                format!("box '{}' entries", b.name()),
                u64::from(n) * w,
                c.remaining(),
                b.start,
            ));
        }
        for _ in 0..n {
            let o = if wide {
                c.be64("chunk offset")?
            } else {
                u64::from(c.be32("chunk offset")?)
            };
            let (i, rel) = norm(o);
            h.update(i.to_be_bytes());
            h.update(rel.to_be_bytes());
        }
        return Ok(());
    }
    h.update((b.data.len() as u64).to_be_bytes());
    h.update(b.data);
    Ok(())
}

impl FormatHandler for Mp4 {
    fn name(&self) -> &'static str {
        "mp4"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["mp4", "m4v", "m4a", "mov", "qt", "3gp"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        matches!(
            bytes.get(4..8),
            Some(b"ftyp" | b"moov" | b"mdat" | b"wide" | b"free" | b"skip")
        )
    }
    fn canonical_carrier(&self) -> &'static str {
        "mp4:moov/meta:AIGC"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let (top, moov_i) = top(bytes)?;
        let mut found = Vec::new();
        for b in &top {
            if let Some(x) = xmp_uuid(b) {
                if let Some(label) = xmp::read_label(F, "xmp", x)? {
                    found.push(FoundLabel {
                        carrier: "xmp".into(),
                        label,
                    });
                }
            }
        }
        for c in children(&top[moov_i], 1)? {
            match &c.typ {
                b"meta" => {
                    let carrier = "mp4:moov/meta:AIGC";
                    // Only an `mdta` meta holds keys; `rebuild` keeps any other as it is.
                    let m = parse_meta(&c, 2)?;
                    if let Some(v) = m.is_mdta.then(|| m.label_value()).transpose()?.flatten() {
                        found.push(FoundLabel {
                            carrier: carrier.into(),
                            label: label_of(carrier, &v)?,
                        });
                    }
                }
                b"udta" => {
                    for d in children(&c, 2)? {
                        if &d.typ == b"meta" {
                            let carrier = "mp4:moov/udta/meta:AIGC";
                            let m = parse_meta(&d, 3)?;
                            if m.is_mdta {
                                if let Some(v) = m.label_value()? {
                                    found.push(FoundLabel {
                                        carrier: carrier.into(),
                                        label: label_of(carrier, &v)?,
                                    });
                                }
                            }
                        } else if &d.typ == b"XMP_" {
                            if let Some(label) = xmp::read_label(F, "xmp", d.data)? {
                                found.push(FoundLabel {
                                    carrier: "xmp".into(),
                                    label,
                                });
                            }
                        }
                    }
                }
                _ => {}
            }
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
        rebuild(bytes, Some(label))
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        rebuild(bytes, None).map(Output::into_vec)
    }

    /// Top-level boxes but `free`/`skip`/`wide` and XMP `uuid`; `moov` without its `meta` and
    /// `udta`; chunk offsets as (index of the top-level box they point into, offset within it),
    /// so moving `mdat` when `moov` grows does not change the digest.
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let (top, _) = top(bytes)?;
        let kept: Vec<&Bx<'_>> = top
            .iter()
            .filter(|b| !matches!(&b.typ, b"free" | b"skip" | b"wide") && xmp_uuid(b).is_none())
            .collect();
        let spans: Vec<(usize, usize)> = kept.iter().map(|b| (b.start, b.end())).collect();
        let norm = |o: u64| -> (u64, u64) {
            let o = usize::try_from(o).unwrap_or(usize::MAX);
            match spans.iter().position(|(s, e)| *s <= o && o < *e) {
                Some(i) => (i as u64, (o - spans[i].0) as u64),
                None => (u64::MAX, o as u64),
            }
        };
        let mut h = alg.hasher();
        for b in kept {
            hash_box(&mut h, b, 1, &norm, &b.typ == b"moov")?;
        }
        Ok(h.finalize())
    }
}

/// An MP4 with the label only in a top-level XMP `uuid` box (a foreign carrier), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    // Appended at the end, so no chunk offset moves.
    let mut p = XMP_UUID.to_vec();
    p.extend_from_slice(xmp::packet(label).unwrap_or_default().as_bytes());
    let mut out = bytes.to_vec();
    out.extend_from_slice(&mkbox(b"uuid", &p));
    out
}
