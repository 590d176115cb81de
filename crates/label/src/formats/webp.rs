//! WebP: the `XMP ` chunk of the extended format (canonical), also an `EXIF` UserComment. A
//! simple file (lone `VP8 `/`VP8L`) gains a `VP8X` header built from the bitstream's canvas
//! size; the bitstream chunk itself is copied verbatim.

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use super::riff;
use crate::{exif, payload, xmp, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "WebP";
const FLAG_XMP: u8 = 0x04;
const FLAG_ALPHA: u8 = 0x10;

/// The WebP handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct WebP;

fn webp_chunks(bytes: &[u8]) -> Result<Vec<riff::Chunk<'_>>, LabelError> {
    let (form, chunks) = riff::chunks(F, bytes)?;
    if &form != b"WEBP" {
        return Err(LabelError::malformed(F, "RIFF form is not WEBP"));
    }
    Ok(chunks)
}

/// VP8X payload for a simple file: flags, canvas width−1 and height−1 (24 bits each).
fn vp8x_for(first: &riff::Chunk<'_>) -> Result<[u8; 10], LabelError> {
    let d = first.data;
    let (w, h, alpha) = match &first.id {
        b"VP8L" => {
            if d.len() < 5 || d[0] != 0x2f {
                return Err(LabelError::malformed(F, "VP8L chunk lacks its signature"));
            }
            let bits = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
            (
                (bits & 0x3fff) + 1,
                ((bits >> 14) & 0x3fff) + 1,
                (bits >> 28) & 1 == 1,
            )
        }
        b"VP8 " => {
            if d.len() < 10 || d[3..6] != [0x9d, 0x01, 0x2a] {
                return Err(LabelError::malformed(
                    F,
                    "VP8 chunk lacks its key frame start code",
                ));
            }
            let w = u32::from(u16::from_le_bytes([d[6], d[7]]) & 0x3fff);
            let h = u32::from(u16::from_le_bytes([d[8], d[9]]) & 0x3fff);
            (w, h, false)
        }
        other => {
            return Err(LabelError::malformed(
                F,
                format!(
                    "first chunk is '{}', expected VP8X, VP8 or VP8L",
                    String::from_utf8_lossy(other)
                ),
            ))
        }
    };
    if w == 0 || h == 0 {
        return Err(LabelError::malformed(
            F,
            "bitstream declares a zero canvas size",
        ));
    }
    let mut v = [0u8; 10];
    v[0] = if alpha { FLAG_ALPHA } else { 0 };
    v[4..7].copy_from_slice(&(w - 1).to_le_bytes()[..3]);
    v[7..10].copy_from_slice(&(h - 1).to_le_bytes()[..3]);
    Ok(v)
}

/// The file with `label` in the `XMP ` chunk (or without any label): the bitstream and every
/// other chunk kept as they are in `bytes`.
fn rebuild<'a>(bytes: &'a [u8], label: Option<&AigcLabel>) -> Result<Output<'a>, LabelError> {
    let chunks = webp_chunks(bytes)?;
    let first = chunks
        .first()
        .ok_or_else(|| LabelError::malformed(F, "no chunks"))?;
    let mut vp8x: Option<[u8; 10]> = None;
    if &first.id == b"VP8X" {
        if first.data.len() < 10 {
            return Err(LabelError::malformed(F, "VP8X chunk shorter than 10 bytes"));
        }
        let mut v = [0u8; 10];
        v.copy_from_slice(&first.data[..10]);
        vp8x = Some(v);
    } else if label.is_some() {
        vp8x = Some(vp8x_for(first)?);
    }
    let mut xmp_new: Option<String> = None;
    let mut pending = label;
    let mut body = Output::over(bytes);
    for ch in &chunks {
        match &ch.id {
            b"VP8X" => {}
            b"XMP " => {
                let x = xmp::text(F, ch.data)?;
                let n = match pending.take() {
                    Some(l) => Some(xmp::upsert(F, Some(&x), l)?),
                    None => xmp::strip(F, &x)?,
                };
                if let Some(n) = n {
                    xmp_new = Some(n);
                }
            }
            b"EXIF" => match exif::user_comment_label(F, ch.data) {
                Ok(Some((r, _))) => {
                    let mut d = ch.data.to_vec();
                    exif::blank(&mut d, r);
                    body.push(&riff::chunk(b"EXIF", &d));
                }
                _ => keep_chunk(&mut body, ch),
            },
            _ => keep_chunk(&mut body, ch),
        }
    }
    if let Some(l) = pending {
        xmp_new = Some(xmp::packet(l)?);
    }
    // XMP goes last, as the container specification orders it.
    if let Some(x) = &xmp_new {
        body.push(&riff::chunk(b"XMP ", x.as_bytes()));
    }
    let mut all = Output::over(bytes);
    if let Some(mut v) = vp8x {
        if xmp_new.is_some() {
            v[0] |= FLAG_XMP;
        } else {
            v[0] &= !FLAG_XMP;
        }
        let mut d = v.to_vec();
        if &first.id == b"VP8X" {
            d.extend_from_slice(&first.data[10..]);
        }
        all.push(&riff::chunk(b"VP8X", &d));
    }
    all.append(body);
    riff::file_parts(F, b"WEBP", bytes, all)
}

