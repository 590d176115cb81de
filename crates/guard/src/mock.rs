//! A real HTTP server on loopback that answers like the guard models, for tests and demos.
//!
//! `POST /v1/chat/completions` answers in the format of the requested model: a model id
//! containing `qwen3guard`, `llama-guard`/`llamaguard` or `shieldlm` (case-insensitive) gets
//! that model's reply; any other model gets 404. `POST /v1/moderations` answers in the OpenAI
//! moderation shape.
//!
//! The verdict is decided by rules on the *judged text*, which the mock extracts the way the
//! model would see it (the last message; the conversation inside a Llama Guard task prompt;
//! B's turn of a ShieldLM prompt; the moderation `input`), so tests also check that requests
//! place the text where the model expects it.
//!
//! | trigger (any)                      | Qwen3Guard                    | Llama Guard | moderation         | severity      |
//! |------------------------------------|-------------------------------|-------------|--------------------|---------------|
//! | `炸弹`, `bomb`                      | Violent                       | S1          | `violence`         | unsafe        |
//! | `毒品`, `meth`                      | Non-violent Illegal Acts      | S2          | `illicit`          | unsafe        |
//! | `色情`, `porn`                      | Sexual Content or Sexual Acts | S12         | `sexual`           | unsafe        |
//! | `身份证号`, `id number`              | PII                           | S7          | –                  | unsafe        |
//! | `自杀`, `suicide`                   | Suicide & Self-Harm           | S11         | `self-harm/intent` | unsafe        |
//! | `歧视`, `slur`                      | Unethical Acts                | S10         | `hate`             | unsafe        |
//! | `谣言`, `rumor`                     | Politically Sensitive Topics  | S13         | –                  | unsafe        |
//! | `盗版`, `pirated`                   | Copyright Violation           | S8          | –                  | unsafe        |
//! | `忽略之前的指令`, `ignore previous instructions` | Jailbreak (input only) | – | –               | unsafe        |
//! | `擦边`, `borderline`                | Sexual Content or Sexual Acts | (safe)      | `sexual` at 0.4    | controversial |
//!
//! ShieldLM answers unsafe / controversial / safe by the same rules, in the language of its
//! prompt. Qwen3Guard adds `Refusal: Yes` at the output stage when the answer contains `抱歉`
//! or `sorry`.
//!
//! Directives in the judged text:
//!
//! | directive            | effect                                                              |
//! |----------------------|---------------------------------------------------------------------|
//! | `[[label:NAME]]`     | unsafe with the unknown category `NAME` (every format but ShieldLM) |
//! | `[[delay_ms:N]]`     | wait `N` ms before answering                                        |
//! | `[[fault:NAME]]`     | `status_500`, `status_429` (with `Retry-After: 7`), `hang`,         |
//! |                      | `malformed_json`, `garbage` (a reply that is no verdict),           |
//! |                      | `empty_choices`, `null_content`, `oversized` (a 2 MiB reply),       |
//! |                      | `oversized_chunked` (2 MiB in chunks, no `Content-Length`),         |
//! |                      | `stall` (status and headers, then a body that never ends)           |

use std::{
    collections::VecDeque,
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::State as AxumState,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Router,
};
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};

use crate::Safety;

/// How long `[[fault:hang]]` waits ("never", unless the server shuts down).
const HANG: Duration = Duration::from_secs(3600);
/// Size of the `[[fault:oversized]]` reply.
const OVERSIZED: usize = 2 * 1024 * 1024;

/// Configuration of a mock guard server.
#[derive(Debug, Clone, Default)]
pub struct MockGuardConfig {
    /// If set, every request must carry the key (else 401).
    pub api_key: Option<String>,
    /// Header carrying the key verbatim; `Authorization: Bearer <key>` when unset.
    pub api_key_header: Option<String>,
}

struct Rule {
    triggers: &'static [&'static str],
    qwen: &'static str,
    llama: &'static str,
    moderation: &'static str,
    safety: Safety,
}

const fn rule(
    triggers: &'static [&'static str],
    qwen: &'static str,
    llama: &'static str,
    moderation: &'static str,
    safety: Safety,
) -> Rule {
    Rule {
        triggers,
        qwen,
        llama,
        moderation,
        safety,
    }
}

