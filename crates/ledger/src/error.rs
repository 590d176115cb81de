//! The crate's error types, one per concern.
//!
//! Tree-reading failures (`LedgerError`) are the log operator's problem; proof, checkpoint and
//! bundle failures are what a verifier reports about data it was handed, so each variant names
//! the field or position that was wrong.

use crate::hash::Hash;

/// Failure while building a tree or generating proofs from it.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The node source has no hash for a perfect subtree that the request needs.
    #[error(
        "no stored node at level {level}, index {index} (leaves {first}..{end}): \
         the requested tree size is larger than the stored tree, or the store is incomplete",
        first = first_leaf(*.level, *.index),
        end = end_leaf(*.level, *.index)
    )]
    MissingNode {
        /// Height of the node above the leaves (0 = leaf hash).
        level: u8,
        /// Position of the node within its level.
        index: u64,
    },
    /// A leaf index that is not inside the tree.
    #[error(
        "leaf index {index} is outside a tree of size {size}: the index must be below the size"
    )]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size the proof was asked for.
        size: u64,
    },
    /// A consistency proof between sizes that RFC 9162 does not define.
    #[error("no consistency proof from tree size {old} to {new}: need 0 < old <= new")]
    BadConsistencyRange {
        /// The older tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
    /// The tree already holds `u64::MAX` leaves.
    #[error("the tree holds u64::MAX leaves and cannot grow")]
    TreeFull,
    /// A compact range whose hash count does not match its size.
    #[error("a compact range of size {size} needs {want} hashes (one per set bit), got {got}")]
    BadCompactRange {
        /// The claimed tree size.
        size: u64,
        /// How many hashes that size needs.
        want: u32,
        /// How many hashes were given.
        got: usize,
    },
    /// The node source (for example a database) failed.
    #[error("reading tree nodes failed: {0}")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

fn first_leaf(level: u8, index: u64) -> u128 {
    u128::from(index) << level.min(64)
}

fn end_leaf(level: u8, index: u64) -> u128 {
    (u128::from(index) + 1) << level.min(64)
}

/// Why a Merkle inclusion or consistency proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not inside a tree of size {size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The proof has the wrong number of hashes for the claimed index/sizes.
    #[error("the proof has {got} hashes, but a proof for these sizes has exactly {want}")]
    WrongLength {
        /// Hashes in the proof.
        got: usize,
        /// Hashes a valid proof has.
        want: usize,
    },
    /// The inclusion proof leads to a different root.
    #[error("the proof leads to root {}, not the expected root {}", hex::encode(.computed), hex::encode(.expected))]
    RootMismatch {
        /// Root computed from the leaf and proof.
        computed: Hash,
        /// Root the proof was checked against.
        expected: Hash,
    },
    /// The new tree is smaller than the old one.
    #[error("the new tree size {new} is smaller than the old tree size {old}")]
    SizeDecreased {
        /// The older tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
    /// Consistency with the empty tree is undefined (RFC 9162 requires 0 < old).
    #[error(
        "a consistency proof from the empty tree (old size 0) to size {new} is meaningless: \
         any tree extends the empty tree, so check nothing instead of asking for a proof"
    )]
    FromEmptyTree {
        /// The newer tree size.
        new: u64,
    },
    /// Equal sizes need an empty proof.
    #[error(
        "the tree sizes are equal ({size}) so the proof must be empty, but it has {len} hashes"
    )]
    NonEmptyProofForEqualSizes {
        /// The (shared) tree size.
        size: u64,
        /// Hashes in the proof.
        len: usize,
    },
    /// Equal sizes with different roots: a fork.
    #[error(
        "the tree sizes are equal ({size}) but the roots differ ({} vs {}): the log forked",
        hex::encode(.old_root),
        hex::encode(.new_root)
    )]
    RootsDifferAtEqualSize {
        /// The shared tree size.
        size: u64,
        /// The root given for the old tree.
        old_root: Hash,
        /// The root given for the new tree.
        new_root: Hash,
    },
    /// A consistency proof between different sizes cannot be empty.
    #[error("the consistency proof from size {old} to size {new} is empty")]
    EmptyProof {
        /// The older tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
    /// The proof does not reproduce the old root.
    #[error("the proof leads to old root {}, not the expected {}", hex::encode(.computed), hex::encode(.expected))]
    OldRootMismatch {
        /// Old root computed from the proof.
        computed: Hash,
        /// Old root the proof was checked against.
        expected: Hash,
    },
    /// The proof does not reproduce the new root.
    #[error("the proof leads to new root {}, not the expected {}", hex::encode(.computed), hex::encode(.expected))]
    NewRootMismatch {
        /// New root computed from the proof.
        computed: Hash,
        /// New root the proof was checked against.
        expected: Hash,
    },
}

