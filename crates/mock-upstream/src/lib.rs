//! A real OpenAI-compatible HTTP server on loopback that stands in for a model server in
//! hegui's integration tests, demo mode and benchmarks.
//!
//! The reply is steered by directives embedded in the last `user` message:
//!
//! | directive             | effect                                                            |
//! |-----------------------|-------------------------------------------------------------------|
//! | `[[reply:TEXT]]`      | reply exactly `TEXT` (runs to the next `]]`)                       |
//! | `[[reply_b64:B64]]`   | reply the UTF-8 text whose standard base64 is `B64`                |
//! | `[[chunk:N]]`         | stream in pieces of `N` chars (never splits a UTF-8 char)          |
//! | `[[split:a\|b\|c]]`   | stream exactly these pieces (their concatenation is the reply)     |
//! | `[[delay_ms:N]]`      | sleep `N` ms before each streamed content piece / the reply        |
//! | `[[fault:NAME]]`      | `status_500`, `status_429`, `hang`, `stall`, `malformed_sse`,      |
//! |                       | `disconnect`, `no_done`, `bad_media` (images and speech only)      |
//!
//! `/v1/images/generations` and `/v1/audio/speech` read the same directives in the prompt /
//! input text (see the `media` module): deterministic PNGs of the requested size, and a short
//! WAV tone (other formats through ffmpeg when it is installed).
//!
//! Without a `reply`/`split` directive the reply is `"Echo: "` followed by the user text with
//! every directive removed and surrounding whitespace trimmed.

use std::{
    borrow::Cow,
    collections::{HashMap, VecDeque},
    io,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Body,
    extract::DefaultBodyLimit,
    http::{header, HeaderMap, HeaderValue, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
    serve::ListenerExt,
    Router,
};
use base64::Engine;
use bytes::Bytes;
use futures::{stream, Stream};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};

mod media;
pub use media::{image_png, speech_samples, wav_bytes, SPEECH_RATE};

/// How long `[[fault:hang]]` / `[[fault:stall]]` wait before giving up (effectively "never").
const HANG: Duration = Duration::from_secs(3600);
/// Pause before an injected failure so the frames written before it reach the client.
const FLUSH_PAUSE: Duration = Duration::from_millis(50);
/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Id used for every bench-mode completion.
const BENCH_ID: &str = "chatcmpl-mock-bench";

/// Configuration of a mock upstream server.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// If set, every request must carry `Authorization: Bearer <api_key>` (else 401).
    pub api_key: Option<String>,
    /// Model ids served (listed by `/v1/models`); any other model gets 404. Empty = accept any.
    pub models: Vec<String>,
    /// Streaming piece size in chars when no `[[chunk:N]]` directive is given (0 is treated as 1).
    pub default_chunk_chars: usize,
    /// Benchmark mode: a fixed, precomputed reply; directives are not interpreted.
    pub bench_reply: Option<BenchReply>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            models: vec!["mock-small".to_owned(), "mock-large".to_owned()],
            default_chunk_chars: 4,
            bench_reply: None,
        }
    }
}

/// Fixed benchmark reply: `chunks` content pieces, each equal to `chunk_text`.
#[derive(Debug, Clone)]
pub struct BenchReply {
    /// Number of streamed content pieces.
    pub chunks: usize,
    /// Text of every piece (the non-stream reply is the concatenation of all pieces).
    pub chunk_text: String,
}

/// Shared server state: configuration, recorded requests and precomputed responses.
#[derive(Debug)]
pub struct State {
    config: MockConfig,
    models_body: Bytes,
    requests: Mutex<Vec<Value>>,
    counter: AtomicU64,
    shutdown: watch::Sender<bool>,
    bench: Option<HashMap<String, Arc<BenchModel>>>,
}

impl State {
    /// Bodies (parsed JSON) of the chat requests received, in arrival order (empty in bench mode).
    pub fn requests(&self) -> Vec<Value> {
        self.lock_requests().clone()
    }

    /// Number of chat requests received whose body was valid JSON (counted in bench mode too).
    pub fn request_count(&self) -> usize {
        usize::try_from(self.counter.load(Ordering::SeqCst)).unwrap_or(usize::MAX)
    }

