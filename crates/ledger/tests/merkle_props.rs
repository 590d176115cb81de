//! Property tests: proofs from `MemoryTree` verify against the reference root, and any single
//! changed byte in a proof or root makes verification fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hegui_ledger::{
    consistency_proof, inclusion_proof, leaf_hash, root, root_at, verify_consistency,
    verify_inclusion, CompactRange, Hash, MemoryTree,
};
use proptest::prelude::*;

fn build(size: u64, salt: u64) -> (MemoryTree, Vec<Hash>) {
    let mut tree = MemoryTree::new();
    let mut leaves = Vec::new();
    for i in 0..size {
        let mut data = salt.to_le_bytes().to_vec();
        data.extend_from_slice(&i.to_le_bytes());
        leaves.push(leaf_hash(&data));
        tree.append(*leaves.last().unwrap()).unwrap();
    }
    (tree, leaves)
}

/// A size in 1..=300 and an index below it.
fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1u64..=300).prop_flat_map(|n| (Just(n), 0..n))
}

/// Sizes 1 <= old <= new <= 300.
fn old_and_new() -> impl Strategy<Value = (u64, u64)> {
    (1u64..=300).prop_flat_map(|n| (1..=n, Just(n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inclusion_proofs_verify_and_every_flipped_byte_is_caught(
        (size, index) in size_and_index(),
        salt in any::<u64>(),
        mask in 1u8..=255,
    ) {
        let (tree, leaves) = build(size, salt);
        let reference = root(&leaves);
        prop_assert_eq!(tree.root(), reference);
        let proof = inclusion_proof(&tree, index, size).unwrap();
        let leaf = leaves[index as usize];
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &reference), Ok(()));

        for i in 0..proof.len() {
            for b in 0..32 {
                let mut bad = proof.clone();
                bad[i][b] ^= mask;
                prop_assert!(verify_inclusion(&leaf, index, size, &bad, &reference).is_err(),
                    "proof[{}][{}] ^ {:#x} accepted", i, b, mask);
            }
        }
        for b in 0..32 {
            let mut bad_root = reference;
            bad_root[b] ^= mask;
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &bad_root).is_err());
            let mut bad_leaf = leaf;
            bad_leaf[b] ^= mask;
            prop_assert!(verify_inclusion(&bad_leaf, index, size, &proof, &reference).is_err());
        }
        // The same proof does not prove the leaf at another position. (It may well fit
        // another tree size: the size is bound by the signed checkpoint, not the proof.)
        if size > 1 {
            let other = (index + 1) % size;
            prop_assert!(verify_inclusion(&leaf, other, size, &proof, &reference).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_every_flipped_byte_is_caught(
        (old, new) in old_and_new(),
        salt in any::<u64>(),
        mask in 1u8..=255,
    ) {
        let (tree, leaves) = build(new, salt);
        let old_root = root(&leaves[..old as usize]);
        let new_root = root(&leaves);
        let proof = consistency_proof(&tree, old, new).unwrap();
        prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));

        for i in 0..proof.len() {
            for b in 0..32 {
                let mut bad = proof.clone();
                bad[i][b] ^= mask;
                prop_assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err(),
                    "proof[{}][{}] ^ {:#x} accepted for {} -> {}", i, b, mask, old, new);
            }
        }
        for b in 0..32 {
            let mut bad = old_root;
            bad[b] ^= mask;
            prop_assert!(verify_consistency(old, new, &bad, &new_root, &proof).is_err());
            let mut bad = new_root;
            bad[b] ^= mask;
            prop_assert!(verify_consistency(old, new, &old_root, &bad, &proof).is_err());
        }
    }

    #[test]
    fn root_at_and_compact_range_agree_with_the_reference(size in 0u64..=300, salt in any::<u64>()) {
        let (tree, leaves) = build(size, salt);
        let reference = root(&leaves);
        prop_assert_eq!(root_at(&tree, size).unwrap(), reference);
        let edge = CompactRange::from_source(&tree, size).unwrap();
        prop_assert_eq!(edge.root(), reference);
        // A range rebuilt from storage keeps growing correctly.
        let mut grown = edge;
        let extra = leaf_hash(b"next");
        grown.append(extra).unwrap();
        let mut more = leaves.clone();
        more.push(extra);
        prop_assert_eq!(grown.root(), root(&more));
    }
}
