//! `POST /v1/images/generations` and `POST /v1/audio/speech`: the chat request path's identity
//! gate and input review (shared with [`crate::chat`]), the model server, then every image or
//! audio file labeled ([`crate::media`]) before it leaves, and exactly one record per request.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hegui_types::{Action, AigcLabel, Outcome};
use serde_json::{json, Map, Value};

use crate::chat::{admit, resolve_model, review_input, InputVerdict};
use crate::error::ApiError;
use crate::media::{sha256_hex, LabeledImage, MediaError, SpeechFormat};
use crate::record::Tracker;
use crate::upstream::UpstreamError;
use crate::Gateway;

/// Most images one request may ask for.
pub const MAX_IMAGES: u64 = 4;

/// What a media request produced.
struct Delivery {
    status: StatusCode,
    body: DeliveryBody,
    /// The `X-AIGC` header value (one file: its label).
    header_label: Option<AigcLabel>,
}

enum DeliveryBody {
    Json(Value),
    Audio(&'static str, Vec<u8>),
}

/// Handler for `/v1/images/generations`.
pub(crate) async fn images(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(gw, "images.generations", headers, body, Kind::Images).await
}

/// Handler for `/v1/audio/speech`.
pub(crate) async fn speech(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(gw, "audio.speech", headers, body, Kind::Speech).await
}

#[derive(Clone, Copy)]
enum Kind {
    Images,
    Speech,
}

async fn handle(
    gw: Arc<Gateway>,
    endpoint: &str,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    kind: Kind,
) -> Response {
    let mut t = Tracker::new(gw.clone());
    t.record.endpoint = endpoint.to_string();
    let record_id = HeaderValue::from_str(&t.record.id).ok();
    let result = match kind {
        Kind::Images => run_images(&gw, &mut t, &headers, body).await,
        Kind::Speech => run_speech(&gw, &mut t, &headers, body).await,
    };
    let mut resp = match result {
        Err(e) => {
            t.error(e.code, &e.message);
            t.finish(e.outcome, e.status.as_u16()).await;
            e.into_response()
        }
        Ok(d) => {
            if !t.finish(Outcome::Served, d.status.as_u16()).await {
                ApiError::record_unavailable().into_response()
            } else {
                let mut resp = match d.body {
                    DeliveryBody::Json(v) => (d.status, Json(v)).into_response(),
                    DeliveryBody::Audio(ct, bytes) => {
                        (d.status, [(header::CONTENT_TYPE, ct)], bytes).into_response()
                    }
                };
                if let Some(l) = d.header_label.filter(|_| gw.settings.label_header) {
                    if let Ok(v) = HeaderValue::from_str(&l.to_payload()) {
                        resp.headers_mut().insert("x-aigc", v);
                    }
                }
                resp
            }
        }
    };
    if let Some(id) = record_id {
        resp.headers_mut().insert("x-hegui-record-id", id);
    }
    resp
}

fn param_error(code: &'static str, param: &'static str, message: impl Into<String>) -> ApiError {
    let mut e = ApiError::bad_request(code, message);
    e.param = Some(param);
    e
}

/// The JSON object body and its `model` (required here).
fn object_body(bytes: &[u8], what: &str) -> Result<(Map<String, Value>, String), ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("The request body is not valid JSON ({e}); send a JSON object with {what}"),
        )
    })?;
    let Value::Object(body) = value else {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("The request body must be a JSON object with {what}"),
        ));
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(_) => {
            return Err(param_error(
                "invalid_request",
                "model",
                "`model` must be a non-empty string",
            ))
        }
        None => {
            return Err(param_error(
                "invalid_request",
                "model",
                "missing required parameter `model`",
            ))
        }
    };
    Ok((body, model))
}

fn required_text(body: &Map<String, Value>, param: &'static str) -> Result<String, ApiError> {
    match body.get(param) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(_) => Err(param_error(
            "invalid_request",
            param,
            format!("`{param}` must be a non-empty string"),
        )),
        None => Err(param_error(
            "invalid_request",
            param,
            format!("missing required parameter `{param}`"),
        )),
    }
}

fn disabled(what: &str) -> ApiError {
    let mut e = ApiError::bad_request(
        "endpoint_disabled",
        format!("{what} is not enabled on this gateway (`[media]` in its configuration)"),
    );
    e.status = StatusCode::NOT_FOUND;
    e
}

