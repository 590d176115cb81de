//! Providers behind real-name verification: an SMS sender for one-time codes and an identity
//! authority that checks a (name, ID number) pair.
//!
//! Both are traits ([`SmsSender`], [`IdentityAuthority`]) with HTTP adapters configured per
//! deployment ([`SmsConfig`], [`AuthorityConfig`], built by [`build_sms`] / [`build_authority`])
//! and, for development, a console SMS sender.
//!
//! # Personal information
//! Phone numbers, ID numbers and names are personal information. Nothing in this module logs
//! them, puts them in an error, or shows them in `Debug` output. Upstream response bodies may
//! echo the submitted data, so errors carry at most a short excerpt of them with every digit
//! replaced by `*` and the submitted name (and ID number / phone) removed.

pub mod authority;
#[cfg(feature = "mock")]
pub mod mock;
pub mod sms;
pub mod template;

use std::{collections::BTreeMap, fmt, ops::RangeInclusive, sync::Arc, time::Duration};

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub use authority::HttpAuthority;
pub use sms::{mask_phone, ConsoleSms, HttpSms};
use template::{BodyTemplate, EnvLookup, RenderedBody};

/// Outcome of an identity check that the authority answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorityResult {
    /// The name and ID number belong together.
    Match,
    /// The authority knows no such pair.
    NoMatch,
}

/// Why a provider call or a provider build failed. `provider` is the configured provider name.
///
/// No variant ever carries a phone number, ID number or name.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No complete answer within the configured `timeout_ms`.
    #[error(
        "identity provider `{provider}` did not answer within {after_ms} ms; check that the \
         service is reachable and healthy, or raise `timeout_ms` in its configuration"
    )]
    Timeout { provider: String, after_ms: u64 },
    /// Connection failure or a 5xx answer.
    #[error(
        "identity provider `{provider}` is unavailable ({detail}); check its `url` and the \
         service's status, then retry later"
    )]
    Unavailable { provider: String, detail: String },
    /// A 4xx (or other non-success) status, or a success check that failed.
    #[error(
        "identity provider `{provider}` rejected the request (HTTP {status}: {detail}); check \
         the credentials, headers and body template in its configuration and the account's \
         quota with the provider"
    )]
    Rejected {
        provider: String,
        status: u16,
        detail: String,
    },
    /// A response that cannot be interpreted: not JSON, missing pointer, unexpected value.
    #[error(
        "identity provider `{provider}` sent a response hegui cannot interpret ({detail}); \
         check the response settings (`success_pointer`/`success_value` or \
         `result_pointer`/`match_values`/`no_match_values`) against the provider's API \
         documentation"
    )]
    BadResponse { provider: String, detail: String },
    /// The configuration cannot work; the message says what to change.
    #[error("identity provider configuration error: {0}")]
    Config(String),
}

/// Sends one-time verification codes by SMS.
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    /// The configured provider name (for logs and errors).
    fn name(&self) -> &str;
    /// Deliver `code` to `phone`. `Ok` means the provider accepted the message.
    async fn send_code(&self, phone: &str, code: &str) -> Result<(), ProviderError>;
}

/// Checks that a name and a resident ID number belong together.
#[async_trait]
pub trait IdentityAuthority: Send + Sync + 'static {
    /// The configured provider name (for logs and errors).
    fn name(&self) -> &str;
    /// Ask the authority. Errors are never turned into a silent `NoMatch`.
    async fn check(&self, name: &str, id_number: &str) -> Result<AuthorityResult, ProviderError>;
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// `[identity.sms]`: how verification codes are sent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SmsConfig {
    /// Print the code to stderr. Development only: refused in production.
    /// (A struct variant so that `deny_unknown_fields` also applies to it.)
    Console {},
    /// Call an HTTP SMS gateway.
    Http(HttpSmsConfig),
}

/// `[identity.authority]`: who checks name + ID number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthorityConfig {
    /// Call an HTTP identity verification service.
    Http(HttpAuthorityConfig),
}

/// HTTP method of a provider request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum HttpMethod {
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    #[serde(rename = "PUT", alias = "put")]
    Put,
    #[serde(rename = "PATCH", alias = "patch")]
    Patch,
}

