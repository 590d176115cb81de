//! Self-contained inclusion proof bundles (`hegui-proof-bundle/1`, specified in `BUNDLE.md`).
//!
//! A bundle lets someone who holds only the log's public key check, offline and without
//! hegui, that one leaf is in the signed log: it carries the leaf data, its audit path and
//! a signed checkpoint. The wire struct keeps every field as the string that is on the wire,
//! so a rejection can name the exact field and position that was wrong; [`Bundle::verify`]
//! decodes and checks everything and returns the typed result. What the leaf bytes commit to
//! (a salted record, say) is the caller's business: here they are opaque.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::error::BundleError;
use crate::hash::{leaf_hash, Hash};
use crate::merkle::verify_inclusion;
use crate::note::Verifier;

/// The `format` value of this version of the bundle.
pub const BUNDLE_FORMAT: &str = "hegui-proof-bundle/1";

/// A proof bundle exactly as it appears in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// Index of the leaf in the log.
    pub leaf_index: u64,
    /// Size of the tree the proof and checkpoint are for.
    pub tree_size: u64,
    /// The leaf data (standard padded base64); the tree holds `leaf_hash` of it.
    pub leaf_data_b64: String,
    /// The RFC 9162 audit path, leaf side first, each hash as 64 hex digits.
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint note for `tree_size`.
    pub checkpoint: String,
    /// The record the leaf data commits to, if disclosed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
    /// The salt of that commitment, if disclosed (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt_hex: Option<String>,
    /// Verifier key string of the log key that signed the checkpoint.
    pub public_key: String,
}

/// What a successfully verified bundle proves.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedBundle {
    /// The signed checkpoint (check its `origin` if you trust the key for several logs).
    pub checkpoint: Checkpoint,
    /// Index of the leaf.
    pub leaf_index: u64,
    /// The leaf data.
    pub leaf_data: Vec<u8>,
    /// `leaf_hash(leaf_data)`, proven to be in the tree.
    pub leaf_hash: Hash,
    /// The disclosed record, unchecked here.
    pub record: Option<serde_json::Value>,
    /// The disclosed salt, decoded, unchecked here.
    pub salt: Option<Vec<u8>>,
}

impl Bundle {
    /// Assembles a bundle from typed parts.
    pub fn new(
        leaf_index: u64,
        tree_size: u64,
        leaf_data: &[u8],
        proof: &[Hash],
        checkpoint_note: impl Into<String>,
        key: &Verifier,
    ) -> Self {
        Self {
            format: BUNDLE_FORMAT.to_owned(),
            leaf_index,
            tree_size,
            leaf_data_b64: STANDARD.encode(leaf_data),
            inclusion_proof: proof.iter().map(hex::encode).collect(),
            checkpoint: checkpoint_note.into(),
            record: None,
            salt_hex: None,
            public_key: key.key_string(),
        }
    }

    /// Adds the record the leaf commits to.
    pub fn with_record(mut self, record: serde_json::Value) -> Self {
        self.record = Some(record);
        self
    }

    /// Adds the salt of the commitment.
    pub fn with_salt(mut self, salt: &[u8]) -> Self {
        self.salt_hex = Some(hex::encode(salt));
        self
    }

    /// Parses a bundle from JSON (unknown fields are rejected).
    pub fn from_json(json: &str) -> Result<Self, BundleError> {
        Ok(serde_json::from_str(json)?)
    }

    /// The bundle as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, BundleError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Checks the bundle against the log key the caller trusts.
    ///
    /// In order: the format; that `public_key` is `trusted`; the checkpoint signature by
    /// `trusted`; that `tree_size` is the checkpoint's size; and the inclusion proof of
    /// `leaf_hash(leaf_data)` at `leaf_index` against the checkpoint's root.
    pub fn verify(&self, trusted: &Verifier) -> Result<VerifiedBundle, BundleError> {
        if self.format != BUNDLE_FORMAT {
            return Err(BundleError::UnsupportedFormat {
                found: self.format.clone(),
            });
        }
        let key = Verifier::from_key_string(&self.public_key).map_err(BundleError::PublicKey)?;
        if key != *trusted {
            return Err(BundleError::UntrustedKey {
                found: key.key_string(),
                trusted: trusted.key_string(),
            });
        }
        let checkpoint =
            Checkpoint::open(&self.checkpoint, trusted).map_err(BundleError::Checkpoint)?;
        if checkpoint.size != self.tree_size {
            return Err(BundleError::TreeSizeMismatch {
                bundle: self.tree_size,
                checkpoint: checkpoint.size,
            });
        }
        let leaf_data = STANDARD
            .decode(&self.leaf_data_b64)
            .map_err(BundleError::LeafData)?;
        let proof = self
            .inclusion_proof
            .iter()
            .enumerate()
            .map(|(position, h)| {
                decode_hash(h).map_err(|reason| BundleError::ProofHash { position, reason })
            })
            .collect::<Result<Vec<Hash>, _>>()?;
        let salt = self
            .salt_hex
            .as_deref()
            .map(hex::decode)
            .transpose()
            .map_err(BundleError::Salt)?;
        let leaf = leaf_hash(&leaf_data);
        verify_inclusion(
            &leaf,
            self.leaf_index,
            self.tree_size,
            &proof,
            &checkpoint.root,
        )
        .map_err(BundleError::Inclusion)?;
        Ok(VerifiedBundle {
            checkpoint,
            leaf_index: self.leaf_index,
            leaf_data,
            leaf_hash: leaf,
            record: self.record.clone(),
            salt,
        })
    }
}

