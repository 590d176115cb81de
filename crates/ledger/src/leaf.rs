//! What a leaf of hegui's log says: the leaf data format `hegui-leaf/1`.
//!
//! A leaf never holds a record's content. It names the record (kind, id, time) and commits to
//! it with `commitment = SHA-256(salt || canonical record bytes)`, hex. The content and salt
//! are stored apart and can be erased at the end of retention; the leaf, and so every proof,
//! stays valid. Whoever is shown the record and its salt can recompute the commitment.
//!
//! Encoding: compact JSON with the fields in this order:
//! `{"format":"hegui-leaf/1","kind":…,"id":…,"at_ms":…,"commitment":…}`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hash::Hash;

/// The `format` value of this leaf encoding.
pub const LEAF_FORMAT: &str = "hegui-leaf/1";

/// The content of one leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafEntry {
    /// Always [`LEAF_FORMAT`].
    pub format: String,
    /// Record kind, e.g. `interaction`, `user_event`, `policy_change`, `purge`.
    pub kind: String,
    /// The record's id.
    pub id: String,
    /// When the record was created (Unix ms).
    pub at_ms: i64,
    /// Hex SHA-256 of salt || canonical record bytes.
    pub commitment: String,
}

/// `SHA-256(salt || content)`.
pub fn commitment(salt: &[u8], content: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(content);
    h.finalize().into()
}

impl LeafEntry {
    /// A leaf for a record, committing to its salted content.
    pub fn new(kind: &str, id: &str, at_ms: i64, salt: &[u8], content: &[u8]) -> LeafEntry {
        LeafEntry {
            format: LEAF_FORMAT.to_string(),
            kind: kind.to_string(),
            id: id.to_string(),
            at_ms,
            commitment: hex::encode(commitment(salt, content)),
        }
    }

    /// The leaf data bytes (what `leaf_hash` is taken of).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses leaf data.
    pub fn decode(data: &[u8]) -> Result<LeafEntry, serde_json::Error> {
        serde_json::from_slice(data)
    }

    /// True when `salt` and `content` are what this leaf commits to.
    pub fn commits_to(&self, salt: &[u8], content: &[u8]) -> bool {
        hex::encode(commitment(salt, content)) == self.commitment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_encoding_is_pinned_and_commits_to_salted_content() {
        let l = LeafEntry::new("interaction", "r1", 5, b"salt", b"{}");
        assert_eq!(
            String::from_utf8(l.encode()).unwrap(),
            format!(
                r#"{{"format":"hegui-leaf/1","kind":"interaction","id":"r1","at_ms":5,"commitment":"{}"}}"#,
                hex::encode(Sha256::digest(b"salt{}"))
            )
        );
        assert_eq!(LeafEntry::decode(&l.encode()).unwrap(), l);
        assert!(l.commits_to(b"salt", b"{}"));
        assert!(!l.commits_to(b"salt", b"{ }"));
        assert!(!l.commits_to(b"pepper", b"{}"));
    }
}

/// Checks what a verified bundle discloses: the leaf must be a `hegui-leaf/1` entry and, when
/// the bundle carries the record (a JSON string with the canonical encoding) and its salt,
/// they must be what the leaf commits to. Returns the entry and the record text, if disclosed.
pub fn check_disclosure(
    v: &crate::VerifiedBundle,
) -> Result<(LeafEntry, Option<String>), DisclosureError> {
    let entry = LeafEntry::decode(&v.leaf_data)
        .map_err(|e| DisclosureError::NotALeafEntry(e.to_string()))?;
    match (&v.record, &v.salt) {
        (None, None) => Ok((entry, None)),
        (Some(serde_json::Value::String(text)), Some(salt)) => {
            if entry.commits_to(salt, text.as_bytes()) {
                Ok((entry, Some(text.clone())))
            } else {
                Err(DisclosureError::CommitmentMismatch)
            }
        }
        (Some(serde_json::Value::String(_)), None) | (None, Some(_)) => {
            Err(DisclosureError::Incomplete)
        }
        (Some(_), _) => Err(DisclosureError::RecordNotAString),
    }
}

/// Why a bundle's disclosed record does not check out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DisclosureError {
    /// The leaf data is not a `hegui-leaf/1` entry.
    #[error("the leaf data is not a hegui-leaf/1 entry: {0}")]
    NotALeafEntry(String),
    /// Record and salt do not hash to the leaf's commitment.
    #[error(
        "the disclosed record and salt do not match the leaf's commitment: the record was altered"
    )]
    CommitmentMismatch,
    /// Only one of record and salt is present.
    #[error("the bundle discloses a record without its salt, or a salt without its record")]
    Incomplete,
    /// `record` is not a JSON string holding the canonical encoding.
    #[error("`record` must be a JSON string holding the record's canonical encoding")]
    RecordNotAString,
}
