//! The one HTTP exchange every adapter makes: POST a JSON body, get a bounded JSON body back
//! within the total timeout, with HTTP failures turned into [`GuardError`]s.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    config::GuardConfig,
    error::{snippet, ConfigError, ConfigProblem, GuardError},
};

/// Longest piece of a server's reply quoted in an error.
const QUOTE: usize = 200;

/// A configured endpoint of one guard deployment.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    client: reqwest::Client,
    guard: String,
    url: String,
    timeout: Duration,
    max_bytes: usize,
}

/// A successful exchange: the body and how long it took.
pub(crate) struct Reply {
    pub body: String,
    pub latency: Duration,
}

impl Endpoint {
    /// An endpoint at `{root_url}{path}` for a validated config.
    pub fn new(cfg: &GuardConfig, path: &str) -> Result<Endpoint, ConfigError> {
        cfg.validate()?;
        let guard = cfg.display_name().to_owned();
        let fail = |key: &str, message: String| ConfigError {
            guard: guard.clone(),
            problems: vec![ConfigProblem {
                key: key.to_owned(),
                message,
            }],
        };
        let mut headers = HeaderMap::new();
        if let Some(key) = &cfg.api_key {
            let (name, value) = match &cfg.api_key_header {
                Some(h) => (
                    HeaderName::from_bytes(h.as_bytes())
                        .map_err(|e| fail("api_key_header", e.to_string()))?,
                    key.clone(),
                ),
                None => (AUTHORIZATION, format!("Bearer {key}")),
            };
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                fail(
                    "api_key",
                    "is not valid in an HTTP header; use printable ASCII".into(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout())
            .timeout(cfg.timeout())
            .default_headers(headers)
            // A guard server is a fixed address: a redirect means a misconfigured base_url.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                fail(
                    "base_url",
                    format!("cannot build an HTTP client ({e}); check the TLS setup"),
                )
            })?;
        Ok(Endpoint {
            client,
            guard,
            url: format!("{}{path}", cfg.root_url()),
            timeout: cfg.timeout(),
            max_bytes: cfg.max_response_bytes,
        })
    }

    /// The deployment's name.
    pub fn guard(&self) -> &str {
        &self.guard
    }

    /// POSTs `body` and returns the response body of a 2xx answer.
    pub async fn post(&self, body: &Value) -> Result<Reply, GuardError> {
        let started = Instant::now();
        // reqwest's own total timeout covers the body too; the outer one is the guarantee that
        // no await in here outlives `timeout_ms`, whatever the server does.
        match tokio::time::timeout(self.timeout, self.exchange(body)).await {
            Ok(result) => result.map(|body| Reply {
                body,
                latency: started.elapsed(),
            }),
            Err(_) => Err(self.timeout_error()),
        }
    }

    async fn exchange(&self, body: &Value) -> Result<String, GuardError> {
        let bytes = serde_json::to_vec(body).map_err(|e| GuardError::InvalidRequest {
            guard: self.guard.clone(),
            detail: format!("the request cannot be encoded as JSON: {e}"),
        })?;
        let mut response = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .body(bytes)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        if status.as_u16() == 429 {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(GuardError::RateLimited {
                guard: self.guard.clone(),
                retry_after,
            });
        }
        if !status.is_success() {
            // Quote the start of the body; never read more than the limit to do so.
            let body = self.read_bounded(&mut response).await.unwrap_or_default();
            return Err(GuardError::Status {
                guard: self.guard.clone(),
                status: status.as_u16(),
                body: snippet(&body, QUOTE),
            });
        }
        self.read_bounded(&mut response).await
    }

    /// Reads the body, failing as soon as it exceeds the limit.
    async fn read_bounded(&self, response: &mut reqwest::Response) -> Result<String, GuardError> {
        let too_large = || GuardError::ResponseTooLarge {
            guard: self.guard.clone(),
            limit: self.max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let mut buf = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e))?
        {
            if buf.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        String::from_utf8(buf).map_err(|_| GuardError::Malformed {
            guard: self.guard.clone(),
            detail: "the body is not UTF-8".into(),
        })
    }

    fn timeout_error(&self) -> GuardError {
        GuardError::Timeout {
            guard: self.guard.clone(),
            after: self.timeout,
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> GuardError {
        if e.is_connect() {
            GuardError::Connect {
                guard: self.guard.clone(),
                url: self.url.clone(),
                detail: error_chain(e),
            }
        } else if e.is_timeout() {
            self.timeout_error()
        } else {
            GuardError::Transport {
                guard: self.guard.clone(),
                detail: error_chain(e),
            }
        }
    }

    /// A malformed-body error of this endpoint.
    pub fn malformed(&self, detail: impl Into<String>) -> GuardError {
        GuardError::Malformed {
            guard: self.guard.clone(),
            detail: detail.into(),
        }
    }

    /// An unexpected-verdict error of this endpoint, quoting the reply.
    pub fn unexpected(&self, detail: impl Into<String>, content: &str) -> GuardError {
        GuardError::UnexpectedVerdict {
            guard: self.guard.clone(),
            detail: detail.into(),
            content: snippet(content, QUOTE),
        }
    }
}

/// The error with its sources, which is where reqwest puts the useful part.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[derive(Deserialize)]
struct ChatCompletion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

/// `choices[0].message.content` of a chat completion body.
pub(crate) fn chat_content(endpoint: &Endpoint, body: &str) -> Result<String, GuardError> {
    let completion: ChatCompletion = serde_json::from_str(body).map_err(|e| {
        endpoint.malformed(format!(
            "not a chat completion ({e}): {:?}",
            snippet(body, QUOTE)
        ))
    })?;
    let choice = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| endpoint.malformed("`choices` is empty"))?;
    choice
        .message
        .content
        .ok_or_else(|| endpoint.malformed("`choices[0].message.content` is null"))
}

/// The body of a non-streaming chat completion request.
pub(crate) fn chat_request(model: &str, messages: Value, max_tokens: Option<u32>) -> Value {
    let mut body = serde_json::json!({
        "model": model,
        "messages": messages,
        // A classifier's answer must not depend on sampling.
        "temperature": 0,
        "stream": false,
    });
    if let (Some(max), Some(obj)) = (max_tokens, body.as_object_mut()) {
        obj.insert("max_tokens".into(), max.into());
    }
    body
}