    /// The configuration this server runs with.
    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    /// Wake every hanging/stalled request so a graceful shutdown can finish.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    fn lock_requests(&self) -> MutexGuard<'_, Vec<Value>> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a request body and returns its 1-based sequence number.
    fn record(&self, body: &Value) -> u64 {
        let mut requests = self.lock_requests();
        requests.push(body.clone());
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Sleeps for `dur` unless shutdown begins first; returns true if the full time elapsed.
    async fn sleep_unless_shutdown(&self, dur: Duration) -> bool {
        let mut rx = self.shutdown.subscribe();
        tokio::select! {
            () = tokio::time::sleep(dur) => true,
            _ = rx.wait_for(|stopping| *stopping) => false,
        }
    }

    fn model_allowed(&self, model: &str) -> bool {
        self.config.models.is_empty() || self.config.models.iter().any(|m| m == model)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(key) = self.config.api_key.as_deref() else {
            return true;
        };
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        match value.split_once(' ') {
            Some((scheme, token)) => scheme.eq_ignore_ascii_case("bearer") && token.trim() == key,
            None => false,
        }
    }
}

/// A running mock server on `127.0.0.1`; it shuts down when `shutdown` is called or it is dropped.
#[derive(Debug)]
pub struct MockServer {
    /// The bound loopback address.
    pub addr: SocketAddr,
    /// Base URL for OpenAI clients, e.g. `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
}

impl MockServer {
    /// Bodies (parsed JSON) of the chat requests received, in arrival order.
    pub fn requests(&self) -> Vec<Value> {
        self.state.requests()
    }

    /// Number of chat requests received whose body was valid JSON.
    pub fn request_count(&self) -> usize {
        self.state.request_count()
    }

    /// The shared state of this server.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Stop accepting connections and release hanging requests (same as dropping the server).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.state.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Bind `127.0.0.1:0` and serve the mock in a background tokio task (needs a tokio runtime).
pub async fn spawn(config: MockConfig) -> io::Result<MockServer> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (app, state) = router(config);
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(MockServer {
        addr,
        base_url: format!("http://{addr}/v1"),
        state,
        stop: Some(stop),
    })
}

/// Build the mock's router and its shared state, to serve on any listener.
pub fn router(config: MockConfig) -> (Router, Arc<State>) {
    let models: Vec<Value> = config
        .models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "mock"}))
        .collect();
    let models_body = Bytes::from(json!({"object": "list", "data": models}).to_string());
    let bench = config.bench_reply.as_ref().map(|reply| {
        config
            .models
            .iter()
            .map(|model| (model.clone(), Arc::new(BenchModel::build(reply, model))))
            .collect::<HashMap<_, _>>()
    });
    let (shutdown, _) = watch::channel(false);
    let state = Arc::new(State {
        config,
        models_body,
        requests: Mutex::new(Vec::new()),
        counter: AtomicU64::new(0),
        shutdown,
        bench,
    });
    let app = Router::new()
        .route("/v1/models", get(models_handler))
        .route("/v1/chat/completions", post(chat_handler))
        .route("/v1/images/generations", post(media::images_handler))
        .route("/v1/audio/speech", post(media::speech_handler))
        .fallback(fallback_handler)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::clone(&state));
    (app, state)
}

type AppState = axum::extract::State<Arc<State>>;

async fn models_handler(axum::extract::State(state): AppState, headers: HeaderMap) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    json_response(StatusCode::OK, state.models_body.clone())
}

async fn fallback_handler(uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("Unknown request URL: {uri}"),
        "invalid_request_error",
        Some("unknown_url"),
    )
}

