//! A rebuilt file as pieces: bytes a handler made (new boxes, chunks, tags) and ranges of the
//! input it keeps untouched (the media). Handlers describe their output this way so the large
//! untouched ranges are copied once, where they end up (see [`crate::label_bytes`], which copies
//! them while the content digest is computed), instead of into a buffer and then again.

use std::io::{self, Write};
use std::ops::Range;

#[derive(Debug, Clone)]
enum Piece {
    /// Bytes the handler made.
    New(Vec<u8>),
    /// A range of the input, unchanged.
    Kept(Range<usize>),
}

/// The output of [`crate::FormatHandler::write_parts`]: new bytes and kept input ranges, in
/// file order.
#[derive(Debug, Clone, Default)]
pub struct Output<'a> {
    src: &'a [u8],
    pieces: Vec<Piece>,
    len: usize,
}

impl<'a> Output<'a> {
    /// An empty output whose kept ranges come from `src` (the input file).
    pub fn over(src: &'a [u8]) -> Self {
        Output {
            src,
            pieces: Vec::new(),
            len: 0,
        }
    }

    /// An output made entirely of new bytes (handlers that rewrite the whole file).
    pub fn from_vec(v: Vec<u8>) -> Self {
        let len = v.len();
        Output {
            src: &[],
            pieces: vec![Piece::New(v)],
            len,
        }
    }

    /// Appends bytes the handler made (copied).
    pub fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.len += bytes.len();
        if let Some(Piece::New(v)) = self.pieces.last_mut() {
            v.extend_from_slice(bytes);
        } else {
            self.pieces.push(Piece::New(bytes.to_vec()));
        }
    }

    /// Appends a range of the input that stays as it is: recorded, not copied (joined to the
    /// previous piece when the two are adjacent in the input). A slice from anywhere else is
    /// copied, as by [`Output::push`].
    pub fn keep(&mut self, bytes: &'a [u8]) {
        // Where `bytes` sits in `src`, from the addresses alone (nothing is dereferenced).
        let start = (bytes.as_ptr() as usize).wrapping_sub(self.src.as_ptr() as usize);
        let Some(end) = start
            .checked_add(bytes.len())
            .filter(|&e| start <= self.src.len() && e <= self.src.len())
        else {
            self.push(bytes);
            return;
        };
        if bytes.is_empty() {
            return;
        }
        self.len += bytes.len();
        if let Some(Piece::Kept(r)) = self.pieces.last_mut() {
            if r.end == start {
                r.end = end;
                return;
            }
        }
        self.pieces.push(Piece::Kept(start..end));
    }

    /// Appends `other`'s pieces. Its kept ranges must come from the same input as this
    /// output's; if not, they are copied.
    pub fn append(&mut self, other: Output<'a>) {
        let same = std::ptr::eq(self.src, other.src);
        for p in other.pieces {
            match p {
                Piece::New(v) => self.push(&v),
                Piece::Kept(r) if same => {
                    if let Some(b) = other.src.get(r) {
                        self.keep(b);
                    }
                }
                Piece::Kept(r) => self.push(other.src.get(r).unwrap_or_default()),
            }
        }
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the output has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held as kept input ranges (not yet copied).
    pub fn kept_len(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Kept(k) => k.len(),
                Piece::New(_) => 0,
            })
            .sum()
    }

    /// The whole file in one buffer.
    pub fn into_vec(mut self) -> Vec<u8> {
        if let [Piece::New(v)] = self.pieces.as_mut_slice() {
            return std::mem::take(v);
        }
        let mut v = Vec::with_capacity(self.len);
        self.for_each_piece(|b| v.extend_from_slice(b));
        v
    }

    /// Writes the file to `w`, piece by piece (large kept ranges in one call each).
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        for p in &self.pieces {
            w.write_all(self.bytes(p))?;
        }
        Ok(())
    }

    fn bytes<'s>(&'s self, p: &'s Piece) -> &'s [u8] {
        match p {
            Piece::New(b) => b,
            Piece::Kept(r) => self.src.get(r.clone()).unwrap_or_default(),
        }
    }

    /// Calls `f` on every piece in order (to hash the output without joining it).
    pub fn for_each_piece(&self, mut f: impl FnMut(&[u8])) {
        for p in &self.pieces {
            f(self.bytes(p));
        }
    }

    /// True when `other` has the same pieces at the same offsets, the kept ones the very same
    /// input ranges: then only the new pieces can differ.
    pub(crate) fn same_layout(&self, other: &Output<'_>) -> bool {
        self.len == other.len
            && std::ptr::eq(self.src, other.src)
            && self.pieces.len() == other.pieces.len()
            && self
                .pieces
                .iter()
                .zip(&other.pieces)
                .all(|(a, b)| match (a, b) {
                    (Piece::New(x), Piece::New(y)) => x.len() == y.len(),
                    (Piece::Kept(x), Piece::Kept(y)) => x == y,
                    _ => false,
                })
    }

    /// Copies the kept pieces into `out` (which is `len()` long) at their offsets.
    pub(crate) fn fill_kept(&self, out: &mut [u8]) {
        self.fill(out, true);
    }

    /// Copies the new pieces into `out` (which is `len()` long) at their offsets.
    pub(crate) fn fill_new(&self, out: &mut [u8]) {
        self.fill(out, false);
    }

    /// Writes the kept pieces into `f` at their offsets (positioned writes).
    #[cfg(unix)]
    pub(crate) fn put_kept(&self, f: &std::fs::File) -> io::Result<()> {
        self.put(f, true)
    }

    /// Writes the new pieces into `f` at their offsets (positioned writes).
    #[cfg(unix)]
    pub(crate) fn put_new(&self, f: &std::fs::File) -> io::Result<()> {
        self.put(f, false)
    }

    #[cfg(unix)]
    fn put(&self, f: &std::fs::File, kept: bool) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut at = 0u64;
        for p in &self.pieces {
            let b = self.bytes(p);
            if matches!(p, Piece::Kept(_)) == kept {
                f.write_all_at(b, at)?;
            }
            at += b.len() as u64;
        }
        Ok(())
    }

    fn fill(&self, out: &mut [u8], kept: bool) {
        let mut at = 0;
        for p in &self.pieces {
            let b = self.bytes(p);
            let is_kept = matches!(p, Piece::Kept(_));
            if is_kept == kept {
                if let Some(dst) = out.get_mut(at..at + b.len()) {
                    dst.copy_from_slice(b);
                }
            }
            at += b.len();
        }
    }
}

