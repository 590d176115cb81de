//! hegui-ledger: the pure, storage-agnostic core of hegui's tamper-evident log.
//!
//! Every interaction record hegui writes must be provably in an append-only log that the
//! operator cannot rewrite unnoticed. This crate holds everything about that log that needs
//! no storage and no clock: RFC 6962 hashing ([`hash`]), Merkle roots and inclusion and
//! consistency proofs over any [`merkle::NodeSource`] ([`merkle`]), signed C2SP checkpoints
//! ([`checkpoint`], on top of C2SP signed notes in [`note`]) and self-contained proof
//! bundles a third party can check offline ([`bundle`], format in `BUNDLE.md`).
//!
//! It knows nothing about SQL, HTTP or records: the store implements `NodeSource` over its
//! tables, and what the leaf bytes commit to is decided by the caller.

pub mod bundle;
pub mod checkpoint;
mod error;
pub mod fetch;
pub mod hash;
pub mod leaf;
pub mod merkle;
pub mod note;

pub use bundle::{Bundle, VerifiedBundle, BUNDLE_FORMAT};
pub use checkpoint::Checkpoint;
pub use error::{BundleError, CheckpointError, LedgerError, ProofError};
pub use fetch::{nodes_needed, NodeMap, NodeRecorder};
pub use hash::{leaf_hash, node_hash, Hash, EMPTY_ROOT};
pub use leaf::{check_disclosure, commitment, DisclosureError, LeafEntry, LEAF_FORMAT};
pub use merkle::{
    consistency_proof, inclusion_proof, root, root_at, verify_consistency, verify_inclusion,
    CompactRange, MemoryTree, NodeSource,
};
pub use note::{Signer, Verifier};
