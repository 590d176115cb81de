//! Streaming: upstream chunks pass through output review before any of their text leaves
//! hegui. The relay runs in its own task and feeds the client through a small channel, so
//! it notices a client that goes away and still writes the record.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use hegui_policy::{StreamReview, StreamStep};
use hegui_types::{Action, AigcLabel, Outcome, Stage};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::record::Tracker;
use crate::upstream::{ChunkStream, StreamItem, UpstreamError};

/// Chunks buffered towards the client; small, so "delivered" stays close to what was sent.
const CLIENT_BUFFER: usize = 4;

/// An upstream stream waiting to be relayed.
pub(crate) struct Relay {
    upstream: ChunkStream,
    label: AigcLabel,
    include_usage: bool,
}

impl Relay {
    pub fn new(upstream: ChunkStream, label: AigcLabel, include_usage: bool) -> Relay {
        Relay {
            upstream,
            label,
            include_usage,
        }
    }

    /// Starts relaying in a task and returns the SSE response.
    pub fn start(self, t: Tracker) -> Response {
        let (tx, rx) = mpsc::channel(CLIENT_BUFFER);
        let header = t.gw.settings.label_header.then(|| self.label.to_payload());
        tokio::spawn(relay(
            t,
            self,
            Sink {
                tx,
                delivered: String::new(),
                gone: false,
            },
        ));
        sse_response(rx, header)
    }
}

/// A stream whose text hegui wrote itself (the safe answer for a blocked prompt).
pub(crate) fn synthesised(
    t: Tracker,
    label: AigcLabel,
    text: String,
    finish: &str,
    outcome: Outcome,
) -> Response {
    let finish = finish.to_string();
    let (tx, rx) = mpsc::channel(CLIENT_BUFFER);
    let header = t.gw.settings.label_header.then(|| label.to_payload());
    tokio::spawn(async move {
        let mut t = t;
        let mut sink = Sink {
            tx,
            delivered: String::new(),
            gone: false,
        };
        let meta = Meta {
            id: format!("chatcmpl-{}", t.record.id),
            created: t.record.received_at_ms / 1000,
        };
        let model = t.record.model.clone();
        sink.role(&meta, &model).await;
        sink.text(&meta, &model, &text).await;
        let mut label = label;
        t.gw.labeler.seal(&mut label, &sink.delivered);
        sink.chunk(&meta, &model, json!({}), Some(&finish), Some(&label))
            .await;
        t.record.output = Some(sink.delivered.clone());
        t.record.finish_reason = Some(finish);
        t.record.label = Some(label);
        let outcome = if sink.gone {
            Outcome::ClientDisconnect
        } else {
            outcome
        };
        if t.finish(outcome, 200).await {
            sink.done().await;
        } else {
            sink.error(
                "record_unavailable",
                "the interaction could not be recorded",
            )
            .await;
        }
    });
    sse_response(rx, header)
}

fn sse_response(rx: mpsc::Receiver<Bytes>, aigc: Option<String>) -> Response {
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(v) = aigc.and_then(|a| HeaderValue::from_str(&a).ok()) {
        h.insert("x-aigc", v);
    }
    resp
}

struct Meta {
    id: String,
    created: i64,
}

/// The client side of the relay: remembers what was delivered and whether the client left.
struct Sink {
    tx: mpsc::Sender<Bytes>,
    delivered: String,
    gone: bool,
}

impl Sink {
    async fn send(&mut self, data: String) -> bool {
        if self.gone {
            return false;
        }
        if self
            .tx
            .send(Bytes::from(format!("data: {data}\n\n")))
            .await
            .is_err()
        {
            self.gone = true;
        }
        !self.gone
    }