/// How the `body` template is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// `application/json`; `body` may be any value.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`; `body` must be a flat table of strings.
    Form,
}

/// `kind = "http"` SMS gateway. Placeholders in `body`: `{{phone}}`, `{{code}}` (both required).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSmsConfig {
    /// Provider name in logs and errors.
    #[serde(default = "default_sms_name")]
    pub name: String,
    /// Endpoint; `${env:NAME}` is substituted.
    pub url: String,
    #[serde(default)]
    pub method: HttpMethod,
    /// Whole-request timeout (connect, send, response body).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra headers; `${env:NAME}` is substituted in values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body_format: BodyFormat,
    /// Body template (any TOML value).
    pub body: Value,
    /// Inclusive range of HTTP statuses that count as accepted.
    #[serde(default = "default_success_status")]
    pub success_status: [u16; 2],
    /// JSON pointer into the response whose value must equal `success_value`.
    #[serde(default)]
    pub success_pointer: Option<String>,
    /// Required value at `success_pointer` (a string; numbers are compared as rendered).
    #[serde(default, deserialize_with = "opt_scalar")]
    pub success_value: Option<String>,
}

/// `kind = "http"` identity authority. Placeholders in `body`: `{{name}}`, `{{id_number}}`
/// (both required).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAuthorityConfig {
    /// Provider name in logs and errors.
    #[serde(default = "default_authority_name")]
    pub name: String,
    /// Endpoint; `${env:NAME}` is substituted.
    pub url: String,
    #[serde(default)]
    pub method: HttpMethod,
    /// Whole-request timeout (connect, send, response body).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra headers; `${env:NAME}` is substituted in values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body_format: BodyFormat,
    /// Body template (any TOML value).
    pub body: Value,
    /// Inclusive range of HTTP statuses whose body is interpreted.
    #[serde(default = "default_success_status")]
    pub success_status: [u16; 2],
    /// JSON pointer to the verdict in the response, e.g. `/result`.
    pub result_pointer: String,
    /// Verdict values meaning "match" (numbers are compared as rendered).
    #[serde(deserialize_with = "scalars")]
    pub match_values: Vec<String>,
    /// Verdict values meaning "no match". Anything in neither list is a `BadResponse`.
    #[serde(deserialize_with = "scalars")]
    pub no_match_values: Vec<String>,
}

fn default_sms_name() -> String {
    "sms-http".to_owned()
}

fn default_authority_name() -> String {
    "authority-http".to_owned()
}

fn default_timeout_ms() -> u64 {
    5000
}

fn default_success_status() -> [u16; 2] {
    [200, 299]
}

/// A string, integer or boolean in the configuration, kept as its string rendering.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl From<Scalar> for String {
    fn from(s: Scalar) -> Self {
        match s {
            Scalar::Str(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

fn opt_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.map(String::from))
}

fn scalars<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Vec::<Scalar>::deserialize(d)?
        .into_iter()
        .map(String::from)
        .collect())
}

/// Build the SMS sender for a deployment. `production` refuses the console sender.
pub fn build_sms(cfg: &SmsConfig, production: bool) -> Result<Arc<dyn SmsSender>, ProviderError> {
    match cfg {
        SmsConfig::Console {} if production => Err(ProviderError::Config(
            "`[identity.sms] kind = \"console\"` only prints codes to the server's stderr and is \
             refused in production; configure `kind = \"http\"` with your SMS gateway"
                .to_owned(),
        )),
        SmsConfig::Console {} => {
            tracing::warn!(
                "identity SMS uses the console sender: codes are printed to stderr (development only)"
            );
            Ok(Arc::new(ConsoleSms))
        }
        SmsConfig::Http(http) => Ok(Arc::new(HttpSms::from_config(http)?)),
    }
}

