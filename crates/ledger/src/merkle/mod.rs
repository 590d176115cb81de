//! RFC 6962 / RFC 9162 §2.1 Merkle trees: roots, proof generation and proof verification.
//!
//! The log never holds all leaves in memory and its storage is not known here, so proof
//! generation reads only hashes of *perfect* subtrees through [`NodeSource`]: node
//! `(level, index)` covers leaves `[index·2^level, (index+1)·2^level)`. Such a node never
//! changes once the tree has grown past it, so a store can write each one exactly once and
//! every proof for any tree size is `O(log n)` node reads. Ranges that are not perfect (the
//! ragged right edge of a tree) are hashed on the fly from their perfect parts.
//!
//! [`root`] is the literal recursive definition, kept as the reference the fast paths are
//! tested against. Verification follows the RFC 9162 algorithms step by step.

mod compact;
mod memory;
mod proof;
mod verify;

pub use compact::CompactRange;
pub use memory::MemoryTree;
pub use proof::{consistency_proof, inclusion_proof, root_at};
pub use verify::{verify_consistency, verify_inclusion};

use crate::error::LedgerError;
use crate::hash::{node_hash, Hash, EMPTY_ROOT};

/// Read access to the hashes of perfect subtrees of a log.
pub trait NodeSource {
    /// Returns node `(level, index)`, covering leaves `[index·2^level, (index+1)·2^level)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, LedgerError>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    fn node(&self, level: u8, index: u64) -> Result<Hash, LedgerError> {
        (**self).node(level, index)
    }
}

/// Reference Merkle Tree Hash (RFC 9162 §2.1.1) of a list of leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => EMPTY_ROOT,
        [only] => *only,
        _ => {
            let k = split_point(leaves.len() as u64) as usize;
            let (left, right) = leaves.split_at(k);
            node_hash(&root(left), &root(right))
        }
    }
}

/// The largest power of two strictly below `n`, for `n >= 2` (1 for smaller `n`).
pub(crate) fn split_point(n: u64) -> u64 {
    if n < 2 {
        return 1;
    }
    1 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up leaves `[start, start+len)`, largest (leftmost) first.
///
/// `start` must be a multiple of a power of two that is at least `len`, which holds for the
/// whole tree and for every range the RFC recursion produces; then each part is aligned.
pub(crate) fn perfect_parts<S: NodeSource + ?Sized>(
    src: &S,
    start: u64,
    len: u64,
) -> Result<Vec<Hash>, LedgerError> {
    let mut parts = Vec::with_capacity(len.count_ones() as usize);
    let mut offset = start;
    let mut remaining = len;
    while remaining != 0 {
        let level = 63 - remaining.leading_zeros();
        let width = 1u64 << level;
        parts.push(src.node(level as u8, offset >> level)?);
        offset += width;
        remaining -= width;
    }
    Ok(parts)
}

/// Folds perfect parts (largest first) into the Merkle Tree Hash of their concatenation.
pub(crate) fn fold_parts(parts: &[Hash]) -> Hash {
    let mut iter = parts.iter().rev();
    let Some(last) = iter.next() else {
        return EMPTY_ROOT;
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        let cases = [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (u64::MAX, 1 << 63),
        ];
        for (n, k) in cases {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn root_of_one_leaf_is_the_leaf_hash() {
        let l = leaf_hash(b"x");
        assert_eq!(root(&[l]), l);
    }

    #[test]
    fn root_of_three_leaves_splits_two_and_one() {
        let l: Vec<Hash> = [b"a", b"b", b"c"].iter().map(|d| leaf_hash(*d)).collect();
        let want = node_hash(&node_hash(&l[0], &l[1]), &l[2]);
        assert_eq!(root(&l), want);
    }
}
