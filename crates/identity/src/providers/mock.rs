//! Real loopback HTTP servers (axum on `127.0.0.1:0`) that behave like an SMS gateway and an
//! identity authority, with failure modes, for tests and demos. Feature `mock`.
//!
//! Wire format (what [`sms_config_for`] / [`authority_config_for`] configure):
//!
//! * SMS gateway, `POST {url}` with JSON `{"to": "...", "code": "..."}` or the same fields as a
//!   form. Answers `200 {"Code":"OK"}`; `to`/`code` missing or not strings → `400`.
//! * Authority, `POST {url}` with JSON `{"name": "...", "idNumber": "..."}` or the same fields
//!   as a form. Answers `200 {"result":"match"}` for registered pairs, else
//!   `{"result":"no_match"}`; fields missing → `400`.
//!
//! Like some real services, the failure answers echo the submitted data, so tests can check
//! that it never reaches an error message.
//!
//! Dropping a mock shuts its server down (hanging requests are released at once).

use std::{
    collections::{HashMap, HashSet},
    fmt, io,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, State},
    http::{header, HeaderMap, Method, Request, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::any,
    Form, Router,
};
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};

use super::{AuthorityConfig, SmsConfig};
use super::{BodyFormat, HttpAuthorityConfig, HttpMethod, HttpSmsConfig};

const SMS_PATH: &str = "/sms/send";
const AUTHORITY_PATH: &str = "/idcard/check";

/// Behaviour of a [`MockSmsGateway`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsMode {
    /// `200 {"Code":"OK"}`, the message is recorded.
    Ok,
    /// `503` (body echoes the phone number).
    ServerError,
    /// `200 {"Code":"isv.BUSINESS_LIMIT_CONTROL"}` (the message is not sent).
    Reject,
    /// Sleep this long, then answer as `Ok`.
    Hang(Duration),
    /// `200` with a non-JSON body (echoes the phone number).
    Garbage,
}

/// Behaviour of a [`MockAuthority`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorityMode {
    /// `{"result":"match"}` for registered pairs, `{"result":"no_match"}` otherwise.
    Ok,
    /// `503` (body echoes the name and ID number).
    ServerError,
    /// Sleep this long, then answer as `Ok`.
    Hang(Duration),
    /// `200` with a non-JSON body (echoes the name and ID number).
    Garbage,
    /// `200 {"result":"pending"}`.
    UnknownResult,
}

/// One request as the mock received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    /// Header names are lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ReceivedRequest {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Mock SMS gateway on loopback.
pub struct MockSmsGateway {
    server: Loopback,
    state: Arc<SmsState>,
}

struct SmsState {
    mode: Mutex<SmsMode>,
    requests: Mutex<Vec<ReceivedRequest>>,
    messages: Mutex<Vec<(String, String)>>,
    shutdown: watch::Receiver<bool>,
}

impl MockSmsGateway {
    /// Start on `127.0.0.1:0` (needs a tokio runtime).
    ///
    /// # Panics
    /// If no loopback port can be bound; use [`Self::try_start`] to handle that.
    pub async fn start(mode: SmsMode) -> Self {
        match Self::try_start(mode).await {
            Ok(mock) => mock,
            Err(e) => panic!("mock SMS gateway: cannot bind 127.0.0.1:0: {e}"),
        }
    }

    /// Start on `127.0.0.1:0`, reporting a bind failure.
    pub async fn try_start(mode: SmsMode) -> io::Result<Self> {
        let (shutdown_tx, shutdown) = watch::channel(false);
        let state = Arc::new(SmsState {
            mode: Mutex::new(mode),
            requests: Mutex::new(Vec::new()),
            messages: Mutex::new(Vec::new()),
            shutdown,
        });
        let app = Router::new()
            .route(SMS_PATH, any(sms_handler))
            .with_state(Arc::clone(&state));
        let server = Loopback::serve(app, shutdown_tx).await?;
        Ok(Self { server, state })
    }

