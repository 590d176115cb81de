//! RFC 6962 hashing: SHA-256 with one-byte domain separation.
//!
//! Leaves and interior nodes are hashed with different prefixes (0x00 and 0x01) so that no
//! leaf can ever be passed off as an interior node (the second-preimage attack on plain
//! Merkle trees). Everything else in the crate hashes only through these three items.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Hashes leaf data: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// Hashes two child nodes: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let computed: Hash = Sha256::digest(b"").into();
        assert_eq!(EMPTY_ROOT, computed);
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        // The leaf hash of (l ‖ r) must differ from the node hash of (l, r).
        let l = leaf_hash(b"a");
        let r = leaf_hash(b"b");
        let mut concat = Vec::new();
        concat.extend_from_slice(&l);
        concat.extend_from_slice(&r);
        assert_ne!(leaf_hash(&concat), node_hash(&l, &r));
    }

    #[test]
    fn leaf_hash_of_empty_input_matches_rfc6962_vector() {
        // Leaf 0 of the RFC 6962 test tree is the empty string; its hash is the size-1 root.
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }
}
