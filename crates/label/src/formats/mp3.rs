//! MP3: ID3v2 `TXXX` frame with description `AIGC` (canonical), also XMP in a `PRIV` frame
//! owned by "XMP". The ID3v2 tag is parsed and rebuilt by hand (the `id3` crate re-encodes
//! every frame it understands); the MPEG audio frames after the tag are copied verbatim.
//! A new tag is ID3v2.3 (the version most players read); an existing v2.3/v2.4 tag keeps its
//! version, its other frames byte for byte, and its size when the new frames fit.

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use crate::bytes::Cur;
use crate::{payload, xmp, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "MP3";

/// The MP3 handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mp3;

pub(crate) struct Tag<'a> {
    pub version: u8,
    /// Frames: id and the whole frame (header + body).
    pub frames: Vec<([u8; 4], Vec<u8>)>,
    /// Bytes the tag occupies (header, body, footer).
    pub len: usize,
    /// Body size available for frames and padding.
    pub body_len: usize,
    pub _src: &'a [u8],
}

fn syncsafe(b: &[u8]) -> Result<u32, LabelError> {
    if b.iter().any(|&x| x & 0x80 != 0) {
        return Err(LabelError::malformed(
            F,
            "ID3v2 size is not syncsafe (a byte has bit 7 set)",
        ));
    }
    Ok(b.iter().fold(0u32, |a, &x| (a << 7) | u32::from(x)))
}

fn to_syncsafe(n: u32) -> [u8; 4] {
    [
        ((n >> 21) & 0x7f) as u8,
        ((n >> 14) & 0x7f) as u8,
        ((n >> 7) & 0x7f) as u8,
        (n & 0x7f) as u8,
    ]
}

fn deunsync(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        out.push(b[i]);
        if b[i] == 0xff && b.get(i + 1) == Some(&0) {
            i += 1;
        }
        i += 1;
    }
    out
}

/// The ID3v2 tag at the start of `bytes`, if any (also used by FLAC files that carry one).
pub(crate) fn parse_tag(bytes: &[u8]) -> Result<Option<Tag<'_>>, LabelError> {
    if !bytes.starts_with(b"ID3") {
        return Ok(None);
    }
    let mut c = Cur::new(F, bytes);
    let h = c.take(10, "ID3v2 header")?;
    let version = h[3];
    let flags = h[5];
    let size = syncsafe(&h[6..10])? as usize;
    let footer = if version == 4 && flags & 0x10 != 0 {
        10
    } else {
        0
    };
    let body = c.take_declared(size as u64, || "ID3v2 tag".into())?;
    let len = 10 + size + footer;
    if len > bytes.len() {
        return Err(LabelError::overrun(
            F,
            "ID3v2 footer",
            10,
            bytes.len() - 10 - size,
            10 + size,
        ));
    }
    if version != 3 && version != 4 {
        return Err(LabelError::unsupported(F, format!("ID3v2.{version} tags")));
    }
    let body: Vec<u8> = if version == 3 && flags & 0x80 != 0 {
        deunsync(body)
    } else {
        body.to_vec()
    };
    let mut c = Cur::new(F, &body);
    if flags & 0x40 != 0 {
        let ext = if version == 3 {
            c.be32("ID3v2 extended header size")? as u64
        } else {
            u64::from(syncsafe(c.take(4, "ID3v2 extended header size")?)?).saturating_sub(4)
        };
        c.take_declared(ext, || "ID3v2 extended header".into())?;
    }
    let mut frames = Vec::new();
    while c.remaining() >= 10 {
        let start = c.pos;
        let id = c.take(4, "frame id")?;
        if id[0] == 0 {
            break;
        }
        let id = [id[0], id[1], id[2], id[3]];
        let raw_size = c.take(4, "frame size")?;
        let size = if version == 4 {
            syncsafe(raw_size)?
        } else {
            u32::from_be_bytes([raw_size[0], raw_size[1], raw_size[2], raw_size[3]])
        };
        c.take(2, "frame flags")?;
        c.take_declared(u64::from(size), || {
            format!("frame {}", String::from_utf8_lossy(&id))
        })?;
        frames.push((id, body[start..c.pos].to_vec()));
    }
    Ok(Some(Tag {
        version,
        frames,
        len,
        body_len: size,
        _src: bytes,
    }))
}