    /// The endpoint to configure as `url`.
    pub fn url(&self) -> String {
        format!("http://{}{SMS_PATH}", self.server.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// `(to, code)` of every message accepted (answered `{"Code":"OK"}`), in order.
    pub fn messages(&self) -> Vec<(String, String)> {
        lock(&self.state.messages).clone()
    }

    /// Every request received, whatever the mode, in order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.state.requests).clone()
    }

    /// Change the behaviour for the following requests.
    pub fn set_mode(&self, mode: SmsMode) {
        *lock(&self.state.mode) = mode;
    }
}

/// Mock identity authority on loopback.
pub struct MockAuthority {
    server: Loopback,
    state: Arc<AuthorityState>,
}

struct AuthorityState {
    mode: Mutex<AuthorityMode>,
    registered: Mutex<HashSet<(String, String)>>,
    requests: Mutex<Vec<ReceivedRequest>>,
    calls: AtomicUsize,
    shutdown: watch::Receiver<bool>,
}

impl MockAuthority {
    /// Start on `127.0.0.1:0` in [`AuthorityMode::Ok`] with no registered pair (needs a tokio
    /// runtime).
    ///
    /// # Panics
    /// If no loopback port can be bound; use [`Self::try_start`] to handle that.
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(mock) => mock,
            Err(e) => panic!("mock identity authority: cannot bind 127.0.0.1:0: {e}"),
        }
    }

    /// Start on `127.0.0.1:0`, reporting a bind failure.
    pub async fn try_start() -> io::Result<Self> {
        let (shutdown_tx, shutdown) = watch::channel(false);
        let state = Arc::new(AuthorityState {
            mode: Mutex::new(AuthorityMode::Ok),
            registered: Mutex::new(HashSet::new()),
            requests: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
            shutdown,
        });
        let app = Router::new()
            .route(AUTHORITY_PATH, any(authority_handler))
            .with_state(Arc::clone(&state));
        let server = Loopback::serve(app, shutdown_tx).await?;
        Ok(Self { server, state })
    }

    /// Make `(name, id_number)` a matching pair.
    pub fn register(&self, name: &str, id_number: &str) {
        lock(&self.state.registered).insert((name.to_owned(), id_number.to_owned()));
    }

    /// The endpoint to configure as `url`.
    pub fn url(&self) -> String {
        format!("http://{}{AUTHORITY_PATH}", self.server.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Number of requests received, whatever the mode.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Every request received, whatever the mode, in order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.state.requests).clone()
    }

    /// Change the behaviour for the following requests.
    pub fn set_mode(&self, mode: AuthorityMode) {
        *lock(&self.state.mode) = mode;
    }
}

// The recorded traffic and registered pairs are (test) personal data: Debug shows counts only.
impl fmt::Debug for MockSmsGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockSmsGateway")
            .field("url", &self.url())
            .field("mode", &*lock(&self.state.mode))
            .field("requests", &lock(&self.state.requests).len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MockAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockAuthority")
            .field("url", &self.url())
            .field("mode", &*lock(&self.state.mode))
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

/// An [`SmsConfig`] speaking the [`MockSmsGateway`] wire format (JSON body).
pub fn sms_config_for(url: &str) -> SmsConfig {
    SmsConfig::Http(HttpSmsConfig {
        name: "mock-sms".to_owned(),
        url: url.to_owned(),
        method: HttpMethod::Post,
        timeout_ms: 5000,
        headers: Default::default(),
        body_format: BodyFormat::Json,
        body: json!({ "to": "{{phone}}", "code": "{{code}}" }),
        success_status: [200, 299],
        success_pointer: Some("/Code".to_owned()),
        success_value: Some("OK".to_owned()),
    })
}

/// An [`AuthorityConfig`] speaking the [`MockAuthority`] wire format (JSON body).
pub fn authority_config_for(url: &str) -> AuthorityConfig {
    AuthorityConfig::Http(HttpAuthorityConfig {
        name: "mock-authority".to_owned(),
        url: url.to_owned(),
        method: HttpMethod::Post,
        timeout_ms: 5000,
        headers: Default::default(),
        body_format: BodyFormat::Json,
        body: json!({ "name": "{{name}}", "idNumber": "{{id_number}}" }),
        success_status: [200, 299],
        result_pointer: "/result".to_owned(),
        match_values: vec!["match".to_owned()],
        no_match_values: vec!["no_match".to_owned()],
    })
}

// ---------------------------------------------------------------------------------------------

/// A served router; dropping it stops the server and releases hanging requests.
#[derive(Debug)]
struct Loopback {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    shutdown: watch::Sender<bool>,
}

impl Loopback {
    async fn serve(app: Router, shutdown: watch::Sender<bool>) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            stop: Some(stop),
            shutdown,
        })
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sleep `delay`; `false` if the server shut down first.
async fn hang(delay: Duration, shutdown: &watch::Receiver<bool>) -> bool {
    let mut shutdown = shutdown.clone();
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        _ = shutdown.wait_for(|stopped| *stopped) => false,
    }
}

