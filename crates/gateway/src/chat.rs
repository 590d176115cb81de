//! `POST /v1/chat/completions`: the request path, non-streaming; streaming continues in
//! [`crate::stream`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hegui_config::OnBlock;
use hegui_types::{Action, AigcLabel, Outcome, Stage};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::record::Tracker;
use crate::request::{ChatRequest, PromptText};
use crate::upstream::UpstreamError;
use crate::{escalation, stream, Gateway, ReviewState};
use hegui_guard::GuardRequest;

/// What the request path produced for the client.
pub(crate) enum Reply {
    /// A complete JSON body (a completion).
    Completion {
        body: Value,
        label: AigcLabel,
        outcome: Outcome,
    },
    /// A synthesised answer (the safe answer) for a blocked prompt.
    SafeAnswer { label: AigcLabel, text: String },
    /// An upstream stream to review and relay.
    Stream(stream::Relay),
    /// A complete, reviewed and labeled answer the client asked to receive as a stream.
    Reviewed {
        label: AigcLabel,
        text: String,
        finish: String,
        outcome: Outcome,
    },
}

/// Handler: runs the request path and writes exactly one record, whatever happens.
pub(crate) async fn chat_completions(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut t = Tracker::new(gw.clone());
    let record_id = HeaderValue::from_str(&t.record.id).ok();
    let mut resp = match run(&gw, &mut t, &headers, body).await {
        Err(e) => {
            t.error(e.code, &e.message);
            t.finish(e.outcome, e.status.as_u16()).await;
            e.into_response()
        }
        Ok(Reply::Stream(relay)) => relay.start(t),
        Ok(Reply::SafeAnswer { label, text }) if t.record.stream => {
            stream::synthesised(t, label, text, "content_filter", Outcome::BlockedInput)
        }
        Ok(Reply::Reviewed {
            label,
            text,
            finish,
            outcome,
        }) => stream::synthesised(t, label, text, &finish, outcome),
        Ok(Reply::SafeAnswer { mut label, text }) => {
            gw.labeler.seal(&mut label, &text);
            let body = completion_body(&t, &text, "content_filter", &label);
            t.record.output = Some(text);
            t.record.finish_reason = Some("content_filter".into());
            t.record.label = Some(label.clone());
            respond(t, body, label, Outcome::BlockedInput).await
        }
        Ok(Reply::Completion {
            body,
            label,
            outcome,
        }) => respond(t, body, label, outcome).await,
    };
    // Every answer names its record, so a complaint or an inspection can point at it.
    if let Some(id) = record_id {
        resp.headers_mut().insert("x-hegui-record-id", id);
    }
    resp
}

async fn respond(t: Tracker, body: Value, label: AigcLabel, outcome: Outcome) -> Response {
    let header = t.gw.settings.label_header;
    if !t.finish(outcome, 200).await {
        return ApiError::record_unavailable().into_response();
    }
    let mut resp = (StatusCode::OK, Json(body)).into_response();
    if header {
        if let Ok(v) = HeaderValue::from_str(&label.to_payload()) {
            resp.headers_mut().insert("x-aigc", v);
        }
    }
    resp
}

/// A chat.completion body for text hegui produced itself.
fn completion_body(t: &Tracker, text: &str, finish: &str, label: &AigcLabel) -> Value {
    json!({
        "id": format!("chatcmpl-{}", t.record.id),
        "object": "chat.completion",
        "created": t.record.received_at_ms / 1000,
        "model": t.record.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": finish,
        }],
        "aigc": label,
    })
}

