//! Running the synchronous proof algorithms over asynchronous storage.
//!
//! Which perfect-subtree nodes a proof, a root or a compact range needs depends only on
//! indices and sizes, never on hash values. So a store runs the computation once against
//! [`NodeRecorder`] (which answers with zero hashes and notes every request), fetches exactly
//! those nodes in one query, and runs it again against a [`NodeMap`].

use std::cell::RefCell;
use std::collections::HashMap;

use crate::error::LedgerError;
use crate::hash::Hash;
use crate::merkle::NodeSource;

/// Answers every request with a zero hash and remembers what was asked.
#[derive(Debug, Default)]
pub struct NodeRecorder {
    asked: RefCell<Vec<(u8, u64)>>,
}

impl NodeRecorder {
    /// The distinct nodes asked for so far, in order of first request.
    pub fn into_requests(self) -> Vec<(u8, u64)> {
        let mut seen = std::collections::HashSet::new();
        self.asked
            .into_inner()
            .into_iter()
            .filter(|k| seen.insert(*k))
            .collect()
    }
}

impl NodeSource for NodeRecorder {
    fn node(&self, level: u8, index: u64) -> Result<Hash, LedgerError> {
        self.asked.borrow_mut().push((level, index));
        Ok([0; 32])
    }
}

/// Nodes fetched from storage.
#[derive(Debug, Default, Clone)]
pub struct NodeMap(pub HashMap<(u8, u64), Hash>);

impl NodeSource for NodeMap {
    fn node(&self, level: u8, index: u64) -> Result<Hash, LedgerError> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or(LedgerError::MissingNode { level, index })
    }
}

/// The nodes `f` reads, found by a dry run.
pub fn nodes_needed<T>(
    f: impl FnOnce(&dyn NodeSource) -> Result<T, LedgerError>,
) -> Result<Vec<(u8, u64)>, LedgerError> {
    let rec = NodeRecorder::default();
    f(&rec)?;
    Ok(rec.into_requests())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{inclusion_proof, MemoryTree};

    #[test]
    fn a_dry_run_finds_exactly_the_nodes_a_proof_reads() {
        let mut t = MemoryTree::new();
        for i in 0u32..37 {
            t.append_data(&i.to_be_bytes()).unwrap();
        }
        let needed = nodes_needed(|s| inclusion_proof(s, 21, 37)).unwrap();
        let map = NodeMap(
            needed
                .iter()
                .map(|&(l, i)| ((l, i), t.node(l, i).unwrap()))
                .collect(),
        );
        assert_eq!(
            inclusion_proof(&map, 21, 37).unwrap(),
            inclusion_proof(&t, 21, 37).unwrap()
        );
        assert!(needed.len() <= 12, "{needed:?}");
    }
}