fn record(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> ReceivedRequest {
    ReceivedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

/// The string fields of a JSON object or form body (by `Content-Type`). Non-string JSON
/// values are left out.
async fn string_fields(headers: &HeaderMap, body: Bytes) -> Option<HashMap<String, String>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        let Value::Object(map) = serde_json::from_slice::<Value>(&body).ok()? else {
            return None;
        };
        Some(
            map.into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    _ => None,
                })
                .collect(),
        )
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let request = Request::builder()
            .method(Method::POST)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .ok()?;
        let Form(fields) = Form::<HashMap<String, String>>::from_request(request, &())
            .await
            .ok()?;
        Some(fields)
    } else {
        None
    }
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn html_reply(text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn sms_handler(
    State(state): State<Arc<SmsState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    lock(&state.requests).push(record(&method, &uri, &headers, &body));
    let fields = string_fields(&headers, body).await;
    let field = |name: &str| {
        fields
            .as_ref()
            .and_then(|f| f.get(name))
            .cloned()
            .unwrap_or_default()
    };
    let mode = lock(&state.mode).clone();
    match mode {
        SmsMode::ServerError => json_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"Code": "ServiceUnavailable", "Message": format!("cannot reach carrier for {}", field("to"))}),
        ),
        SmsMode::Reject => json_reply(
            StatusCode::OK,
            json!({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": format!("daily limit reached for {}", field("to"))}),
        ),
        SmsMode::Garbage => html_reply(format!(
            "<html><body>502 Bad Gateway (to={})</body></html>",
            field("to")
        )),
        SmsMode::Ok | SmsMode::Hang(_) => {
            if let SmsMode::Hang(delay) = mode {
                if !hang(delay, &state.shutdown).await {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
            }
            let (to, code) = (field("to"), field("code"));
            if to.is_empty() || code.is_empty() {
                return json_reply(
                    StatusCode::BAD_REQUEST,
                    json!({"Code": "isv.MISSING_PARAMETER", "Message": "`to` and `code` must be non-empty strings"}),
                );
            }
            lock(&state.messages).push((to, code));
            json_reply(StatusCode::OK, json!({"Code": "OK", "Message": "OK"}))
        }
    }
}

async fn authority_handler(
    State(state): State<Arc<AuthorityState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    lock(&state.requests).push(record(&method, &uri, &headers, &body));
    let fields = string_fields(&headers, body).await;
    let field = |name: &str| {
        fields
            .as_ref()
            .and_then(|f| f.get(name))
            .cloned()
            .unwrap_or_default()
    };
    let (name, id_number) = (field("name"), field("idNumber"));
    let mode = lock(&state.mode).clone();
    match mode {
        AuthorityMode::ServerError => json_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": format!("backend busy while checking {name} / {id_number}")}),
        ),
        AuthorityMode::Garbage => html_reply(format!(
            "<html>maintenance: {name} {id_number} queued</html>"
        )),
        AuthorityMode::UnknownResult => json_reply(
            StatusCode::OK,
            json!({"result": "pending", "name": name, "idNumber": id_number}),
        ),
        AuthorityMode::Ok | AuthorityMode::Hang(_) => {
            if let AuthorityMode::Hang(delay) = mode {
                if !hang(delay, &state.shutdown).await {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
            }
            if name.is_empty() || id_number.is_empty() {
                return json_reply(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "`name` and `idNumber` must be non-empty strings"}),
                );
            }
            let matched = lock(&state.registered).contains(&(name, id_number));
            json_reply(
                StatusCode::OK,
                json!({"result": if matched { "match" } else { "no_match" }}),
            )
        }
    }
}