async fn chat_handler(
    axum::extract::State(state): AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.bench.is_some() {
        return bench_chat(&state, &headers, &body);
    }
    let parsed = serde_json::from_slice::<Value>(&body);
    let seq = parsed.as_ref().ok().map(|v| state.record(v));
    if !state.authorized(&headers) {
        return unauthorized();
    }
    let (Ok(body), Some(seq)) = (parsed, seq) else {
        return bad_request("We could not parse the JSON body of your request.");
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return bad_request("you must provide a model parameter");
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return bad_request("'messages' is a required property and must be an array");
    };
    if !state.model_allowed(model) {
        return model_not_found(model);
    }
    let user_text = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content")))
        .unwrap_or_default();
    let (directives, stripped) = match parse_directives(&user_text) {
        Ok(parsed) => parsed,
        Err(message) => return bad_request(&message),
    };
    let prompt_chars: usize = messages
        .iter()
        .map(|m| content_text(m.get("content")).chars().count())
        .sum();
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    let include_usage = body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        == Some(true);

    let chunk_chars = directives
        .chunk
        .unwrap_or(state.config.default_chunk_chars)
        .max(1);
    let pieces = match directives.split {
        Some(split) => split,
        None => {
            let reply = directives
                .reply
                .unwrap_or_else(|| format!("Echo: {stripped}"));
            chunk_by_chars(&reply, chunk_chars)
        }
    };
    let reply: String = pieces.concat();
    let delay = Duration::from_millis(directives.delay_ms.unwrap_or(0));
    let completion = Completion {
        id: format!("chatcmpl-mock-{seq}"),
        created: now_secs(),
        model: model.to_owned(),
        usage: usage_json(tokens(prompt_chars), tokens(reply.chars().count())),
    };

    match directives.fault {
        Some(Fault::Hang) => {
            state.sleep_unless_shutdown(HANG).await;
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "mock upstream: hang released",
                "server_error",
                None,
            );
        }
        Some(Fault::Status500) => {
            tokio::time::sleep(delay).await;
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
            );
        }
        Some(Fault::Status429) => {
            tokio::time::sleep(delay).await;
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached for requests (mock upstream).",
                "requests",
                Some("rate_limit_exceeded"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        _ => {}
    }

    if stream {
        stream_response(
            &state,
            &completion,
            &pieces,
            delay,
            include_usage,
            directives.fault,
        )
    } else {
        tokio::time::sleep(delay).await;
        match directives.fault {
            Some(Fault::MalformedSse) => {
                json_response(StatusCode::OK, Bytes::from_static(b"{not json"))
            }
            Some(Fault::Disconnect) => body_stream_response(
                "application/json",
                step_stream(vec![Step::Fail], Arc::clone(&state)),
            ),
            Some(Fault::Stall) => body_stream_response(
                "application/json",
                step_stream(vec![Step::Stall], Arc::clone(&state)),
            ),
            _ => json_response(
                StatusCode::OK,
                Bytes::from(completion.full(&reply).to_string()),
            ),
        }
    }
}

/// Everything needed to render a completion (streamed or not).
struct Completion {
    id: String,
    created: u64,
    model: String,
    usage: Value,
}

impl Completion {
    fn full(&self, content: &str) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }],
            "usage": self.usage,
        })
    }

    fn chunk(&self, delta: Value, finish_reason: Value) -> Bytes {
        sse(&json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }))
    }

    fn role_chunk(&self) -> Bytes {
        self.chunk(json!({"role": "assistant", "content": ""}), Value::Null)
    }

    fn content_chunk(&self, piece: &str) -> Bytes {
        self.chunk(json!({"content": piece}), Value::Null)
    }

    fn finish_chunk(&self) -> Bytes {
        self.chunk(json!({}), json!("stop"))
    }

    fn usage_chunk(&self) -> Bytes {
        sse(&json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": self.usage,
        }))
    }
}

fn stream_response(
    state: &Arc<State>,
    completion: &Completion,
    pieces: &[String],
    delay: Duration,
    include_usage: bool,
    fault: Option<Fault>,
) -> Response {
    let content_limit = match fault {
        Some(Fault::MalformedSse | Fault::Stall) => 1,
        Some(Fault::Disconnect) => 2,
        _ => pieces.len(),
    };
    let mut steps = Vec::with_capacity(pieces.len() * 2 + 4);
    steps.push(Step::Data(completion.role_chunk()));
    for piece in pieces.iter().take(content_limit) {
        if !delay.is_zero() {
            steps.push(Step::Sleep(delay));
        }
        steps.push(Step::Data(completion.content_chunk(piece)));
    }
    match fault {
        Some(Fault::MalformedSse) => {
            steps.push(Step::Data(Bytes::from_static(b"data: {not json\n\n")));
        }
        Some(Fault::Disconnect) => {
            steps.push(Step::Sleep(FLUSH_PAUSE));
            steps.push(Step::Fail);
        }
        Some(Fault::Stall) => steps.push(Step::Stall),
        _ => {
            steps.push(Step::Data(completion.finish_chunk()));
            if include_usage {
                steps.push(Step::Data(completion.usage_chunk()));
            }
            if fault != Some(Fault::NoDone) {
                steps.push(Step::Data(Bytes::from_static(b"data: [DONE]\n\n")));
            }
        }
    }
    body_stream_response("text/event-stream", step_stream(steps, Arc::clone(state)))
}

/// One step of a scripted response body.
enum Step {
    Data(Bytes),
    Sleep(Duration),
    /// End the body with an error: the connection is cut without a terminating chunk.
    Fail,
    /// Send nothing more until shutdown (or [`HANG`] elapses), then end the body.
    Stall,
}

