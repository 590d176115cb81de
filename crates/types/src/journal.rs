use serde::{Deserialize, Serialize};

/// Version of the canonical encoding of [`JournalEntry`].
pub const JOURNAL_ENCODING_VERSION: u32 = 1;

/// Kinds of compliance records other than interactions. Each has the same envelope
/// ([`JournalEntry`]); its `body` is documented with the constant.
pub mod kinds {
    /// An interaction ([`crate::InteractionRecord`], its own encoding).
    pub const INTERACTION: &str = "interaction";
    /// An operator action on an end-user account: body `{user_id, event, reason}` where event
    /// is created, verified, unverified, suspended, unsuspended, key_created, key_revoked.
    pub const USER_EVENT: &str = "user_event";
    /// The policy data or configuration in force changed: body `{policy_version, lexicons,
    /// review, models}`.
    pub const POLICY_CHANGE: &str = "policy_change";
    /// Content was erased: body `{reason, record_ids}`.
    pub const PURGE: &str = "purge";
    /// A legal hold was placed or released: body `{hold_id, user_id?, record_id?, reason, released}`.
    pub const LEGAL_HOLD: &str = "legal_hold";
}

/// Envelope of every non-interaction compliance record.
///
/// Canonical encoding: compact JSON, fields in declaration order, `body` object keys sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalEntry {
    /// Encoding version ([`JOURNAL_ENCODING_VERSION`]).
    pub v: u32,
    /// One of [`kinds`].
    pub kind: String,
    /// Record id (UUIDv7).
    pub id: String,
    /// Unix ms.
    pub at_ms: i64,
    /// Who did it (`cli:alice`, `gateway`, ...).
    pub actor: String,
    /// Kind-specific content.
    pub body: serde_json::Value,
}

impl JournalEntry {
    /// The canonical encoding.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // serde_json's Value keeps object keys sorted (no preserve_order), so this is stable.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}
