//! Ogg Vorbis and Ogg Opus: Vorbis comment `AIGC` in the comment header packet. Pages are
//! walked by hand (with their CRCs checked); only the header pages after the first are
//! repaginated, audio pages keep their bytes and get new sequence numbers and CRCs if the
//! header page count changed. One logical stream only (no multiplexing or chaining).

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use super::vorbis::Comments;
use crate::bytes::Cur;
use crate::{payload, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "Ogg";

/// The Ogg (Vorbis, Opus) handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ogg;

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut j = 0;
        while j < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            j += 1;
        }
        t[i] = r;
        i += 1;
    }
    t
}
/// Ogg's CRC-32 (polynomial 0x04c11db7, not reflected, initial 0): not zlib's, so not crc32fast.
static CRC: [u32; 256] = crc_table();

fn crc(parts: &[&[u8]]) -> u32 {
    let mut c = 0u32;
    for p in parts {
        for &b in *p {
            c = (c << 8) ^ CRC[((c >> 24) as u8 ^ b) as usize];
        }
    }
    c
}

#[derive(Debug, Clone, Copy)]
struct Page<'a> {
    header_type: u8,
    granule: u64,
    serial: u32,
    segs: &'a [u8],
    body: &'a [u8],
    raw: &'a [u8],
}

fn pages(bytes: &[u8]) -> Result<Vec<Page<'_>>, LabelError> {
    let mut c = Cur::new(F, bytes);
    let mut out = Vec::new();
    while !c.is_empty() {
        let start = c.pos;
        if c.take(4, "page capture pattern")? != b"OggS" {
            return Err(LabelError::malformed(
                F,
                format!("no OggS capture pattern at offset {start}"),
            ));
        }
        let version = c.u8("stream structure version")?;
        if version != 0 {
            return Err(LabelError::malformed(
                F,
                format!("page at offset {start} has version {version}"),
            ));
        }
        let header_type = c.u8("header type")?;
        let granule = c.le64("granule position")?;
        let serial = c.le32("serial number")?;
        c.le32("page sequence number")?;
        let stored = c.le32("page CRC")?;
        let n = c.u8("segment count")?;
        let segs = c.take(n as usize, "segment table")?;
        let len: u64 = segs.iter().map(|&s| u64::from(s)).sum();
        let body = c.take_declared(len, || format!("page body (page at offset {start})"))?;
        let raw = &bytes[start..c.pos];
        let computed = crc(&[&raw[..22], &[0; 4], &raw[26..]]);
        if computed != stored {
            return Err(LabelError::BadCrc {
                format: F,
                what: format!("page {} at offset {start}", out.len()),
                stored,
                computed,
            });
        }
        out.push(Page {
            header_type,
            granule,
            serial,
            segs,
            body,
            raw,
        });
    }
    if out.is_empty() {
        return Err(LabelError::malformed(F, "no pages"));
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Vorbis,
    Opus,
}

struct Parsed<'a> {
    pages: Vec<Page<'a>>,
    codec: Codec,
    /// Header packets (identification, comment, and for Vorbis setup).
    headers: Vec<Vec<u8>>,
    /// Index of the first page after the header pages.
    audio_page: usize,
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, LabelError> {
    let pages = pages(bytes)?;
    let serial = pages[0].serial;
    if pages.iter().any(|p| p.serial != serial) {
        return Err(LabelError::unsupported(
            F,
            "multiplexed or chained streams (more than one serial number)",
        ));
    }
    let mut headers: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut codec = None;
    let mut need = 3;
    for (pi, p) in pages.iter().enumerate() {
        let mut at = 0usize;
        for (si, &s) in p.segs.iter().enumerate() {
            cur.extend_from_slice(&p.body[at..at + s as usize]);
            at += s as usize;
            if s < 255 {
                let packet = std::mem::take(&mut cur);
                if headers.is_empty() {
                    codec = Some(if packet.starts_with(b"\x01vorbis") {
                        Codec::Vorbis
                    } else if packet.starts_with(b"OpusHead") {
                        need = 2;
                        Codec::Opus
                    } else {
                        return Err(LabelError::unsupported(
                            F,
                            "streams other than Vorbis and Opus",
                        ));
                    });
                }
                headers.push(packet);
                if headers.len() == need {
                    if si + 1 != p.segs.len() {
                        return Err(LabelError::malformed(
                            F,
                            format!("audio data shares page {pi} with the last header packet"),
                        ));
                    }
                    let codec = codec
                        .ok_or_else(|| LabelError::malformed(F, "no identification header"))?;
                    return Ok(Parsed {
                        pages,
                        codec,
                        headers,
                        audio_page: pi + 1,
                    });
                }
            }
        }
    }
    Err(LabelError::malformed(
        F,
        format!(
            "stream ends after {} of {need} header packets",
            headers.len()
        ),
    ))
}

fn comment_prefix(codec: Codec) -> &'static [u8] {
    match codec {
        Codec::Vorbis => b"\x03vorbis",
        Codec::Opus => b"OpusTags",
    }
}

/// The comments of the comment header, and what follows them (Vorbis framing bit, Opus
/// extra data).
fn comments(codec: Codec, packet: &[u8]) -> Result<(Comments, Vec<u8>), LabelError> {
    let prefix = comment_prefix(codec);
    let rest = packet
        .strip_prefix(prefix)
        .ok_or_else(|| LabelError::malformed(F, "second packet is not a comment header"))?;
    let (c, used) = Comments::parse(F, rest)?;
    Ok((c, rest[used..].to_vec()))
}