fn step_stream(
    steps: Vec<Step>,
    state: Arc<State>,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    stream::unfold(
        (VecDeque::from(steps), state),
        |(mut steps, state)| async move {
            loop {
                match steps.pop_front()? {
                    Step::Data(bytes) => return Some((Ok(bytes), (steps, state))),
                    Step::Sleep(dur) => tokio::time::sleep(dur).await,
                    Step::Fail => {
                        steps.clear();
                        let err = io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "mock upstream: injected disconnect",
                        );
                        return Some((Err(err), (steps, state)));
                    }
                    Step::Stall => {
                        state.sleep_unless_shutdown(HANG).await;
                        return None;
                    }
                }
            }
        },
    )
}

fn body_stream_response<S>(content_type: &'static str, body: S) -> Response
where
    S: Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
{
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

// ---------------------------------------------------------------------------------------------
// Bench mode
// ---------------------------------------------------------------------------------------------

/// Precomputed responses for one model in bench mode.
#[derive(Debug)]
struct BenchModel {
    json: Bytes,
    /// Role chunk, content chunks, finish chunk.
    events: Vec<Bytes>,
    usage: Bytes,
}

impl BenchModel {
    fn build(reply: &BenchReply, model: &str) -> Self {
        let content = reply.chunk_text.repeat(reply.chunks);
        let completion = Completion {
            id: BENCH_ID.to_owned(),
            created: 0,
            model: model.to_owned(),
            usage: usage_json(0, tokens(content.chars().count())),
        };
        let mut events = Vec::with_capacity(reply.chunks + 2);
        events.push(completion.role_chunk());
        let piece = completion.content_chunk(&reply.chunk_text);
        events.extend(std::iter::repeat_n(piece, reply.chunks));
        events.push(completion.finish_chunk());
        Self {
            json: Bytes::from(completion.full(&content).to_string()),
            events,
            usage: completion.usage_chunk(),
        }
    }
}

#[derive(Deserialize)]
struct BenchRequest<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<BenchStreamOptions>,
}

#[derive(Deserialize)]
struct BenchStreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

fn bench_chat(state: &State, headers: &HeaderMap, body: &[u8]) -> Response {
    let parsed = serde_json::from_slice::<BenchRequest<'_>>(body);
    if parsed.is_ok() {
        state.counter.fetch_add(1, Ordering::Relaxed);
    }
    if !state.authorized(headers) {
        return unauthorized();
    }
    let Ok(request) = parsed else {
        return bad_request("We could not parse the JSON body of your request.");
    };
    let model = request.model.as_ref();
    let precomputed = state.bench.as_ref().and_then(|m| m.get(model)).cloned();
    let bench = match (precomputed, &state.config.bench_reply) {
        (Some(bench), _) => bench,
        (None, Some(reply)) if state.model_allowed(model) => {
            Arc::new(BenchModel::build(reply, model))
        }
        _ => return model_not_found(model),
    };
    if request.stream != Some(true) {
        return json_response(StatusCode::OK, bench.json.clone());
    }
    let include_usage = request
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let mut events = Vec::with_capacity(bench.events.len() + 2);
    events.extend(bench.events.iter().cloned().map(Ok));
    if include_usage {
        events.push(Ok(bench.usage.clone()));
    }
    events.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
    body_stream_response("text/event-stream", stream::iter(events))
}

// ---------------------------------------------------------------------------------------------
// Directives
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Status500,
    Status429,
    Hang,
    Stall,
    MalformedSse,
    Disconnect,
    NoDone,
    /// Images and speech: bytes that are not an image / not audio.
    BadMedia,
}

#[derive(Debug, Default)]
struct Directives {
    reply: Option<String>,
    chunk: Option<usize>,
    split: Option<Vec<String>>,
    delay_ms: Option<u64>,
    fault: Option<Fault>,
}

/// Parse the `[[name:value]]` directives of `text`; returns them plus the text without them,
/// trimmed. Unknown `[[...]]` sequences are left in the text; bad values are an error.
fn parse_directives(text: &str) -> Result<(Directives, String), String> {
    let mut directives = Directives::default();
    let mut stripped = String::with_capacity(text.len());
    let mut copied_upto = 0;
    let mut scan = 0;
    while let Some(rel) = text[scan..].find("[[") {
        let start = scan + rel;
        let inner_start = start + 2;
        let Some(inner_len) = text[inner_start..].find("]]") else {
            break;
        };
        let inner = &text[inner_start..inner_start + inner_len];
        let applied = match inner.split_once(':') {
            Some((name, value)) => apply_directive(&mut directives, name, value)?,
            None => false,
        };
        if applied {
            stripped.push_str(&text[copied_upto..start]);
            copied_upto = inner_start + inner_len + 2;
            scan = copied_upto;
        } else {
            // `[` is one byte, so `start + 1` is a char boundary.
            scan = start + 1;
        }
    }
    stripped.push_str(&text[copied_upto..]);
    Ok((directives, stripped.trim().to_owned()))
}

