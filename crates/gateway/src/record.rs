//! The record stage: one record per request, whatever its outcome, written durably before
//! the response completes.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use hegui_store::{RecordWriter, StoreError};
use hegui_types::{Decision, InteractionRecord, Outcome, RECORD_ENCODING_VERSION};

use crate::Gateway;

/// Writes records durably.
#[async_trait]
pub trait Recorder: Send + Sync + 'static {
    /// Returns once the record is durable.
    async fn record(&self, record: InteractionRecord) -> Result<(), StoreError>;
}

#[async_trait]
impl Recorder for RecordWriter {
    async fn record(&self, record: InteractionRecord) -> Result<(), StoreError> {
        self.write(record).await
    }
}

/// The record of one request as it is being handled.
pub(crate) struct Tracker {
    pub gw: Arc<Gateway>,
    pub start: Instant,
    pub upstream_start: Option<Instant>,
    pub record: InteractionRecord,
}

impl Tracker {
    pub fn new(gw: Arc<Gateway>) -> Tracker {
        Tracker {
            gw,
            start: Instant::now(),
            upstream_start: None,
            record: InteractionRecord {
                v: RECORD_ENCODING_VERSION,
                id: uuid::Uuid::now_v7().to_string(),
                received_at_ms: chrono::Utc::now().timestamp_millis(),
                user_id: None,
                key_id: None,
                endpoint: "chat.completions".into(),
                model: None,
                upstream_model: None,
                stream: false,
                outcome: Outcome::Rejected,
                status: 0,
                error_code: None,
                error: None,
                input: serde_json::Value::Null,
                output: None,
                finish_reason: None,
                decisions: Vec::new(),
                label: None,
                usage: None,
                latency_us: 0,
                upstream_us: None,
            },
        }
    }

    pub fn decision(&mut self, d: Decision) {
        self.gw.metrics.decision(&d);
        self.record.decisions.push(d);
    }

    pub fn upstream_started(&mut self) {
        self.upstream_start = Some(Instant::now());
    }

    pub fn upstream_ended(&mut self) {
        if let Some(s) = self.upstream_start {
            self.record.upstream_us = Some(s.elapsed().as_micros() as u64);
        }
    }

    pub fn error(&mut self, code: &str, message: &str) {
        self.record.error_code = Some(code.to_string());
        self.record.error = Some(message.to_string());
    }

    /// Writes the record; returns whether it is durable.
    pub async fn finish(mut self, outcome: Outcome, status: u16) -> bool {
        self.record.outcome = outcome;
        self.record.status = status;
        self.record.latency_us = self.start.elapsed().as_micros() as u64;
        let id = self.record.id.clone();
        let user = self.record.user_id.clone();
        let upstream_us = self.record.upstream_us;
        let written = match self.gw.recorder.record(self.record).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(record = %id, error = %e, "record not written");
                false
            }
        };
        let total_us = self.start.elapsed().as_micros() as u64;
        self.gw
            .metrics
            .request(outcome, status, total_us, upstream_us);
        tracing::info!(
            record = %id,
            user = user.as_deref().unwrap_or("-"),
            outcome = outcome.as_str(),
            status,
            latency_us = total_us,
            upstream_us = upstream_us.unwrap_or(0),
            written,
            "chat request"
        );
        written
    }
}