/// Build the identity authority for a deployment.
pub fn build_authority(cfg: &AuthorityConfig) -> Result<Arc<dyn IdentityAuthority>, ProviderError> {
    match cfg {
        AuthorityConfig::Http(http) => Ok(Arc::new(HttpAuthority::from_config(http)?)),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared HTTP request machinery (both adapters)
// ---------------------------------------------------------------------------------------------

/// Largest response body read; the rest is ignored.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest upstream excerpt put into an error, in characters.
const MAX_EXCERPT_CHARS: usize = 60;
/// Largest accepted `timeout_ms`.
const MAX_TIMEOUT_MS: u64 = 300_000;

/// Settings shared by both HTTP adapters.
pub(crate) struct EndpointSpec<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub method: HttpMethod,
    pub timeout_ms: u64,
    pub headers: &'a BTreeMap<String, String>,
    pub body_format: BodyFormat,
    pub body: &'a Value,
    pub success_status: [u16; 2],
    /// Allowed (and required) `{{...}}` placeholders, in the order values are passed.
    pub placeholders: &'static [&'static str],
}

/// A configured HTTP endpoint: method, URL, headers, body template, timeout, success statuses.
pub(crate) struct HttpEndpoint {
    name: String,
    client: reqwest::Client,
    method: reqwest::Method,
    url: reqwest::Url,
    headers: HeaderMap,
    timeout_ms: u64,
    body: BodyTemplate,
    success: RangeInclusive<u16>,
}

// Header values and the URL may hold secrets from `${env:...}`: show header names and the
// URL without its query only.
impl fmt::Debug for HttpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = format!(
            "{}://{}{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or(""),
            self.url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        f.debug_struct("HttpEndpoint")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("url", &format_args!("{url}{}", self.url.path()))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout_ms", &self.timeout_ms)
            .field("body", &self.body)
            .field("success", &self.success)
            .finish_non_exhaustive()
    }
}

