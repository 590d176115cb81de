//! End-to-end tests of the mock upstream over real HTTP.

// Test helpers outside `#[test]` fns are not covered by `allow-unwrap-in-tests`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use hegui_mock_upstream::{spawn, BenchReply, MockConfig, MockServer};
use serde_json::{json, Value};

async fn server() -> MockServer {
    spawn(MockConfig::default()).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn chat_body(user: &str, stream: bool) -> Value {
    json!({
        "model": "mock-small",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": user}],
        "stream": stream,
    })
}

async fn post(server: &MockServer, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", server.base_url))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The `data:` payloads of an SSE body, in order.
fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data line: {e:?}"))
                .to_owned()
        })
        .collect()
}

fn content_of(chunk: &Value) -> Option<&str> {
    chunk["choices"][0]["delta"]["content"].as_str()
}

/// Parse every payload except `[DONE]`; returns (chunks, saw_done_last).
fn parse_stream(text: &str) -> (Vec<Value>, bool) {
    let data = sse_data(text);
    let done_last = data.last().map(String::as_str) == Some("[DONE]");
    let chunks = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .collect();
    (chunks, done_last)
}

/// Concatenated content deltas, excluding the empty role chunk.
fn content_pieces(chunks: &[Value]) -> Vec<String> {
    chunks
        .iter()
        .skip(1)
        .filter_map(content_of)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn models_are_listed() {
    let s = server().await;
    let resp = client()
        .get(format!("{}/models", s.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mock-small", "mock-large"]);
    assert_eq!(v["data"][0]["object"], "model");
    assert_eq!(v["data"][0]["owned_by"], "mock");
}

#[tokio::test]
async fn non_stream_reply_directive() {
    let s = server().await;
    let body = json!({
        "model": "mock-large",
        "messages": [{"role": "user", "content": "hello [[reply:Exactly this, ok?]] ignored"}],
        "max_tokens": 50,
    });
    let resp = post(&s, &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["id"], "chatcmpl-mock-1");
    assert_eq!(v["model"], "mock-large");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Exactly this, ok?");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    // "Exactly this, ok?" is 17 chars -> 5 tokens.
    assert_eq!(v["usage"]["completion_tokens"], 5);
    let prompt = v["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(prompt > 0);
    assert_eq!(v["usage"]["total_tokens"].as_u64().unwrap(), prompt + 5);
    assert_eq!(s.requests(), vec![body]);
    assert_eq!(s.request_count(), 1);
}

#[tokio::test]
async fn echo_uses_last_user_message_without_directives() {
    let s = server().await;
    let body = json!({
        "model": "mock-small",
        "messages": [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": [
                {"type": "text", "text": "  second [[delay_ms:1]] question"},
                {"type": "image_url", "image_url": {"url": "data:,"}},
                {"type": "text", "text": "part two  "}
            ]},
        ],
    });
    let v: Value = post(&s, &body).await.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Echo: second  question\npart two"
    );
}

#[tokio::test]
async fn stream_chunks_reassemble_and_end_with_done() {
    let s = server().await;
    let reply = "héllo wörld ✓✓ fin";
    let resp = post(
        &s,
        &chat_body(&format!("[[reply:{reply}]] [[chunk:3]]"), true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let (chunks, done) = parse_stream(&resp.text().await.unwrap());
    assert!(done, "stream must end with [DONE]");
    assert_eq!(chunks[0]["object"], "chat.completion.chunk");
    assert_eq!(chunks[0]["model"], "mock-small");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(content_of(&chunks[0]), Some(""));
    let pieces = content_pieces(&chunks);
    assert_eq!(pieces.concat(), reply);
    assert!(pieces.iter().all(|p| p.chars().count() <= 3));
    assert_eq!(pieces.len(), reply.chars().count().div_ceil(3));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
}

#[tokio::test]
async fn default_chunk_size_comes_from_config() {
    let s = spawn(MockConfig {
        default_chunk_chars: 5,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let (chunks, _) = parse_stream(
        &post(&s, &chat_body("[[reply:abcdefghijkl]]", true))
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(content_pieces(&chunks), ["abcde", "fghij", "kl"]);
}

#[tokio::test]
async fn usage_chunk_only_when_asked() {
    let s = server().await;
    let mut body = chat_body("[[reply:12345678]]", true);
    body["stream_options"] = json!({"include_usage": true});
    let (chunks, done) = parse_stream(&post(&s, &body).await.text().await.unwrap());
    assert!(done);
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 2);
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "stop"
    );
    assert_eq!(
        chunks.iter().filter(|c| c.get("usage").is_some()).count(),
        1
    );

    body["stream_options"] = json!({"include_usage": false});
    let (chunks, _) = parse_stream(&post(&s, &body).await.text().await.unwrap());
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(s.request_count(), 2);
}

#[tokio::test]
async fn split_directive_streams_exact_pieces() {
    let s = server().await;
    let (chunks, done) = parse_stream(
        &post(
            &s,
            &chat_body(
                "[[reply:ignored]] [[chunk:1]] [[split:Hel|lo, |wörld]]",
                true,
            ),
        )
        .await
        .text()
        .await
        .unwrap(),
    );
    assert!(done);
    assert_eq!(content_pieces(&chunks), ["Hel", "lo, ", "wörld"]);

    let v: Value = post(&s, &chat_body("[[split:Hel|lo]]", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello");
}

#[tokio::test]
async fn delay_applies_before_each_piece() {
    let s = server().await;
    let started = Instant::now();
    let text = post(&s, &chat_body("[[split:a|b|c]] [[delay_ms:60]]", true))
        .await
        .text()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(180));
    assert_eq!(content_pieces(&parse_stream(&text).0).concat(), "abc");

    let started = Instant::now();
    let resp = post(&s, &chat_body("[[delay_ms:150]]", false)).await;
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn status_faults() {
    let s = server().await;
    for stream in [false, true] {
        let resp = post(&s, &chat_body("[[fault:status_500]]", stream)).await;
        assert_eq!(resp.status(), 500);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "server_error");
        assert!(v["error"]["message"].as_str().unwrap().len() > 5);

        let resp = post(&s, &chat_body("[[fault:status_429]]", stream)).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "1");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    }
}

#[tokio::test]
async fn hang_never_answers() {
    let s = server().await;
    let err = reqwest::Client::new()
        .post(format!("{}/chat/completions", s.base_url))
        .timeout(Duration::from_millis(300))
        .json(&chat_body("[[fault:hang]]", true))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(s.request_count(), 1);
}

#[tokio::test]
async fn stall_sends_first_piece_then_nothing() {
    let s = server().await;
    let resp = post(&s, &chat_body("[[reply:abcdefgh]] [[fault:stall]]", true)).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("abcd") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let next = tokio::time::timeout(Duration::from_millis(300), body.next()).await;
    assert!(next.is_err(), "stalled stream produced more data: {next:?}");
    assert!(!seen.contains("efgh"));
}

#[tokio::test]
async fn malformed_sse_stream_and_body() {
    let s = server().await;
    let resp = post(
        &s,
        &chat_body("[[reply:abcdefgh]] [[fault:malformed_sse]]", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let data = sse_data(&resp.text().await.unwrap());
    assert_eq!(data.len(), 3, "{data:?}");
    let first_content: Value = serde_json::from_str(&data[1]).unwrap();
    assert_eq!(content_of(&first_content), Some("abcd"));
    assert_eq!(data[2], "{not json");
    assert!(serde_json::from_str::<Value>(&data[2]).is_err());
    assert!(!data.iter().any(|d| d == "[DONE]"));

    let resp = post(&s, &chat_body("[[fault:malformed_sse]]", false)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert_eq!(text, "{not json");
}

#[tokio::test]
async fn disconnect_truncates_the_stream() {
    let s = server().await;
    let resp = post(
        &s,
        &chat_body("[[split:one|two|three|four]] [[fault:disconnect]]", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    let mut error = None;
    while let Some(item) = body.next().await {
        match item {
            Ok(bytes) => seen.push_str(std::str::from_utf8(&bytes).unwrap()),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert!(
        error.is_some(),
        "body should end with an error; got {seen:?}"
    );
    let (chunks, done) = parse_stream(&seen);
    assert!(!done);
    assert_eq!(content_pieces(&chunks), ["one", "two"]);

    // Non-stream: no usable response at all.
    let outcome = client()
        .post(format!("{}/chat/completions", s.base_url))
        .json(&chat_body("[[fault:disconnect]]", false))
        .send()
        .await;
    match outcome {
        Err(_) => {}
        Ok(resp) => assert!(resp.bytes().await.is_err()),
    }
}

#[tokio::test]
async fn no_done_ends_after_finish() {
    let s = server().await;
    let mut body = chat_body("[[reply:bye]] [[fault:no_done]]", true);
    body["stream_options"] = json!({"include_usage": true});
    let text = post(&s, &body).await.text().await.unwrap();
    let (chunks, done) = parse_stream(&text);
    assert!(!done);
    assert!(!text.contains("[DONE]"));
    assert_eq!(content_pieces(&chunks).concat(), "bye");
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert!(chunks.last().unwrap().get("usage").is_some());
}

#[tokio::test]
async fn api_key_is_enforced() {
    let s = spawn(MockConfig {
        api_key: Some("sk-right".to_owned()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let url = format!("{}/chat/completions", s.base_url);
    let body = chat_body("[[reply:ok]]", false);
    for auth in [Some("Bearer sk-wrong"), None, Some("sk-right")] {
        let mut req = client().post(&url).json(&body);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "auth {auth:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_api_key");
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
    let resp = client()
        .get(format!("{}/models", s.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let resp = client()
        .post(&url)
        .bearer_auth("sk-right")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "ok");
}

#[tokio::test]
async fn unknown_model_is_404() {
    let s = server().await;
    let mut body = chat_body("hi", false);
    body["model"] = json!("gpt-nope");
    let resp = post(&s, &body).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found");
    assert!(v["error"]["message"].as_str().unwrap().contains("gpt-nope"));
}

#[tokio::test]
async fn malformed_json_is_400_and_bad_directive_too() {
    let s = server().await;
    let resp = client()
        .post(format!("{}/chat/completions", s.base_url))
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(s.request_count(), 0);

    let resp = post(&s, &chat_body("[[fault:explode]]", false)).await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn bench_mode_serves_fixed_reply() {
    let s = spawn(MockConfig {
        bench_reply: Some(BenchReply {
            chunks: 5,
            chunk_text: "tok ".to_owned(),
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let mut body = chat_body("[[reply:ignored]]", true);
    body["stream_options"] = json!({"include_usage": true});
    let (chunks, done) = parse_stream(&post(&s, &body).await.text().await.unwrap());
    assert!(done);
    assert_eq!(content_pieces(&chunks), vec!["tok "; 5]);
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 5);

    let v: Value = post(&s, &chat_body("x", false)).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "tok ".repeat(5));
    assert_eq!(v["model"], "mock-small");

    let mut body = chat_body("x", false);
    body["model"] = json!("other");
    assert_eq!(post(&s, &body).await.status(), 404);
    assert_eq!(s.request_count(), 3);
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let s = server().await;
    let url = format!("{}/models", s.base_url);
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
    s.shutdown();
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    };
    let mut refused = false;
    for _ in 0..50 {
        if fresh().get(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "server still answering after shutdown");
}

/// Kills the child process when dropped (even if the test panics).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_and_prints_address() {
    use std::io::BufRead;
    let mut child = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_hegui-mock-upstream"))
            .args(["--listen", "127.0.0.1:0", "--api-key", "k1"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/v1"));
    let resp = client()
        .post(format!("{base}/chat/completions"))
        .bearer_auth("k1")
        .json(&chat_body("[[reply:from binary]]", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "from binary");
    let resp = client().get(format!("{base}/models")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}
