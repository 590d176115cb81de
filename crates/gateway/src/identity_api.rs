//! The real-name verification API for end users, `/identity/v1/…` (Article 12).
//!
//! Every call but `register` and `GET consent` carries the user's API key; an unverified user
//! may use these routes (that is how they get verified) but not the model. Handlers are thin:
//! parse, call [`IdentityService`], map its error to a status.
//!
//! | route | what |
//! |---|---|
//! | `POST /identity/v1/register` | new account + first API key (`open_registration`) |
//! | `GET /identity/v1/status` | factors verified, masked numbers, minors mode, consent |
//! | `POST /identity/v1/phone/start` | send a one-time code to `{phone}` |
//! | `POST /identity/v1/phone/confirm` | check `{code}` |
//! | `GET /identity/v1/consent` | the separate-consent text and version |
//! | `POST /identity/v1/consent` | agree to `{version}`; `DELETE` withdraws |
//! | `POST /identity/v1/id/verify` | `{name, id_number}` checked with the identity authority |
//! | `GET /identity/v1/export` | everything held about the account (PIPL Art. 45) |
//! | `POST /identity/v1/delete` | `{confirm: true}`: delete the account (PIPL Art. 47) |

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hegui_console::RateLimiter;
use hegui_identity::service::{IdentityError, IdentityService};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::Gateway;

/// The verification API's state.
pub struct IdentityApi {
    /// The flows.
    pub service: Arc<IdentityService>,
    /// Anyone may register.
    pub open_registration: bool,
    /// Registrations per address per hour.
    pub register_per_ip_per_hour: u32,
    /// Header with the client address behind a proxy.
    pub client_ip_header: Option<String>,
    registrations: RateLimiter,
}

impl IdentityApi {
    /// The API over `service`.
    pub fn new(
        service: Arc<IdentityService>,
        open_registration: bool,
        register_per_ip_per_hour: u32,
        client_ip_header: Option<String>,
    ) -> Self {
        IdentityApi {
            service,
            open_registration,
            register_per_ip_per_hour,
            client_ip_header,
            registrations: RateLimiter::new(register_per_ip_per_hour, Duration::from_secs(3600)),
        }
    }

    fn client_ip(&self, headers: &HeaderMap, ext: &Extensions) -> String {
        hegui_console::client_ip(self.client_ip_header.as_deref(), headers, ext)
    }

    /// Counts a registration from `ip`; `Err(seconds)` when over the hourly limit.
    fn admit_registration(&self, ip: &str) -> Result<(), u64> {
        self.registrations.admit(ip)
    }
}

fn error_response(e: IdentityError) -> Response {
    let (status, kind, code): (StatusCode, &str, &str) = match &e {
        IdentityError::Invalid(f) => {
            let mut api = ApiError::bad_request(f.rule, e.to_string());
            api.param = Some(f.field);
            return api.into_response();
        }
        IdentityError::RateLimited { retry_after_s, .. } => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(api_body("rate_limit_error", "rate_limited", &e.to_string())),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                r.headers_mut().insert("retry-after", v);
            }
            return r;
        }
        IdentityError::CodeNotRequested => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "code_not_requested",
        ),
        IdentityError::CodeExpired => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "code_expired",
        ),
        IdentityError::CodeWrong { .. } => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "code_wrong",
        ),
        IdentityError::TooManyAttempts => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "code_attempts_exhausted",
        ),
        IdentityError::ConsentRequired { .. } => (
            StatusCode::FORBIDDEN,
            "permission_error",
            "consent_required",
        ),
        IdentityError::StaleConsent { .. } => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "stale_consent_version",
        ),
        IdentityError::NoMatch => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            "identity_mismatch",
        ),
        IdentityError::Provider(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "verification_unavailable",
        ),
        IdentityError::NotConfigured(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "verification_not_configured",
        ),
        IdentityError::Conflict(_) => (
            StatusCode::CONFLICT,
            "invalid_request_error",
            "already_verified_elsewhere",
        ),
        IdentityError::UnknownUser(_) => (
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "unknown_account",
        ),
        IdentityError::Deleted(_) => (StatusCode::GONE, "invalid_request_error", "account_deleted"),
        IdentityError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "storage_unavailable",
        ),
        IdentityError::Crypto(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", "pi_keys"),
    };
    if status.is_server_error() {
        tracing::error!(error = %e, code, "identity request failed");
    }
    (status, Json(api_body(kind, code, &e.to_string()))).into_response()
}

