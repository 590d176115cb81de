//! GIF: XMP in the Application Extension "XMP DataXMP" (canonical; raw packet followed by the
//! 258-byte "magic trailer" that lets sub-block readers skip it), also a Comment Extension
//! holding the JSON. Image data blocks are copied verbatim.

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use crate::bytes::Cur;
use crate::{payload, xmp, FormatHandler, FoundLabel, LabelError, Output, Prepared};

const F: &str = "GIF";
const XMP_APP: &[u8] = b"XMP DataXMP";

/// The GIF handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gif;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Header,
    Image,
    Xmp,
    Comment,
    OtherExt,
    Trailer,
}

#[derive(Debug, Clone, Copy)]
struct Block<'a> {
    kind: Kind,
    raw: &'a [u8],
    /// XMP packet or comment text (sub-blocks joined by the caller).
    inner: &'a [u8],
}

fn trailer() -> Vec<u8> {
    let mut t = vec![0x01];
    t.extend((0..=255u8).rev());
    t.push(0);
    t
}

/// Skips data sub-blocks from `c.pos`; returns the position after the terminator.
fn skip_sub_blocks(c: &mut Cur<'_>) -> Result<(), LabelError> {
    loop {
        let n = c.u8("data sub-block size")?;
        if n == 0 {
            return Ok(());
        }
        c.take(n as usize, "data sub-block")?;
    }
}

fn join_sub_blocks(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let n = d[i] as usize;
        if n == 0 {
            break;
        }
        out.extend_from_slice(d.get(i + 1..i + 1 + n).unwrap_or_default());
        i += 1 + n;
    }
    out
}

fn blocks(bytes: &[u8]) -> Result<Vec<Block<'_>>, LabelError> {
    if !(bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) {
        return Err(LabelError::malformed(F, "missing GIF87a/GIF89a signature"));
    }
    let mut c = Cur::at(F, bytes, 6);
    let lsd = c.take(7, "logical screen descriptor")?;
    if lsd[4] & 0x80 != 0 {
        let n = 3usize << ((lsd[4] & 0x07) + 1);
        c.take(n, "global color table")?;
    }
    let mut out = vec![Block {
        kind: Kind::Header,
        raw: &bytes[..c.pos],
        inner: &[],
    }];
    loop {
        let start = c.pos;
        let intro = c.u8("block introducer")?;
        match intro {
            0x3b => {
                out.push(Block {
                    kind: Kind::Trailer,
                    raw: &bytes[start..],
                    inner: &[],
                });
                return Ok(out);
            }
            0x2c => {
                let desc = c.take(9, "image descriptor")?;
                if desc[8] & 0x80 != 0 {
                    let n = 3usize << ((desc[8] & 0x07) + 1);
                    c.take(n, "local color table")?;
                }
                c.u8("LZW minimum code size")?;
                skip_sub_blocks(&mut c)?;
                out.push(Block {
                    kind: Kind::Image,
                    raw: &bytes[start..c.pos],
                    inner: &[],
                });
            }
            0x21 => {
                let label = c.u8("extension label")?;
                let body = c.pos;
                if label == 0xff {
                    let n = c.u8("application block size")?;
                    let id = c.take(n as usize, "application identifier")?;
                    if id == XMP_APP {
                        let xs = c.pos;
                        skip_sub_blocks(&mut c)?;
                        let end = c.pos;
                        let t = trailer();
                        if end - xs < t.len() || bytes[end - t.len()..end] != t[..] {
                            return Err(LabelError::malformed(
                                F,
                                format!("XMP application extension at offset {start} lacks the magic trailer"),
                            ));
                        }
                        out.push(Block {
                            kind: Kind::Xmp,
                            raw: &bytes[start..end],
                            inner: &bytes[xs..end - t.len()],
                        });
                        continue;
                    }
                    skip_sub_blocks(&mut c)?;
                } else {
                    skip_sub_blocks(&mut c)?;
                }
                let kind = if label == 0xfe {
                    Kind::Comment
                } else {
                    Kind::OtherExt
                };
                out.push(Block {
                    kind,
                    raw: &bytes[start..c.pos],
                    inner: &bytes[body..c.pos],
                });
            }
            other => {
                return Err(LabelError::malformed(
                    F,
                    format!("unknown block introducer 0x{other:02x} at offset {start}"),
                ))
            }
        }
    }
}

fn xmp_ext(x: &str) -> Result<Vec<u8>, LabelError> {
    if x.as_bytes().contains(&0) {
        return Err(LabelError::malformed(F, "XMP packet contains a NUL byte"));
    }
    let mut v = vec![0x21, 0xff, 11];
    v.extend_from_slice(XMP_APP);
    v.extend_from_slice(x.as_bytes());
    v.extend_from_slice(&trailer());
    Ok(v)
}

