//! The operator's admin API: `POST /admin/review/reload` re-reads the configuration file and
//! swaps in the review policy it names (lexicons, PII, classifier, policy rules, guards)
//! without dropping requests.
//!
//! Enabled only when an admin token is set (`HEGUI_ADMIN_TOKEN`); requests carry it as
//! `Authorization: Bearer <token>`, compared in constant time.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hegui_config::Config;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::Gateway;

/// Who may use the admin API and where the configuration lives.
#[derive(Debug, Clone, Default)]
pub struct AdminSettings {
    /// The admin bearer token; `None` disables the admin API.
    pub token: Option<String>,
    /// The configuration file to re-read on reload (`None`: defaults only).
    pub config_path: Option<PathBuf>,
}

fn answer(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

/// Handler: reloads the review policy.
pub(crate) async fn reload(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let Some(token) = gw.admin.token.as_deref() else {
        return answer(
            StatusCode::NOT_FOUND,
            "admin_disabled",
            "the admin API is disabled: set HEGUI_ADMIN_TOKEN to enable it (or send SIGHUP to reload)",
        );
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        return answer(
            StatusCode::UNAUTHORIZED,
            "invalid_admin_token",
            "send the admin token as `Authorization: Bearer <HEGUI_ADMIN_TOKEN>`",
        );
    }
    match reload_from_file(&gw, "admin-api").await {
        Ok(version) => (StatusCode::OK, Json(json!({"policy_version": version}))).into_response(),
        Err(message) => answer(StatusCode::UNPROCESSABLE_ENTITY, "reload_failed", message),
    }
}

/// Re-reads the configuration file and swaps in its review policy. On any error the policy in
/// force stays and the error says what to fix.
pub async fn reload_from_file(gw: &Gateway, actor: &str) -> Result<String, String> {
    reload_with(gw, gw.admin.config_path.as_deref(), actor).await
}

/// Like [`reload_from_file`], from the configuration file at `path`.
pub async fn reload_from_file_at(
    gw: &Gateway,
    path: &std::path::Path,
    actor: &str,
) -> Result<String, String> {
    reload_with(gw, Some(path), actor).await
}

async fn reload_with(
    gw: &Gateway,
    path: Option<&std::path::Path>,
    actor: &str,
) -> Result<String, String> {
    let cfg = Config::load(path)
        .map_err(|e| format!("configuration not reloaded, the policy in force stays: {e}"))?;
    let version = crate::app::reload_review(gw, &cfg, actor)
        .await
        .map_err(|e| format!("review policy not reloaded, the policy in force stays: {e}"))?;
    tracing::info!(policy_version = %version, actor, "review policy reloaded");
    Ok(version)
}
