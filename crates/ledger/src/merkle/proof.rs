//! Proof generation (RFC 9162 §2.1.3.1 and §2.1.4.1) over perfect-subtree nodes.
//!
//! The functions follow the RFC's recursive definitions, but every `MTH(D[a:b])` they need is
//! computed by [`range_root`] from the perfect subtrees that tile `[a, b)`. Only the first
//! non-perfect sibling along a path is ragged; all others are single node reads, so a proof
//! costs `O(log n)` reads and never asks for a node beyond the requested tree size.

use crate::error::LedgerError;
use crate::hash::Hash;

use super::{fold_parts, perfect_parts, split_point, NodeSource};

/// Merkle Tree Hash of the first `size` leaves of the source.
pub fn root_at<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Hash, LedgerError> {
    range_root(src, 0, size)
}

/// Audit path for leaf `index` in the tree of the first `size` leaves, leaf-side first.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, LedgerError> {
    if index >= size {
        return Err(LedgerError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::with_capacity(64 - size.leading_zeros() as usize);
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

/// Consistency proof from the tree of the first `old` leaves to that of the first `new`.
///
/// Empty when `old == new`; an error when `old == 0` (RFC 9162 defines no such proof) or
/// `old > new`.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, LedgerError> {
    if old == 0 || old > new {
        return Err(LedgerError::BadConsistencyRange { old, new });
    }
    let mut proof = Vec::with_capacity(64 - new.leading_zeros() as usize + 1);
    subproof(src, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

/// MTH of leaves `[start, start+len)`; `start` is aligned as the RFC recursion guarantees.
fn range_root<S: NodeSource + ?Sized>(src: &S, start: u64, len: u64) -> Result<Hash, LedgerError> {
    Ok(fold_parts(&perfect_parts(src, start, len)?))
}

/// PATH(m, D[start:start+n]) (RFC 9162 §2.1.3.1), appended to `out` leaf-side first.
fn path<S: NodeSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<Hash>,
) -> Result<(), LedgerError> {
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(src, m, start, k, out)?;
        out.push(range_root(src, start + k, n - k)?);
    } else {
        path(src, m - k, start + k, n - k, out)?;
        out.push(range_root(src, start, k)?);
    }
    Ok(())
}

/// SUBPROOF(m, D[start:start+n], b) (RFC 9162 §2.1.4.1), appended to `out`.
fn subproof<S: NodeSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    n: u64,
    b: bool,
    out: &mut Vec<Hash>,
) -> Result<(), LedgerError> {
    if m == n {
        if !b {
            out.push(range_root(src, start, n)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, k, b, out)?;
        out.push(range_root(src, start + k, n - k)?);
    } else {
        subproof(src, m - k, start + k, n - k, false, out)?;
        out.push(range_root(src, start, k)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::hash::leaf_hash;
    use crate::merkle::{root, MemoryTree};

    /// Wraps a tree, checks every read is a perfect node inside `limit`, and counts reads.
    struct Audited<'a> {
        tree: &'a MemoryTree,
        limit: u64,
        reads: RefCell<usize>,
    }

    impl NodeSource for Audited<'_> {
        fn node(&self, level: u8, index: u64) -> Result<Hash, LedgerError> {
            let end = (u128::from(index) + 1) << level;
            assert!(
                end <= u128::from(self.limit),
                "read node ({level}, {index}) beyond size {}",
                self.limit
            );
            *self.reads.borrow_mut() += 1;
            self.tree.node(level, index)
        }
    }

    fn tree_of(n: u32) -> (MemoryTree, Vec<Hash>) {
        let mut tree = MemoryTree::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let l = leaf_hash(&i.to_be_bytes());
            tree.append(l).unwrap();
            leaves.push(l);
        }
        (tree, leaves)
    }

    /// RFC 9162 PATH over a leaf list, the literal definition.
    fn reference_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split_point(n as u64) as usize;
        if m < k {
            let mut p = reference_path(m, &leaves[..k]);
            p.push(root(&leaves[k..]));
            p
        } else {
            let mut p = reference_path(m - k, &leaves[k..]);
            p.push(root(&leaves[..k]));
            p
        }
    }

    /// RFC 9162 SUBPROOF over a leaf list, the literal definition.
    fn reference_subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b { Vec::new() } else { vec![root(leaves)] };
        }
        let k = split_point(n as u64) as usize;
        if m <= k {
            let mut p = reference_subproof(m, &leaves[..k], b);
            p.push(root(&leaves[k..]));
            p
        } else {
            let mut p = reference_subproof(m - k, &leaves[k..], false);
            p.push(root(&leaves[..k]));
            p
        }
    }

    #[test]
    fn inclusion_proofs_match_the_literal_rfc_definition() {
        let (tree, leaves) = tree_of(33);
        for size in 1..=leaves.len() {
            for index in 0..size {
                let got = inclusion_proof(&tree, index as u64, size as u64).unwrap();
                assert_eq!(
                    got,
                    reference_path(index, &leaves[..size]),
                    "index {index} size {size}"
                );
            }
        }
    }

    #[test]
    fn consistency_proofs_match_the_literal_rfc_definition() {
        let (tree, leaves) = tree_of(33);
        for new in 1..=leaves.len() {
            for old in 1..=new {
                let got = consistency_proof(&tree, old as u64, new as u64).unwrap();
                let want = reference_subproof(old, &leaves[..new], true);
                assert_eq!(got, want, "old {old} new {new}");
            }
        }
    }

    #[test]
    fn proofs_read_only_perfect_nodes_within_size_and_logarithmically_many() {
        let (tree, _) = tree_of(300);
        for size in [1u64, 2, 3, 7, 8, 100, 255, 256, 257, 300] {
            let audited = Audited {
                tree: &tree,
                limit: size,
                reads: RefCell::new(0),
            };
            let bound = 2 * (64 - size.leading_zeros() as usize) + 2;
            for index in 0..size {
                *audited.reads.borrow_mut() = 0;
                inclusion_proof(&audited, index, size).unwrap();
                assert!(*audited.reads.borrow() <= bound, "inclusion {index}/{size}");
            }
            for old in 1..=size {
                *audited.reads.borrow_mut() = 0;
                consistency_proof(&audited, old, size).unwrap();
                assert!(
                    *audited.reads.borrow() <= bound + 1,
                    "consistency {old}->{size}"
                );
            }
            *audited.reads.borrow_mut() = 0;
            root_at(&audited, size).unwrap();
            assert_eq!(*audited.reads.borrow(), size.count_ones() as usize);
        }
    }

    #[test]
    fn rfc6962_example_proof_for_leaf_1_of_8() {
        // The first inclusion vector of transparency-dev/merkle: leaf 0 in a tree of 8.
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let mut tree = MemoryTree::new();
        for d in inputs {
            tree.append_data(d).unwrap();
        }
        let proof = inclusion_proof(&tree, 0, 8).unwrap();
        let hex: Vec<String> = proof.iter().map(hex::encode).collect();
        assert_eq!(
            hex,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        );
        assert_eq!(
            hex::encode(tree.root()),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
    }

    #[test]
    fn bad_ranges_are_errors_not_panics() {
        let (tree, _) = tree_of(4);
        assert!(matches!(
            inclusion_proof(&tree, 4, 4),
            Err(LedgerError::IndexOutOfRange { index: 4, size: 4 })
        ));
        assert!(matches!(
            inclusion_proof(&tree, 0, 0),
            Err(LedgerError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            consistency_proof(&tree, 0, 3),
            Err(LedgerError::BadConsistencyRange { old: 0, new: 3 })
        ));
        assert!(matches!(
            consistency_proof(&tree, 3, 2),
            Err(LedgerError::BadConsistencyRange { .. })
        ));
        assert_eq!(consistency_proof(&tree, 3, 3).unwrap(), Vec::<Hash>::new());
        assert!(matches!(
            inclusion_proof(&tree, 0, u64::MAX),
            Err(LedgerError::MissingNode { .. })
        ));
        assert!(matches!(
            consistency_proof(&tree, 1, u64::MAX),
            Err(LedgerError::MissingNode { .. })
        ));
    }
}
