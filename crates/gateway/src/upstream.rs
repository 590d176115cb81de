//! The upstream stage: one job, talk to the OpenAI-compatible model server.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use hegui_config::UpstreamConfig;
use serde_json::Value;

use crate::error::ApiError;

/// What went wrong talking to the model server.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No connection could be made.
    #[error("cannot reach the model server: {0}")]
    Connect(String),
    /// A timeout expired.
    #[error("the model server did not answer within {ms} ms ({what})", ms = .0.as_millis(), what = .1)]
    Timeout(Duration, &'static str),
    /// The server answered with an error status.
    #[error("the model server answered HTTP {status}: {message}")]
    Status {
        /// HTTP status from upstream.
        status: u16,
        /// Its error message, if it gave one.
        message: String,
    },
    /// The body was not what the OpenAI API promises.
    #[error("the model server sent a malformed response: {0}")]
    Malformed(String),
    /// The stream ended before it was complete.
    #[error("the model server closed the stream early: {0}")]
    Disconnected(String),
}

impl UpstreamError {
    /// Short machine-readable code for records and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            UpstreamError::Connect(_) => "upstream_unreachable",
            UpstreamError::Timeout(..) => "upstream_timeout",
            UpstreamError::Status { .. } => "upstream_error_status",
            UpstreamError::Malformed(_) => "upstream_malformed",
            UpstreamError::Disconnected(_) => "upstream_disconnected",
        }
    }

    /// The error answered to the client.
    pub fn to_api(&self) -> ApiError {
        match self {
            UpstreamError::Timeout(..) => {
                ApiError::upstream(StatusCode::GATEWAY_TIMEOUT, self.code(), self.to_string())
            }
            // The client's own mistakes that only the model server could see pass through
            // with their status; upstream auth failures are ours, not the client's.
            UpstreamError::Status { status, message }
                if matches!(status, 400 | 404 | 422 | 429) =>
            {
                let mut e = ApiError::upstream(
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
                    match status {
                        404 => "model_not_found",
                        429 => "rate_limit_exceeded",
                        _ => "invalid_request_error",
                    },
                    format!("The model server rejected the request: {message}"),
                );
                e.kind = "invalid_request_error";
                e
            }
            _ => ApiError::upstream(StatusCode::BAD_GATEWAY, self.code(), self.to_string()),
        }
    }
}

/// One event of an upstream stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A `chat.completion.chunk` object.
    Chunk(Value),
    /// `data: [DONE]`.
    Done,
}

/// A stream of upstream events; ends after `Done` or an error.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<StreamItem, UpstreamError>> + Send>>;

/// The model-server stage.
#[async_trait]
pub trait ModelClient: Send + Sync + 'static {
    /// A non-streaming chat completion.
    async fn complete(&self, body: &Value) -> Result<Value, UpstreamError>;
    /// A streaming chat completion; returns once the response headers arrived.
    async fn stream(&self, body: &Value) -> Result<ChunkStream, UpstreamError>;
    /// The model list.
    async fn models(&self) -> Result<Value, UpstreamError>;
    /// An image generation (`/images/generations`); the body asks for `b64_json`.
    async fn images(&self, body: &Value) -> Result<Value, UpstreamError>;
    /// Speech synthesis (`/audio/speech`): the audio file's bytes.
    async fn speech(&self, body: &Value) -> Result<bytes::Bytes, UpstreamError>;
}

/// The OpenAI-compatible HTTP client.
pub struct OpenAiClient {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
    first_byte: Duration,
    idle: Duration,
    total: Duration,
}

