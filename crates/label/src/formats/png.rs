//! PNG: `tEXt` keyword `AIGC` (canonical), also `zTXt`/`iTXt` `AIGC` and XMP in
//! `iTXt` `XML:com.adobe.xmp`. Chunks are walked by hand so image chunks are copied verbatim
//! (the `png` crate would decode and re-encode).

use std::io::Read;

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use crate::bytes::Cur;
use crate::{payload, xmp, FormatHandler, FoundLabel, LabelError, Output, Prepared};

const F: &str = "PNG";
const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
const XMP_KEY: &[u8] = b"XML:com.adobe.xmp";
/// Largest decompressed text chunk read; labels are a few hundred bytes.
const MAX_TEXT: u64 = 1 << 20;

/// The PNG handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Png;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'a> {
    pub typ: [u8; 4],
    pub data: &'a [u8],
    /// The whole chunk: length, type, data, CRC.
    pub raw: &'a [u8],
}

pub(crate) fn chunks(bytes: &[u8]) -> Result<Vec<Chunk<'_>>, LabelError> {
    if !bytes.starts_with(SIG) {
        return Err(LabelError::malformed(F, "missing PNG signature"));
    }
    let mut c = Cur::at(F, bytes, SIG.len());
    let mut out = Vec::new();
    loop {
        let start = c.pos;
        let len = c.be32("chunk length")?;
        if len > 0x7fff_ffff {
            return Err(LabelError::malformed(
                F,
                format!("chunk at offset {start} declares length {len} > 2^31-1"),
            ));
        }
        let typ_b = c.take(4, "chunk type")?;
        let typ = [typ_b[0], typ_b[1], typ_b[2], typ_b[3]];
        let name = String::from_utf8_lossy(&typ).into_owned();
        let data = c.take_declared(u64::from(len), || format!("chunk {name}"))?;
        let stored = c.be32(&format!("CRC of chunk {name}"))?;
        let mut h = crc32fast::Hasher::new();
        h.update(&typ);
        h.update(data);
        let computed = h.finalize();
        if stored != computed {
            return Err(LabelError::BadCrc {
                format: F,
                what: format!("chunk {name} at offset {start}"),
                stored,
                computed,
            });
        }
        out.push(Chunk {
            typ,
            data,
            raw: &bytes[start..c.pos],
        });
        if &typ == b"IEND" {
            break;
        }
        if c.is_empty() {
            return Err(LabelError::malformed(F, "file ends without an IEND chunk"));
        }
    }
    if out.first().map(|c| &c.typ) != Some(b"IHDR") {
        return Err(LabelError::malformed(F, "first chunk is not IHDR"));
    }
    Ok(out)
}

pub(crate) fn chunk(typ: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 12);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(typ);
    v.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(typ);
    h.update(data);
    v.extend_from_slice(&h.finalize().to_be_bytes());
    v
}

fn inflate(data: &[u8], what: &str) -> Result<Vec<u8>, LabelError> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_TEXT)
        .read_to_end(&mut out)
        .map_err(|e| LabelError::malformed(F, format!("{what}: bad zlib data: {e}")))?;
    Ok(out)
}

/// A text chunk's keyword and its text (decompressed).
enum Text {
    Label(&'static str, Vec<u8>),
    Xmp(Vec<u8>),
    Other,
}

fn text_of(ch: &Chunk<'_>) -> Result<Text, LabelError> {
    let (kw, rest) = match ch.data.iter().position(|&b| b == 0) {
        Some(i) => (&ch.data[..i], &ch.data[i + 1..]),
        None => return Ok(Text::Other),
    };
    let is_label = kw.eq_ignore_ascii_case(b"AIGC");
    match &ch.typ {
        b"tEXt" if is_label => Ok(Text::Label("png:tEXt:AIGC", rest.to_vec())),
        b"zTXt" if is_label => {
            let comp = rest.get(1..).unwrap_or_default();
            Ok(Text::Label("png:zTXt:AIGC", inflate(comp, "zTXt AIGC")?))
        }
        b"iTXt" if is_label || kw == XMP_KEY => {
            let mut c = Cur::new(F, rest);
            let flag = c.u8("iTXt compression flag")?;
            c.u8("iTXt compression method")?;
            let tail = &rest[c.pos..];
            // Language tag and translated keyword, each NUL-terminated.
            let mut parts = tail.splitn(3, |&b| b == 0);
            let (_, _, text) = (parts.next(), parts.next(), parts.next().unwrap_or_default());
            let text = if flag == 1 {
                inflate(text, "iTXt")?
            } else {
                text.to_vec()
            };
            if is_label {
                Ok(Text::Label("png:iTXt:AIGC", text))
            } else {
                Ok(Text::Xmp(text))
            }
        }
        _ => Ok(Text::Other),
    }
}

fn itxt_xmp(xmp: &str) -> Vec<u8> {
    let mut d = XMP_KEY.to_vec();
    d.extend_from_slice(&[0, 0, 0, 0, 0]);
    d.extend_from_slice(xmp.as_bytes());
    chunk(b"iTXt", &d)
}

/// Rebuilds the file: label text chunks dropped, XMP stripped of the label; `label` then goes
/// into a `tEXt` chunk right after IHDR.
fn rebuild<'a>(bytes: &'a [u8], label: Option<&AigcLabel>) -> Result<Output<'a>, LabelError> {
    rebuild_chunks(bytes, &chunks(bytes)?, label)
}