fn comment_label(b: &Block<'_>) -> Option<String> {
    let t = String::from_utf8_lossy(&join_sub_blocks(b.inner)).into_owned();
    payload::looks_like(&t).then_some(t)
}

fn rebuild(bytes: &[u8], label: Option<&AigcLabel>) -> Result<Vec<u8>, LabelError> {
    rebuild_blocks(bytes, &blocks(bytes)?, label).map(Output::into_vec)
}

/// The file with `label` in the XMP extension (or without any label): every other block kept
/// as it is in `bytes`, image data included.
fn rebuild_blocks<'a>(
    bytes: &'a [u8],
    blocks: &[Block<'a>],
    label: Option<&AigcLabel>,
) -> Result<Output<'a>, LabelError> {
    let mut out = Output::over(bytes);
    let mut pending = label;
    for b in blocks {
        match b.kind {
            Kind::Xmp => {
                let x = xmp::text(F, b.inner)?;
                let n = match pending.take() {
                    Some(l) => Some(xmp::upsert(F, Some(&x), l)?),
                    None => xmp::strip(F, &x)?,
                };
                match n {
                    Some(n) if n == x => out.keep(b.raw),
                    Some(n) => out.push(&xmp_ext(&n)?),
                    None => {}
                }
            }
            Kind::Comment if comment_label(b).is_some() => {}
            Kind::Trailer => {
                if let Some(l) = pending.take() {
                    out.push(&xmp_ext(&xmp::packet(l)?)?);
                }
                out.keep(b.raw);
            }
            _ => out.keep(b.raw),
        }
    }
    Ok(out)
}

/// Header, images and extensions other than XMP and comments, byte for byte.
fn digest_blocks(blocks: &[Block<'_>], alg: DigestAlg) -> [u8; 32] {
    let mut h = alg.hasher();
    for b in blocks {
        if matches!(b.kind, Kind::Xmp | Kind::Comment) {
            continue;
        }
        h.update(b.raw);
    }
    h.finalize()
}

/// A file whose blocks were walked once, for the signed path's writes and digest.
struct GifFile<'a> {
    bytes: &'a [u8],
    blocks: Vec<Block<'a>>,
}

impl<'a> Prepared<'a> for GifFile<'a> {
    fn write_parts(&self, label: &AigcLabel) -> Result<Output<'a>, LabelError> {
        rebuild_blocks(self.bytes, &self.blocks, Some(label))
    }
    fn content_digest_with(&self, alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        Ok(digest_blocks(&self.blocks, alg))
    }
}

impl FormatHandler for Gif {
    fn name(&self) -> &'static str {
        "gif"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["gif"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")
    }
    fn canonical_carrier(&self) -> &'static str {
        "xmp"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let mut found = Vec::new();
        for b in blocks(bytes)? {
            match b.kind {
                Kind::Xmp => {
                    if let Some(label) = xmp::read_label(F, "xmp", b.inner)? {
                        found.push(FoundLabel {
                            carrier: "xmp".into(),
                            label,
                        });
                    }
                }
                Kind::Comment => {
                    if let Some(t) = comment_label(&b) {
                        let label = payload::decode(&t)
                            .map_err(|r| LabelError::bad_label(F, "gif:Comment", r))?;
                        found.push(FoundLabel {
                            carrier: "gif:Comment".into(),
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
        rebuild_blocks(bytes, &blocks(bytes)?, Some(label))
    }

    fn keeps_media(&self) -> bool {
        true
    }

    fn prepare<'a>(
        &self,
        bytes: &'a [u8],
    ) -> Result<Option<Box<dyn Prepared<'a> + 'a>>, LabelError> {
        Ok(Some(Box::new(GifFile {
            bytes,
            blocks: blocks(bytes)?,
        })))
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        rebuild(bytes, None)
    }

    /// Header, images and extensions other than XMP and comments, byte for byte.
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        Ok(digest_blocks(&blocks(bytes)?, alg))
    }
}

/// A GIF with the label only in a Comment Extension (a foreign carrier), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let json = payload::encode(label).unwrap_or_default();
    let blocks = blocks(bytes).unwrap_or_default();
    let mut out = Vec::new();
    for b in &blocks {
        if b.kind == Kind::Trailer {
            out.extend_from_slice(&[0x21, 0xfe]);
            for part in json.as_bytes().chunks(255) {
                out.push(part.len() as u8);
                out.extend_from_slice(part);
            }
            out.push(0);
        }
        out.extend_from_slice(b.raw);
    }
    out
}
