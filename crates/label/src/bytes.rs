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

/// Position of `needle` in `hay` (SIMD search, `memchr::memmem`).
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}

/// Case-insensitive (ASCII) position of `needle` in `hay` from `from`: candidates are found
/// with a SIMD scan for the first byte in either case, then compared.
pub(crate) fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    if from > hay.len() || needle.len() > hay.len() - from {
        return None;
    }
    let last_start = hay.len() - needle.len();
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let hay_from = &hay[from..=last_start];
    let is_match = |p: usize| hay[p + from..p + from + needle.len()].eq_ignore_ascii_case(needle);
    if lo == up {
        // A first byte without case (`<`): the one-byte search is the faster one.
        memchr::memchr_iter(lo, hay_from).find(|&p| is_match(p))
    } else {
        memchr::memchr2_iter(lo, up, hay_from).find(|&p| is_match(p))
    }
    .map(|p| p + from)
}

/// `bytes` as UTF-8 text (SIMD validation, `simdutf8`), or an error naming `format` and the
/// offset of the first invalid byte.
pub(crate) fn utf8<'a>(format: &'static str, bytes: &'a [u8]) -> Result<&'a str, LabelError> {
    simdutf8::compat::from_utf8(bytes).map_err(|e| {
        LabelError::malformed(
            format,
            format!("not UTF-8: invalid byte at offset {}", e.valid_up_to()),
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn searches_agree_with_the_naive_ones() {
        let hay = b"<!DOCTYPE html><HTML><Head><meta name=x></head>";
        for (needle, from) in [
            (&b"<head"[..], 0),
            (b"<html", 0),
            (b"<meta", 3),
            (b"</head>", 40),
        ] {
            let naive = hay[from..]
                .windows(needle.len())
                .position(|w| w.eq_ignore_ascii_case(needle))
                .map(|p| p + from);
            assert_eq!(find_ci(hay, needle, from), naive, "{needle:?}");
        }
        assert_eq!(find_ci(hay, b"<body", 0), None);
        assert_eq!(find_ci(hay, b"<head", hay.len() + 1), None);
        assert_eq!(find_ci(b"ab", b"abc", 0), None);
        assert_eq!(find(hay, b"<meta"), Some(27));
        assert_eq!(find(hay, b""), None);
        assert_eq!(utf8("t", "中文".as_bytes()).unwrap(), "中文");
        let e = utf8("t", b"ab\xffcd").unwrap_err().to_string();
        assert!(e.contains("offset 2"), "{e}");
    }
}