    async fn chunk(
        &mut self,
        meta: &Meta,
        model: &Option<String>,
        delta: Value,
        finish: Option<&str>,
        label: Option<&AigcLabel>,
    ) -> bool {
        let mut c = json!({
            "id": meta.id,
            "object": "chat.completion.chunk",
            "created": meta.created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if let Some(l) = label {
            c["aigc"] = serde_json::to_value(l).unwrap_or(Value::Null);
        }
        self.send(c.to_string()).await
    }

    /// The opening chunk: the assistant role, no text yet.
    async fn role(&mut self, meta: &Meta, model: &Option<String>) -> bool {
        self.chunk(
            meta,
            model,
            json!({"role": "assistant", "content": ""}),
            None,
            None,
        )
        .await
    }

    /// Sends reviewed text as a content delta.
    async fn text(&mut self, meta: &Meta, model: &Option<String>, text: &str) -> bool {
        if text.is_empty() {
            return !self.gone;
        }
        let ok = self
            .chunk(meta, model, json!({"content": text}), None, None)
            .await;
        if ok {
            self.delivered.push_str(text);
        }
        ok
    }

    async fn error(&mut self, code: &str, message: &str) {
        let e = json!({"error": {"message": message, "type": "upstream_error", "param": null, "code": code}});
        self.send(e.to_string()).await;
    }

    async fn done(&mut self) {
        self.send("[DONE]".into()).await;
    }
}

/// How the upstream side ended.
enum End {
    Done,
    Stopped(Action),
    Failed(UpstreamError),
    ClientGone,
}

async fn relay(mut t: Tracker, relay: Relay, mut sink: Sink) {
    let gw = t.gw.clone();
    let Relay {
        mut upstream,
        mut label,
        include_usage,
    } = relay;
    let state = gw.review.load_full();
    let mut review: Box<dyn StreamReview> = if gw.settings.review_output {
        state.reviewer.stream(Stage::Output)
    } else {
        Box::new(Unreviewed)
    };
    let model = t.record.model.clone();
    let mut meta = Meta {
        id: format!("chatcmpl-{}", t.record.id),
        created: t.record.received_at_ms / 1000,
    };
    let mut started = false;
    let mut finish: Option<String> = None;
    let mut usage: Option<Value> = None;

    let end = loop {
        let item = tokio::select! {
            _ = sink.tx.closed() => break End::ClientGone,
            item = upstream.next() => item,
        };
        let chunk = match item {
            Some(Ok(StreamItem::Chunk(c))) => c,
            Some(Ok(StreamItem::Done)) => break End::Done,
            // A server that sent its finish reason and closed without [DONE] has finished.
            Some(Err(UpstreamError::Disconnected(_))) | None if finish.is_some() => {
                break End::Done
            }
            Some(Err(e)) => break End::Failed(e),
            None => break End::Failed(UpstreamError::Disconnected("stream ended".into())),
        };
        if !started {
            started = true;
            if let Some(id) = chunk.get("id").and_then(Value::as_str) {
                meta.id = id.to_string();
            }
            if let Some(c) = chunk.get("created").and_then(Value::as_i64) {
                meta.created = c;
            }
            sink.role(&meta, &model).await;
            if let Some(p) = gw.labeler.prefix() {
                sink.text(&meta, &model, p).await;
            }
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            usage = Some(u.clone());
        }
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            continue;
        };
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
            match review.push(text) {
                StreamStep::Release(ok) => {
                    sink.text(&meta, &model, &ok).await;
                }
                StreamStep::Stop => break End::Stopped(review.decision().action),
            }
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            finish = Some(f.to_string());
        }
        if sink.gone {
            break End::ClientGone;
        }
    };
    t.upstream_ended();
    drop(upstream);

    // Whatever ended the stream, the held-back tail is released only if it passes review.
    let end = match end {
        End::Done | End::Failed(_) => match review.finish() {
            StreamStep::Release(tail) => {
                // Guard models judge whole answers: they see the stream at its end, before
                // the held-back tail is released, and a stop withholds it.
                let stopped = if matches!(end, End::Done) && gw.settings.review_output {
                    guard_at_end(&state, &mut t, &sink.delivered, &tail).await
                } else {
                    None
                };
                match stopped {
                    Some(action) => End::Stopped(action),
                    None => {
                        sink.text(&meta, &model, &tail).await;
                        end
                    }
                }
            }
            StreamStep::Stop => End::Stopped(review.decision().action),
        },
        other => other,
    };
    if gw.settings.review_output {
        t.decision(review.decision());
    }
    if !started && !matches!(end, End::ClientGone) {
        sink.role(&meta, &model).await;
    }
    let model_text = !sink.delivered.is_empty();

