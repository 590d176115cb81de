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
    /// A real-name verification result (never the personal data itself): body `{user_id,
    /// method, result, provider, reason?}`.
    pub const IDENTITY_CHECK: &str = "identity_check";
    /// A complaint received: body `{receipt, category, target, description_hash}`.
    pub const COMPLAINT: &str = "complaint";
    /// A step in handling a complaint: body `{receipt, from_state, to_state, action?, reason}`.
    pub const COMPLAINT_STEP: &str = "complaint_step";
    /// Any other action by compliance staff: body `{action, target, details}`.
    pub const STAFF_ACTION: &str = "staff_action";
    /// A serious incident opened or a step on its timeline: body `{incident_id, event, ...}`
    /// (`opened` carries title, severity, times, impact, measures; later events a note and,
    /// for `reported`, the regulator's reference).
    pub const INCIDENT: &str = "incident";
    /// A training-data audit (Article 7): body `{manifest_sha256, seed, verdict,
    /// reproduction_command, sources: [{name, items, scanned, harmful, pii_items, verdict}],
    /// input_files: [{path, sha256}]}`.
    pub const TRAINING_AUDIT: &str = "training_audit";
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
    /// A new entry of `kind`, stamped now with a fresh time-ordered id.
    pub fn new(kind: &str, actor: &str, body: serde_json::Value) -> JournalEntry {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        JournalEntry {
            v: JOURNAL_ENCODING_VERSION,
            kind: kind.to_string(),
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: now,
            actor: actor.to_string(),
            body,
        }
    }

    /// The canonical encoding.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // serde_json's Value keeps object keys sorted (no preserve_order), so this is stable.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_encoding_is_pinned() {
        let e = JournalEntry {
            v: 1,
            kind: kinds::STAFF_ACTION.into(),
            id: "x".into(),
            at_ms: 7,
            actor: "cli:alice".into(),
            body: serde_json::json!({"target": "usr_1", "action": "suspend"}),
        };
        assert_eq!(
            String::from_utf8(e.canonical_bytes()).unwrap(),
            r#"{"v":1,"kind":"staff_action","id":"x","at_ms":7,"actor":"cli:alice","body":{"action":"suspend","target":"usr_1"}}"#
        );
        let n = JournalEntry::new(kinds::COMPLAINT, "web", serde_json::json!({}));
        assert!(n.at_ms > 1_700_000_000_000 && n.id.len() == 36);
    }
}
