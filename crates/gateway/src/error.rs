//! One error type for everything the API can answer with, knowing its HTTP status and its
//! OpenAI-style body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hegui_types::Outcome;

/// An error answered to the client in OpenAI's format:
/// `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// OpenAI error type, e.g. `invalid_request_error`.
    pub kind: &'static str,
    /// Machine-readable code, e.g. `invalid_api_key`.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// The request parameter at fault, if any.
    pub param: Option<&'static str>,
    /// How the request is recorded.
    pub outcome: Outcome,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, message: String) -> Self {
        ApiError {
            status,
            kind,
            code,
            message,
            param: None,
            outcome: Outcome::Rejected,
        }
    }

    /// 400: the body is not what the API expects.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message.into(),
        )
    }

    /// 401: missing, unknown or revoked API key.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            code,
            message.into(),
        )
    }

    /// 403: the user may not be served (unverified, suspended).
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            code,
            message.into(),
        )
    }

    /// 404: unknown model.
    pub fn model_not_found(model: &str, known: &[String]) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!(
                "The model `{model}` does not exist here; available models: {}",
                known.join(", ")
            ),
        );
        e.param = Some("model");
        e
    }

    /// 413: body over the configured limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!(
                "The request body exceeds the limit of {limit} bytes; shorten the conversation"
            ),
        )
    }

    /// 400 `content_policy_violation`: input review blocked the prompt.
    pub fn policy_violation(risks: &[String]) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "content_policy_violation",
            format!(
                "Your request was rejected by content review (risk: {}). Rephrase the request.",
                if risks.is_empty() {
                    "unspecified".to_string()
                } else {
                    risks.join(", ")
                }
            ),
        );
        e.param = Some("messages");
        e.outcome = Outcome::BlockedInput;
        e
    }

    /// 502/504: the upstream model failed.
    pub fn upstream(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new(status, "upstream_error", code, message.into());
        e.outcome = Outcome::UpstreamError;
        e
    }

    /// 503: the record could not be written, so the answer is withheld.
    pub fn record_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "record_unavailable",
            "The interaction could not be recorded, so it was not served; retry shortly".into(),
        )
    }

    /// The OpenAI-style JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}
