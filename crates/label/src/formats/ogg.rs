//! Ogg Vorbis and Ogg Opus: Vorbis comment `AIGC` in the comment header packet. Pages are
//! walked by hand (with their CRCs checked); only the header pages after the first are
//! repaginated, audio pages keep their bytes and get new sequence numbers and CRCs if the
//! header page count changed. One logical stream only (no multiplexing or chaining).

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use super::vorbis::Comments;
use crate::bytes::Cur;
use crate::{payload, FormatHandler, FoundLabel, LabelError, Output, Prepared};

const F: &str = "Ogg";

/// The Ogg (Vorbis, Opus) handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ogg;

/// Ogg's page CRC: polynomial 0x04c11db7, not reflected, initial value 0, no final XOR. That
/// is CRC-32/MPEG-2 started from 0 instead of 0xffffffff, which `crc-fast` computes with the
/// CPU's carry-less multiply (a table bytewise ran at ~300 MB/s and checked every page).
fn crc(parts: &[&[u8]]) -> u32 {
    let mut d = crc_fast::Digest::new_with_init_state(crc_fast::CrcAlgorithm::Crc32Mpeg2, 0);
    for p in parts {
        d.update(p);
    }
    // A 32-bit CRC: the value fits.
    d.finalize() as u32
}

#[derive(Debug, Clone, Copy)]
struct Page<'a> {
    /// Offset of the page in the file.
    start: usize,
    header_type: u8,
    granule: u64,
    serial: u32,
    seq: u32,
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
        let seq = c.le32("page sequence number")?;
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
            start,
            header_type,
            granule,
            serial,
            seq,
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

pub(crate) fn page(
    header_type: u8,
    granule: u64,
    serial: u32,
    seq: u32,
    segs: &[u8],
    body: &[u8],
) -> Vec<u8> {
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

fn field(label: Option<&AigcLabel>) -> Result<Option<Vec<u8>>, LabelError> {
    label
        .map(|l| payload::encode(l).map(|j| format!("AIGC={j}").into_bytes()))
        .transpose()
}

fn rebuild(bytes: &[u8], label: Option<&AigcLabel>) -> Result<Vec<u8>, LabelError> {
    rebuild_field(bytes, field(label)?.as_deref())
}

fn rebuild_field(bytes: &[u8], field: Option<&[u8]>) -> Result<Vec<u8>, LabelError> {
    rebuild_parsed(bytes, &parse(bytes)?, field).map(Output::into_vec)
}

/// The file with the comment header's label field set to `field` (or removed): the first
/// page as it is, the other header packets paginated anew, then the audio pages. Those are kept
/// byte for byte when their sequence numbers already follow the new header pages (the header
/// page count did not change, the usual case: a label adds a few hundred bytes to a page that
/// holds up to 65,025); otherwise each gets its new number and CRC.
fn rebuild_parsed<'a>(
    bytes: &'a [u8],
    p: &Parsed<'a>,
    field: Option<&[u8]>,
) -> Result<Output<'a>, LabelError> {
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
    // A lacing value of 255 continues the packet on the next page, which is rebuilt here: the
    // identification header must end on the first page (found in review: such a file was
    // written, and its label did not read back).
    if p.pages[0].segs.first().is_some_and(|&s| s == 255) {
        return Err(LabelError::malformed(
            F,
            "the identification header does not end on the first page",
        ));
    }
    let serial = p.pages[0].serial;
    let mut out = Output::over(bytes);
    out.keep(p.pages[0].raw);
    let header_pages = paginate(&packets, serial, 1);
    let first = 1 + header_pages.len() as u32;
    for hp in header_pages {
        out.push(&hp);
    }
    let audio = &p.pages[p.audio_page..];
    let numbered = audio.iter().zip(first..).all(|(pg, seq)| pg.seq == seq);
    match audio.first() {
        Some(pg) if numbered => out.keep(&bytes[pg.start..]),
        _ => {
            for (pg, seq) in audio.iter().zip(first..) {
                out.push(&page(
                    pg.header_type,
                    pg.granule,
                    pg.serial,
                    seq,
                    pg.segs,
                    pg.body,
                ));
            }
        }
    }
    Ok(out)
}

/// Header packets but the comment header; then each audio page's header type, granule
/// position, segment table and body (not its sequence number or CRC).
fn digest_parsed(p: &Parsed<'_>, alg: DigestAlg) -> [u8; 32] {
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
    h.finalize()
}

/// A file parsed once (pages walked and their CRCs checked) for the signed path's writes and
/// digest.
struct OggFile<'a> {
    bytes: &'a [u8],
    parsed: Parsed<'a>,
}

