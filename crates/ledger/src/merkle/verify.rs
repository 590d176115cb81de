//! Proof verification, following RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.
//!
//! This is the code a third party relies on, so it is the RFC's algorithm verbatim, plus an
//! up-front length check that turns "the loop ran out of path" into an error that says how
//! many hashes were expected. The RFC defines consistency only for `0 < old < new`; equal
//! sizes need an empty proof and equal roots, and `old == 0` is rejected as meaningless,
//! matching the transparency-dev/merkle conformance vectors.

use crate::error::ProofError;
use crate::hash::{node_hash, Hash};

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    // Step 1.
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let want = inclusion_proof_len(index, size);
    if proof.len() != want {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    // Steps 2 and 3.
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    if sn != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    if r != *root {
        return Err(ProofError::RootMismatch {
            computed: r,
            expected: *root,
        });
    }
    Ok(())
}

/// Checks that the tree of `old` leaves with `old_root` is a prefix of the tree of `new`
/// leaves with `new_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeDecreased { old, new });
    }
    if old == 0 {
        return Err(ProofError::FromEmptyTree { new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::NonEmptyProofForEqualSizes {
                size: old,
                len: proof.len(),
            });
        }
        if old_root != new_root {
            return Err(ProofError::RootsDifferAtEqualSize {
                size: old,
                old_root: *old_root,
                new_root: *new_root,
            });
        }
        return Ok(());
    }
    // Step 1.
    if proof.is_empty() {
        return Err(ProofError::EmptyProof { old, new });
    }
    let want = consistency_proof_len(old, new);
    if proof.len() != want {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    // Step 2: when `old` is a power of two its root is the first node of the path.
    let mut path = proof.iter();
    let first = if old.is_power_of_two() {
        old_root
    } else {
        match path.next() {
            Some(h) => h,
            None => return Err(ProofError::EmptyProof { old, new }),
        }
    };
    // Steps 3 and 4.
    let mut fn_ = old - 1;
    let mut sn = new - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let mut fr = *first;
    let mut sr = *first;
    // Step 6.
    for c in path {
        if sn == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    if sn != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    Ok(())
}

/// Hashes in the inclusion proof of leaf `index` in a tree of `size` (`index < size`).
///
/// `inner` levels lie below the point where the paths to `index` and `size - 1` part; above
/// it, one hash per left sibling on the right border.
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (inner, border) = decompose(index, size);
    inner + border
}

/// Hashes in the consistency proof from `old` to `new` leaves (`0 < old < new`).
fn consistency_proof_len(old: u64, new: u64) -> usize {
    let (inner, border) = decompose(old - 1, new);
    // The lowest `shift` levels are inside the perfect subtree whose root starts the proof.
    let shift = old.trailing_zeros() as usize;
    let seed = usize::from(!old.is_power_of_two());
    seed + inner.saturating_sub(shift) + border
}

fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner as usize, border as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, EMPTY_ROOT};
    use crate::merkle::{consistency_proof, inclusion_proof, MemoryTree};

    fn tree_of(n: u32) -> MemoryTree {
        let mut tree = MemoryTree::new();
        for i in 0..n {
            tree.append_data(&i.to_be_bytes()).unwrap();
        }
        tree
    }

    #[test]
    fn proof_lengths_match_generated_proofs() {
        let tree = tree_of(70);
        for size in 1..=70u64 {
            for index in 0..size {
                let p = inclusion_proof(&tree, index, size).unwrap();
                assert_eq!(inclusion_proof_len(index, size), p.len(), "{index}/{size}");
            }
            for old in 1..size {
                let p = consistency_proof(&tree, old, size).unwrap();
                assert_eq!(consistency_proof_len(old, size), p.len(), "{old}->{size}");
            }
        }
    }

    #[test]
    fn index_at_or_past_size_is_rejected() {
        let l = leaf_hash(b"x");
        for (index, size) in [
            (0, 0),
            (1, 0),
            (1, 1),
            (2, 1),
            (u64::MAX, 1),
            (u64::MAX, u64::MAX),
        ] {
            assert_eq!(
                verify_inclusion(&l, index, size, &[], &l),
                Err(ProofError::IndexOutOfRange { index, size })
            );
        }
    }

    #[test]
    fn huge_sizes_do_not_panic() {
        let l = leaf_hash(b"x");
        let err = verify_inclusion(&l, u64::MAX - 1, u64::MAX, &[], &l).unwrap_err();
        assert!(matches!(err, ProofError::WrongLength { got: 0, .. }));
        let err = verify_inclusion(&l, 0, u64::MAX, &[l; 64], &l).unwrap_err();
        assert!(matches!(
            err,
            ProofError::RootMismatch { .. } | ProofError::WrongLength { .. }
        ));
        let err = verify_consistency(u64::MAX - 1, u64::MAX, &l, &l, &[l]).unwrap_err();
        assert!(matches!(err, ProofError::WrongLength { .. }));
        let err = verify_consistency(1 << 63, u64::MAX, &l, &l, &[l]).unwrap_err();
        assert!(matches!(
            err,
            ProofError::NewRootMismatch { .. } | ProofError::OldRootMismatch { .. }
        ));
    }

    #[test]
    fn consistency_edge_cases() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        assert_eq!(
            verify_consistency(2, 1, &a, &b, &[]),
            Err(ProofError::SizeDecreased { old: 2, new: 1 })
        );
        assert_eq!(
            verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
            Err(ProofError::FromEmptyTree { new: 0 })
        );
        assert_eq!(
            verify_consistency(0, 5, &EMPTY_ROOT, &a, &[]),
            Err(ProofError::FromEmptyTree { new: 5 })
        );
        assert_eq!(verify_consistency(3, 3, &a, &a, &[]), Ok(()));
        assert!(matches!(
            verify_consistency(3, 3, &a, &b, &[]),
            Err(ProofError::RootsDifferAtEqualSize { size: 3, .. })
        ));
        assert_eq!(
            verify_consistency(3, 3, &a, &a, &[a]),
            Err(ProofError::NonEmptyProofForEqualSizes { size: 3, len: 1 })
        );
        assert_eq!(
            verify_consistency(1, 2, &a, &b, &[]),
            Err(ProofError::EmptyProof { old: 1, new: 2 })
        );
    }

    #[test]
    fn every_generated_proof_verifies_up_to_size_40() {
        let tree = tree_of(40);
        for size in 1..=40u64 {
            let root = crate::merkle::root_at(&tree, size).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(&tree, index, size).unwrap();
                let leaf = tree.leaf(index).unwrap();
                assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
            }
            for old in 1..=size {
                let old_root = crate::merkle::root_at(&tree, old).unwrap();
                let proof = consistency_proof(&tree, old, size).unwrap();
                assert_eq!(
                    verify_consistency(old, size, &old_root, &root, &proof),
                    Ok(())
                );
            }
        }
    }
}