fn api_body(kind: &str, code: &str, message: &str) -> serde_json::Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// Parses a JSON body into `T`, naming the bad field.
fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|r| ApiError::bad_request("invalid_body", r.body_text()))?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!(
                "the body must be a JSON object as documented; at `{}`: {}",
                e.path(),
                e.inner()
            ),
        )
    })
}

fn disabled() -> ApiError {
    ApiError::forbidden(
        "identity_api_disabled",
        "real-name verification is not enabled on this gateway: the operator must configure [identity] (PI keys)",
    )
}

fn api(gw: &Gateway) -> Result<Arc<IdentityApi>, ApiError> {
    gw.identity_api.clone().ok_or_else(disabled)
}

/// The verification API and the caller's account id (the key must be valid; verification is
/// not required, since these routes are how one gets verified).
async fn caller(gw: &Gateway, headers: &HeaderMap) -> Result<(Arc<IdentityApi>, String), ApiError> {
    let api = api(gw)?;
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let user = gw
        .identity
        .identify(auth)
        .await
        .map(|p| p.user_id)
        .map_err(|r| r.error)?;
    Ok((api, user))
}

/// Like [`caller`], with the parsed JSON body.
async fn caller_with<T: DeserializeOwned>(
    gw: &Gateway,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Arc<IdentityApi>, String, T), ApiError> {
    let (api, user) = caller(gw, headers).await?;
    Ok((api, user, parse(body)?))
}

