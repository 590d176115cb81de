//! JPEG: APP1 XMP (canonical), also EXIF UserComment holding the JSON. Segments before the first
//! SOS are walked by hand; everything from SOS on (entropy-coded data) is copied verbatim, so the
//! image is never re-encoded.

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use crate::bytes::Cur;
use crate::{exif, payload, xmp, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "JPEG";
const XMP_SIG: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const EXIF_SIG: &[u8] = b"Exif\0\0";
/// Largest XMP that fits one APP1 segment (65535 − 2 length bytes − signature).
const MAX_XMP: usize = 65533 - 29;

/// The JPEG handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Jpeg;

#[derive(Debug, Clone, Copy)]
struct Seg<'a> {
    marker: u8,
    /// Segment payload after the length field.
    data: &'a [u8],
    raw: &'a [u8],
}

/// Segments up to (excluding) SOS, and the offset where SOS starts.
fn segments(bytes: &[u8]) -> Result<(Vec<Seg<'_>>, usize), LabelError> {
    if !bytes.starts_with(&[0xff, 0xd8]) {
        return Err(LabelError::malformed(F, "missing SOI marker"));
    }
    let mut c = Cur::at(F, bytes, 2);
    let mut segs = Vec::new();
    loop {
        let start = c.pos;
        let ff = c.u8("marker")?;
        if ff != 0xff {
            return Err(LabelError::malformed(
                F,
                format!("expected a marker at offset {start}, found byte 0x{ff:02x}"),
            ));
        }
        let mut marker = c.u8("marker")?;
        while marker == 0xff {
            marker = c.u8("marker")?;
        }
        match marker {
            0xda | 0xd9 => return Ok((segs, start)),
            0x01 | 0xd0..=0xd7 => {
                segs.push(Seg {
                    marker,
                    data: &[],
                    raw: &bytes[start..c.pos],
                });
            }
            _ => {
                let len = c.be16(&format!("length of segment 0x{marker:02x}"))?;
                if len < 2 {
                    return Err(LabelError::malformed(
                        F,
                        format!("segment 0x{marker:02x} at offset {start} has length {len} < 2"),
                    ));
                }
                let data =
                    c.take_declared(u64::from(len) - 2, || format!("segment 0x{marker:02x}"))?;
                segs.push(Seg {
                    marker,
                    data,
                    raw: &bytes[start..c.pos],
                });
            }
        }
    }
}

fn app1(sig: &[u8], body: &[u8]) -> Result<Vec<u8>, LabelError> {
    let len = 2 + sig.len() + body.len();
    if len > 65535 {
        return Err(LabelError::unsupported(
            F,
            format!(
                "an XMP packet of {} bytes (more than one APP1 segment holds; extended XMP)",
                body.len()
            ),
        ));
    }
    let mut v = vec![0xff, 0xe1];
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.extend_from_slice(sig);
    v.extend_from_slice(body);
    Ok(v)
}

fn rebuild<'a>(bytes: &'a [u8], label: Option<&AigcLabel>) -> Result<Output<'a>, LabelError> {
    let (segs, sos) = segments(bytes)?;
    let mut out = Output::over(bytes);
    out.keep(&bytes[..2]);
    let mut pending = label;
    let mut leading = true;
    for s in &segs {
        let is_app01 = matches!(s.marker, 0xe0 | 0xe1);
        if leading && !is_app01 {
            leading = false;
            if let Some(l) = pending.take() {
                out.push(&app1(XMP_SIG, xmp::packet(l)?.as_bytes())?);
            }
        }
        if s.marker == 0xe1 && s.data.starts_with(XMP_SIG) {
            let x = xmp::text(F, &s.data[XMP_SIG.len()..])?;
            let new = match pending.take() {
                Some(l) => Some(xmp::upsert(F, Some(&x), l)?),
                None => xmp::strip(F, &x)?,
            };
            match new {
                Some(n) if n == x => out.keep(s.raw),
                Some(n) => {
                    if n.len() > MAX_XMP {
                        return Err(LabelError::unsupported(
                            F,
                            "XMP larger than one APP1 segment",
                        ));
                    }
                    out.push(&app1(XMP_SIG, n.as_bytes())?);
                }
                None => {}
            }
        } else if s.marker == 0xe1 && s.data.starts_with(EXIF_SIG) {
            let body = &s.data[EXIF_SIG.len()..];
            match exif::user_comment_label(F, body) {
                Ok(Some((r, _))) => {
                    let mut seg = s.raw.to_vec();
                    // Where the EXIF body starts in the raw segment: after the marker, any
                    // fill bytes (0xFF) before it, and the length (found by `fuzz/label_image`:
                    // with fill bytes a fixed offset of 4 blanked the wrong bytes).
                    let off = s.raw.len() - s.data.len() + EXIF_SIG.len();
                    exif::blank(&mut seg, r.start + off..r.end + off);
                    out.push(&seg);
                }
                // EXIF we cannot parse carries no label we could read: keep it as it is.
                _ => out.keep(s.raw),
            }
        } else {
            out.keep(s.raw);
        }
    }
    if let Some(l) = pending {
        out.push(&app1(XMP_SIG, xmp::packet(l)?.as_bytes())?);
    }
    out.keep(&bytes[sos..]);
    Ok(out)
}

impl FormatHandler for Jpeg {
    fn name(&self) -> &'static str {
        "jpeg"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["jpg", "jpeg", "jpe", "jfif"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(&[0xff, 0xd8, 0xff])
    }
    fn canonical_carrier(&self) -> &'static str {
        "xmp"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let (segs, _) = segments(bytes)?;
        let mut found = Vec::new();
        for s in segs.iter().filter(|s| s.marker == 0xe1) {
            if let Some(x) = s.data.strip_prefix(XMP_SIG) {
                if let Some(label) = xmp::read_label(F, "xmp", x)? {
                    found.push(FoundLabel {
                        carrier: "xmp".into(),
                        label,
                    });
                }
            } else if let Some(body) = s.data.strip_prefix(EXIF_SIG) {
                // EXIF we cannot parse carries no label we could read; `rebuild` keeps it as it
                // is, so reading skips it too (else a written file would not read back).
                if let Ok(Some((_, text))) = exif::user_comment_label(F, body) {
                    let label = payload::decode(&text)
                        .map_err(|r| LabelError::bad_label(F, "exif:UserComment", r))?;
                    found.push(FoundLabel {
                        carrier: "exif:UserComment".into(),
                        label,
                    });
                }
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

    /// Every segment but APP0–APP15 and COM, then everything from SOS to the end. (EXIF is
    /// excluded whole, so its orientation tag is not bound; the pixels are.)
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let (segs, sos) = segments(bytes)?;
        let mut h = alg.hasher();
        for s in segs {
            if matches!(s.marker, 0xe0..=0xef | 0xfe) {
                continue;
            }
            h.update(s.raw);
        }
        h.update(&bytes[sos..]);
        Ok(h.finalize())
    }
}

/// A JPEG with the label only in an EXIF UserComment (a foreign carrier), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let mut body = EXIF_SIG.to_vec();
    body.extend_from_slice(&exif::with_user_comment(
        &payload::encode(label).unwrap_or_default(),
    ));
    let mut out = bytes[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&bytes[2..]);
    out
}