/// Identity, input review of `text` (param `param`), model mapping. Returns the body to send
/// upstream (model mapped, masked text in place of `param`).
async fn gate_and_review(
    gw: &Gateway,
    t: &mut Tracker,
    minor: bool,
    mut body: Map<String, Value>,
    model: &str,
    text: &str,
    param: &'static str,
) -> Result<Map<String, Value>, ApiError> {
    let upstream_model = resolve_model(gw, model)?;
    t.record.upstream_model = Some(upstream_model.clone());
    body.insert("model".into(), Value::String(upstream_model));
    if gw.settings.review_input {
        let state = gw.review.load_full();
        let InputVerdict {
            action,
            risks,
            masked,
            ..
        } = review_input(gw, &state, t, text, minor).await;
        if action.stops() {
            // There is no safe answer in pictures or speech: a stopped prompt is refused.
            let mut e = ApiError::policy_violation(&risks);
            e.param = Some(param);
            return Err(e);
        }
        if action == Action::Mask {
            body.insert(param.into(), Value::String(masked));
        }
    }
    Ok(body)
}

async fn run_images(
    gw: &Arc<Gateway>,
    t: &mut Tracker,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Delivery, ApiError> {
    let (bytes, minor) = admit(gw, t, headers, body).await?;
    if !gw.media.images {
        return Err(disabled("/v1/images/generations"));
    }
    let (body, model) = object_body(&bytes, "`model` and `prompt`")?;
    t.record.model = Some(model.clone());
    t.record.input = Value::Object(body.clone());
    let prompt = required_text(&body, "prompt")?;
    let n = match body.get("n") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_IMAGES).contains(&n) => n,
            _ => {
                return Err(param_error(
                    "invalid_request",
                    "n",
                    format!("`n` must be an integer from 1 to {MAX_IMAGES}"),
                ))
            }
        },
    };
    match body.get("response_format") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) if f == "b64_json" => {}
        Some(Value::String(f)) if f == "url" => {
            return Err(param_error(
                "unsupported_response_format",
                "response_format",
                "hegui returns images as `b64_json` only: every image is labeled (visible label, watermark, signed metadata) before it leaves, and a URL would hand out the model server's unlabeled copy; ask for response_format \"b64_json\"",
            ))
        }
        Some(_) => {
            return Err(param_error(
                "invalid_request",
                "response_format",
                "`response_format` must be \"b64_json\"",
            ))
        }
    }
    if let Some(size) = body.get("size") {
        if !size.is_string() && !size.is_null() {
            return Err(param_error(
                "invalid_request",
                "size",
                "`size` must be a string such as \"1024x1024\"",
            ));
        }
    }
    if matches!(body.get("stream"), Some(Value::Bool(true))) {
        return Err(param_error(
            "unsupported_parameter",
            "stream",
            "hegui does not stream images: each is labeled whole before it is sent",
        ));
    }
    let mut upstream_body = gate_and_review(gw, t, minor, body, &model, &prompt, "prompt").await?;
    upstream_body.insert("response_format".into(), Value::String("b64_json".into()));
    upstream_body.remove("stream");

    t.upstream_started();
    let result = gw.upstream.images(&Value::Object(upstream_body)).await;
    t.upstream_ended();
    let resp = result.map_err(|e| e.to_api())?;
    let malformed = |what: String| UpstreamError::Malformed(what).to_api();
    let data = resp
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no `data` array in the image response".into()))?;
    if data.is_empty() || data.len() as u64 > n {
        return Err(malformed(format!("{} images for n = {n}", data.len())));
    }
    let mut files = Vec::with_capacity(data.len());
    for (i, item) in data.iter().enumerate() {
        let b64 = item
            .get("b64_json")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                malformed(format!("data[{i}] has no `b64_json` (hegui asked for it)"))
            })?;
        let raw = B64
            .decode(b64.trim())
            .map_err(|e| malformed(format!("data[{i}].b64_json is not base64 ({e})")))?;
        files.push(raw);
    }

    // Labeling is CPU work: the blocking pool, one image after another.
    let labels: Vec<AigcLabel> = files.iter().map(|_| gw.labeler.new_label()).collect();
    let media = gw.media.clone();
    let started = Instant::now();
    let labeled: Vec<LabeledImage> = tokio::task::spawn_blocking(move || {
        files
            .iter()
            .zip(labels)
            .map(|(f, l)| media.label_image(f, l))
            .collect::<Result<Vec<_>, MediaError>>()
    })
    .await
    .map_err(|e| labeling_failed(&format!("labeling task failed: {e}")))?
    .map_err(|e| labeling_failed(&e.to_string()))?;
    let label_us = started.elapsed().as_micros();

    let mut out = Vec::with_capacity(labeled.len());
    let mut meta = Vec::with_capacity(labeled.len());
    for (i, img) in labeled.iter().enumerate() {
        out.push(json!({"b64_json": B64.encode(&img.png), "aigc": img.label}));
        meta.push(json!({
            "index": i,
            "produce_id": img.label.produce_id,
            "sha256": sha256_hex(&img.png),
            "bytes": img.png.len(),
            "format": "png",
            "width": img.width,
            "height": img.height,
            "watermark_payload": img.watermark_payload.map(|p| format!("{p:016x}")),
            "reserved_code1": img.label.reserved_code1,
        }));
    }
    tracing::debug!(images = labeled.len(), label_us, "images labeled");
    t.record.output = Some(json!({"images": meta}).to_string());
    t.record.label = labeled.first().map(|i| i.label.clone());
    t.record.usage = resp.get("usage").filter(|u| !u.is_null()).cloned();
    let mut body = json!({
        "created": t.record.received_at_ms / 1000,
        "data": out,
    });
    if let Some(u) = &t.record.usage {
        body["usage"] = u.clone();
    }
    Ok(Delivery {
        status: StatusCode::OK,
        header_label: labeled
            .first()
            .filter(|_| labeled.len() == 1)
            .map(|i| i.label.clone()),
        body: DeliveryBody::Json(body),
    })
}