/// The response for a flow's result: `ok` renders success, errors map to their status.
fn reply<R>(result: Result<R, IdentityError>, ok: impl FnOnce(R) -> Response) -> Response {
    match result {
        Ok(r) => ok(r),
        Err(e) => error_response(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    #[serde(default)]
    external_ref: Option<String>,
    #[serde(default)]
    org_code: Option<String>,
}

/// `POST /identity/v1/register`
pub(crate) async fn register(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    ext: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let api = match api(&gw) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    if !api.open_registration {
        return ApiError::forbidden(
            "registration_closed",
            "accounts are created by the operator on this service (`hegui users create`)",
        )
        .into_response();
    }
    let b: RegisterBody = match parse(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let ip = api.client_ip(&headers, &ext);
    if let Err(wait) = api.admit_registration(&ip) {
        return error_response(IdentityError::RateLimited {
            what: format!(
                "at most {} registrations per hour from one network address",
                api.register_per_ip_per_hour
            ),
            retry_after_s: wait,
        });
    }
    let result = api
        .service
        .register(
            b.external_ref.as_deref(),
            b.org_code.as_deref(),
            "self-registration",
        )
        .await;
    reply(result, |(user, secret)| {
        (
            StatusCode::CREATED,
            Json(json!({
                "user_id": user.id,
                "kind": user.kind,
                "api_key": secret,
                "next": "verify with POST /identity/v1/phone/start (and /identity/v1/id/verify when the service requires it); see GET /identity/v1/status",
            })),
        )
            .into_response()
    })
}

/// `GET /identity/v1/status`
pub(crate) async fn status(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let (api, user) = match caller(&gw, &headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    reply(api.service.status(&user).await, |s| {
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        v["required"] = json!(gw.settings.verification_level.to_string());
        Json(v).into_response()
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneStartBody {
    phone: String,
}

/// `POST /identity/v1/phone/start`
pub(crate) async fn phone_start(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    ext: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (api, user, b) = match caller_with::<PhoneStartBody>(&gw, &headers, body).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let ip = api.client_ip(&headers, &ext);
    reply(
        api.service.start_phone(&user, &b.phone, &ip).await,
        |sent| (StatusCode::ACCEPTED, Json(sent)).into_response(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

/// `POST /identity/v1/phone/confirm`
pub(crate) async fn phone_confirm(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (api, user, b) = match caller_with::<CodeBody>(&gw, &headers, body).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    reply(api.service.confirm_phone(&user, &b.code).await, |u| {
        Json(json!({"verified": "phone", "phone": u.phone_masked})).into_response()
    })
}

/// `GET /identity/v1/consent`
pub(crate) async fn consent_text(State(gw): State<Arc<Gateway>>) -> Response {
    let api = match api(&gw) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let (version, text) = api.service.consent_text();
    Json(json!({
        "purpose": hegui_identity::service::SENSITIVE_PI,
        "version": version,
        "text": text,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    version: String,
}

/// `POST /identity/v1/consent`
pub(crate) async fn consent_give(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (api, user, b) = match caller_with::<ConsentBody>(&gw, &headers, body).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    reply(api.service.give_consent(&user, &b.version).await, |c| {
        (
            StatusCode::CREATED,
            Json(json!({"purpose": c.purpose, "version": c.text_version, "text_sha256": c.text_sha256, "given_at_ms": c.given_at})),
        )
            .into_response()
    })
}

/// `DELETE /identity/v1/consent`
pub(crate) async fn consent_withdraw(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
) -> Response {
    let (api, user) = match caller(&gw, &headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    reply(api.service.withdraw_consent(&user).await, |n| {
        Json(json!({"withdrawn": n})).into_response()
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdBody {
    name: String,
    id_number: String,
}

/// `POST /identity/v1/id/verify`
pub(crate) async fn id_verify(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (api, user, b) = match caller_with::<IdBody>(&gw, &headers, body).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    reply(
        api.service.verify_id(&user, &b.name, &b.id_number).await,
        |u| {
            Json(
                json!({"verified": "id", "id_number": u.id_masked, "minor": hegui_identity::service::is_minor_today(&u)}),
            )
            .into_response()
        },
    )
}

/// `GET /identity/v1/export`
pub(crate) async fn export(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let (api, user) = match caller(&gw, &headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    reply(api.service.export(&user).await, |v| Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    confirm: bool,
}

/// `POST /identity/v1/delete`
pub(crate) async fn delete(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (api, user, b) = match caller_with::<DeleteBody>(&gw, &headers, body).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if !b.confirm {
        let mut e = ApiError::bad_request(
            "confirmation_required",
            "deleting the account cannot be undone: send {\"confirm\": true}",
        );
        e.param = Some("confirm");
        return e.into_response();
    }
    let result = api
        .service
        .delete(&user, "data subject request (API)", &user)
        .await;
    reply(result, |r| Json(deletion_json(&r)).into_response())
}

/// The deletion report, with what was kept and why.
pub fn deletion_json(r: &hegui_store::DeletionReport) -> serde_json::Value {
    json!({
        "user_id": r.user_id,
        "deleted_at_ms": r.at,
        "erased": {
            "identity": r.identity_erased,
            "verification_codes": r.challenges_deleted,
            "api_keys_revoked": r.keys_revoked,
        },
        "kept": [
            {"what": "interaction records", "count": r.interactions_kept,
             "why": "network logs must be kept for at least six months (Cybersecurity Law); their content is erased by the retention purge when that period ends"},
            {"what": "consent records", "count": r.consents_kept,
             "why": "evidence that processing was lawful (PIPL); they hold no personal data"},
            {"what": "tamper-evident log entries", "count": null,
             "why": "pseudonymous entries (no phone, ID number or name) that prove the records were not altered"},
        ],
    })
}