fn decode_hash(s: &str) -> Result<Hash, String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out)
        .map_err(|e| format!("expected 64 hex digits (a SHA-256 hash): {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{CheckpointError, ProofError};
    use crate::merkle::{inclusion_proof, MemoryTree};
    use crate::note::Signer;

    struct Fixture {
        signer: Signer,
        bundle: Bundle,
    }

    fn fixture() -> Fixture {
        let signer = Signer::from_seed("example.com/hegui", [5; 32]).unwrap();
        let mut tree = MemoryTree::new();
        for i in 0u8..13 {
            tree.append_data(&[b'r', i]).unwrap();
        }
        let proof = inclusion_proof(&tree, 6, 13).unwrap();
        let note = Checkpoint::new("example.com/hegui", 13, tree.root())
            .sign(&signer)
            .unwrap();
        let bundle = Bundle::new(6, 13, &[b'r', 6], &proof, note, &signer.verifier())
            .with_record(serde_json::json!({"id": "r6"}))
            .with_salt(&[0xab; 16]);
        Fixture { signer, bundle }
    }

    #[test]
    fn round_trips_through_json_and_verifies() {
        let f = fixture();
        let json = f.bundle.to_json().unwrap();
        let parsed = Bundle::from_json(&json).unwrap();
        assert_eq!(parsed, f.bundle);
        let v = parsed.verify(&f.signer.verifier()).unwrap();
        assert_eq!(v.leaf_index, 6);
        assert_eq!(v.leaf_data, vec![b'r', 6]);
        assert_eq!(v.checkpoint.size, 13);
        assert_eq!(v.salt, Some(vec![0xab; 16]));
        assert_eq!(v.record, Some(serde_json::json!({"id": "r6"})));
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let mut b = fixture();
        b.bundle.record = None;
        b.bundle.salt_hex = None;
        let json = b.bundle.to_json().unwrap();
        assert!(!json.contains("record") && !json.contains("salt_hex"));
        Bundle::from_json(&json)
            .unwrap()
            .verify(&b.signer.verifier())
            .unwrap();
    }

    #[test]
    fn unknown_fields_and_other_formats_are_rejected() {
        let f = fixture();
        let mut value = serde_json::to_value(&f.bundle).unwrap();
        value["extra"] = serde_json::json!(1);
        assert!(matches!(
            Bundle::from_json(&value.to_string()),
            Err(BundleError::Json(_))
        ));
        let mut b = f.bundle.clone();
        b.format = "hegui-proof-bundle/2".to_owned();
        assert!(matches!(
            b.verify(&f.signer.verifier()),
            Err(BundleError::UnsupportedFormat { .. })
        ));
    }

    #[test]
    fn each_tampering_is_caught_with_the_field_named() {
        let f = fixture();
        let trusted = f.signer.verifier();

        let mut b = f.bundle.clone();
        b.tree_size = 12;
        assert!(matches!(
            b.verify(&trusted),
            Err(BundleError::TreeSizeMismatch {
                bundle: 12,
                checkpoint: 13
            })
        ));

        let mut b = f.bundle.clone();
        b.leaf_data_b64 = STANDARD.encode([b'r', 7]);
        assert!(matches!(
            b.verify(&trusted),
            Err(BundleError::Inclusion(ProofError::RootMismatch { .. }))
        ));

        let mut b = f.bundle.clone();
        b.leaf_index = 7;
        assert!(matches!(b.verify(&trusted), Err(BundleError::Inclusion(_))));

        let mut b = f.bundle.clone();
        b.inclusion_proof[1] = "00".repeat(32);
        assert!(matches!(b.verify(&trusted), Err(BundleError::Inclusion(_))));

        let mut b = f.bundle.clone();
        b.inclusion_proof.pop();
        assert!(matches!(
            b.verify(&trusted),
            Err(BundleError::Inclusion(ProofError::WrongLength { .. }))
        ));

        let mut b = f.bundle.clone();
        b.inclusion_proof[2] = "zz".repeat(32);
        let err = b.verify(&trusted).unwrap_err();
        assert!(matches!(err, BundleError::ProofHash { position: 2, .. }));
        assert!(err.to_string().contains("inclusion_proof[2]"));

        let mut b = f.bundle.clone();
        b.leaf_data_b64 = "***".to_owned();
        assert!(matches!(b.verify(&trusted), Err(BundleError::LeafData(_))));

        let mut b = f.bundle.clone();
        b.salt_hex = Some("xyz".to_owned());
        assert!(matches!(b.verify(&trusted), Err(BundleError::Salt(_))));

        let mut b = f.bundle.clone();
        b.checkpoint = b.checkpoint.replacen("\n13\n", "\n14\n", 1);
        assert!(matches!(
            b.verify(&trusted),
            Err(BundleError::Checkpoint(
                CheckpointError::BadSignature { .. }
            ))
        ));
    }

    #[test]
    fn a_bundle_under_another_key_is_rejected() {
        let f = fixture();
        let other = Signer::from_seed("example.com/hegui", [6; 32]).unwrap();
        assert!(matches!(
            f.bundle.verify(&other.verifier()),
            Err(BundleError::UntrustedKey { .. })
        ));
        // Claiming the trusted key does not help: the checkpoint signature is checked.
        let mut b = f.bundle.clone();
        b.public_key = other.verifier_string();
        assert!(matches!(
            b.verify(&other.verifier()),
            Err(BundleError::Checkpoint(
                CheckpointError::NoSignatureByKey { .. }
            ))
        ));
        let mut b = f.bundle.clone();
        b.public_key = "nonsense".to_owned();
        assert!(matches!(
            b.verify(&f.signer.verifier()),
            Err(BundleError::PublicKey(_))
        ));
    }
}
