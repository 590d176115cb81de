//! RIFF chunk walking shared by WebP and WAV.

use crate::bytes::Cur;
use crate::{LabelError, Output};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'a> {
    pub id: [u8; 4],
    pub data: &'a [u8],
    /// Whole chunk with header and pad byte.
    pub raw: &'a [u8],
}

/// The form type (`WEBP`, `WAVE`) and the top-level chunks. The RIFF size may be smaller than
/// the file (trailing data is ignored) but not larger.
pub(crate) fn chunks<'a>(
    format: &'static str,
    bytes: &'a [u8],
) -> Result<([u8; 4], Vec<Chunk<'a>>), LabelError> {
    let mut c = Cur::new(format, bytes);
    let riff = c.take(4, "RIFF header")?;
    if riff == b"RF64" {
        return Err(LabelError::unsupported(format, "RF64 (files over 4 GiB)"));
    }
    if riff != b"RIFF" {
        return Err(LabelError::malformed(format, "missing RIFF header"));
    }
    let size = c.le32("RIFF size")?;
    if size < 4 {
        return Err(LabelError::malformed(
            format,
            format!("RIFF size {size} < 4"),
        ));
    }
    let body = c.take_declared(u64::from(size), || "RIFF container".into())?;
    let mut c = Cur::new(format, body);
    let form = c.take(4, "RIFF form type")?;
    let form = [form[0], form[1], form[2], form[3]];
    let mut out = Vec::new();
    while c.remaining() >= 8 {
        let start = c.pos;
        let id = c.take(4, "chunk id")?;
        let id = [id[0], id[1], id[2], id[3]];
        let len = c.le32("chunk size")?;
        let data = c.take_declared(u64::from(len), || {
            format!(
                "chunk '{}' (offset {})",
                String::from_utf8_lossy(&id),
                start + 8
            )
        })?;
        if len % 2 == 1 && !c.is_empty() {
            c.take(1, "chunk pad byte")?;
        }
        out.push(Chunk {
            id,
            data,
            raw: &body[start..c.pos],
        });
    }
    Ok((form, out))
}

/// A chunk with its header and pad byte.
pub(crate) fn chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 9);
    v.extend_from_slice(id);
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    if data.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// A RIFF file of `form` from its chunks (each already padded), held as pieces over `src`.
pub(crate) fn file_parts<'a>(
    format: &'static str,
    form: &[u8; 4],
    src: &'a [u8],
    body: Output<'a>,
) -> Result<Output<'a>, LabelError> {
    let size = u32::try_from(body.len() + 4)
        .map_err(|_| LabelError::unsupported(format, "RIFF files over 4 GiB"))?;
    let mut out = Output::over(src);
    out.push(b"RIFF");
    out.push(&size.to_le_bytes());
    out.push(form);
    out.append(body);
    Ok(out)
}
