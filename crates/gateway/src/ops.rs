//! Operations endpoints and the model list.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::Gateway;

/// Liveness: the process answers.
pub(crate) async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers.
pub(crate) async fn readyz(State(gw): State<Arc<Gateway>>) -> Response {
    match gw.store.ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": "database unreachable"})),
            )
                .into_response()
        }
    }
}

/// Prometheus text exposition.
pub(crate) async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        gw.metrics.encode(),
    )
        .into_response()
}

/// `GET /v1/models`: the configured models, or the upstream's list when none are configured.
/// Like OpenAI's, it needs an API key (and here a user who may be served).
pub(crate) async fn models(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if let Err(refusal) = gw.identity.admit(auth).await {
        return refusal.error.into_response();
    }
    if !gw.settings.models.is_empty() {
        let data: Vec<_> = gw
            .settings
            .models
            .iter()
            .map(|m| json!({"id": m.name, "object": "model", "created": 0, "owned_by": "hegui"}))
            .collect();
        return Json(json!({"object": "list", "data": data})).into_response();
    }
    match gw.upstream.models().await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.to_api().into_response(),
    }
}