/// Apply one directive; `Ok(false)` if `name` is not a directive name.
fn apply_directive(d: &mut Directives, name: &str, value: &str) -> Result<bool, String> {
    match name {
        "reply" => d.reply = Some(value.to_owned()),
        // Base64 lets a test make the mock say text that must not appear in the prompt
        // (input review would refuse the prompt otherwise).
        "reply_b64" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|e| format!("mock upstream: bad [[reply_b64:{value}]] ({e})"))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("mock upstream: [[reply_b64:{value}]] is not UTF-8"))?;
            d.reply = Some(text);
        }
        "split" => d.split = Some(value.split('|').map(str::to_owned).collect()),
        "chunk" => match value.trim().parse::<usize>() {
            Ok(n) if n > 0 => d.chunk = Some(n),
            _ => {
                return Err(format!(
                    "mock upstream: bad [[chunk:{value}]] (want N >= 1)"
                ))
            }
        },
        "delay_ms" => match value.trim().parse::<u64>() {
            Ok(ms) => d.delay_ms = Some(ms),
            Err(_) => return Err(format!("mock upstream: bad [[delay_ms:{value}]]")),
        },
        "fault" => {
            d.fault = Some(match value.trim() {
                "status_500" => Fault::Status500,
                "status_429" => Fault::Status429,
                "hang" => Fault::Hang,
                "stall" => Fault::Stall,
                "malformed_sse" => Fault::MalformedSse,
                "disconnect" => Fault::Disconnect,
                "no_done" => Fault::NoDone,
                "bad_media" => Fault::BadMedia,
                other => return Err(format!("mock upstream: unknown fault '{other}'")),
            });
        }
        _ => return Ok(false),
    }
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Text of a message `content`: a string, or the `text` parts of an array joined by `\n`.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Split `s` into pieces of `n` chars (the last may be shorter).
fn chunk_by_chars(s: &str, n: usize) -> Vec<String> {
    let n = n.max(1);
    let mut pieces = Vec::with_capacity(s.len() / n + 1);
    let mut current = String::new();
    let mut count = 0;
    for c in s.chars() {
        current.push(c);
        count += 1;
        if count == n {
            pieces.push(std::mem::take(&mut current));
            count = 0;
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Deterministic token estimate: chars / 4, rounded up.
fn tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX)
}

fn usage_json(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    })
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn error_response(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    json_response(status, Bytes::from(body.to_string()))
}

fn unauthorized() -> Response {
    error_response(
        StatusCode::UNAUTHORIZED,
        "Incorrect API key provided.",
        "invalid_request_error",
        Some("invalid_api_key"),
    )
}

fn bad_request(message: &str) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        message,
        "invalid_request_error",
        None,
    )
}

fn model_not_found(model: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("The model `{model}` does not exist or you do not have access to it."),
        "invalid_request_error",
        Some("model_not_found"),
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn directives_are_parsed_and_stripped() {
        let (d, rest) =
            parse_directives("  hi [[reply:a]b]] there [[chunk:3]][[delay_ms:7]] [[x]] ").unwrap();
        assert_eq!(d.reply.as_deref(), Some("a]b"));
        assert_eq!(d.chunk, Some(3));
        assert_eq!(d.delay_ms, Some(7));
        assert_eq!(rest, "hi  there  [[x]]");
    }

    #[test]
    fn base64_reply_is_decoded() {
        // "冰毒" in base64: the prompt carries no reviewable text.
        let (d, _) = parse_directives("[[reply_b64:5Yaw5q+S]]").unwrap();
        assert_eq!(d.reply.as_deref(), Some("冰毒"));
        assert!(parse_directives("[[reply_b64:%%%]]").is_err());
    }

    #[test]
    fn nested_open_brackets_find_the_directive() {
        let (d, rest) = parse_directives("[[[fault:no_done]]").unwrap();
        assert_eq!(d.fault, Some(Fault::NoDone));
        assert_eq!(rest, "[");
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(parse_directives("[[chunk:0]]").is_err());
        assert!(parse_directives("[[delay_ms:soon]]").is_err());
        assert!(parse_directives("[[fault:explode]]").is_err());
    }

    #[test]
    fn chunking_counts_chars_not_bytes() {
        assert_eq!(chunk_by_chars("héllo✓", 2), vec!["hé", "ll", "o✓"]);
        assert!(chunk_by_chars("", 3).is_empty());
    }

    #[test]
    fn content_parts_are_joined() {
        let v = json!([{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]);
        assert_eq!(content_text(Some(&v)), "a\nb");
    }
}