/// Frame body (after the 10-byte header), de-unsynchronised and without a data length
/// indicator when the v2.4 frame flags say so.
fn frame_body(version: u8, frame: &[u8]) -> Result<Vec<u8>, LabelError> {
    let flags = frame.get(9).copied().unwrap_or(0);
    let mut b = frame.get(10..).unwrap_or_default().to_vec();
    if version == 4 {
        if flags & 0x08 != 0 {
            return Err(LabelError::unsupported(F, "compressed ID3v2.4 frames"));
        }
        if flags & 0x02 != 0 {
            b = deunsync(&b);
        }
        if flags & 0x01 != 0 {
            b = b.get(4..).unwrap_or_default().to_vec();
        }
    } else if flags & 0x80 != 0 {
        return Err(LabelError::unsupported(F, "compressed ID3v2.3 frames"));
    }
    Ok(b)
}

fn decode_text(enc: u8, b: &[u8]) -> String {
    match enc {
        1 | 2 => {
            let (le, b) = match b {
                [0xff, 0xfe, rest @ ..] => (true, rest),
                [0xfe, 0xff, rest @ ..] => (false, rest),
                _ => (enc == 1, b),
            };
            let u: Vec<u16> = b
                .chunks_exact(2)
                .map(|c| {
                    if le {
                        u16::from_le_bytes([c[0], c[1]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]])
                    }
                })
                .take_while(|&u| u != 0)
                .collect();
            String::from_utf16_lossy(&u)
        }
        3 => String::from_utf8_lossy(b.split(|&x| x == 0).next().unwrap_or_default()).into_owned(),
        _ => b
            .split(|&x| x == 0)
            .next()
            .unwrap_or_default()
            .iter()
            .map(|&c| c as char)
            .collect(),
    }
}

/// A TXXX frame's description and value.
fn txxx(body: &[u8]) -> Option<(String, String)> {
    let (&enc, rest) = body.split_first()?;
    let wide = matches!(enc, 1 | 2);
    let term = if wide {
        rest.chunks_exact(2)
            .position(|c| c == [0, 0])
            .map(|i| (i * 2, 2))
    } else {
        rest.iter().position(|&b| b == 0).map(|i| (i, 1))
    };
    let (i, tl) = term?;
    Some((
        decode_text(enc, &rest[..i]),
        decode_text(enc, &rest[i + tl..]),
    ))
}

enum Carrier {
    Label(String),
    Xmp(Vec<u8>),
    None,
}

fn classify(version: u8, id: &[u8; 4], frame: &[u8]) -> Result<Carrier, LabelError> {
    match id {
        b"TXXX" => {
            let body = frame_body(version, frame)?;
            Ok(match txxx(&body) {
                Some((d, v)) if d.eq_ignore_ascii_case("AIGC") => Carrier::Label(v),
                _ => Carrier::None,
            })
        }
        b"PRIV" => {
            let body = frame_body(version, frame)?;
            Ok(match body.strip_prefix(b"XMP\0") {
                Some(x) => Carrier::Xmp(x.to_vec()),
                None => Carrier::None,
            })
        }
        _ => Ok(Carrier::None),
    }
}

fn frame(version: u8, id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = id.to_vec();
    let n = body.len() as u32;
    v.extend_from_slice(&if version == 4 {
        to_syncsafe(n)
    } else {
        n.to_be_bytes()
    });
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(body);
    v
}

pub(crate) fn txxx_frame(version: u8, json: &str) -> Vec<u8> {
    // ISO-8859-1 (0) for v2.3, UTF-8 (3) for v2.4; the payload is ASCII either way.
    let mut b = vec![if version == 4 { 3 } else { 0 }];
    b.extend_from_slice(b"AIGC\0");
    b.extend_from_slice(json.as_bytes());
    frame(version, b"TXXX", &b)
}

fn tag_bytes(version: u8, frames: &[Vec<u8>], min_body: usize) -> Result<Vec<u8>, LabelError> {
    let mut body = frames.concat();
    if body.len() < min_body {
        body.resize(min_body, 0);
    }
    if body.len() > 0x0fff_ffff {
        return Err(LabelError::unsupported(F, "ID3v2 tags over 256 MiB"));
    }
    let mut v = b"ID3".to_vec();
    v.extend_from_slice(&[version, 0, 0]);
    v.extend_from_slice(&to_syncsafe(body.len() as u32));
    v.extend_from_slice(&body);
    Ok(v)
}

