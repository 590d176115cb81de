//! TIFF: XMP in IFD0 tag 700 (canonical), also an ImageDescription (270) or Exif UserComment
//! holding the JSON. Edits never move image data: a grown XMP packet is appended at the end, a
//! grown IFD0 too (the header is repointed), and freed bytes are zeroed so no stale copy of a
//! label remains. BigTIFF is not supported.

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use crate::exif::{self, Tiff as T, TAG_EXIF_IFD, TAG_IMAGE_DESCRIPTION, TAG_XMP};
use crate::out::Overlay;
use crate::{payload, xmp, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "TIFF";
/// IFDs followed in a chain; a loop or a hostile chain stops here.
const MAX_IFDS: usize = 1024;

/// The TIFF handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tiff;

fn description_label(t: &T<'_>, e: &exif::Entry) -> Option<String> {
    let s = String::from_utf8_lossy(&t.data[e.value.clone()]).into_owned();
    let s = s.trim_end_matches('\0').to_string();
    payload::looks_like(&s).then_some(s)
}

#[cfg(test)]
fn pad_even(out: &mut Vec<u8>) {
    if out.len() % 2 == 1 {
        out.push(0);
    }
}

fn rebuild<'a>(bytes: &'a [u8], label: Option<&AigcLabel>) -> Result<Output<'a>, LabelError> {
    let t = T::parse(F, bytes)?;
    let (entries, next) = t.ifd(t.ifd0)?;
    let mut out = Overlay::new(bytes);
    let pad_even = |out: &mut Overlay<'_>| {
        if out.len() % 2 == 1 {
            out.append(&[0]);
        }
    };
    // Each entry as its 12 raw bytes, edited below, then written back sorted.
    let mut raw: Vec<(u16, [u8; 12])> = entries
        .iter()
        .map(|e| {
            let mut r = [0u8; 12];
            r.copy_from_slice(&bytes[e.at..e.at + 12]);
            (e.tag, r)
        })
        .collect();
    let out_of_line = |e: &exif::Entry| e.value.start != e.at + 8;

    // ImageDescription holding a label: drop it.
    if let Some(e) = entries.iter().find(|e| e.tag == TAG_IMAGE_DESCRIPTION) {
        if description_label(&t, e).is_some() {
            if out_of_line(e) {
                out.fill(e.value.clone(), 0);
            }
            raw.retain(|(tag, _)| *tag != TAG_IMAGE_DESCRIPTION);
        }
    }
    // Exif UserComment holding a label: blank in place. A broken Exif IFD is an error, as in
    // `read`: a file written here must read back.
    if let Some(r) = t.user_comment()? {
        let text = exif::decode_user_comment(&bytes[r.clone()], t.le).unwrap_or_default();
        if payload::looks_like(&text) {
            out.fill(r, 0);
        }
    }
    // XMP.
    let old = entries.iter().find(|e| e.tag == TAG_XMP);
    let old_text = match old {
        Some(e) => Some(xmp::text(F, &bytes[e.value.clone()])?),
        None => None,
    };
    let new_text = match label {
        Some(l) => Some(xmp::upsert(F, old_text.as_deref(), l)?),
        None => match &old_text {
            Some(x) => xmp::strip(F, x)?,
            None => None,
        },
    };
    if new_text != old_text {
        if let Some(e) = old {
            if out_of_line(e) {
                out.fill(e.value.clone(), 0);
            }
        }
        raw.retain(|(tag, _)| *tag != TAG_XMP);
        if let Some(x) = &new_text {
            let offset = match old {
                Some(e) if out_of_line(e) && x.len() <= e.value.len() => {
                    out.write_at(e.value.start, x.as_bytes());
                    e.value.start
                }
                _ => {
                    pad_even(&mut out);
                    let at = out.len();
                    out.append(x.as_bytes());
                    at
                }
            };
            let mut r = [0u8; 12];
            r[0..2].copy_from_slice(&t.put_u16(TAG_XMP));
            r[2..4].copy_from_slice(&t.put_u16(1));
            r[4..8].copy_from_slice(&t.put_u32(len32(x.len())?));
            r[8..12].copy_from_slice(&t.put_u32(len32(offset)?));
            // Before the first larger tag, the others kept in file order: the content digest
            // hashes entries in order, and files in the wild are not always sorted.
            let at = raw
                .iter()
                .position(|(tag, _)| *tag > TAG_XMP)
                .unwrap_or(raw.len());
            raw.insert(at, (TAG_XMP, r));
        }
    }
    // Write IFD0: in place when it fits, else at the end with the header repointed.
    let old_len = 2 + entries.len() * 12 + 4;
    // Bytes changed here must not be content: a hostile file can point values, strips or
    // other IFDs at the header, at IFD0 or at a label value, and the digest would change.
    let mut changed = vec![4..8, t.ifd0..t.ifd0 + old_len];
    changed.extend(
        entries
            .iter()
            .filter(|e| out_of_line(e) && matches!(e.tag, TAG_XMP | TAG_IMAGE_DESCRIPTION))
            .map(|e| e.value.clone()),
    );
    if let Some(r) = t.user_comment()? {
        changed.push(r);
    }
    for r in digest_ranges(&t)? {
        if let Some(c) = changed.iter().find(|c| c.start < r.end && r.start < c.end) {
            return Err(LabelError::malformed(
                F,
                format!(
                    "image data or a tag value at {}..{} overlaps the header, IFD0 or a label at {}..{}",
                    r.start, r.end, c.start, c.end
                ),
            ));
        }
    }
    // The Exif IFD is read to find the UserComment: bytes changed here must not be part of it
    // either, or the file written would not read back (found by `fuzz/label_image`: an Exif
    // IFD at offset 5, inside the header whose IFD0 offset is rewritten).
    if let Some(r) = t.exif_ifd()? {
        if let Some(c) = changed.iter().find(|c| c.start < r.end && r.start < c.end) {
            return Err(LabelError::malformed(
                F,
                format!(
                    "the Exif IFD at {}..{} overlaps the header, IFD0 or a label at {}..{}",
                    r.start, r.end, c.start, c.end
                ),
            ));
        }
    }
    let mut ifd = Vec::with_capacity(2 + raw.len() * 12 + 4);
    ifd.extend_from_slice(&t.put_u16(raw.len() as u16));
    for (_, r) in &raw {
        ifd.extend_from_slice(r);
    }
    ifd.extend_from_slice(&t.put_u32(next));
    out.fill(t.ifd0..t.ifd0 + old_len, 0);
    if ifd.len() <= old_len {
        out.write_at(t.ifd0, &ifd);
    } else {
        pad_even(&mut out);
        let at = len32(out.len())?;
        out.append(&ifd);
        out.write_at(4, &t.put_u32(at));
    }
    Ok(out.into_output())
}

