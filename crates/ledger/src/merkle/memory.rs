//! An in-memory log: every perfect-subtree node, kept in one vector per level.
//!
//! It is the reference [`NodeSource`] for tests and small tools, and shows the layout the SQL
//! store mirrors: appending a leaf writes the leaf and each parent it completes (amortised
//! O(1) per append), and proofs are then `O(log n)` lookups for any size up to the current one.

use crate::error::LedgerError;
use crate::hash::{leaf_hash, Hash};

use super::{CompactRange, NodeSource};

/// An append-only Merkle tree held in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[l][i]` is node `(l, i)`.
    levels: Vec<Vec<Hash>>,
    edge: CompactRange,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash and returns its index.
    pub fn append(&mut self, leaf: Hash) -> Result<u64, LedgerError> {
        let index = self.edge.size();
        let levels = &mut self.levels;
        self.edge.append_with(leaf, |level, _, hash| {
            let level = usize::from(level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            // Nodes of a level are completed left to right, so pushing keeps `index` aligned.
            if let Some(row) = levels.get_mut(level) {
                row.push(*hash);
            }
        })?;
        Ok(index)
    }

    /// Appends leaf data (hashed with [`leaf_hash`]) and returns its index.
    pub fn append_data(&mut self, data: &[u8]) -> Result<u64, LedgerError> {
        self.append(leaf_hash(data))
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.edge.size()
    }

    /// Root of the whole tree, from the right edge (`O(log n)`).
    pub fn root(&self) -> Hash {
        self.edge.root()
    }

    /// Leaf hash at `index`, if the tree has it.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.node(0, index).ok()
    }
}

impl NodeSource for MemoryTree {
    fn node(&self, level: u8, index: u64) -> Result<Hash, LedgerError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(level))?.get(i))
            .copied()
            .ok_or(LedgerError::MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{root, root_at};

    #[test]
    fn stores_every_perfect_node_and_nothing_else() {
        let mut tree = MemoryTree::new();
        for i in 0u8..11 {
            tree.append_data(&[i]).unwrap();
        }
        // 11 leaves: 11 + 5 + 2 + 1 perfect nodes.
        let counts: Vec<usize> = tree.levels.iter().map(Vec::len).collect();
        assert_eq!(counts, vec![11, 5, 2, 1]);
        assert!(matches!(
            tree.node(3, 1),
            Err(LedgerError::MissingNode { level: 3, index: 1 })
        ));
        assert!(tree.node(200, 0).is_err());
    }

    #[test]
    fn root_at_every_past_size_matches_reference() {
        let mut tree = MemoryTree::new();
        let mut leaves = Vec::new();
        for i in 0u32..40 {
            leaves.push(leaf_hash(&i.to_le_bytes()));
            tree.append(*leaves.last().unwrap()).unwrap();
        }
        assert_eq!(tree.root(), root(&leaves));
        for size in 0..=leaves.len() {
            assert_eq!(
                root_at(&tree, size as u64).unwrap(),
                root(&leaves[..size]),
                "size {size}"
            );
        }
    }

    #[test]
    fn root_beyond_the_tree_is_a_missing_node_error() {
        let mut tree = MemoryTree::new();
        for i in 0u8..5 {
            tree.append_data(&[i]).unwrap();
        }
        assert!(matches!(
            root_at(&tree, 6),
            Err(LedgerError::MissingNode { .. })
        ));
    }

    #[test]
    fn leaf_returns_stored_hash() {
        let mut tree = MemoryTree::new();
        let index = tree.append_data(b"hello").unwrap();
        assert_eq!(index, 0);
        assert_eq!(tree.leaf(0), Some(leaf_hash(b"hello")));
        assert_eq!(tree.leaf(1), None);
    }
}