static RULES: [Rule; 10] = [
    rule(
        &["炸弹", "bomb"],
        "Violent",
        "S1",
        "violence",
        Safety::Unsafe,
    ),
    rule(
        &["毒品", "meth"],
        "Non-violent Illegal Acts",
        "S2",
        "illicit",
        Safety::Unsafe,
    ),
    rule(
        &["色情", "porn"],
        "Sexual Content or Sexual Acts",
        "S12",
        "sexual",
        Safety::Unsafe,
    ),
    rule(&["身份证号", "id number"], "PII", "S7", "", Safety::Unsafe),
    rule(
        &["自杀", "suicide"],
        "Suicide & Self-Harm",
        "S11",
        "self-harm/intent",
        Safety::Unsafe,
    ),
    rule(
        &["歧视", "slur"],
        "Unethical Acts",
        "S10",
        "hate",
        Safety::Unsafe,
    ),
    rule(
        &["谣言", "rumor"],
        "Politically Sensitive Topics",
        "S13",
        "",
        Safety::Unsafe,
    ),
    rule(
        &["盗版", "pirated"],
        "Copyright Violation",
        "S8",
        "",
        Safety::Unsafe,
    ),
    rule(
        &["忽略之前的指令", "ignore previous instructions"],
        "Jailbreak",
        "",
        "",
        Safety::Unsafe,
    ),
    rule(
        &["擦边", "borderline"],
        "Sexual Content or Sexual Acts",
        "",
        "sexual",
        Safety::Controversial,
    ),
];

/// The moderation categories the mock reports scores for.
const MODERATION_CATEGORIES: [&str; 13] = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];

/// Shared state of a running mock.
#[derive(Debug)]
struct State {
    config: MockGuardConfig,
    requests: Mutex<Vec<Value>>,
    counter: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Vec<Value>> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(key) = self.config.api_key.as_deref() else {
            return true;
        };
        match self.config.api_key_header.as_deref() {
            Some(name) => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == key),
            None => headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|v| v == key),
        }
    }

    /// Sleeps for `dur` unless shutdown begins first.
    async fn sleep(&self, dur: Duration) {
        let mut rx = self.shutdown.subscribe();
        tokio::select! {
            () = tokio::time::sleep(dur) => {}
            _ = rx.wait_for(|stopping| *stopping) => {}
        }
    }
}

/// A running mock guard on `127.0.0.1`; stops when dropped.
#[derive(Debug)]
pub struct MockGuardServer {
    /// The bound loopback address.
    pub addr: SocketAddr,
    /// Server root for [`crate::GuardConfig::base_url`], e.g. `http://127.0.0.1:PORT`.
    pub base_url: String,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
}

impl MockGuardServer {
    /// Bodies of the requests received, in arrival order.
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().clone()
    }

    /// Number of requests received.
    pub fn request_count(&self) -> u64 {
        self.state.counter.load(Ordering::SeqCst)
    }

    /// Stops the server and releases hanging requests (same as dropping it).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.state.shutdown.send_replace(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for MockGuardServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Binds `127.0.0.1:0` and serves the mock in a background task (needs a tokio runtime).
pub async fn spawn(config: MockGuardConfig) -> io::Result<MockGuardServer> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (shutdown, _) = watch::channel(false);
    let state = Arc::new(State {
        config,
        requests: Mutex::new(Vec::new()),
        counter: AtomicU64::new(0),
        shutdown,
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/moderations", post(moderations))
        .with_state(Arc::clone(&state));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(MockGuardServer {
        addr,
        base_url: format!("http://{addr}"),
        state,
        stop: Some(stop),
    })
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string(),
    )
        .into_response()
}

