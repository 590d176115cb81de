//! hegui's gateway: the OpenAI-compatible API in front of a model server, and the request
//! path every chat request follows:
//!
//! identity gate → input review → upstream → output review (streaming too) → labeling → record.
//!
//! Each stage is a trait with one job ([`IdentityGate`], [`hegui_policy::Reviewer`],
//! [`ModelClient`], [`hegui_label::TextLabeler`], [`Recorder`]); [`Gateway`] composes them.
//! Architecture invariant: no SQL here (storage is behind `hegui-store`), no review logic
//! (behind `hegui-policy`).

mod app;
mod chat;
mod error;
mod identity;
mod ledger_api;
mod metrics;
mod ops;
mod record;
mod request;
mod stream;
mod upstream;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use hegui_config::{ModelMapping, OnBlock};
use hegui_label::TextLabeler;
use hegui_policy::Reviewer;
use hegui_store::Store;
use tokio::net::TcpListener;

pub use app::{build, load_signer, write_private, BuildError, Built};
pub use error::ApiError;
pub use identity::{IdentityGate, Principal, Refusal, StoreGate};
pub use metrics::Metrics;
pub use record::Recorder;
pub use upstream::{ChunkStream, ModelClient, OpenAiClient, StreamItem, UpstreamError};

/// Settings the request path reads on every request.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Client-visible models; empty = pass any model name through.
    pub models: Vec<ModelMapping>,
    /// Review prompts.
    pub review_input: bool,
    /// Review outputs.
    pub review_output: bool,
    /// Response to a blocked prompt.
    pub on_block: OnBlock,
    /// The safe answer text.
    pub safe_answer: String,
    /// Send the `X-AIGC` header.
    pub label_header: bool,
    /// Largest request body.
    pub max_body_bytes: usize,
}

/// The composed request path.
pub struct Gateway {
    /// Identity gate.
    pub identity: Arc<dyn IdentityGate>,
    /// Input and output review.
    pub reviewer: Arc<dyn Reviewer>,
    /// The model server.
    pub upstream: Arc<dyn ModelClient>,
    /// Labeling.
    pub labeler: Arc<dyn TextLabeler>,
    /// Durable records.
    pub recorder: Arc<dyn Recorder>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The database, for readiness and the ledger endpoints.
    pub store: Store,
    /// The public key that signs the log's checkpoints.
    pub ledger_key: hegui_ledger::Verifier,
    /// Per-request settings.
    pub settings: Settings,
}

/// The HTTP routes.
pub fn router(gw: Arc<Gateway>) -> Router {
    let limit = gw.settings.max_body_bytes;
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/models", get(ops::models))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/ledger/checkpoint", get(ledger_api::checkpoint))
        .route("/ledger/public-key", get(ledger_api::public_key))
        .route("/ledger/proof/inclusion", get(ledger_api::inclusion))
        .route("/ledger/proof/consistency", get(ledger_api::consistency))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(gw)
}

/// Serves until `shutdown` resolves, then stops accepting and waits for in-flight requests
/// and streams to finish.
pub async fn serve(
    listener: TcpListener,
    gw: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold back the small writes of
    // a stream (and the last segment of a response) by up to 40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(gw))
        .with_graceful_shutdown(shutdown)
        .await
}
