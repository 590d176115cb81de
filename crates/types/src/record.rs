use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AigcLabel, Decision};

/// Version of the canonical encoding of [`InteractionRecord`]; bump it when a field changes.
pub const RECORD_ENCODING_VERSION: u32 = 1;

/// How a request ended. Every request that reaches the gateway ends in exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The model's answer was delivered (possibly masked or flagged).
    Served,
    /// The request was refused before identity or review (malformed, too large, bad key...).
    Rejected,
    /// Input review blocked the prompt; no model call was made.
    BlockedInput,
    /// Output review stopped the answer (`finish_reason: "content_filter"`).
    BlockedOutput,
    /// The upstream model failed (unreachable, error status, timeout, malformed stream).
    UpstreamError,
    /// The client went away before the answer was delivered.
    ClientDisconnect,
}

impl Outcome {
    /// The snake_case name used in storage and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Served => "served",
            Outcome::Rejected => "rejected",
            Outcome::BlockedInput => "blocked_input",
            Outcome::BlockedOutput => "blocked_output",
            Outcome::UpstreamError => "upstream_error",
            Outcome::ClientDisconnect => "client_disconnect",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Served,
            Outcome::Rejected,
            Outcome::BlockedInput,
            Outcome::BlockedOutput,
            Outcome::UpstreamError,
            Outcome::ClientDisconnect,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// One record per request: who (pseudonymously), when, what went in, what came out, every
/// review decision with its policy version, the label fields and the timings.
///
/// The canonical encoding ([`InteractionRecord::canonical_bytes`]) is compact JSON with the
/// fields in declaration order; it is what the tamper-evident log will commit to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractionRecord {
    /// Encoding version ([`RECORD_ENCODING_VERSION`]).
    pub v: u32,
    /// Record id (UUIDv7, time-ordered).
    pub id: String,
    /// Unix time in milliseconds when the request arrived.
    pub received_at_ms: i64,
    /// Pseudonymous user id (`usr_…`); absent when the key was missing or unknown.
    pub user_id: Option<String>,
    /// Id of the API key used (`key_…`), never the key itself.
    pub key_id: Option<String>,
    /// API endpoint, e.g. `chat.completions`.
    pub endpoint: String,
    /// Model name the client asked for.
    pub model: Option<String>,
    /// Model name sent upstream after mapping.
    pub upstream_model: Option<String>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// How the request ended.
    pub outcome: Outcome,
    /// HTTP status returned to the client.
    pub status: u16,
    /// Machine-readable reason for a non-served outcome (e.g. `invalid_api_key`).
    pub error_code: Option<String>,
    /// Human-readable detail of the error.
    pub error: Option<String>,
    /// The request's messages as received.
    pub input: serde_json::Value,
    /// The assistant text exactly as delivered to the client, labels included.
    pub output: Option<String>,
    /// The finish reason delivered to the client.
    pub finish_reason: Option<String>,
    /// Every review decision, input first.
    pub decisions: Vec<Decision>,
    /// The GB 45438 implicit label fields sent with the response.
    pub label: Option<AigcLabel>,
    /// Token usage reported by the upstream, when it reported any.
    pub usage: Option<serde_json::Value>,
    /// Total time in the gateway, in microseconds.
    pub latency_us: u64,
    /// Time spent waiting for the upstream (first byte to last), in microseconds.
    pub upstream_us: Option<u64>,
}

impl InteractionRecord {
    /// The canonical encoding: compact JSON, fields in declaration order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serialising a plain struct of owned data cannot fail; fall back to an empty
        // object rather than panic if serde_json ever says otherwise.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// SHA-256 of the canonical encoding, hex.
    pub fn content_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes()))
    }

    /// Parses a canonical encoding back into a record.
    pub fn from_canonical(bytes: &[u8]) -> Result<InteractionRecord, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Stage};

    #[test]
    fn canonical_encoding_round_trips_and_hash_changes_with_any_field() {
        let r = InteractionRecord {
            v: RECORD_ENCODING_VERSION,
            id: "rec".into(),
            received_at_ms: 1,
            user_id: Some("usr_1".into()),
            key_id: None,
            endpoint: "chat.completions".into(),
            model: Some("m".into()),
            upstream_model: Some("m".into()),
            stream: true,
            outcome: Outcome::Served,
            status: 200,
            error_code: None,
            error: None,
            input: serde_json::json!([{"role":"user","content":"你好"}]),
            output: Some("hi".into()),
            finish_reason: Some("stop".into()),
            decisions: vec![Decision::allow(Stage::Input, "v")],
            label: None,
            usage: None,
            latency_us: 5,
            upstream_us: Some(3),
        };
        let bytes = r.canonical_bytes();
        assert_eq!(InteractionRecord::from_canonical(&bytes).unwrap(), r);
        let mut r2 = r.clone();
        r2.decisions[0].action = Action::Flag;
        assert_ne!(r.content_hash(), r2.content_hash());
        assert_eq!(
            Outcome::parse("client_disconnect"),
            Some(Outcome::ClientDisconnect)
        );
    }
}