/// [`rebuild`] of `bytes`, whose chunks are `chunks`.
fn rebuild_chunks<'a>(
    bytes: &'a [u8],
    chunks: &[Chunk<'a>],
    label: Option<&AigcLabel>,
) -> Result<Output<'a>, LabelError> {
    let mut out = Output::over(bytes);
    out.push(SIG);
    for ch in chunks {
        match text_of(ch)? {
            Text::Label(..) => continue,
            Text::Xmp(x) => {
                let x = xmp::text(F, &x)?;
                match xmp::strip(F, &x)? {
                    None => {}
                    Some(kept) if kept == x => out.keep(ch.raw),
                    Some(kept) => out.push(&itxt_xmp(&kept)),
                }
            }
            Text::Other => out.keep(ch.raw),
        }
        if &ch.typ == b"IHDR" {
            if let Some(l) = label {
                let mut d = b"AIGC\0".to_vec();
                d.extend_from_slice(payload::encode(l)?.as_bytes());
                out.push(&chunk(b"tEXt", &d));
            }
        }
    }
    out.keep(&bytes[SIG.len() + chunks.iter().map(|c| c.raw.len()).sum::<usize>()..]);
    Ok(out)
}

/// Every chunk but text chunks (`tEXt`, `zTXt`, `iTXt`): type, length and data.
fn digest_chunks(chunks: &[Chunk<'_>], alg: DigestAlg) -> [u8; 32] {
    let mut h = alg.hasher();
    for ch in chunks {
        if matches!(&ch.typ, b"tEXt" | b"zTXt" | b"iTXt") {
            continue;
        }
        h.update(ch.typ);
        h.update((ch.data.len() as u64).to_be_bytes());
        h.update(ch.data);
    }
    h.finalize()
}

/// A PNG whose chunks were read, and their CRCs checked, once for the signed path's two
/// writes and one digest (each would otherwise check every CRC again: a pass over the file).
struct PngFile<'a> {
    bytes: &'a [u8],
    chunks: Vec<Chunk<'a>>,
}

impl<'a> Prepared<'a> for PngFile<'a> {
    fn write_parts(&self, label: &AigcLabel) -> Result<Output<'a>, LabelError> {
        rebuild_chunks(self.bytes, &self.chunks, Some(label))
    }
    fn content_digest_with(&self, alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        Ok(digest_chunks(&self.chunks, alg))
    }
}

impl FormatHandler for Png {
    fn name(&self) -> &'static str {
        "png"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["png", "apng"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(SIG)
    }
    fn canonical_carrier(&self) -> &'static str {
        "png:tEXt:AIGC"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let mut found = Vec::new();
        for ch in chunks(bytes)? {
            match text_of(&ch)? {
                Text::Label(carrier, text) => {
                    let t = String::from_utf8_lossy(&text);
                    let label =
                        payload::decode(&t).map_err(|r| LabelError::bad_label(F, carrier, r))?;
                    found.push(FoundLabel {
                        carrier: carrier.into(),
                        label,
                    });
                }
                Text::Xmp(x) => {
                    if let Some(label) = xmp::read_label(F, "xmp", &x)? {
                        found.push(FoundLabel {
                            carrier: "xmp".into(),
                            label,
                        });
                    }
                }
                Text::Other => {}
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

    fn prepare<'a>(
        &self,
        bytes: &'a [u8],
    ) -> Result<Option<Box<dyn Prepared<'a> + 'a>>, LabelError> {
        Ok(Some(Box::new(PngFile {
            bytes,
            chunks: chunks(bytes)?,
        })))
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        rebuild(bytes, None).map(Output::into_vec)
    }

    /// [`digest_chunks`].
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        Ok(digest_chunks(&chunks(bytes)?, alg))
    }
}

/// A PNG with the label only in an XMP `iTXt` chunk (a foreign carrier), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(SIG);
    for ch in chunks(bytes).unwrap_or_default() {
        out.extend_from_slice(ch.raw);
        if &ch.typ == b"IHDR" {
            out.extend_from_slice(&itxt_xmp(&xmp::packet(label).unwrap_or_default()));
        }
    }
    out
}