/// The ID3v2 tag rebuilt without label carriers, with `label` if given. Returns the new tag
/// bytes (empty when no frame is left) and the length of the old tag.
pub(crate) fn rebuild_tag(
    bytes: &[u8],
    label: Option<&AigcLabel>,
) -> Result<(Vec<u8>, usize), LabelError> {
    let json = label.map(payload::encode).transpose()?;
    let Some(tag) = parse_tag(bytes)? else {
        return Ok(match json {
            Some(j) => (tag_bytes(3, &[txxx_frame(3, &j)], 0)?, 0),
            None => (Vec::new(), 0),
        });
    };
    let v = tag.version;
    let mut frames = Vec::new();
    for (id, f) in &tag.frames {
        match classify(v, id, f)? {
            Carrier::Label(_) => {}
            Carrier::Xmp(x) => {
                let x = xmp::text(F, &x)?;
                match xmp::strip(F, &x)? {
                    Some(k) if k == x => frames.push(f.clone()),
                    Some(k) => {
                        let mut b = b"XMP\0".to_vec();
                        b.extend_from_slice(k.as_bytes());
                        frames.push(frame(v, b"PRIV", &b));
                    }
                    None => {}
                }
            }
            Carrier::None => frames.push(f.clone()),
        }
    }
    if let Some(j) = &json {
        frames.push(txxx_frame(v, j));
    }
    // Dropping the tag would make whatever follows it start the file: if that looks like
    // another ID3v2 tag, keep an empty (padding only) tag so it is not read as one.
    if frames.is_empty() && !bytes[tag.len..].starts_with(b"ID3") {
        return Ok((Vec::new(), tag.len));
    }
    // Keep the old size when the frames fit, so the audio does not move.
    Ok((tag_bytes(v, &frames, tag.body_len)?, tag.len))
}

/// Labels found in the ID3v2 tag at the start of `bytes`.
pub(crate) fn read_tag(format: &'static str, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
    let Some(tag) = parse_tag(bytes)? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for (id, f) in &tag.frames {
        match classify(tag.version, id, f)? {
            Carrier::Label(v) => {
                let label = payload::decode(&v)
                    .map_err(|r| LabelError::bad_label(format, "id3:TXXX:AIGC", r))?;
                found.push(FoundLabel {
                    carrier: "id3:TXXX:AIGC".into(),
                    label,
                });
            }
            Carrier::Xmp(x) => {
                if let Some(label) = xmp::read_label(format, "xmp", &x)? {
                    found.push(FoundLabel {
                        carrier: "xmp".into(),
                        label,
                    });
                }
            }
            Carrier::None => {}
        }
    }
    Ok(found)
}

fn tag_len(bytes: &[u8]) -> Result<usize, LabelError> {
    Ok(parse_tag(bytes)?.map(|t| t.len).unwrap_or(0))
}

impl FormatHandler for Mp3 {
    fn name(&self) -> &'static str {
        "mp3"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["mp3"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(b"ID3")
            || (bytes.len() >= 2
                && bytes[0] == 0xff
                && bytes[1] & 0xe0 == 0xe0
                && bytes[1] & 0x06 != 0)
    }
    fn canonical_carrier(&self) -> &'static str {
        "id3:TXXX:AIGC"
    }
    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        read_tag(F, bytes)
    }
    fn keeps_media(&self) -> bool {
        true
    }
    fn write_parts<'a>(
        &self,
        bytes: &'a [u8],
        label: &AigcLabel,
    ) -> Result<Output<'a>, LabelError> {
        let (tag, old) = rebuild_tag(bytes, Some(label))?;
        let mut out = Output::over(bytes);
        out.push(&tag);
        out.keep(&bytes[old..]);
        Ok(out)
    }
    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        let (tag, old) = rebuild_tag(bytes, None)?;
        Ok([tag.as_slice(), &bytes[old..]].concat())
    }
    /// Everything after the ID3v2 tag (the MPEG frames, and an ID3v1 tag if any).
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let n = tag_len(bytes)?;
        Ok(alg.digest(&bytes[n..]))
    }
}

/// An MP3 with the label only in XMP in a PRIV frame (a foreign carrier), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let n = tag_len(bytes).unwrap_or(0);
    let mut b = b"XMP\0".to_vec();
    b.extend_from_slice(xmp::packet(label).unwrap_or_default().as_bytes());
    let tag = tag_bytes(3, &[frame(3, b"PRIV", &b)], 0).unwrap_or_default();
    [tag.as_slice(), &bytes[n..]].concat()
}
