//! FLAC: Vorbis comment `AIGC` in the `VORBIS_COMMENT` block. Metadata blocks are walked by
//! hand (`metaflac` rewrites through its own model); audio frames are copied verbatim. An ID3v2
//! tag some tools put before `fLaC` is kept as it is.

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use super::vorbis::Comments;
use crate::bytes::Cur;
use crate::{payload, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "FLAC";
const VORBIS_COMMENT: u8 = 4;
const PADDING: u8 = 1;

/// The FLAC handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flac;

struct Parsed<'a> {
    /// Bytes before `fLaC` (an ID3v2 tag).
    prefix: usize,
    /// Metadata blocks: type and data.
    blocks: Vec<(u8, &'a [u8])>,
    /// Offset of the first audio frame.
    audio: usize,
}

fn id3_len(bytes: &[u8]) -> Result<usize, LabelError> {
    if !bytes.starts_with(b"ID3") || bytes.len() < 10 {
        return Ok(0);
    }
    let s = &bytes[6..10];
    if s.iter().any(|&b| b & 0x80 != 0) {
        return Err(LabelError::malformed(
            F,
            "leading ID3v2 tag size is not syncsafe",
        ));
    }
    let n = s.iter().fold(0usize, |a, &b| (a << 7) | b as usize);
    let footer = if bytes[3] == 4 && bytes[5] & 0x10 != 0 {
        10
    } else {
        0
    };
    Ok(10 + n + footer)
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, LabelError> {
    let prefix = id3_len(bytes)?;
    let mut c = Cur::at(F, bytes, prefix);
    if c.take(4, "fLaC marker")? != b"fLaC" {
        return Err(LabelError::malformed(F, "missing fLaC marker"));
    }
    let mut blocks = Vec::new();
    loop {
        let start = c.pos;
        let h = c.take(4, "metadata block header")?;
        let last = h[0] & 0x80 != 0;
        let typ = h[0] & 0x7f;
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
        let data = c.take_declared(u64::from(len), || {
            format!("metadata block of type {typ} (offset {start})")
        })?;
        if typ == 127 {
            return Err(LabelError::malformed(
                F,
                format!("invalid metadata block type 127 at offset {start}"),
            ));
        }
        blocks.push((typ, data));
        if last {
            break;
        }
    }
    if blocks.first().map(|b| b.0) != Some(0) {
        return Err(LabelError::malformed(
            F,
            "first metadata block is not STREAMINFO",
        ));
    }
    Ok(Parsed {
        prefix,
        blocks,
        audio: c.pos,
    })
}

fn rebuild<'a>(bytes: &'a [u8], label: Option<&AigcLabel>) -> Result<Output<'a>, LabelError> {
    let field = label
        .map(|l| payload::encode(l).map(|j| format!("AIGC={j}").into_bytes()))
        .transpose()?;
    rebuild_field(bytes, field.as_deref())
}

fn rebuild_field<'a>(bytes: &'a [u8], field: Option<&[u8]>) -> Result<Output<'a>, LabelError> {
    let p = parse(bytes)?;
    let mut blocks: Vec<(u8, Vec<u8>)> = Vec::with_capacity(p.blocks.len() + 1);
    let mut seen = false;
    for (typ, data) in &p.blocks {
        if *typ == VORBIS_COMMENT {
            let (mut vc, _) = Comments::parse(F, data)?;
            if seen {
                // A second comment block is invalid; fold it away.
                continue;
            }
            seen = true;
            vc.set(field);
            blocks.push((VORBIS_COMMENT, vc.to_bytes()));
        } else {
            blocks.push((*typ, data.to_vec()));
        }
    }
    if !seen {
        if let Some(f) = field {
            let mut vc = Comments {
                vendor: b"hegui".to_vec(),
                fields: Vec::new(),
            };
            vc.set(Some(f));
            blocks.insert(1, (VORBIS_COMMENT, vc.to_bytes()));
        }
    }
    let mut out = Output::over(bytes);
    out.keep(&bytes[..p.prefix]);
    out.push(b"fLaC");
    let n = blocks.len();
    for (i, (typ, data)) in blocks.iter().enumerate() {
        let len = u32::try_from(data.len())
            .ok()
            .filter(|&l| l < 1 << 24)
            .ok_or_else(|| LabelError::unsupported(F, "a metadata block over 16 MiB"))?;
        let last = if i + 1 == n { 0x80 } else { 0 };
        out.push(&[last | typ]);
        out.push(&len.to_be_bytes()[1..]);
        out.push(data);
    }
    out.keep(&bytes[p.audio..]);
    Ok(out)
}

impl FormatHandler for Flac {
    fn name(&self) -> &'static str {
        "flac"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["flac"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        let n = id3_len(bytes).unwrap_or(0);
        bytes.get(n..n + 4) == Some(b"fLaC")
    }
    fn canonical_carrier(&self) -> &'static str {
        "vorbis:AIGC"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let mut found = Vec::new();
        for (typ, data) in parse(bytes)?.blocks {
            if typ == VORBIS_COMMENT {
                for v in Comments::parse(F, data)?.0.labels() {
                    let label = payload::decode(&v)
                        .map_err(|r| LabelError::bad_label(F, "vorbis:AIGC", r))?;
                    found.push(FoundLabel {
                        carrier: "vorbis:AIGC".into(),
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

    /// Metadata blocks but `VORBIS_COMMENT` and `PADDING` (type and data), then the audio frames.
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let p = parse(bytes)?;
        let mut h = alg.hasher();
        for (typ, data) in &p.blocks {
            if matches!(*typ, VORBIS_COMMENT | PADDING) {
                continue;
            }
            h.update([*typ]);
            h.update((data.len() as u64).to_be_bytes());
            h.update(data);
        }
        h.update(&bytes[p.audio..]);
        Ok(h.finalize())
    }
}

/// A FLAC with the label in a lower-case `aigc` field holding the bare JSON object (a
/// non-canonical form some writers use), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let bare = serde_json::to_string(label).unwrap_or_default();
    rebuild_field(bytes, Some(format!("aigc={bare}").as_bytes()))
        .map(Output::into_vec)
        .unwrap_or_default()
}