/// A chunk kept as it is, with the pad byte the last chunk of a file may lack (a chunk may
/// now follow it).
fn keep_chunk<'a>(body: &mut Output<'a>, ch: &riff::Chunk<'a>) {
    body.keep(ch.raw);
    if ch.data.len() % 2 == 1 && ch.raw.len() == ch.data.len() + 8 {
        body.push(&[0]);
    }
}

impl FormatHandler for WebP {
    fn name(&self) -> &'static str {
        "webp"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["webp"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP"
    }
    fn canonical_carrier(&self) -> &'static str {
        "xmp"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let mut found = Vec::new();
        for ch in webp_chunks(bytes)? {
            match &ch.id {
                b"XMP " => {
                    if let Some(label) = xmp::read_label(F, "xmp", ch.data)? {
                        found.push(FoundLabel {
                            carrier: "xmp".into(),
                            label,
                        });
                    }
                }
                b"EXIF" => {
                    // Unparsable EXIF is kept as it is by `rebuild` and skipped here, as in JPEG.
                    if let Ok(Some((_, t))) = exif::user_comment_label(F, ch.data) {
                        let label = payload::decode(&t)
                            .map_err(|r| LabelError::bad_label(F, "exif:UserComment", r))?;
                        found.push(FoundLabel {
                            carrier: "exif:UserComment".into(),
                            label,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(found)
    }

    fn write_parts<'a>(
        &self,
        bytes: &'a [u8],
        label: &AigcLabel,
    ) -> Result<Output<'a>, LabelError> {
        rebuild(bytes, Some(label))
    }

    fn keeps_media(&self) -> bool {
        true
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        rebuild(bytes, None).map(Output::into_vec)
    }

    /// Every chunk but `VP8X`, `XMP ` and `EXIF`: id and data.
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let mut h = alg.hasher();
        for ch in webp_chunks(bytes)? {
            if matches!(&ch.id, b"VP8X" | b"XMP " | b"EXIF") {
                continue;
            }
            h.update(ch.id);
            h.update((ch.data.len() as u64).to_le_bytes());
            h.update(ch.data);
        }
        Ok(h.finalize())
    }
}

/// A WebP with the label only in an EXIF UserComment (a foreign carrier), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let chunks = webp_chunks(bytes).unwrap_or_default();
    let mut body = Vec::new();
    let exif = exif::with_user_comment(&payload::encode(label).unwrap_or_default());
    match chunks.first() {
        Some(first) if &first.id != b"VP8X" => {
            let mut v = vp8x_for(first).unwrap_or_default();
            v[0] |= 0x08;
            body.extend_from_slice(&riff::chunk(b"VP8X", &v));
            for ch in &chunks {
                body.extend_from_slice(ch.raw);
            }
        }
        _ => {
            for ch in &chunks {
                body.extend_from_slice(ch.raw);
            }
        }
    }
    body.extend_from_slice(&riff::chunk(b"EXIF", &exif));
    riff::file_parts(F, b"WEBP", &[], Output::from_vec(body))
        .map(Output::into_vec)
        .unwrap_or_default()
}