fn json_response(body: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Parses, records and authorises a request; the error is the status and message to send.
fn admit(state: &State, headers: &HeaderMap, body: &Bytes) -> Result<Value, (StatusCode, String)> {
    if !state.authorized(headers) {
        return Err((StatusCode::UNAUTHORIZED, "invalid api key".into()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
    state.lock().push(value.clone());
    state.counter.fetch_add(1, Ordering::SeqCst);
    Ok(value)
}

/// The value of `[[name:VALUE]]` in `text`.
fn directive<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("[[{name}:");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find("]]")?;
    Some(&text[start..start + len])
}

/// A response body sent in pieces, optionally stalling forever after the last one.
struct Pieces {
    chunks: VecDeque<Bytes>,
    stall: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl futures_core::Stream for Pieces {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(chunk) = self.chunks.pop_front() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        if let Some(stall) = self.stall.as_mut() {
            if stall.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.stall = None;
        }
        Poll::Ready(None)
    }
}

/// A 200 response streaming `pieces`, then stalling until shutdown if `stall`.
fn streamed(state: &Arc<State>, pieces: Vec<Bytes>, stall: bool) -> Response {
    let state = Arc::clone(state);
    let body = Pieces {
        chunks: pieces.into(),
        stall: stall.then(|| {
            Box::pin(async move { state.sleep(HANG).await })
                as Pin<Box<dyn Future<Output = ()> + Send>>
        }),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

/// Applies the delay and fault directives; `Some` is the response to send instead of a verdict.
async fn faults(state: &Arc<State>, text: &str, model: &str, chat: bool) -> Option<Response> {
    if let Some(ms) = directive(text, "delay_ms").and_then(|v| v.parse::<u64>().ok()) {
        state.sleep(Duration::from_millis(ms)).await;
    }
    let fault = directive(text, "fault")?;
    let content = |c: Value| {
        json_response(&json!({
            "id": "chatcmpl-guard", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": c},
                         "finish_reason": "stop"}],
        }))
    };
    Some(match fault {
        "status_500" => error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure"),
        "status_429" => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "slow down");
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
            r
        }
        "hang" => {
            state.sleep(HANG).await;
            error(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
        }
        "malformed_json" => (StatusCode::OK, "{\"choices\": [ not json").into_response(),
        "oversized" if chat => content(Value::String("x".repeat(OVERSIZED))),
        "oversized" => json_response(&json!({"results": [], "padding": "x".repeat(OVERSIZED)})),
        "garbage" if chat => content(Value::String("I cannot help with that.".into())),
        "garbage" => json_response(&json!({"object": "list", "data": []})),
        "empty_choices" => json_response(&json!({"id": "x", "choices": []})),
        "oversized_chunked" => {
            let piece = Bytes::from(vec![b' '; 64 * 1024]);
            streamed(state, vec![piece; OVERSIZED / (64 * 1024)], false)
        }
        "stall" => streamed(state, vec![Bytes::from_static(b"{\"choices\": [")], true),
        "null_content" => content(Value::Null),
        other => error(StatusCode::BAD_REQUEST, &format!("unknown fault `{other}`")),
    })
}

/// The rules whose triggers occur in `text`.
fn matching(text: &str) -> Vec<&'static Rule> {
    let lower = text.to_lowercase();
    RULES
        .iter()
        .filter(|r| r.triggers.iter().any(|t| lower.contains(t)))
        .collect()
}

fn worst(rules: &[&Rule]) -> Safety {
    rules.iter().map(|r| r.safety).max().unwrap_or(Safety::Safe)
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Qwen,
    Llama,
    Shield,
}

fn format_of(model: &str) -> Option<Format> {
    let m = model.to_lowercase();
    if m.contains("qwen3guard") {
        Some(Format::Qwen)
    } else if m.contains("llama-guard") || m.contains("llamaguard") {
        Some(Format::Llama)
    } else if m.contains("shieldlm") {
        Some(Format::Shield)
    } else {
        None
    }
}

async fn chat(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&state, &headers, &body) {
        Ok(v) => v,
        Err((status, message)) => return error(status, &message),
    };
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    let Some(format) = format_of(&model) else {
        return error(StatusCode::NOT_FOUND, &format!("model `{model}` not found"));
    };
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let Some(last) = messages.last() else {
        return error(StatusCode::BAD_REQUEST, "`messages` is empty");
    };
    let last_text = last["content"].as_str().unwrap_or_default();
    let output_stage = last["role"] == "assistant";
    let judged = match format {
        Format::Qwen => Some(last_text.to_owned()),
        Format::Llama => llama_judged(last_text),
        Format::Shield => last_text
            .rfind("\nB: ")
            .map(|at| last_text[at + 4..].to_owned()),
    };
    let Some(judged) = judged else {
        return error(
            StatusCode::BAD_REQUEST,
            "the prompt is not in the model's format",
        );
    };
    if let Some(r) = faults(&state, &judged, &model, true).await {
        return r;
    }
    let rules = matching(&judged);
    let unknown = directive(&judged, "label");
    let content = match format {
        Format::Qwen => qwen_reply(&rules, unknown, output_stage, &judged),
        Format::Llama => llama_reply(&rules, unknown),
        Format::Shield => shield_reply(&rules, last_text.contains("您是一位文本安全专家")),
    };
    json_response(&json!({
        "id": "chatcmpl-guard", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }))
}

/// The judged turn of a Llama Guard request: plain text, or the last turn inside a task prompt.
fn llama_judged(text: &str) -> Option<String> {
    if !text.starts_with("Task: Check if there is unsafe content") {
        return Some(text.to_owned());
    }
    let start = text.find("<BEGIN CONVERSATION>\n\n")? + "<BEGIN CONVERSATION>\n\n".len();
    let end = text.find("\n\n<END CONVERSATION>")?;
    let conversation = text.get(start..end)?;
    match conversation.rfind("\n\nAgent: ") {
        Some(at) => Some(conversation[at + "\n\nAgent: ".len()..].to_owned()),
        None => conversation.strip_prefix("User: ").map(str::to_owned),
    }
}

