//! hegui's gateway: the OpenAI-compatible API in front of a model server, and the request
//! path every chat request follows:
//!
//! identity gate → input review → upstream → output review (streaming too) → labeling → record.
//!
//! Each stage is a trait with one job ([`IdentityGate`], [`hegui_policy::Reviewer`],
//! [`ModelClient`], [`hegui_label::TextLabeler`], [`Recorder`]); [`Gateway`] composes them.
//! Architecture invariant: no SQL here (storage is behind `hegui-store`), no review logic
//! (behind `hegui-policy`).

mod admin;
mod app;
mod chat;
mod error;
mod escalation;
mod identity;
mod identity_api;
pub mod inspection;
mod ledger_api;
mod media;
mod media_api;
mod metrics;
mod ops;
mod record;
mod request;
mod stream;
mod upstream;

use std::future::Future;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use hegui_config::{ModelMapping, OnBlock};
use hegui_guard::GuardStage;
use hegui_label::TextLabeler;
use hegui_policy::{ReviewPolicy, Reviewer};
use hegui_store::Store;
use tokio::net::TcpListener;

pub use admin::{reload_from_file, reload_from_file_at, AdminSettings};
pub use app::{
    build, console, identity_service, identity_service_with, load_label_key, load_pi_keys,
    load_review, load_signer, load_watermark_key, media_labels, reload_review, write_private,
    BuildError, Built,
};
pub use error::ApiError;
pub use identity::{IdentityGate, Principal, Refusal, StoreGate};
pub use identity_api::{deletion_json, IdentityApi};
pub use media::{sha256_hex, LabeledImage, MediaError, MediaLabels, SpeechFormat};
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
    /// Suspend users whose prompts keep being flagged.
    pub escalation: hegui_config::Escalation,
    /// Send the `X-AIGC` header.
    pub label_header: bool,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Verification required before service (shown in `/identity/v1/status`).
    pub verification_level: hegui_config::VerificationLevel,
    /// Minors mode.
    pub minors: hegui_config::MinorsConfig,
}

/// Everything review needs, replaced as a whole on reload.
pub struct ReviewState {
    /// Lexicons, PII and classifier.
    pub reviewer: Arc<dyn Reviewer>,
    /// Actions and safe answers.
    pub policy: ReviewPolicy,
    /// Guard models, asked after the reviewer.
    pub guards: Vec<Arc<GuardStage>>,
}

impl ReviewState {
    /// A state with a reviewer, the default policy and no guards (for tests and tools).
    pub fn simple(reviewer: Arc<dyn Reviewer>) -> ReviewState {
        ReviewState {
            reviewer,
            policy: ReviewPolicy::default(),
            guards: Vec::new(),
        }
    }
}

/// The composed request path.
pub struct Gateway {
    /// Identity gate.
    pub identity: Arc<dyn IdentityGate>,
    /// Input and output review: the policy in force, swapped atomically on reload (requests
    /// in flight keep the one they started with).
    pub review: Arc<ArcSwap<ReviewState>>,
    /// Held by a review reload from build to swap, so reloads run one at a time and the last
    /// one started is the one left in force.
    pub reloading: tokio::sync::Mutex<()>,
    /// The model server.
    pub upstream: Arc<dyn ModelClient>,
    /// Labeling.
    pub labeler: Arc<dyn TextLabeler>,
    /// Labels on generated images and speech.
    pub media: Arc<MediaLabels>,
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
    /// The admin API.
    pub admin: AdminSettings,
    /// The real-name verification API (`None`: disabled).
    pub identity_api: Option<Arc<IdentityApi>>,
    /// The public complaint channel and the staff console (`None`: disabled).
    pub console: Option<Arc<hegui_console::Console>>,
}

/// The HTTP routes.
pub fn router(gw: Arc<Gateway>) -> Router {
    let limit = gw.settings.max_body_bytes;
    let console = gw.console.clone();
    let api = Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/images/generations", post(media_api::images))
        .route("/v1/audio/speech", post(media_api::speech))
        .route("/v1/models", get(ops::models))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/admin/review/reload", post(admin::reload))
        .route("/identity/v1/register", post(identity_api::register))
        .route("/identity/v1/status", get(identity_api::status))
        .route("/identity/v1/phone/start", post(identity_api::phone_start))
        .route(
            "/identity/v1/phone/confirm",
            post(identity_api::phone_confirm),
        )
        .route(
            "/identity/v1/consent",
            get(identity_api::consent_text)
                .post(identity_api::consent_give)
                .delete(identity_api::consent_withdraw),
        )
        .route("/identity/v1/id/verify", post(identity_api::id_verify))
        .route("/identity/v1/export", get(identity_api::export))
        .route("/identity/v1/delete", post(identity_api::delete))
        .route("/ledger/checkpoint", get(ledger_api::checkpoint))
        .route("/ledger/public-key", get(ledger_api::public_key))
        .route("/ledger/proof/inclusion", get(ledger_api::inclusion))
        .route("/ledger/proof/consistency", get(ledger_api::consistency))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(gw);
    match console {
        // Complaint forms and console pages are small: 64 KiB is far above any valid one.
        Some(c) => api.merge(hegui_console::router(c).layer(DefaultBodyLimit::max(64 * 1024))),
        None => api,
    }
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
    // The peer address feeds the per-address limits of the verification API.
    axum::serve(
        listener,
        router(gw).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
