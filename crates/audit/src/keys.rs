//! The three deterministic per-item hashes every shard agrees on.
//!
//! All are XXH3-64 (seeded where the audit seed matters) over an unambiguous byte encoding of
//! the item's identity. XXH3 is not a cryptographic MAC, but the keys only have to be uniform
//! and reproducible, not secret: anyone holding the seed may reproduce the sample, by design.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Domain separators so that the three hashes of one item are independent.
const DOMAIN_SAMPLE: u8 = 1;
const DOMAIN_SCAN: u8 = 2;
const DOMAIN_SHARD: u8 = 3;

fn identity(domain: u8, source: Option<&str>, file: &str, line: u64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(16 + file.len() + source.map_or(0, str::len));
    buf.push(domain);
    if let Some(source) = source {
        buf.extend_from_slice(&(source.len() as u64).to_le_bytes());
        buf.extend_from_slice(source.as_bytes());
    }
    buf.extend_from_slice(&(file.len() as u64).to_le_bytes());
    buf.extend_from_slice(file.as_bytes());
    buf.extend_from_slice(&line.to_le_bytes());
    buf
}

/// The sampling key of an item: `XXH3-64(seed; source, file, line)`.
pub(crate) fn sample_key(seed: u64, source: &str, file: &str, line: u64) -> u64 {
    xxh3_64_with_seed(&identity(DOMAIN_SAMPLE, Some(source), file, line), seed)
}

/// A second, independent key deciding whether an item is in the technical-scan fraction.
pub(crate) fn scan_key(seed: u64, source: &str, file: &str, line: u64) -> u64 {
    xxh3_64_with_seed(&identity(DOMAIN_SCAN, Some(source), file, line), seed)
}

/// Whether a key falls below `fraction` of the 64-bit key space.
pub(crate) fn below_fraction(key: u64, fraction: f64) -> bool {
    if fraction >= 1.0 {
        return true;
    }
    if fraction <= 0.0 {
        return false;
    }
    // 2^64 * fraction, computed in u128 so that the comparison is exact for every key.
    let limit = (fraction * 18_446_744_073_709_551_616.0) as u128;
    u128::from(key) < limit
}

/// The shard (of `count`) an item, or a read error at `line` (`None` = whole file), belongs
/// to. Independent of the seed and the source so that any machine split is reproducible from
/// file paths and line numbers alone.
pub(crate) fn shard_of(file: &str, line: Option<u64>, count: u32) -> u32 {
    if count <= 1 {
        return 0;
    }
    let h = xxh3_64(&identity(
        DOMAIN_SHARD,
        None,
        file,
        line.unwrap_or(u64::MAX),
    ));
    (h % u64::from(count)) as u32
}