fn page(header_type: u8, granule: u64, serial: u32, seq: u32, segs: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(27 + segs.len() + body.len());
    v.extend_from_slice(b"OggS");
    v.push(0);
    v.push(header_type);
    v.extend_from_slice(&granule.to_le_bytes());
    v.extend_from_slice(&serial.to_le_bytes());
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(&[0; 4]);
    v.push(segs.len() as u8);
    v.extend_from_slice(segs);
    v.extend_from_slice(body);
    let c = crc(&[&v]);
    v[22..26].copy_from_slice(&c.to_le_bytes());
    v
}

/// Lays packets out in pages (at most 255 segments each), header granule 0.
fn paginate(packets: &[Vec<u8>], serial: u32, first_seq: u32) -> Vec<Vec<u8>> {
    // (segment length, packet index, last segment of its packet)
    let mut segs: Vec<(u8, usize, bool)> = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let full = p.len() / 255;
        for _ in 0..full {
            segs.push((255, i, false));
        }
        segs.push(((p.len() % 255) as u8, i, true));
    }
    let mut out = Vec::new();
    let mut offsets = vec![0usize; packets.len()];
    let mut continued = false;
    for (n, chunk) in segs.chunks(255).enumerate() {
        let mut body = Vec::new();
        let table: Vec<u8> = chunk.iter().map(|s| s.0).collect();
        for &(len, i, _) in chunk {
            body.extend_from_slice(&packets[i][offsets[i]..offsets[i] + len as usize]);
            offsets[i] += len as usize;
        }
        let ends = chunk.iter().any(|s| s.2);
        let granule = if ends { 0 } else { u64::MAX };
        out.push(page(
            u8::from(continued),
            granule,
            serial,
            first_seq + n as u32,
            &table,
            &body,
        ));
        continued = !chunk.last().is_some_and(|s| s.2);
    }
    out
}

fn rebuild(bytes: &[u8], label: Option<&AigcLabel>) -> Result<Vec<u8>, LabelError> {
    let field = label
        .map(|l| payload::encode(l).map(|j| format!("AIGC={j}").into_bytes()))
        .transpose()?;
    rebuild_field(bytes, field.as_deref())
}

fn rebuild_field(bytes: &[u8], field: Option<&[u8]>) -> Result<Vec<u8>, LabelError> {
    let p = parse(bytes)?;
    let (mut vc, tail) = comments(p.codec, &p.headers[1])?;
    vc.set(field);
    let mut comment = comment_prefix(p.codec).to_vec();
    comment.extend_from_slice(&vc.to_bytes());
    comment.extend_from_slice(&tail);
    let mut packets = vec![comment];
    packets.extend(p.headers[2..].iter().cloned());
    // Page 0 holds the identification header alone (both codecs require it).
    if p.pages[0].segs.len() != 1 {
        return Err(LabelError::malformed(
            F,
            "first page holds more than the identification header",
        ));
    }
    let serial = p.pages[0].serial;
    let mut out = Vec::with_capacity(bytes.len() + 512);
    out.extend_from_slice(p.pages[0].raw);
    let header_pages = paginate(&packets, serial, 1);
    let mut seq = 1 + header_pages.len() as u32;
    for hp in header_pages {
        out.extend_from_slice(&hp);
    }
    for pg in &p.pages[p.audio_page..] {
        out.extend_from_slice(&page(
            pg.header_type,
            pg.granule,
            pg.serial,
            seq,
            pg.segs,
            pg.body,
        ));
        seq += 1;
    }
    Ok(out)
}

impl FormatHandler for Ogg {
    fn name(&self) -> &'static str {
        "ogg"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["ogg", "oga", "opus"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(b"OggS")
    }
    fn canonical_carrier(&self) -> &'static str {
        "vorbis:AIGC"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let p = parse(bytes)?;
        let (vc, _) = comments(p.codec, &p.headers[1])?;
        vc.labels()
            .into_iter()
            .map(|v| {
                payload::decode(&v)
                    .map(|label| FoundLabel {
                        carrier: "vorbis:AIGC".into(),
                        label,
                    })
                    .map_err(|r| LabelError::bad_label(F, "vorbis:AIGC", r))
            })
            .collect()
    }

    fn write_parts<'a>(
        &self,
        bytes: &'a [u8],
        label: &AigcLabel,
    ) -> Result<Output<'a>, LabelError> {
        rebuild(bytes, Some(label)).map(Output::from_vec)
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        rebuild(bytes, None)
    }

    /// Header packets but the comment header; then each audio page's header type, granule
    /// position, segment table and body (not its sequence number or CRC).
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let p = parse(bytes)?;
        let mut h = alg.hasher();
        for (i, hp) in p.headers.iter().enumerate() {
            if i == 1 {
                continue;
            }
            h.update((hp.len() as u64).to_le_bytes());
            h.update(hp);
        }
        for pg in &p.pages[p.audio_page..] {
            h.update([pg.header_type]);
            h.update(pg.granule.to_le_bytes());
            h.update([pg.segs.len() as u8]);
            h.update(pg.segs);
            h.update(pg.body);
        }
        Ok(h.finalize())
    }
}

/// An Ogg file with the label in a lower-case `aigc` field holding the bare JSON object (a
/// non-canonical form some writers use), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let bare = serde_json::to_string(label).unwrap_or_default();
    rebuild_field(bytes, Some(format!("aigc={bare}").as_bytes())).unwrap_or_default()
}
