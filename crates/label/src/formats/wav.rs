//! WAV: a RIFF chunk `AIGC` holding the JSON (canonical), also a `LIST`/`INFO` sub-chunk
//! `AIGC`. Chunks are walked by hand; `fmt ` and `data` are copied verbatim.

use crate::digest::DigestAlg;
use hegui_types::AigcLabel;

use super::riff;
use crate::bytes::Cur;
use crate::{payload, FormatHandler, FoundLabel, LabelError, Output};

const F: &str = "WAV";

/// The WAV handler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Wav;

fn wav_chunks(bytes: &[u8]) -> Result<Vec<riff::Chunk<'_>>, LabelError> {
    let (form, chunks) = riff::chunks(F, bytes)?;
    if &form != b"WAVE" {
        return Err(LabelError::malformed(F, "RIFF form is not WAVE"));
    }
    Ok(chunks)
}

fn is_info(ch: &riff::Chunk<'_>) -> bool {
    &ch.id == b"LIST" && ch.data.starts_with(b"INFO")
}

/// Sub-chunks of a `LIST` chunk (after its 4-byte list type).
fn sub_chunks<'a>(list: &riff::Chunk<'a>) -> Result<Vec<riff::Chunk<'a>>, LabelError> {
    let d = &list.data[4..];
    let mut c = Cur::new(F, d);
    let mut out = Vec::new();
    while c.remaining() >= 8 {
        let start = c.pos;
        let id = c.take(4, "INFO item id")?;
        let id = [id[0], id[1], id[2], id[3]];
        let len = c.le32("INFO item size")?;
        let data = c.take_declared(u64::from(len), || {
            format!("INFO item '{}'", String::from_utf8_lossy(&id))
        })?;
        if len % 2 == 1 && !c.is_empty() {
            c.take(1, "INFO item pad byte")?;
        }
        out.push(riff::Chunk {
            id,
            data,
            raw: &d[start..c.pos],
        });
    }
    Ok(out)
}

fn text(d: &[u8]) -> String {
    String::from_utf8_lossy(d)
        .trim_end_matches('\0')
        .to_string()
}

fn rebuild<'a>(bytes: &'a [u8], label: Option<&AigcLabel>) -> Result<Output<'a>, LabelError> {
    let json = label.map(payload::encode).transpose()?;
    let mut body = Output::over(bytes);
    for ch in wav_chunks(bytes)? {
        if &ch.id == b"AIGC" {
            continue;
        }
        if is_info(&ch) {
            let subs = sub_chunks(&ch)?;
            if subs.iter().any(|s| &s.id == b"AIGC") {
                let kept: Vec<u8> = subs
                    .iter()
                    .filter(|s| &s.id != b"AIGC")
                    .flat_map(|s| s.raw.iter().copied())
                    .collect();
                if !kept.is_empty() {
                    let mut d = b"INFO".to_vec();
                    d.extend_from_slice(&kept);
                    body.push(&riff::chunk(b"LIST", &d));
                }
                continue;
            }
        }
        body.keep(ch.raw);
        if ch.data.len() % 2 == 1 && ch.raw.len() == ch.data.len() + 8 {
            // The last chunk of a file may lack its pad byte; a chunk after it needs it.
            body.push(&[0]);
        }
    }
    if let Some(j) = json {
        body.push(&riff::chunk(b"AIGC", j.as_bytes()));
    }
    riff::file_parts(F, b"WAVE", bytes, body)
}

impl FormatHandler for Wav {
    fn name(&self) -> &'static str {
        "wav"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["wav", "wave"]
    }
    fn sniff(&self, bytes: &[u8]) -> bool {
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE"
    }
    fn canonical_carrier(&self) -> &'static str {
        "wav:AIGC"
    }

    fn read(&self, bytes: &[u8]) -> Result<Vec<FoundLabel>, LabelError> {
        let mut found = Vec::new();
        for ch in wav_chunks(bytes)? {
            if &ch.id == b"AIGC" {
                let label = payload::decode(&text(ch.data))
                    .map_err(|r| LabelError::bad_label(F, "wav:AIGC", r))?;
                found.push(FoundLabel {
                    carrier: "wav:AIGC".into(),
                    label,
                });
            } else if is_info(&ch) {
                for s in sub_chunks(&ch)? {
                    if &s.id == b"AIGC" {
                        let label = payload::decode(&text(s.data))
                            .map_err(|r| LabelError::bad_label(F, "wav:LIST/INFO:AIGC", r))?;
                        found.push(FoundLabel {
                            carrier: "wav:LIST/INFO:AIGC".into(),
                            label,
                        });
                    }
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

    /// Every chunk but `AIGC` and `LIST`/`INFO`: id and data.
    fn content_digest_with(&self, bytes: &[u8], alg: DigestAlg) -> Result<[u8; 32], LabelError> {
        let mut h = alg.hasher();
        for ch in wav_chunks(bytes)? {
            if &ch.id == b"AIGC" || is_info(&ch) {
                continue;
            }
            h.update(ch.id);
            h.update((ch.data.len() as u64).to_le_bytes());
            h.update(ch.data);
        }
        Ok(h.finalize())
    }
}

/// A WAV with the label only in `LIST`/`INFO` (a foreign carrier), for tests.
#[cfg(test)]
pub(crate) fn with_foreign(bytes: &[u8], label: &AigcLabel) -> Vec<u8> {
    let mut body: Vec<u8> = wav_chunks(bytes)
        .unwrap_or_default()
        .iter()
        .flat_map(|c| c.raw.iter().copied())
        .collect();
    let mut d = b"INFO".to_vec();
    let mut j = payload::encode(label).unwrap_or_default().into_bytes();
    j.push(0);
    d.extend_from_slice(&riff::chunk(b"AIGC", &j));
    body.extend_from_slice(&riff::chunk(b"LIST", &d));
    riff::file_parts(F, b"WAVE", &[], Output::from_vec(body))
        .map(Output::into_vec)
        .unwrap_or_default()
}
