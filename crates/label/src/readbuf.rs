//! Reading a whole file into memory fast: large files are read on two threads into an
//! anonymous mapping that asks for transparent huge pages.
//!
//! Why not `std::fs::read`: for a 64 MB file in page cache it took 42–49 ms here, almost all of
//! it the kernel faulting in and zeroing the 16,384 fresh 4 KiB pages of the new buffer one by
//! one, not copying the data. With huge pages (`madvise(MADV_HUGEPAGE)`, where the kernel
//! offers them) the same buffer takes 32 faults, and two threads reading half each fault and
//! copy in parallel: 16–22 ms. The file is never mapped itself (that would need `unsafe`, and
//! a file truncated by another process while mapped kills the reader with SIGBUS); the
//! anonymous mapping is private memory, created and advised through `memmap2`'s safe API.

use std::fs::File;
use std::io::Read;
use std::ops::{Deref, Range};
use std::path::Path;

/// Files from this size up are read in two halves on two threads.
const PARALLEL_MIN: u64 = 4 << 20;

/// A file's bytes, as read by [`read_all`].
pub struct FileBytes(Repr);

enum Repr {
    Heap(Vec<u8>),
    #[cfg(unix)]
    Mapped(memmap2::MmapMut),
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Heap(v) => v,
            #[cfg(unix)]
            Repr::Mapped(m) => m,
        }
    }
}

impl AsRef<[u8]> for FileBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileBytes({} bytes)", self.len())
    }
}

impl From<Vec<u8>> for FileBytes {
    fn from(v: Vec<u8>) -> Self {
        Self(Repr::Heap(v))
    }
}

impl FileBytes {
    /// The bytes as an owned vector (copies a mapped buffer).
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Heap(v) => v,
            #[cfg(unix)]
            Repr::Mapped(m) => m.to_vec(),
        }
    }
}