    let (outcome, finish_reason) = match &end {
        End::Done => (Outcome::Served, finish.unwrap_or_else(|| "stop".into())),
        End::Stopped(action) => {
            if *action == Action::SafeAnswer {
                let risks = review.decision().risks;
                sink.text(&meta, &model, state.policy.safe_answer(&risks))
                    .await;
            }
            (Outcome::BlockedOutput, "content_filter".to_string())
        }
        End::Failed(e) => {
            t.error(e.code(), &e.to_string());
            (Outcome::UpstreamError, "error".to_string())
        }
        End::ClientGone => (Outcome::ClientDisconnect, "client_disconnect".to_string()),
    };
    if model_text && !matches!(end, End::ClientGone) {
        if let Some(s) = gw.labeler.suffix() {
            sink.text(&meta, &model, s).await;
        }
    }
    gw.labeler.seal(&mut label, &sink.delivered);
    if matches!(end, End::Done | End::Stopped(_)) {
        sink.chunk(&meta, &model, json!({}), Some(&finish_reason), Some(&label))
            .await;
        if include_usage {
            if let Some(u) = &usage {
                let c = json!({
                    "id": meta.id, "object": "chat.completion.chunk", "created": meta.created,
                    "model": model, "choices": [], "usage": u,
                });
                sink.send(c.to_string()).await;
            }
        }
    }
    let outcome = if sink.gone {
        Outcome::ClientDisconnect
    } else {
        outcome
    };
    t.record.output = Some(sink.delivered.clone());
    t.record.finish_reason = Some(finish_reason);
    t.record.usage = usage;
    t.record.label = Some(label);
    let failure = match &end {
        End::Failed(e) => Some(e.to_api()),
        _ => None,
    };
    let status = 200;
    let written = t.finish(outcome, status).await;
    match failure {
        Some(e) => sink.error(e.code, &e.message).await,
        None if written => sink.done().await,
        None => {
            sink.error(
                "record_unavailable",
                "the interaction could not be recorded",
            )
            .await
        }
    }
}

/// Output review switched off by configuration: everything is released as it comes.
struct Unreviewed;

impl StreamReview for Unreviewed {
    fn push(&mut self, chunk: &str) -> StreamStep {
        StreamStep::Release(chunk.to_string())
    }
    fn finish(&mut self) -> StreamStep {
        StreamStep::Release(String::new())
    }
    fn decision(&self) -> hegui_types::Decision {
        hegui_types::Decision::allow(Stage::Output, "review-off")
    }
}

/// Asks the output guards about a finished stream (`delivered` so far plus the held `tail`;
/// the explicit label is part of `delivered` and harmless). Records their decisions; returns
/// the stopping action if one says stop.
async fn guard_at_end(
    state: &crate::ReviewState,
    t: &mut Tracker,
    delivered: &str,
    tail: &str,
) -> Option<Action> {
    let guards: Vec<_> = state
        .guards
        .iter()
        .filter(|g| g.applies_to(Stage::Output))
        .collect();
    if guards.is_empty() {
        return None;
    }
    let prompt = crate::request::PromptText::collect(&t.record.input).text;
    let answer = format!("{delivered}{tail}");
    for guard in guards {
        let req = hegui_guard::GuardRequest::output(prompt.clone(), answer.clone());
        if let Some(outcome) = guard.review(&req, state.reviewer.version()).await {
            let action = outcome.decision.action;
            t.decision(outcome.decision);
            if action.stops() {
                return Some(action);
            }
        }
    }
    None
}
