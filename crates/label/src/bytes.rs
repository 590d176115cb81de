//! Bounds-checked reading of untrusted bytes: every read checks the remaining input first, so
//! no declared size is ever trusted before it is compared with what is there.

use crate::LabelError;

/// A read position over a byte slice that reports overruns as [`LabelError`]s of `format`.
#[derive(Debug, Clone)]
pub(crate) struct Cur<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    pub format: &'static str,
}

impl<'a> Cur<'a> {
    pub fn new(format: &'static str, data: &'a [u8]) -> Self {
        Cur {
            data,
            pos: 0,
            format,
        }
    }

    pub fn at(format: &'static str, data: &'a [u8], pos: usize) -> Self {
        Cur { data, pos, format }
    }

    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// `n` bytes of a fixed-size field.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], LabelError> {
        if n > self.remaining() {
            return Err(LabelError::Truncated {
                format: self.format,
                what: what.to_string(),
                offset: self.pos as u64,
                need: n as u64,
                available: self.remaining() as u64,
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// `declared` bytes whose size came from the file: checked against the rest of the input.
    pub fn take_declared(
        &mut self,
        declared: u64,
        what: impl FnOnce() -> String,
    ) -> Result<&'a [u8], LabelError> {
        let n = usize::try_from(declared).unwrap_or(usize::MAX);
        if n > self.remaining() {
            return Err(LabelError::overrun(
                self.format,
                what(),
                declared,
                self.remaining(),
                self.pos,
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, LabelError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn be16(&mut self, what: &str) -> Result<u16, LabelError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn le16(&mut self, what: &str) -> Result<u16, LabelError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn be32(&mut self, what: &str) -> Result<u32, LabelError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn le32(&mut self, what: &str) -> Result<u32, LabelError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn be64(&mut self, what: &str) -> Result<u64, LabelError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub fn le64(&mut self, what: &str) -> Result<u64, LabelError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Position of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Case-insensitive (ASCII) position of `needle` in `hay` from `from`.
pub(crate) fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() || needle.len() > hay.len() - from {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}