async fn run(
    gw: &Arc<Gateway>,
    t: &mut Tracker,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let (bytes, minor) = admit(gw, t, headers, body).await?;

    let req = ChatRequest::parse(&bytes)?;
    t.record.model = Some(req.model.clone());
    t.record.stream = req.stream;
    t.record.input = req.messages();
    if let Some(n) = req.body.get("n") {
        if n.as_u64() != Some(1) && !n.is_null() {
            let mut e = ApiError::bad_request(
                "unsupported_parameter",
                "hegui serves one choice per request: `n` must be 1",
            );
            e.param = Some("n");
            return Err(e);
        }
    }
    let upstream_model = resolve_model(gw, &req.model)?;
    t.record.upstream_model = Some(upstream_model.clone());

    // Input review.
    let mut upstream_body = req.body.clone();
    upstream_body.insert("model".into(), Value::String(upstream_model));
    let state = gw.review.load_full();
    if gw.settings.review_input {
        let prompt = PromptText::collect(&t.record.input);
        let InputVerdict {
            action,
            risks,
            matches,
            ..
        } = review_input(gw, &state, t, &prompt.text, minor).await;
        if action == Action::Mask {
            let mut masked = t.record.input.clone();
            prompt.apply_masks(&mut masked, &matches);
            upstream_body.insert("messages".into(), masked);
        }
        if action.stops() {
            if action == Action::SafeAnswer || gw.settings.on_block == OnBlock::SafeAnswer {
                return Ok(Reply::SafeAnswer {
                    label: gw.labeler.new_label(),
                    text: state.policy.safe_answer(&risks).to_string(),
                });
            }
            return Err(ApiError::policy_violation(&risks));
        }
    }

    let label = gw.labeler.new_label();
    // Minors mode reviews the whole answer before any of it is released (a flag blocks it),
    // so a minor's stream is answered from a reviewed, complete upstream answer.
    let strict_stream = req.stream && minor && gw.settings.minors.block_flagged;
    if strict_stream {
        upstream_body.insert("stream".into(), Value::Bool(false));
        upstream_body.remove("stream_options");
    }
    if req.stream && !strict_stream {
        t.upstream_started();
        let upstream = gw.upstream.stream(&Value::Object(upstream_body)).await;
        return match upstream {
            Ok(s) => Ok(Reply::Stream(stream::Relay::new(
                s,
                label,
                req.include_usage,
            ))),
            Err(e) => {
                t.upstream_ended();
                Err(e.to_api())
            }
        };
    }

    t.upstream_started();
    let result = gw.upstream.complete(&Value::Object(upstream_body)).await;
    t.upstream_ended();
    let resp = result.map_err(|e| e.to_api())?;
    let reply = complete(gw, &state, t, resp, label, minor).await?;
    match reply {
        Reply::Completion {
            body,
            label,
            outcome,
        } if strict_stream => {
            let text = body
                .pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let finish = body
                .pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
                .unwrap_or("stop")
                .to_string();
            Ok(Reply::Reviewed {
                label,
                text,
                finish,
                outcome,
            })
        }
        other => Ok(other),
    }
}

/// The start every endpoint shares: the body size limit (413), the identity gate (the user
/// and key go into the record, also when refused) and minors mode's own gate. Returns the
/// body and whether the user is a minor.
pub(crate) async fn admit(
    gw: &Gateway,
    t: &mut Tracker,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Bytes, bool), ApiError> {
    // The size limit first: an oversize body is refused before anything else reads it.
    let bytes = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::too_large(gw.settings.max_body_bytes))
        }
        Err(r) => return Err(ApiError::bad_request("invalid_body", r.body_text())),
    };

    // Identity gate.
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let principal = match gw.identity.admit(auth).await {
        Ok(p) => p,
        Err(refusal) => {
            if let Some(p) = refusal.principal {
                t.record.user_id = Some(p.user_id);
                t.record.key_id = Some(p.key_id);
            }
            return Err(refusal.error);
        }
    };
    let minor = principal.minor;
    t.record.user_id = Some(principal.user_id.clone());
    t.record.key_id = Some(principal.key_id);
    if minor {
        minors_gate(gw, &principal.user_id).await?;
    }

    Ok((bytes, minor))
}

/// What input review decided about a prompt (engine, then guards).
pub(crate) struct InputVerdict {
    /// The strictest action.
    pub action: Action,
    /// The risks behind it.
    pub risks: Vec<String>,
    /// The engine's matches (for masks).
    pub matches: Vec<hegui_types::MatchInfo>,
    /// The prompt with masked spans replaced.
    pub masked: String,
}

/// Input review of `text` under `state`: the review engine, then each input guard until one
/// stops it; every decision goes into the record, and the user's escalation counters move.
pub(crate) async fn review_input(
    gw: &Gateway,
    state: &ReviewState,
    t: &mut Tracker,
    text: &str,
    minor: bool,
) -> InputVerdict {
    let review = state.reviewer.review(Stage::Input, text);
    let mut action = stricter_for_minors(gw, minor, review.decision.action);
    let mut risks = review.decision.risks.clone();
    let matches = review.decision.matches.clone();
    t.decision(review.decision);
    if !action.stops() {
        for guard in state.guards.iter().filter(|g| g.applies_to(Stage::Input)) {
            let req = GuardRequest::input(text.to_string());
            if let Some(outcome) = guard.review(&req, state.reviewer.version()).await {
                let d = outcome.decision;
                if d.action > action {
                    action = d.action;
                    risks = d.risks.clone();
                }
                t.decision(d);
            }
            if action.stops() {
                break;
            }
        }
    }
    if let Some(user_id) = t.record.user_id.clone() {
        let now = chrono::Utc::now().timestamp_millis();
        escalation::check(&gw.store, gw.settings.escalation, &user_id, action, now).await;
    }
    InputVerdict {
        action,
        risks,
        matches,
        masked: review.text,
    }
}