/// 502: what the model server sent could not be labeled, so it is not delivered.
fn labeling_failed(message: &str) -> ApiError {
    ApiError::upstream(
        StatusCode::BAD_GATEWAY,
        "media_label_failed",
        format!("The generated media could not be labeled, so it was not delivered: {message}"),
    )
}

async fn run_speech(
    gw: &Arc<Gateway>,
    t: &mut Tracker,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Delivery, ApiError> {
    let (bytes, minor) = admit(gw, t, headers, body).await?;
    if !gw.media.audio {
        return Err(disabled("/v1/audio/speech"));
    }
    let (body, model) = object_body(&bytes, "`model`, `input` and `voice`")?;
    t.record.model = Some(model.clone());
    t.record.input = Value::Object(body.clone());
    let input = required_text(&body, "input")?;
    match body.get("voice") {
        Some(Value::String(v)) if !v.is_empty() => {}
        Some(Value::Object(_)) => {}
        _ => {
            return Err(param_error(
                "invalid_request",
                "voice",
                "`voice` is required: a voice name such as \"alloy\"",
            ))
        }
    }
    let format = match body.get("response_format") {
        None | Some(Value::Null) => SpeechFormat::Mp3,
        Some(Value::String(f)) => match (SpeechFormat::parse(f), f.as_str()) {
            (Some(f), _) => f,
            (None, "aac" | "pcm") => {
                return Err(param_error(
                    "unsupported_response_format",
                    "response_format",
                    format!("hegui labels generated audio inside the file (GB 45438 implicit label) and `{f}` has no place for it; ask for \"wav\", \"mp3\", \"flac\" or \"opus\""),
                ))
            }
            (None, _) => {
                return Err(param_error(
                    "invalid_request",
                    "response_format",
                    "`response_format` must be one of \"wav\", \"mp3\", \"flac\", \"opus\"",
                ))
            }
        },
        Some(_) => {
            return Err(param_error(
                "invalid_request",
                "response_format",
                "`response_format` must be a string",
            ))
        }
    };
    if body.get("stream_format").and_then(Value::as_str) == Some("sse") {
        return Err(param_error(
            "unsupported_parameter",
            "stream_format",
            "hegui does not stream speech: the audio is labeled whole before it is sent",
        ));
    }
    // Formats other than WAV need ffmpeg for the cue: without it nothing unlabeled leaves, and
    // the model is not asked for audio that could not be delivered.
    let tools = if format == SpeechFormat::Wav {
        None
    } else {
        match hegui_explicit::Tools::locate_for("labeled speech other than WAV", "") {
            Ok(tools) => Some(tools),
            Err(e) => {
                let mut err = ApiError::record_unavailable();
                err.code = "media_tool_missing";
                err.message = format!(
                    "{} audio cannot be labeled on this server ({e}); ask for response_format \"wav\"",
                    format.name()
                );
                return Err(err);
            }
        }
    };
    let mut upstream_body = gate_and_review(gw, t, minor, body, &model, &input, "input").await?;
    upstream_body.insert(
        "response_format".into(),
        Value::String(format.name().into()),
    );
    upstream_body.remove("stream_format");

    t.upstream_started();
    let result = gw.upstream.speech(&Value::Object(upstream_body)).await;
    t.upstream_ended();
    let audio = result.map_err(|e| e.to_api())?;

    let mut label = gw.labeler.new_label();
    let media = gw.media.clone();
    let (labeled, label) = tokio::task::spawn_blocking(move || {
        let out = media.label_audio(&audio, format, tools.as_ref(), &mut label);
        out.map(|o| (o, label))
    })
    .await
    .map_err(|e| labeling_failed(&format!("labeling task failed: {e}")))?
    .map_err(|e| labeling_failed(&e.to_string()))?;

    t.record.output = Some(
        json!({"audio": {
            "produce_id": label.produce_id,
            "sha256": sha256_hex(&labeled),
            "bytes": labeled.len(),
            "format": format.name(),
            "cue": gw.media.cue_placement(),
            "reserved_code1": label.reserved_code1,
        }})
        .to_string(),
    );
    t.record.label = Some(label.clone());
    Ok(Delivery {
        status: StatusCode::OK,
        header_label: Some(label),
        body: DeliveryBody::Audio(format.content_type(), labeled),
    })
}
