//! The wire types of `hegui-inspection/1` (specified in `INSPECTION_BUNDLE.md`).
//!
//! Every struct is exactly what is on the wire and rejects unknown fields: a new field means
//! a new format id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `format` value of the manifest.
pub const INSPECTION_FORMAT: &str = "hegui-inspection/1";

/// Member names, in the order they appear in the archive.
pub mod members {
    /// The manifest (always the first member).
    pub const MANIFEST: &str = "manifest.json";
    /// Every leaf of the exported index range, one JSON object per line.
    pub const RECORDS: &str = "records.jsonl";
    /// The `purge` records that erased exported content but lie outside the range.
    pub const ERASURES: &str = "erasures.jsonl";
    /// The signed checkpoints issued in the period, with consistency proofs.
    pub const CHECKPOINTS: &str = "checkpoints.jsonl";
    /// CSV view of the interactions.
    pub const INTERACTIONS_CSV: &str = "interactions.csv";
    /// CSV view of complaints and their handling steps.
    pub const COMPLAINTS_CSV: &str = "complaints.csv";
    /// CSV view of staff actions.
    pub const STAFF_ACTIONS_CSV: &str = "staff_actions.csv";
    /// CSV view of the policy versions that came into force.
    pub const POLICY_VERSIONS_CSV: &str = "policy_versions.csv";

    /// Every member after the manifest, in archive order.
    pub const DATA: [&str; 7] = [
        RECORDS,
        ERASURES,
        CHECKPOINTS,
        INTERACTIONS_CSV,
        COMPLAINTS_CSV,
        STAFF_ACTIONS_CSV,
        POLICY_VERSIONS_CSV,
    ];
}

/// The period of the export: `from_ms <= at_ms < to_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// Start, inclusive (Unix ms).
    pub from_ms: i64,
    /// End, exclusive (Unix ms).
    pub to_ms: i64,
    /// `from_ms` as China time text (`YYYY-MM-DDTHH:MM:SS.mmm+08:00`).
    pub from: String,
    /// `to_ms` as China time text.
    pub to: String,
}

impl Period {
    /// A period with its text forms.
    pub fn new(from_ms: i64, to_ms: i64) -> Period {
        Period {
            from_ms,
            to_ms,
            from: china_time(from_ms),
            to: china_time(to_ms),
        }
    }

    /// True when `at_ms` lies in the period.
    pub fn contains(&self, at_ms: i64) -> bool {
        self.from_ms <= at_ms && at_ms < self.to_ms
    }
}

/// The exported leaf index range, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafRange {
    /// First leaf index in `records.jsonl`.
    pub first: u64,
    /// Last leaf index in `records.jsonl`.
    pub last: u64,
}

/// One member's size and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDigest {
    /// Member name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Hex SHA-256 of the member's bytes.
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`INSPECTION_FORMAT`].
    pub format: String,
    /// The period exported.
    pub period: Period,
    /// When the bundle was made (Unix ms).
    pub generated_at_ms: i64,
    /// `generated_at_ms` as China time text.
    pub generated_at: String,
    /// The program that made it, e.g. `hegui 0.1.0`.
    pub generator: String,
    /// The log's signed-note verifier key (`name+keyid+base64`); informational: a verifier
    /// uses the key it trusts, never this one.
    pub public_key: String,
    /// The signed checkpoint note every inclusion proof is against.
    pub checkpoint: String,
    /// The exported leaf index range; `null` when the period has no record.
    pub leaf_range: Option<LeafRange>,
    /// Records of the period per kind (disclosed and erased).
    pub counts: BTreeMap<String, u64>,
    /// Records of the period whose content was erased.
    pub erased: u64,
    /// Leaves in the range whose record lies outside the period (content withheld).
    pub outside_period: u64,
    /// Every other member, in archive order.
    pub members: Vec<MemberDigest>,
}

/// What a line of `records.jsonl` or `erasures.jsonl` carries besides its leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Content and salt are in the line.
    Disclosed,
    /// The content was erased (retention or an erasure request); the leaf remains.
    Erased,
    /// The record lies outside the period; its content is withheld.
    OutsidePeriod,
}

impl Status {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Disclosed => "disclosed",
            Status::Erased => "erased",
            Status::OutsidePeriod => "outside_period",
        }
    }
}

/// One line of `records.jsonl` / `erasures.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordLine {
    /// Index of the leaf in the log.
    pub leaf_index: u64,
    /// The leaf data (a `hegui-leaf/1` entry), exactly the bytes the leaf hash is taken of.
    pub leaf_data: String,
    /// RFC 9162 inclusion path against the manifest's checkpoint, leaf side first, hex.
    pub inclusion_proof: Vec<String>,
    /// Disclosed, erased or outside the period.
    pub status: Status,
    /// The record's canonical encoding (when disclosed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The commitment's salt, hex (when disclosed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt_hex: Option<String>,
    /// When the content was erased (when erased).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at_ms: Option<i64>,
    /// Why it was erased, as the `purge` record says (when erased).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure_reason: Option<String>,
}

/// One line of `checkpoints.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointLine {
    /// The signed checkpoint note.
    pub note: String,
    /// When it was issued (Unix ms, as stored; not signed).
    pub created_at_ms: i64,
    /// RFC 9162 consistency proof from this checkpoint to the next line's, the last line's to
    /// the manifest's checkpoint; hex.
    pub consistency_proof: Vec<String>,
}

/// Unix ms as China time (UTC+8) text, `YYYY-MM-DDTHH:MM:SS.mmm+08:00`; the bare number for
/// instants chrono cannot represent.
pub fn china_time(ms: i64) -> String {
    let Some(offset) = chrono::FixedOffset::east_opt(8 * 3600) else {
        return ms.to_string();
    };
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t
            .with_timezone(&offset)
            .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_time_is_utc_plus_8_with_milliseconds() {
        assert_eq!(china_time(0), "1970-01-01T08:00:00.000+08:00");
        assert_eq!(
            china_time(1_748_707_200_123),
            "2025-06-01T00:00:00.123+08:00"
        );
        assert_eq!(china_time(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let line =
            r#"{"leaf_index":0,"leaf_data":"x","inclusion_proof":[],"status":"erased","extra":1}"#;
        assert!(serde_json::from_str::<RecordLine>(line).is_err());
        let line = r#"{"leaf_index":0,"leaf_data":"x","inclusion_proof":[],"status":"gone"}"#;
        assert!(serde_json::from_str::<RecordLine>(line).is_err());
    }
}
