//! Vorbis comments (FLAC `VORBIS_COMMENT`, Ogg Vorbis/Opus comment headers): the field
//! `AIGC=<json>`.

use crate::bytes::Cur;
use crate::LabelError;

/// Vendor string and `KEY=value` fields, as bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Comments {
    pub vendor: Vec<u8>,
    pub fields: Vec<Vec<u8>>,
}

impl Comments {
    /// Parses the structure (little-endian lengths) and returns it with the bytes consumed.
    pub fn parse(format: &'static str, d: &[u8]) -> Result<(Self, usize), LabelError> {
        let mut c = Cur::new(format, d);
        let n = c.le32("vendor length")?;
        let vendor = c
            .take_declared(u64::from(n), || "vendor string".into())?
            .to_vec();
        let count = c.le32("comment count")?;
        if u64::from(count) * 4 > c.remaining() as u64 {
            return Err(LabelError::overrun(
                format,
                "comment list",
                u64::from(count) * 4,
                c.remaining(),
                c.pos,
            ));
        }
        let mut fields = Vec::with_capacity(count as usize);
        for i in 0..count {
            let n = c.le32("comment length")?;
            fields.push(
                c.take_declared(u64::from(n), || format!("comment {i}"))?
                    .to_vec(),
            );
        }
        Ok((Comments { vendor, fields }, c.pos))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(self.vendor.len() as u32).to_le_bytes());
        v.extend_from_slice(&self.vendor);
        v.extend_from_slice(&(self.fields.len() as u32).to_le_bytes());
        for f in &self.fields {
            v.extend_from_slice(&(f.len() as u32).to_le_bytes());
            v.extend_from_slice(f);
        }
        v
    }

    fn is_label(f: &[u8]) -> bool {
        f.len() >= 5 && f[..5].eq_ignore_ascii_case(b"AIGC=")
    }

    /// Values of `AIGC` fields (field names are case-insensitive).
    pub fn labels(&self) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| Self::is_label(f))
            .map(|f| String::from_utf8_lossy(&f[5..]).into_owned())
            .collect()
    }

    /// Removes every `AIGC` field, then adds `field` (a whole `AIGC=…` entry) if given.
    pub fn set(&mut self, field: Option<&[u8]>) {
        self.fields.retain(|f| !Self::is_label(f));
        if let Some(f) = field {
            self.fields.push(f.to_vec());
        }
    }
}
