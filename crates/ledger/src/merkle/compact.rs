//! The right edge of a growing tree.
//!
//! A tree of size `n` is the concatenation of one perfect subtree per set bit of `n`; keeping
//! just those hashes is enough to append leaves and compute the current root with `O(log n)`
//! memory. The store keeps one of these in memory while appending, and persists the perfect
//! nodes each append completes (see [`CompactRange::append_with`]).

use crate::error::LedgerError;
use crate::hash::node_hash;
use crate::hash::Hash;

use super::{fold_parts, perfect_parts, NodeSource};

/// One hash per set bit of the tree size: the perfect subtrees along the right edge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    /// Largest (leftmost) subtree first.
    hashes: Vec<Hash>,
}

impl CompactRange {
    /// The compact range of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a range from its size and hashes (largest subtree first).
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, LedgerError> {
        let want = size.count_ones();
        if hashes.len() != want as usize {
            return Err(LedgerError::BadCompactRange {
                size,
                want,
                got: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// Reads the right edge of the tree of `size` leaves from a node source.
    pub fn from_source<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Self, LedgerError> {
        Ok(Self {
            size,
            hashes: perfect_parts(src, 0, size)?,
        })
    }

    /// Number of leaves covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree hashes, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends one leaf hash.
    pub fn append(&mut self, leaf: Hash) -> Result<(), LedgerError> {
        self.append_with(leaf, |_, _, _| {})
    }

    /// Appends one leaf hash, calling `on_node(level, index, hash)` for every perfect node the
    /// append completes: the leaf itself (level 0), then each parent it closes, bottom-up.
    pub fn append_with<F>(&mut self, leaf: Hash, mut on_node: F) -> Result<(), LedgerError>
    where
        F: FnMut(u8, u64, &Hash),
    {
        let new_size = self.size.checked_add(1).ok_or(LedgerError::TreeFull)?;
        // Every trailing one bit of the old size is a perfect subtree the new leaf closes.
        let merges = self.size.trailing_ones() as usize;
        if self.hashes.len() < merges {
            return Err(LedgerError::BadCompactRange {
                size: self.size,
                want: self.size.count_ones(),
                got: self.hashes.len(),
            });
        }
        let mut hash = leaf;
        let mut index = self.size;
        on_node(0, index, &hash);
        for level in 1..=merges {
            let Some(left) = self.hashes.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            index >>= 1;
            on_node(level as u8, index, &hash);
        }
        self.hashes.push(hash);
        self.size = new_size;
        Ok(())
    }

    /// The Merkle Tree Hash of the covered leaves.
    pub fn root(&self) -> Hash {
        fold_parts(&self.hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, EMPTY_ROOT};
    use crate::merkle::root;

    #[test]
    fn empty_range_has_empty_root() {
        assert_eq!(CompactRange::new().root(), EMPTY_ROOT);
    }

    #[test]
    fn root_matches_reference_for_every_size_up_to_70() {
        let mut range = CompactRange::new();
        let mut leaves = Vec::new();
        for i in 0u32..70 {
            let l = leaf_hash(&i.to_be_bytes());
            leaves.push(l);
            range.append(l).unwrap();
            assert_eq!(range.size(), leaves.len() as u64);
            assert_eq!(range.hashes().len(), range.size().count_ones() as usize);
            assert_eq!(range.root(), root(&leaves), "size {}", leaves.len());
        }
    }

    #[test]
    fn append_reports_completed_nodes_bottom_up() {
        let mut range = CompactRange::new();
        for i in 0u8..3 {
            range.append(leaf_hash(&[i])).unwrap();
        }
        let mut seen = Vec::new();
        range
            .append_with(leaf_hash(&[3]), |level, index, _| seen.push((level, index)))
            .unwrap();
        assert_eq!(seen, vec![(0, 3), (1, 1), (2, 0)]);
    }

    #[test]
    fn from_parts_rejects_wrong_hash_count() {
        let err = CompactRange::from_parts(3, vec![EMPTY_ROOT]).unwrap_err();
        assert!(matches!(
            err,
            LedgerError::BadCompactRange {
                size: 3,
                want: 2,
                got: 1
            }
        ));
    }

    #[test]
    fn full_tree_refuses_to_grow() {
        let hashes = vec![EMPTY_ROOT; 64];
        let mut range = CompactRange::from_parts(u64::MAX, hashes).unwrap();
        assert!(matches!(
            range.append(EMPTY_ROOT),
            Err(LedgerError::TreeFull)
        ));
    }
}
