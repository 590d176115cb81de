//! The hash functions a content digest can use (`LABELS.md`, "Content digest").
//!
//! A signature names the algorithm of the digest it binds, so a file signed with either is
//! verified with the one its signature names. New signatures use [`DigestAlg::CURRENT`],
//! BLAKE3: on this project's machine it hashes 4.7 GB/s on one core against SHA-256's 1.34 GB/s
//! (with the CPU's SHA extensions), and the hash was the bound of labeling a file in page
//! cache (BENCHMARKS.md). SHA-256 stays for labels signed before (`hegui-label/1`).

use sha2::Digest as _;

/// A content-digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlg {
    /// SHA-256 (FIPS 180-4): signatures of `hegui-label/1`.
    Sha256,
    /// BLAKE3 with 32-byte output: signatures of `hegui-label/2`.
    Blake3,
}

impl DigestAlg {
    /// The algorithm new signatures use.
    pub const CURRENT: DigestAlg = DigestAlg::Blake3;

    /// Its name in signatures and reports: `sha256` or `blake3`.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlg::Sha256 => "sha256",
            DigestAlg::Blake3 => "blake3",
        }
    }

    /// The algorithm called `name` ([`DigestAlg::name`]).
    pub fn from_name(name: &str) -> Option<DigestAlg> {
        [DigestAlg::Sha256, DigestAlg::Blake3]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// A hasher to feed piece by piece.
    pub fn hasher(self) -> ContentHasher {
        match self {
            DigestAlg::Sha256 => ContentHasher::Sha256(sha2::Sha256::new()),
            DigestAlg::Blake3 => ContentHasher::Blake3(Box::new(Blake3 {
                hasher: blake3::Hasher::new(),
                buf: Vec::new(),
            })),
        }
    }

    /// The digest of `bytes`.
    pub fn digest(self, bytes: &[u8]) -> [u8; 32] {
        match self {
            DigestAlg::Sha256 => sha2::Sha256::digest(bytes).into(),
            DigestAlg::Blake3 => blake3::hash(bytes).into(),
        }
    }
}

/// A running content digest.
pub enum ContentHasher {
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// BLAKE3 (boxed: its state is ~1.9 KB).
    Blake3(Box<Blake3>),
}

/// BLAKE3 fed in batches of [`Blake3::BATCH`] bytes. `blake3::Hasher` hashes many 1 KiB chunks
/// at once with the CPU's vector units only when it gets them in one `update` starting at a
/// chunk boundary; a format hashed piece by piece (an Ogg page's header fields and 5 KB body,
/// thousands of times) fed it serially, one 64-byte block at a time: BLAKE3 was half of
/// labeling an Ogg file. Small pieces are gathered here first; large ones go straight through.
pub struct Blake3 {
    hasher: blake3::Hasher,
    buf: Vec<u8>,
}

impl Blake3 {
    /// 64 KiB: 64 chunks, enough to fill the widest vector unit several times over, and small
    /// enough to stay in L2.
    const BATCH: usize = 64 << 10;

    fn update(&mut self, mut bytes: &[u8]) {
        loop {
            if self.buf.is_empty() && bytes.len() >= Self::BATCH {
                // Whole chunks only, so the hasher stays at a chunk boundary.
                let whole = bytes.len() & !1023;
                self.hasher.update(&bytes[..whole]);
                bytes = &bytes[whole..];
            }
            if bytes.is_empty() {
                return;
            }
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(Self::BATCH);
            }
            let n = (Self::BATCH - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buf.len() == Self::BATCH {
                self.hasher.update(&self.buf);
                self.buf.clear();
            }
        }
    }

    fn finalize(mut self) -> [u8; 32] {
        self.hasher.update(&self.buf);
        self.hasher.finalize().into()
    }
}

impl ContentHasher {
    /// Adds `bytes`.
    pub fn update(&mut self, bytes: impl AsRef<[u8]>) {
        let bytes = bytes.as_ref();
        match self {
            ContentHasher::Sha256(h) => h.update(bytes),
            ContentHasher::Blake3(h) => h.update(bytes),
        }
    }

    /// The digest of everything added.
    pub fn finalize(self) -> [u8; 32] {
        match self {
            ContentHasher::Sha256(h) => h.finalize().into(),
            ContentHasher::Blake3(h) => h.finalize(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published vectors: FIPS 180-2 "abc" and BLAKE3's test vector for the empty input.
    #[test]
    fn both_algorithms_give_their_published_digests() {
        assert_eq!(
            hex::encode(DigestAlg::Sha256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(DigestAlg::Blake3.digest(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn pieces_hash_as_the_whole() {
        for alg in [DigestAlg::Sha256, DigestAlg::Blake3] {
            let mut h = alg.hasher();
            h.update(b"ab");
            h.update([]);
            h.update(b"c");
            assert_eq!(h.finalize(), alg.digest(b"abc"), "{alg:?}");
            assert_eq!(DigestAlg::from_name(alg.name()), Some(alg));
        }
        assert_eq!(DigestAlg::from_name("md5"), None);
    }

    /// Pieces of every size, around the batch and chunk boundaries, hash as the whole.
    #[test]
    fn pieces_of_any_size_hash_as_the_whole() {
        let mut x = 7u64;
        let data: Vec<u8> = (0..600_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let sizes = [
            1usize, 5, 1023, 1024, 1025, 65_535, 65_536, 65_537, 200_000, 3, 70_000,
        ];
        for alg in [DigestAlg::Sha256, DigestAlg::Blake3] {
            for start in 0..sizes.len() {
                let mut h = alg.hasher();
                let mut at = 0;
                for &n in sizes.iter().cycle().skip(start) {
                    let end = (at + n).min(data.len());
                    h.update(&data[at..end]);
                    at = end;
                    if at == data.len() {
                        break;
                    }
                }
                assert_eq!(h.finalize(), alg.digest(&data), "{alg:?} from {start}");
            }
        }
    }
}