impl<'a> Prepared<'a> for OggFile<'a> {
    fn write_parts(&self, label: &AigcLabel) -> Result<Output<'a>, LabelError> {
        rebuild_parsed(self.bytes, &self.parsed, field(Some(label))?.as_deref())
    }
    fn content_digest_with(&self, alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        Ok(digest_parsed(&self.parsed, alg))
    }
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
        rebuild_parsed(bytes, &parse(bytes)?, field(Some(label))?.as_deref())
    }

    fn keeps_media(&self) -> bool {
        true
    }

    fn prepare<'a>(
        &self,
        bytes: &'a [u8],
    ) -> Result<Option<Box<dyn Prepared<'a> + 'a>>, LabelError> {
        Ok(Some(Box::new(OggFile {
            bytes,
            parsed: parse(bytes)?,
        })))
    }

    fn remove(&self, bytes: &[u8]) -> Result<Vec<u8>, LabelError> {
        rebuild(bytes, None)
    }

    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        Ok(digest_parsed(&parse(bytes)?, alg))
    }
}

/// An Ogg file with the label in a lower-case `aigc` field holding the bare JSON object (a
/// non-canonical form some writers use), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let bare = serde_json::to_string(label).unwrap_or_default();
    rebuild_field(bytes, Some(format!("aigc={bare}").as_bytes())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The CRC by its definition, bit by bit.
    fn crc_bitwise(data: &[u8]) -> u32 {
        let mut c = 0u32;
        for &b in data {
            c ^= u32::from(b) << 24;
            for _ in 0..8 {
                c = if c & 0x8000_0000 != 0 {
                    (c << 1) ^ 0x04c1_1db7
                } else {
                    c << 1
                };
            }
        }
        c
    }

    #[test]
    fn crc_is_oggs_definition() {
        let mut x = 1u32;
        let data: Vec<u8> = (0..100_000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        for n in [0, 1, 7, 16, 63, 64, 65, 255, 4096, 100_000] {
            assert_eq!(crc(&[&data[..n]]), crc_bitwise(&data[..n]), "{n} bytes");
        }
        // In parts as in one.
        assert_eq!(
            crc(&[&data[..10], &data[10..999]]),
            crc_bitwise(&data[..999])
        );
        // The check value of this parameter set (CRC-32/MPEG-2 started from 0), as the
        // catalogue's check string gives it.
        assert_eq!(crc(&[b"123456789"]), 0x89a1_897f);
    }

    fn fixture() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sample.ogg"
        ))
        .unwrap()
    }

    fn label() -> AigcLabel {
        crate::conformance::label("0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11")
    }

    #[test]
    fn audio_pages_in_sequence_are_kept_as_they_are() {
        let f = fixture();
        let p = parse(&f).unwrap();
        let audio_start = p.pages[p.audio_page].start;
        let out = Ogg.write_parts(&f, &label()).unwrap();
        // The first page and every audio page are kept.
        assert_eq!(out.kept_len(), p.pages[0].raw.len() + f.len() - audio_start);
        let w = out.into_vec();
        assert!(w.ends_with(&f[audio_start..]));
    }

    /// A first page whose one segment is 255 bytes long: the identification packet goes on
    /// to the next page, which `write` rebuilds, so it is refused rather than written broken.
    #[test]
    fn an_identification_header_continued_past_the_first_page_is_refused() {
        let f = fixture();
        let p = parse(&f).unwrap();
        let (id, rest) = (&p.headers[0], &p.headers[1..]);
        let mut long_id = id.clone();
        long_id.resize(300, 0);
        let serial = p.pages[0].serial;
        let mut g = page(2, 0, serial, 0, &[255], &long_id[..255]);
        // Page 1: the rest of the identification packet, then the other headers.
        let mut segs = vec![(300 - 255) as u8];
        let mut body = long_id[255..].to_vec();
        for h in rest {
            segs.extend(std::iter::repeat_n(255u8, h.len() / 255));
            segs.push((h.len() % 255) as u8);
            body.extend_from_slice(h);
        }
        g.extend(page(1, 0, serial, 1, &segs, &body));
        let audio = &p.pages[p.audio_page];
        g.extend(page(4, audio.granule, serial, 2, audio.segs, audio.body));
        assert!(Ogg.read(&g).unwrap().is_empty());
        let e = Ogg.write(&g, &label()).unwrap_err().to_string();
        assert!(e.contains("does not end on the first page"), "{e}");
    }

    #[test]
    fn audio_pages_out_of_sequence_are_renumbered() {
        let mut f = fixture();
        // Give the last page sequence number 40 (and its CRC).
        let last = parse(&f).unwrap().pages.last().unwrap().start;
        f[last + 18..last + 22].copy_from_slice(&40u32.to_le_bytes());
        f[last + 22..last + 26].fill(0);
        let c = crc(&[&f[last..]]);
        f[last + 22..last + 26].copy_from_slice(&c.to_le_bytes());
        let before = Ogg.content_digest(&f).unwrap();
        let w = Ogg.write(&f, &label()).unwrap();
        let p = parse(&w).unwrap();
        let seqs: Vec<u32> = p.pages.iter().map(|pg| pg.seq).collect();
        assert_eq!(seqs, (0..seqs.len() as u32).collect::<Vec<_>>());
        assert_eq!(Ogg.read(&w).unwrap()[0].label, label());
        assert_eq!(Ogg.content_digest(&w).unwrap(), before);
    }
}