/// The input with a few small edits in place and bytes appended: for formats that change a
/// header or a directory where it stands (TIFF). Becomes an [`Output`] whose untouched ranges
/// are kept, not copied.
#[derive(Debug, Clone)]
pub(crate) struct Overlay<'a> {
    src: &'a [u8],
    /// (offset, bytes) in the order written; later edits win where they overlap.
    edits: Vec<(usize, Vec<u8>)>,
    tail: Vec<u8>,
}

impl<'a> Overlay<'a> {
    pub fn new(src: &'a [u8]) -> Self {
        Overlay {
            src,
            edits: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// Length of the file so far.
    pub fn len(&self) -> usize {
        self.src.len() + self.tail.len()
    }

    /// Overwrites `bytes.len()` bytes at `at`; the part past the end of the input goes to the
    /// appended bytes (which must already be that long; anything beyond is ignored).
    pub fn write_at(&mut self, at: usize, bytes: &[u8]) {
        let n = self.src.len();
        let (inside, beyond) = bytes.split_at(n.saturating_sub(at).min(bytes.len()));
        if !inside.is_empty() {
            self.edits.push((at, inside.to_vec()));
        }
        let t0 = at.max(n) - n;
        if let Some(dst) = self.tail.get_mut(t0..t0 + beyond.len()) {
            dst.copy_from_slice(beyond);
        }
    }

    /// Sets the bytes in `r` to `b` (ignored where `r` runs past the file).
    pub fn fill(&mut self, r: Range<usize>, b: u8) {
        let r = r.start.min(self.len())..r.end.min(self.len());
        self.write_at(r.start, &vec![b; r.len()]);
    }

    /// Appends bytes at the end of the file.
    pub fn append(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
    }

    /// The file as pieces: each run of edited bytes is new, everything between is kept.
    pub fn into_output(self) -> Output<'a> {
        let mut spans: Vec<Range<usize>> =
            self.edits.iter().map(|(at, b)| *at..at + b.len()).collect();
        spans.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<usize>> = Vec::new();
        for r in spans {
            match merged.last_mut() {
                Some(m) if r.start <= m.end => m.end = m.end.max(r.end),
                _ => merged.push(r),
            }
        }
        let mut out = Output::over(self.src);
        let mut at = 0;
        for m in merged {
            out.keep(&self.src[at..m.start]);
            let mut buf = self.src[m.clone()].to_vec();
            for (o, b) in &self.edits {
                if *o >= m.start && o + b.len() <= m.end {
                    buf[o - m.start..o - m.start + b.len()].copy_from_slice(b);
                }
            }
            out.push(&buf);
            at = m.end;
        }
        out.keep(&self.src[at..]);
        out.push(&self.tail);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn pieces_concatenate_in_order_and_fill_matches_into_vec() {
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut o = Output::over(&big);
        o.push(b"head");
        o.keep(&big[..100]);
        o.keep(&big[100..150_000]); // adjacent: one piece
        o.keep(&b"not from the input"[..0]);
        o.push(b"label");
        o.keep(&big[150_000..]);
        assert_eq!(o.len(), 4 + 150_000 + 5 + 50_000);
        assert_eq!(o.kept_len(), 200_000);
        assert_eq!(o.pieces.len(), 4);
        let mut copied = Output::over(&big[..10]);
        copied.keep(&big[5..20]); // runs past `src`: copied
        assert_eq!(copied.kept_len(), 0);
        assert_eq!(copied.into_vec(), &big[5..20]);
        let mut filled = vec![0u8; o.len()];
        o.fill_kept(&mut filled);
        o.fill_new(&mut filled);
        let mut written = Vec::new();
        o.write_to(&mut written).unwrap();
        let v = o.clone().into_vec();
        assert_eq!(filled, v);
        assert_eq!(written, v);
        let mut expect = b"head".to_vec();
        expect.extend_from_slice(&big[..150_000]);
        expect.extend_from_slice(b"label");
        expect.extend_from_slice(&big[150_000..]);
        assert_eq!(v, expect);
    }

    #[test]
    fn an_overlay_equals_the_edits_applied_to_a_copy() {
        let src: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let mut copy = src.clone();
        let mut o = Overlay::new(&src);
        let edits: [(usize, &[u8]); 5] = [
            (4, b"abcd"),
            (6, b"XYZ"), // overlaps the first: later wins
            (100_000, b"middle"),
            (299_998, b"end"), // runs one byte past the input into the tail
            (0, b""),
        ];
        o.append(&[0; 8]);
        copy.extend_from_slice(&[0; 8]);
        for (at, b) in edits {
            o.write_at(at, b);
            copy[at..at + b.len()].copy_from_slice(b);
        }
        o.fill(200_000..200_010, 0);
        copy[200_000..200_010].fill(0);
        o.append(b"tail");
        copy.extend_from_slice(b"tail");
        assert_eq!(o.len(), copy.len());
        let out = o.into_output();
        assert!(out.kept_len() > 290_000);
        assert_eq!(out.into_vec(), copy);
    }

    #[test]
    fn layout_compares_lengths_and_kept_ranges() {
        let big = vec![7u8; 100_000];
        let other = vec![7u8; 100_000];
        let make = |label: &[u8], src: &'static [u8]| {
            let mut o = Output::over(src);
            o.push(label);
            o.keep(src);
            o
        };
        let big: &'static [u8] = Box::leak(big.into_boxed_slice());
        let other: &'static [u8] = Box::leak(other.into_boxed_slice());
        assert!(make(b"aaaa", big).same_layout(&make(b"bbbb", big)));
        assert!(!make(b"aaaa", big).same_layout(&make(b"bbb", big)));
        // Equal bytes from elsewhere are not the same kept range.
        assert!(!make(b"aaaa", big).same_layout(&make(b"aaaa", other)));
    }
}