/// Minors mode before anything else: quiet hours and the daily request limit (China time).
async fn minors_gate(gw: &Gateway, user_id: &str) -> Result<(), ApiError> {
    use chrono::Timelike;
    let minors = &gw.settings.minors;
    // China Standard Time is UTC+8 all year (no daylight saving).
    let now = chrono::Utc::now().naive_utc() + chrono::Duration::hours(8);
    let minute = u16::try_from(now.hour() * 60 + now.minute()).unwrap_or(0);
    if minors.is_quiet(minute) {
        return Err(ApiError::forbidden(
            "minors_quiet_hours",
            "Minors mode: the service is not available to minors at this time of day (China time); try again later",
        ));
    }
    if minors.daily_requests > 0 {
        let today = hegui_store::ChinaDay::of(chrono::Utc::now().timestamp_millis());
        let used = gw
            .store
            .user_activity(user_id, today, 0)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "minors usage count failed");
                ApiError::record_unavailable()
            })?
            .requests;
        if used >= i64::from(minors.daily_requests) {
            let mut e = ApiError::forbidden(
                "minors_daily_limit",
                format!(
                    "Minors mode: the daily limit of {} requests is reached; it resets at midnight China time",
                    minors.daily_requests
                ),
            );
            e.status = StatusCode::TOO_MANY_REQUESTS;
            return Err(e);
        }
    }
    Ok(())
}

/// In minors mode, what would be flagged for an adult is blocked.
fn stricter_for_minors(gw: &Gateway, minor: bool, action: Action) -> Action {
    if minor && gw.settings.minors.block_flagged && action == Action::Flag {
        Action::Block
    } else {
        action
    }
}

pub(crate) fn resolve_model(gw: &Gateway, model: &str) -> Result<String, ApiError> {
    if gw.settings.models.is_empty() {
        return Ok(model.to_string());
    }
    gw.settings
        .models
        .iter()
        .find(|m| m.name == model)
        .map(|m| m.upstream.clone())
        .ok_or_else(|| {
            let known: Vec<String> = gw.settings.models.iter().map(|m| m.name.clone()).collect();
            ApiError::model_not_found(model, &known)
        })
}

/// Output review and labeling of a non-streaming completion.
async fn complete(
    gw: &Gateway,
    state: &ReviewState,
    t: &mut Tracker,
    mut resp: Value,
    mut label: AigcLabel,
    minor: bool,
) -> Result<Reply, ApiError> {
    let malformed = |what: &str| UpstreamError::Malformed(what.to_string()).to_api();
    let choice = resp
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| malformed("no choices in the completion"))?;
    let text = match choice.pointer("/message/content") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(malformed("message.content is not a string")),
    };
    let mut finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop")
        .to_string();
    let mut outcome = Outcome::Served;
    let delivered = if gw.settings.review_output {
        let review = state.reviewer.review(Stage::Output, &text);
        let mut action = stricter_for_minors(gw, minor, review.decision.action);
        let mut risks = review.decision.risks.clone();
        t.decision(review.decision);
        if !action.stops() {
            let prompt = PromptText::collect(&t.record.input).text;
            for guard in state.guards.iter().filter(|g| g.applies_to(Stage::Output)) {
                let req = GuardRequest::output(prompt.clone(), text.clone());
                if let Some(outcome) = guard.review(&req, state.reviewer.version()).await {
                    let d = outcome.decision;
                    if d.action > action {
                        action = d.action;
                        risks = d.risks.clone();
                    }
                    t.decision(d);
                }
                if action.stops() {
                    break;
                }
            }
        }
        if action.stops() {
            outcome = Outcome::BlockedOutput;
            finish = "content_filter".into();
            if action == Action::SafeAnswer {
                state.policy.safe_answer(&risks).to_string()
            } else {
                String::new()
            }
        } else {
            labeled(gw, &review.text)
        }
    } else {
        labeled(gw, &text)
    };
    gw.labeler.seal(&mut label, &delivered);

    // Only reviewed fields reach the client: the message is rebuilt from the reviewed text
    // (tool calls and reasoning fields are not reviewed yet, so they are not relayed).
    resp["choices"] = json!([{
        "index": 0,
        "message": {"role": "assistant", "content": delivered},
        "finish_reason": finish,
    }]);
    if let Some(m) = &t.record.model {
        resp["model"] = Value::String(m.clone());
    }
    resp["aigc"] = serde_json::to_value(&label).unwrap_or(Value::Null);
    t.record.usage = resp.get("usage").filter(|u| !u.is_null()).cloned();
    t.record.output = Some(delivered);
    t.record.finish_reason = Some(finish);
    t.record.label = Some(label.clone());
    Ok(Reply::Completion {
        body: resp,
        label,
        outcome,
    })
}

fn labeled(gw: &Gateway, text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!(
        "{}{}{}",
        gw.labeler.prefix().unwrap_or(""),
        text,
        gw.labeler.suffix().unwrap_or("")
    )
}