/// A response whose status is in the success range.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpEndpoint {
    pub(crate) fn build(spec: EndpointSpec<'_>, env: EnvLookup<'_>) -> Result<Self, ProviderError> {
        let name = spec.name.trim();
        if name.is_empty() {
            return Err(ProviderError::Config(
                "identity provider `name` is empty; give it a short name or leave it out"
                    .to_owned(),
            ));
        }
        let config =
            |msg: String| ProviderError::Config(format!("identity provider `{name}`: {msg}"));

        let url = template::substitute_env(spec.url, "url", env, name)?;
        let url = reqwest::Url::parse(&url).map_err(|e| {
            config(format!(
                "`url` is not a valid URL ({e}); write e.g. `https://host/path`"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(config(format!(
                "`url` uses scheme `{}`; use `https://` (or `http://` for a local service)",
                url.scheme()
            )));
        }

        if spec.timeout_ms == 0 || spec.timeout_ms > MAX_TIMEOUT_MS {
            return Err(config(format!(
                "`timeout_ms = {}` is out of range; use 1..={MAX_TIMEOUT_MS}",
                spec.timeout_ms
            )));
        }

        let [low, high] = spec.success_status;
        if !(100..=599).contains(&low) || !(100..=599).contains(&high) || low > high {
            return Err(config(format!(
                "`success_status = [{low}, {high}]` is not an inclusive range of HTTP statuses; \
                 use e.g. `[200, 299]`"
            )));
        }

        let mut headers = HeaderMap::new();
        for (key, raw) in spec.headers {
            let header = HeaderName::from_bytes(key.as_bytes())
                .map_err(|_| config(format!("`headers.{key}` is not a valid HTTP header name")))?;
            let value = template::substitute_env(raw, &format!("headers.{key}"), env, name)?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                config(format!(
                    "`headers.{key}` is not a valid HTTP header value after substitution \
                     (control characters or non-ASCII text)"
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(header, value);
        }

        let body =
            BodyTemplate::compile(spec.body, spec.body_format, spec.placeholders, env, name)?;

        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| {
                config("the HTTP client could not be initialised (TLS backend)".to_owned())
            })?;

        Ok(Self {
            name: name.to_owned(),
            client,
            method: match spec.method {
                HttpMethod::Post => reqwest::Method::POST,
                HttpMethod::Put => reqwest::Method::PUT,
                HttpMethod::Patch => reqwest::Method::PATCH,
            },
            url,
            headers,
            timeout_ms: spec.timeout_ms,
            body,
            success: low..=high,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Send one request with `values` for the placeholders. Returns the body of a response
    /// whose status is in the success range; everything else is a [`ProviderError`] whose
    /// details have `redact` (the submitted personal data) removed. Errors are logged by the
    /// adapters, once per call.
    pub(crate) async fn call(
        &self,
        values: &[&str],
        redact: &[&str],
    ) -> Result<Reply, ProviderError> {
        let started = std::time::Instant::now();
        let result = self.call_inner(values, redact).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Ok(reply) = &result {
            tracing::debug!(
                provider = %self.name,
                status = reply.status,
                elapsed_ms,
                "identity provider answered"
            );
        }
        result
    }

    async fn call_inner(&self, values: &[&str], redact: &[&str]) -> Result<Reply, ProviderError> {
        let timeout = Duration::from_millis(self.timeout_ms);
        let mut request = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone())
            .timeout(timeout);
        request = match self.body.render(values) {
            RenderedBody::Json(body) => request.json(&body),
            RenderedBody::Form(fields) => request.form(&fields),
        };
        // reqwest's per-request timeout covers connecting, sending and reading the body; the
        // outer guard only makes sure the body loop can never outlive it.
        let exchange = async {
            let mut response = request.send().await.map_err(|e| self.transport_error(&e))?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| self.transport_error(&e))?
            {
                let room = MAX_RESPONSE_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_RESPONSE_BYTES {
                    break;
                }
            }
            Ok::<_, ProviderError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout + Duration::from_millis(250), exchange)
            .await
            .map_err(|_| self.timeout_error())??;

        if !self.success.contains(&status) {
            let detail = format!("status {status}{}", excerpt_suffix(&body, redact));
            return Err(if status >= 500 {
                ProviderError::Unavailable {
                    provider: self.name.clone(),
                    detail: format!("HTTP {detail}"),
                }
            } else {
                ProviderError::Rejected {
                    provider: self.name.clone(),
                    status,
                    detail: format!(
                        "status outside `success_status` {}..={}{}",
                        self.success.start(),
                        self.success.end(),
                        excerpt_suffix(&body, redact)
                    ),
                }
            });
        }
        Ok(Reply { status, body })
    }

    fn timeout_error(&self) -> ProviderError {
        ProviderError::Timeout {
            provider: self.name.clone(),
            after_ms: self.timeout_ms,
        }
    }

    /// Classify a transport error. reqwest's own message contains the URL, so only its kind
    /// and the kind of the underlying I/O error are used.
    fn transport_error(&self, err: &reqwest::Error) -> ProviderError {
        if err.is_timeout() {
            return self.timeout_error();
        }
        let io_kind = io_error_kind(err)
            .map(|k| format!(": {k}"))
            .unwrap_or_default();
        let detail = if err.is_connect() {
            format!("could not connect{io_kind}")
        } else if err.is_body() || err.is_decode() {
            format!("the connection broke while reading the response{io_kind}")
        } else {
            format!("the request failed before a complete response arrived{io_kind}")
        };
        ProviderError::Unavailable {
            provider: self.name.clone(),
            detail,
        }
    }

    /// Parse a successful reply as JSON.
    pub(crate) fn json(&self, reply: &Reply, redact: &[&str]) -> Result<Value, ProviderError> {
        serde_json::from_slice(&reply.body).map_err(|_| ProviderError::BadResponse {
            provider: self.name.clone(),
            detail: format!(
                "the HTTP {} response is not JSON{}",
                reply.status,
                excerpt_suffix(&reply.body, redact)
            ),
        })
    }

    /// The scalar at `pointer` in `doc`, rendered as a string (numbers and booleans as JSON
    /// renders them).
    pub(crate) fn scalar_at(
        &self,
        doc: &Value,
        pointer: &str,
        redact: &[&str],
    ) -> Result<String, ProviderError> {
        let bad = |detail: String| ProviderError::BadResponse {
            provider: self.name.clone(),
            detail,
        };
        match doc.pointer(pointer) {
            None => Err(bad(format!(
                "the response has no value at `{pointer}`{}",
                excerpt_suffix(doc.to_string().as_bytes(), redact)
            ))),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(other) => Err(bad(format!(
                "the value at `{pointer}` is {}, not a string or number",
                match other {
                    Value::Null => "null",
                    Value::Array(_) => "an array",
                    _ => "an object",
                }
            ))),
        }
    }
}

/// Validate a JSON pointer from the configuration.
pub(crate) fn check_pointer(
    provider: &str,
    field: &str,
    pointer: &str,
) -> Result<(), ProviderError> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(ProviderError::Config(format!(
            "identity provider `{provider}`: `{field} = \"{pointer}\"` is not a JSON pointer; \
             it must start with `/`, e.g. `/{pointer}`"
        )))
    }
}

fn io_error_kind(err: &reqwest::Error) -> Option<std::io::ErrorKind> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

/// `; response starts: "..."` with a sanitized excerpt, or nothing for an empty body.
fn excerpt_suffix(body: &[u8], redact: &[&str]) -> String {
    let excerpt = sanitize_excerpt(&String::from_utf8_lossy(body), redact);
    if excerpt.trim().is_empty() {
        String::new()
    } else {
        format!("; response starts: \"{excerpt}\"")
    }
}

/// A short excerpt of upstream text that is safe to put into an error or a log: every
/// occurrence of each `redact` string is removed first (as is, JSON-escaped, `\uXXXX`-escaped
/// and form-urlencoded), then every digit becomes `*`, control characters become spaces, `"`
/// becomes `'`, and the text is cut to [`MAX_EXCERPT_CHARS`] characters.
pub(crate) fn sanitize_excerpt(text: &str, redact: &[&str]) -> String {
    let mut text = text.to_owned();
    for needle in redact.iter().filter(|n| !n.trim().is_empty()) {
        let json = serde_json::to_string(needle).unwrap_or_default();
        let forms = [
            (*needle).to_owned(),
            json.trim_matches('"').to_owned(),
            ascii_json_escape(needle),
            form_urlencode(needle),
        ];
        for form in forms.iter().filter(|f| !f.is_empty()) {
            text = text.replace(form.as_str(), "…");
        }
    }
    let mut out = String::new();
    for (count, ch) in text.chars().enumerate() {
        if count == MAX_EXCERPT_CHARS {
            out.push('…');
            break;
        }
        out.push(match ch {
            c if c.is_numeric() => '*',
            c if c.is_control() => ' ',
            '"' => '\'',
            c => c,
        });
    }
    out
}

/// `needle` as an ASCII-only JSON serializer writes it inside a string (`\u6b27` etc.).
fn ascii_json_escape(needle: &str) -> String {
    let mut out = String::new();
    for ch in needle.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

/// `needle` as `application/x-www-form-urlencoded` writes it.
fn form_urlencode(needle: &str) -> String {
    let mut out = String::new();
    for byte in needle.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_removes_names_and_digits() {
        let text = r#"{"name":"张\"三","id":"11010519491231002X","msg":"张\"三 not found"}"#;
        let out = sanitize_excerpt(text, &["张\"三", "11010519491231002X"]);
        assert!(!out.contains('张'), "{out}");
        assert!(!out.contains("1101"), "{out}");
        assert!(!out.chars().any(|c| c.is_ascii_digit()), "{out}");
        assert!(out.contains("not found") || out.ends_with('…'), "{out}");
    }

    #[test]
    fn excerpt_removes_escaped_and_encoded_names() {
        let name = "欧阳\"娜娜";
        for text in [
            r#"{"n":"\u6b27\u9633\"\u5a1c\u5a1c"}"#,
            "n=%E6%AC%A7%E9%98%B3%22%E5%A8%9C%E5%A8%9C&x=1",
        ] {
            let out = sanitize_excerpt(text, &[name]);
            assert!(!out.contains("u6b27") && !out.contains("%AC"), "{out}");
            assert!(out.contains('…'), "{out}");
        }
    }

    #[test]
    fn excerpt_is_short_and_masks_fullwidth_digits() {
        let out = sanitize_excerpt(&"x".repeat(500), &[]);
        assert_eq!(out.chars().count(), MAX_EXCERPT_CHARS + 1);
        assert_eq!(sanitize_excerpt("电话１３８", &[]), "电话***");
    }
}