/// `parts` joined in one new buffer: for 4 MB and more an anonymous mapping advised for
/// transparent huge pages, as for [`read_all`], so the fresh memory costs a few faults rather
/// than one per 4 KiB page; a vector if the mapping cannot be made.
pub fn concat(parts: &[&[u8]]) -> FileBytes {
    let n: usize = parts.iter().map(|p| p.len()).sum();
    #[cfg(unix)]
    if n as u64 >= PARALLEL_MIN {
        if let Ok(mut map) = memmap2::MmapOptions::new().len(n).map_anon() {
            #[cfg(target_os = "linux")]
            let _ = map.advise(memmap2::Advice::HugePage);
            let mut at = 0;
            for p in parts {
                map[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
            return FileBytes(Repr::Mapped(map));
        }
    }
    FileBytes(Repr::Heap(parts.concat()))
}

/// `parts` joined in one new buffer, except the bytes in `holes` (ranges of the joined buffer,
/// in any order, clipped to it), which are left as they are in a fresh buffer: zeros. For a
/// reader that never reads those bytes (a PDF parse that leaves long streams' content where it
/// lies), so their pages are never touched and cost nothing. Without holes, [`concat`].
pub fn concat_sparse(parts: &[&[u8]], holes: &[Range<usize>]) -> FileBytes {
    let n: usize = parts.iter().map(|p| p.len()).sum();
    if n == 0 || holes.iter().all(|h| h.is_empty()) {
        return concat(parts);
    }
    // The ranges kept: the complement of the holes.
    let mut sorted: Vec<Range<usize>> = holes
        .iter()
        .map(|h| h.start.min(n)..h.end.min(n))
        .filter(|h| !h.is_empty())
        .collect();
    sorted.sort_by_key(|h| h.start);
    let mut kept = Vec::with_capacity(sorted.len() + 1);
    let mut at = 0;
    for h in sorted {
        if h.start > at {
            kept.push(at..h.start);
        }
        at = at.max(h.end);
    }
    if at < n {
        kept.push(at..n);
    }
    let fill = |dst: &mut [u8]| {
        let mut start = 0;
        for p in parts {
            let part = start..start + p.len();
            for k in &kept {
                let (a, b) = (k.start.max(part.start), k.end.min(part.end));
                if a < b {
                    dst[a..b].copy_from_slice(&p[a - start..b - start]);
                }
            }
            start = part.end;
        }
    };
    #[cfg(unix)]
    if let Ok(mut map) = memmap2::MmapMut::map_anon(n) {
        // Small pages: a huge page would be zeroed whole for the few bytes written into it.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::NoHugePage);
        fill(&mut map);
        return FileBytes(Repr::Mapped(map));
    }
    let mut v = vec![0; n];
    fill(&mut v);
    FileBytes(Repr::Heap(v))
}

/// Reads the whole file at `path`, like `std::fs::read`.
pub fn read_all(path: &Path) -> std::io::Result<FileBytes> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    #[cfg(unix)]
    if len >= PARALLEL_MIN {
        if let Some(m) = read_parallel(&file, len)? {
            return Ok(FileBytes(Repr::Mapped(m)));
        }
    }
    // Small files, and files whose size changed while being read (then read again from the
    // start, as far as they go now).
    let mut v = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    std::io::Seek::rewind(&mut file)?;
    file.read_to_end(&mut v)?;
    Ok(FileBytes(Repr::Heap(v)))
}

/// `len` bytes of `file` read in two halves on two threads into an anonymous mapping; `None`
/// when the file does not have exactly `len` bytes (it shrank or grew since `len` was taken).
#[cfg(unix)]
fn read_parallel(file: &File, len: u64) -> std::io::Result<Option<memmap2::MmapMut>> {
    use std::os::unix::fs::FileExt;
    let Ok(n) = usize::try_from(len) else {
        return Ok(None);
    };
    let mut map = memmap2::MmapOptions::new().len(n).map_anon()?;
    // Only advice: without transparent huge pages the read is still right, only slower.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    let (head, tail) = map.split_at_mut(n / 2);
    let (a, b) = std::thread::scope(|s| {
        let t = s.spawn(|| file.read_exact_at(tail, (n / 2) as u64));
        let a = file.read_exact_at(head, 0);
        (a, t.join())
    });
    for r in [
        a,
        b.unwrap_or_else(|_| Err(std::io::Error::other("reader thread panicked"))),
    ] {
        match r {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    // Exactly `len`: nothing more to read.
    let mut probe = [0u8; 1];
    if file.read_at(&mut probe, len)? != 0 {
        return Ok(None);
    }
    Ok(Some(map))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn small_and_large_files_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        for n in [0usize, 1, 4095, (4 << 20) - 1, 4 << 20, (4 << 20) + 12_345] {
            let path = dir.path().join(format!("f{n}"));
            let data = sample(n);
            std::fs::write(&path, &data).unwrap();
            let got = read_all(&path).unwrap();
            assert_eq!(&*got, &data[..], "{n} bytes");
            assert_eq!(got.into_vec(), data);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_whose_size_changed_is_not_taken_as_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let n = (4 << 20) + 7;
        std::fs::write(&path, sample(n)).unwrap();
        let f = File::open(&path).unwrap();
        // Grew since its size was taken: more bytes follow.
        assert!(read_parallel(&f, n as u64 - 10).unwrap().is_none());
        // Shrank: the halves cannot be filled.
        assert!(read_parallel(&f, n as u64 + 10).unwrap().is_none());
        let m = read_parallel(&f, n as u64).unwrap().unwrap();
        assert_eq!(&m[..], &sample(n)[..]);
    }

    #[test]
    fn concat_joins_small_and_large_parts() {
        for n in [0usize, 10, 4 << 20, (4 << 20) + 3] {
            let a = sample(n);
            let b = sample(n / 3 + 1);
            let got = concat(&[&a, &[], &b]);
            assert_eq!(&*got, &[a.as_slice(), &b].concat()[..], "{n} bytes");
        }
    }

    #[test]
    fn a_sparse_join_copies_all_but_the_holes() {
        let a = sample(5000);
        let b = sample(300);
        let whole = [a.as_slice(), &b].concat();
        // Holes out of order, overlapping, empty, across the parts' seam and past the end.
        let holes = [4990..5010, 100..200, 150..250, 7..7, 5200..9000];
        let got = concat_sparse(&[&a, &b], &holes);
        assert_eq!(got.len(), whole.len());
        for (i, (g, w)) in got.iter().zip(&whole).enumerate() {
            let in_hole = holes.iter().any(|h| h.contains(&i));
            assert_eq!(*g, if in_hole { 0 } else { *w }, "byte {i}");
        }
        // No holes: a plain join.
        let empty = [3..3, 9..9];
        assert_eq!(&*concat_sparse(&[&a, &b], &empty), &whole[..]);
        assert!(concat_sparse(&[], &[0..4, 6..8]).is_empty());
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_all(&dir.path().join("nope")).is_err());
    }
}