fn len32(n: usize) -> Result<u32, LabelError> {
    u32::try_from(n).map_err(|_| LabelError::unsupported(F, "files over 4 GiB (BigTIFF)"))
}

impl FormatHandler for Tiff {
    fn name(&self) -> &'static str {
        "tiff"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["tif", "tiff"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*")
    }
    fn canonical_carrier(&self) -> &'static str {
        "xmp"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let t = T::parse(F, bytes)?;
        let (entries, _) = t.ifd(t.ifd0)?;
        let mut found = Vec::new();
        for e in &entries {
            if e.tag == TAG_XMP {
                if let Some(label) = xmp::read_label(F, "xmp", &bytes[e.value.clone()])? {
                    found.push(FoundLabel {
                        carrier: "xmp".into(),
                        label,
                    });
                }
            } else if e.tag == TAG_IMAGE_DESCRIPTION {
                if let Some(s) = description_label(&t, e) {
                    let label = payload::decode(&s)
                        .map_err(|r| LabelError::bad_label(F, "tiff:ImageDescription", r))?;
                    found.push(FoundLabel {
                        carrier: "tiff:ImageDescription".into(),
                        label,
                    });
                }
            }
        }
        if let Some((_, text)) = exif::user_comment_label(F, bytes)? {
            let label = payload::decode(&text)
                .map_err(|r| LabelError::bad_label(F, "exif:UserComment", r))?;
            found.push(FoundLabel {
                carrier: "exif:UserComment".into(),
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
        rebuild(bytes, Some(label))
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        rebuild(bytes, None).map(Output::into_vec)
    }

    /// For every IFD in the chain: each entry (tag, type, count, value bytes) except XMP,
    /// ImageDescription and the Exif IFD pointer; for strip and tile offsets, the image data
    /// they point to instead of the offsets.
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let t = T::parse(F, bytes)?;
        let mut h = alg.hasher();
        let mut off = t.ifd0;
        let mut seen = std::collections::HashSet::new();
        while off != 0 {
            if !seen.insert(off) {
                return Err(LabelError::malformed(
                    F,
                    format!("IFD chain loops back to offset {off}"),
                ));
            }
            if seen.len() > MAX_IFDS {
                return Err(LabelError::TooDeep {
                    format: F,
                    limit: MAX_IFDS,
                    offset: off as u64,
                });
            }
            let (entries, next) = t.ifd(off)?;
            for e in &entries {
                if matches!(e.tag, TAG_XMP | TAG_IMAGE_DESCRIPTION | TAG_EXIF_IFD) {
                    continue;
                }
                h.update(e.tag.to_be_bytes());
                h.update(e.typ.to_be_bytes());
                h.update(e.count.to_be_bytes());
                let v = &bytes[e.value.clone()];
                if matches!(e.tag, 273 | 324) {
                    let counts_tag = if e.tag == 273 { 279 } else { 325 };
                    let counts = entries
                        .iter()
                        .find(|c| c.tag == counts_tag)
                        .ok_or_else(|| {
                            LabelError::malformed(
                                F,
                                format!("tag {} without tag {counts_tag}", e.tag),
                            )
                        })?;
                    let offs = values(&t, e)?;
                    let lens = values(&t, counts)?;
                    for (o, l) in offs.iter().zip(lens.iter()) {
                        let (o, l) = (*o as usize, *l as usize);
                        let data = bytes.get(o..o.saturating_add(l)).ok_or_else(|| {
                            LabelError::overrun(
                                F,
                                format!("strip or tile at offset {o}"),
                                l as u64,
                                bytes.len().saturating_sub(o),
                                o,
                            )
                        })?;
                        h.update(data);
                    }
                } else {
                    h.update(v);
                }
            }
            off = next as usize;
        }
        Ok(h.finalize())
    }
}

/// Byte ranges `content_digest` reads besides IFD0's own entries (which `rebuild` copies):
/// other IFDs in the chain, out-of-line values of hashed tags, strips and tiles.
fn digest_ranges(t: &T<'_>) -> Result<Vec<std::ops::Range<usize>>, LabelError> {
    let mut out = Vec::new();
    let mut off = t.ifd0;
    let mut seen = std::collections::HashSet::new();
    while off != 0 && seen.insert(off) && seen.len() <= MAX_IFDS {
        let Ok((entries, next)) = t.ifd(off) else {
            break; // the digest fails on it too
        };
        if off != t.ifd0 {
            out.push(off..off + 2 + entries.len() * 12 + 4);
        }
        for e in &entries {
            if matches!(e.tag, TAG_XMP | TAG_IMAGE_DESCRIPTION | TAG_EXIF_IFD) {
                continue;
            }
            if e.value.start != e.at + 8 || off != t.ifd0 {
                out.push(e.value.clone());
            }
            if matches!(e.tag, 273 | 324) {
                let counts_tag = if e.tag == 273 { 279 } else { 325 };
                if let Some(c) = entries.iter().find(|c| c.tag == counts_tag) {
                    if let (Ok(o), Ok(l)) = (values(t, e), values(t, c)) {
                        out.extend(
                            o.iter().zip(l.iter()).map(|(o, l)| {
                                *o as usize..(*o as usize).saturating_add(*l as usize)
                            }),
                        );
                    }
                }
            }
        }
        off = next as usize;
    }
    Ok(out)
}

/// SHORT or LONG values of an entry.
fn values(t: &T<'_>, e: &exif::Entry) -> Result<Vec<u32>, LabelError> {
    let mut out = Vec::with_capacity(e.count as usize);
    for i in 0..e.count as usize {
        let v = match e.typ {
            3 => u32::from(t.u16_at(e.value.start + i * 2)?),
            4 | 13 => t.u32_at(e.value.start + i * 4)?,
            other => {
                return Err(LabelError::malformed(
                    F,
                    format!("tag {} has type {other}, expected SHORT or LONG", e.tag),
                ))
            }
        };
        out.push(v);
    }
    Ok(out)
}

/// A TIFF with the label only in ImageDescription (a foreign carrier), for tests: IFD0 is
/// rebuilt at the end with the extra entry.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let Ok(t) = T::parse(F, bytes) else {
        return Vec::new();
    };
    let Ok((entries, next)) = t.ifd(t.ifd0) else {
        return Vec::new();
    };
    let mut out = bytes.to_vec();
    pad_even(&mut out);
    let mut text = payload::encode(label).unwrap_or_default().into_bytes();
    text.push(0);
    let at = out.len() as u32;
    out.extend_from_slice(&text);
    pad_even(&mut out);
    let mut raw: Vec<(u16, Vec<u8>)> = entries
        .iter()
        .filter(|e| e.tag != TAG_IMAGE_DESCRIPTION)
        .map(|e| (e.tag, bytes[e.at..e.at + 12].to_vec()))
        .collect();
    let mut r = Vec::new();
    r.extend_from_slice(&t.put_u16(TAG_IMAGE_DESCRIPTION));
    r.extend_from_slice(&t.put_u16(2));
    r.extend_from_slice(&t.put_u32(text.len() as u32));
    r.extend_from_slice(&t.put_u32(at));
    raw.push((TAG_IMAGE_DESCRIPTION, r));
    raw.sort_by_key(|(tag, _)| *tag);
    let ifd_at = out.len() as u32;
    out.extend_from_slice(&t.put_u16(raw.len() as u16));
    for (_, r) in &raw {
        out.extend_from_slice(r);
    }
    out.extend_from_slice(&t.put_u32(next));
    out[4..8].copy_from_slice(&t.put_u32(ifd_at));
    out
}