/// Why a checkpoint, signed note or key string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// A key name that signed-note forbids.
    #[error("invalid key name {name:?}: it must be non-empty, without spaces and without '+'")]
    InvalidKeyName {
        /// The offending name.
        name: String,
    },
    /// A verifier or signer key string that cannot be parsed.
    #[error("malformed {kind} key string: {reason}")]
    BadKeyString {
        /// "verifier" or "signer".
        kind: &'static str,
        /// What was wrong (never contains secret material).
        reason: String,
    },
    /// A key string whose stated key ID does not match its name and key.
    #[error(
        "{kind} key string states key ID {stated:08x} but its name and key give {computed:08x}"
    )]
    KeyIdMismatch {
        /// "verifier" or "signer".
        kind: &'static str,
        /// Key ID written in the string.
        stated: u32,
        /// Key ID computed from name and key.
        computed: u32,
    },
    /// A key of an algorithm other than Ed25519 (0x01).
    #[error("unsupported signature algorithm 0x{alg:02x} in {kind} key string: only Ed25519 (0x01) is supported")]
    UnsupportedAlgorithm {
        /// "verifier" or "signer".
        kind: &'static str,
        /// The algorithm byte.
        alg: u8,
    },
    /// Text that cannot go into a note or checkpoint.
    #[error("cannot put {field} into a checkpoint: {reason}")]
    InvalidField {
        /// Which field ("origin", "extension line 2", "note text"...).
        field: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// A control character other than newline inside a note.
    #[error(
        "note contains control character U+{code:04X} at byte {offset}; only newline is allowed"
    )]
    ControlCharacter {
        /// Byte offset in the note.
        offset: usize,
        /// The character's code point.
        code: u32,
    },
    /// The note has no blank line followed by signature lines.
    #[error("malformed note: {reason}")]
    MalformedNote {
        /// What was wrong.
        reason: &'static str,
    },
    /// A signature line that is not `— <name> <base64>`.
    #[error("malformed signature line {line}: {reason}")]
    BadSignatureLine {
        /// 1-based line number within the signature block.
        line: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// More than 100 signature lines.
    #[error("note has more than {max} signature lines")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// The trusted key did not sign the note.
    #[error("no signature by trusted key {name}+{key_id:08x}; the note is signed by: {seen}")]
    NoSignatureByKey {
        /// Trusted key name.
        name: String,
        /// Trusted key ID.
        key_id: u32,
        /// The `name+keyid` of every signature present, comma-separated.
        seen: String,
    },
    /// A signature with the trusted key's ID but under another name.
    #[error("a signature carries the trusted key ID {key_id:08x} but the name {found:?}, not {expected:?}")]
    KeyNameMismatch {
        /// Trusted key name.
        expected: String,
        /// Name on the signature line.
        found: String,
        /// The shared key ID.
        key_id: u32,
    },
    /// A signature by the trusted key that does not verify.
    #[error("signature line {line} by trusted key {name}+{key_id:08x} does not verify: the note was altered or signed by another key")]
    BadSignature {
        /// 1-based line number within the signature block.
        line: usize,
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// A checkpoint body with fewer than three lines.
    #[error("checkpoint body has {lines} lines; it needs origin, tree size and root hash")]
    BodyTooShort {
        /// Lines found.
        lines: usize,
    },
    /// An empty line in the checkpoint body.
    #[error("checkpoint body line {line} is empty")]
    EmptyLine {
        /// 1-based line number in the body.
        line: usize,
    },
    /// The tree size line is not a canonical decimal u64.
    #[error("checkpoint line 2 (tree size) {found:?} is not a decimal number without leading zeros that fits in 64 bits")]
    BadSize {
        /// The line.
        found: String,
    },
    /// The root hash line is not standard base64.
    #[error("checkpoint line 3 (root hash) {found:?} is not standard padded base64")]
    BadRootBase64 {
        /// The line.
        found: String,
    },
    /// The root hash line decodes to the wrong number of bytes.
    #[error("checkpoint line 3 (root hash) decodes to {len} bytes, not 32")]
    BadRootLength {
        /// Decoded length.
        len: usize,
    },
}

/// Why a proof bundle was rejected.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not JSON of the bundle's shape.
    #[error("not a hegui-proof-bundle/1 JSON document: {0}")]
    Json(#[from] serde_json::Error),
    /// A `format` this code does not know.
    #[error("unsupported bundle format {found:?}: expected \"hegui-proof-bundle/1\"")]
    UnsupportedFormat {
        /// The format string found.
        found: String,
    },
    /// The `public_key` field cannot be parsed.
    #[error("field public_key: {0}")]
    PublicKey(#[source] CheckpointError),
    /// The bundle names a key other than the trusted one.
    #[error("field public_key is {found} but the trusted key is {trusted}: this bundle was not issued under the trusted key")]
    UntrustedKey {
        /// Key string in the bundle.
        found: String,
        /// Key string of the trusted verifier.
        trusted: String,
    },
    /// The checkpoint note fails to open.
    #[error("field checkpoint: {0}")]
    Checkpoint(#[source] CheckpointError),
    /// `tree_size` differs from the checkpoint's size.
    #[error("field tree_size is {bundle} but the signed checkpoint is for size {checkpoint}")]
    TreeSizeMismatch {
        /// Size stated in the bundle.
        bundle: u64,
        /// Size in the signed checkpoint.
        checkpoint: u64,
    },
    /// `leaf_data_b64` is not standard base64.
    #[error("field leaf_data_b64 is not standard padded base64: {0}")]
    LeafData(#[source] base64::DecodeError),
    /// An `inclusion_proof` entry is not 64 hex digits.
    #[error("field inclusion_proof[{position}]: {reason}")]
    ProofHash {
        /// Position in the array.
        position: usize,
        /// What was wrong.
        reason: String,
    },
    /// `salt_hex` is not hex.
    #[error("field salt_hex is not hex: {0}")]
    Salt(#[source] hex::FromHexError),
    /// The inclusion proof fails against the checkpoint root.
    #[error("the leaf is not proven to be in the signed tree: {0}")]
    Inclusion(#[source] ProofError),
}