impl OpenAiClient {
    /// Builds the client from configuration.
    pub fn new(cfg: &UpstreamConfig) -> Result<OpenAiClient, UpstreamError> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        Ok(OpenAiClient {
            http,
            base: cfg.base_url.clone(),
            api_key: cfg.api_key.clone(),
            first_byte: cfg.first_byte_timeout,
            idle: cfg.idle_timeout,
            total: cfg.request_timeout,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, UpstreamError> {
        let req = match &self.api_key {
            Some(k) => req.bearer_auth(k),
            None => req,
        };
        let resp = tokio::time::timeout(self.first_byte, req.send())
            .await
            .map_err(|_| UpstreamError::Timeout(self.first_byte, "waiting for response headers"))?
            .map_err(|e| {
                if e.is_timeout() {
                    UpstreamError::Timeout(self.first_byte, "connecting")
                } else {
                    UpstreamError::Connect(error_chain(&e))
                }
            })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = tokio::time::timeout(self.idle, resp.text())
            .await
            .ok()
            .and_then(Result::ok);
        let message = text
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .and_then(|v| {
                v.pointer("/error/message")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .or(text.map(|t| t.chars().take(300).collect()))
            .unwrap_or_default();
        Err(UpstreamError::Status { status, message })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

impl OpenAiClient {
    /// POSTs `body` to `path` and returns the whole response body, within the total timeout.
    async fn post_whole(&self, path: &str, body: &Value) -> Result<bytes::Bytes, UpstreamError> {
        let url = format!("{}{path}", self.base);
        let work = async {
            let resp = self.send(self.http.post(&url).json(body)).await?;
            resp.bytes()
                .await
                .map_err(|e| UpstreamError::Disconnected(error_chain(&e)))
        };
        tokio::time::timeout(self.total, work)
            .await
            .map_err(|_| UpstreamError::Timeout(self.total, "waiting for the whole response"))?
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value, UpstreamError> {
        let bytes = self.post_whole(path, body).await?;
        serde_json::from_slice::<Value>(&bytes)
            .map_err(|e| UpstreamError::Malformed(format!("body is not JSON ({e})")))
    }
}

#[async_trait]
impl ModelClient for OpenAiClient {
    async fn complete(&self, body: &Value) -> Result<Value, UpstreamError> {
        self.post_json("/chat/completions", body).await
    }

    async fn images(&self, body: &Value) -> Result<Value, UpstreamError> {
        self.post_json("/images/generations", body).await
    }

    async fn speech(&self, body: &Value) -> Result<bytes::Bytes, UpstreamError> {
        self.post_whole("/audio/speech", body).await
    }

    async fn stream(&self, body: &Value) -> Result<ChunkStream, UpstreamError> {
        let url = format!("{}/chat/completions", self.base);
        let resp = self.send(self.http.post(&url).json(body)).await?;
        let events = resp.bytes_stream().eventsource();
        let idle = self.idle;
        let stream = futures::stream::unfold(Some(events), move |state| async move {
            let mut events = state?;
            loop {
                let next = match tokio::time::timeout(idle, events.next()).await {
                    Err(_) => {
                        return Some((
                            Err(UpstreamError::Timeout(idle, "between stream chunks")),
                            None,
                        ))
                    }
                    Ok(n) => n,
                };
                let item = match next {
                    None => {
                        return Some((
                            Err(UpstreamError::Disconnected(
                                "stream ended without [DONE]".into(),
                            )),
                            None,
                        ))
                    }
                    Some(Err(e)) => Err(UpstreamError::Disconnected(error_chain(&e))),
                    Some(Ok(ev)) => {
                        let data = ev.data.trim();
                        if data.is_empty() {
                            continue;
                        }
                        if data == "[DONE]" {
                            return Some((Ok(StreamItem::Done), None));
                        }
                        match serde_json::from_str::<Value>(data) {
                            Ok(v) if v.get("error").is_some() => Err(UpstreamError::Status {
                                status: 200,
                                message: v
                                    .pointer("/error/message")
                                    .and_then(Value::as_str)
                                    .unwrap_or("error event in stream")
                                    .to_string(),
                            }),
                            Ok(v) => Ok(StreamItem::Chunk(v)),
                            Err(e) => Err(UpstreamError::Malformed(format!(
                                "SSE data is not JSON ({e})"
                            ))),
                        }
                    }
                };
                let keep_going = item.is_ok();
                return Some((item, keep_going.then_some(events)));
            }
        });
        Ok(Box::pin(stream))
    }

    async fn models(&self) -> Result<Value, UpstreamError> {
        let url = format!("{}/models", self.base);
        let resp = self.send(self.http.get(&url)).await?;
        let bytes = tokio::time::timeout(self.total, resp.bytes())
            .await
            .map_err(|_| UpstreamError::Timeout(self.total, "reading the model list"))?
            .map_err(|e| UpstreamError::Disconnected(error_chain(&e)))?;
        serde_json::from_slice(&bytes).map_err(|e| UpstreamError::Malformed(e.to_string()))
    }
}