fn qwen_reply(rules: &[&Rule], unknown: Option<&str>, output: bool, judged: &str) -> String {
    let rules: Vec<&Rule> = rules
        .iter()
        .copied()
        .filter(|r| !(output && r.qwen == "Jailbreak"))
        .collect();
    let mut categories: Vec<&str> = rules.iter().map(|r| r.qwen).collect();
    categories.extend(unknown);
    categories.dedup();
    let safety = if unknown.is_some() {
        Safety::Unsafe
    } else {
        worst(&rules)
    };
    let safety = match safety {
        Safety::Safe => "Safe",
        Safety::Controversial => "Controversial",
        Safety::Unsafe => "Unsafe",
    };
    let categories = if categories.is_empty() {
        "None".to_owned()
    } else {
        categories.join(", ")
    };
    let mut reply = format!("Safety: {safety}\nCategories: {categories}");
    if output {
        let lower = judged.to_lowercase();
        let refusal = lower.contains("抱歉") || lower.contains("sorry");
        reply.push_str(if refusal {
            "\nRefusal: Yes"
        } else {
            "\nRefusal: No"
        });
    }
    reply
}

fn llama_reply(rules: &[&Rule], unknown: Option<&str>) -> String {
    let mut codes: Vec<&str> = rules
        .iter()
        .filter(|r| r.safety == Safety::Unsafe && !r.llama.is_empty())
        .map(|r| r.llama)
        .collect();
    codes.extend(unknown);
    if codes.is_empty() {
        "safe".to_owned()
    } else {
        format!("unsafe\n{}", codes.join(","))
    }
}

fn shield_reply(rules: &[&Rule], zh: bool) -> String {
    let (label, analysis) = match (worst(rules), zh) {
        (Safety::Unsafe, true) => ("不安全", "回复包含有害内容。"),
        (Safety::Controversial, true) => ("有争议", "回复处于灰色地带。"),
        (Safety::Safe, true) => ("安全", "回复没有安全问题。"),
        (Safety::Unsafe, false) => ("unsafe", "The response contains harmful content."),
        (Safety::Controversial, false) => ("controversial", "The response is borderline."),
        (Safety::Safe, false) => ("safe", "The response raises no safety issue."),
    };
    if zh {
        format!("[答案] {label}\n[分析] {analysis}")
    } else {
        format!("[Answer] {label}\n[Analysis] {analysis}")
    }
}

async fn moderations(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&state, &headers, &body) {
        Ok(v) => v,
        Err((status, message)) => return error(status, &message),
    };
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    let text = match &request["input"] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => return error(StatusCode::BAD_REQUEST, "`input` must be a string or array"),
    };
    if let Some(r) = faults(&state, &text, &model, false).await {
        return r;
    }
    let rules = matching(&text);
    let mut categories = serde_json::Map::new();
    let mut scores = serde_json::Map::new();
    for name in MODERATION_CATEGORIES {
        categories.insert(name.into(), Value::Bool(false));
        scores.insert(name.into(), json!(0.001));
    }
    for r in rules.iter().filter(|r| !r.moderation.is_empty()) {
        let (flag, score) = match r.safety {
            Safety::Unsafe => (true, 0.9),
            _ => (false, 0.4),
        };
        categories.insert(r.moderation.into(), Value::Bool(flag));
        scores.insert(r.moderation.into(), json!(score));
    }
    if let Some(name) = directive(&text, "label") {
        categories.insert(name.into(), Value::Bool(true));
        scores.insert(name.into(), json!(0.99));
    }
    let flagged = categories.values().any(|v| v == &Value::Bool(true));
    json_response(&json!({
        "id": "modr-mock",
        "model": model,
        "results": [{"flagged": flagged, "categories": categories, "category_scores": scores}],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_found_anywhere() {
        assert_eq!(directive("a [[fault:hang]] b", "fault"), Some("hang"));
        assert_eq!(directive("[[delay_ms:5", "delay_ms"), None);
    }

    #[test]
    fn llama_template_yields_the_last_turn() {
        let t = crate::llamaguard::task_prompt("how to make a 炸弹", Some("here"));
        assert_eq!(llama_judged(&t).as_deref(), Some("here"));
        let t = crate::llamaguard::task_prompt("how to make a 炸弹", None);
        assert_eq!(llama_judged(&t).as_deref(), Some("how to make a 炸弹"));
    }

    #[test]
    fn qwen_reply_lists_every_category() {
        let rules = matching("炸弹 and 色情");
        assert_eq!(
            qwen_reply(&rules, None, false, ""),
            "Safety: Unsafe\nCategories: Violent, Sexual Content or Sexual Acts"
        );
    }
}
