//! Bad input, refused identities and upstream faults: a clear error, a record, no panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::*;
use hegui_types::Outcome;
use serde_json::Value;

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("OpenAI-style error JSON"))
}

#[tokio::test]
async fn identity_gate_refuses_with_401_and_403() {
    for backend in backends() {
        let h = start(backend, |c| c.identity.key_cache_ms = 0).await;
        let url = format!("{}/v1/chat/completions", h.base);
        let (s, e) = error_of(h.http.post(&url).json(&user("hi")).send().await.unwrap()).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (401, Some("missing_api_key"))
        );
        let (s, e) = error_of(
            h.http
                .post(&url)
                .bearer_auth("hg-nope")
                .json(&user("hi"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (401, Some("invalid_api_key"))
        );
        let rec = h.last_record().await.record;
        assert_eq!(
            (rec.outcome, rec.status, rec.user_id),
            (Outcome::Rejected, 401, None)
        );

        // Unverified: 403 saying how to verify.
        let u = h.store.create_user(None, "t").await.unwrap();
        let (_, key) = h.store.create_key(&u.id, "t").await.unwrap();
        let (s, e) = error_of(
            h.http
                .post(&url)
                .bearer_auth(&key)
                .json(&user("hi"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (403, Some("real_name_verification_required"))
        );
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("/identity/v1/status")
                && msg.contains("mobile number")
                && msg.contains("identity"),
            "{msg}"
        );
        assert_eq!(
            h.last_record().await.record.user_id.as_deref(),
            Some(u.id.as_str())
        );

        // Verified then suspended: 403; revoked key: 401.
        for f in [hegui_store::Factor::Phone, hegui_store::Factor::Id] {
            h.store
                .set_factor_by_operator(&u.id, f, true, "offline check", "t")
                .await
                .unwrap();
        }
        assert_eq!(
            h.http
                .post(&url)
                .bearer_auth(&key)
                .json(&user("hi"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        h.store
            .set_suspended(&u.id, true, "abuse", "t")
            .await
            .unwrap();
        let (s, e) = error_of(
            h.http
                .post(&url)
                .bearer_auth(&key)
                .json(&user("hi"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (403, Some("account_suspended"))
        );
        let key_id = h.store.list_keys(Some(&u.id)).await.unwrap()[0].id.clone();
        h.store.revoke_key(&key_id, "t").await.unwrap();
        let (s, e) = error_of(
            h.http
                .post(&url)
                .bearer_auth(&key)
                .json(&user("hi"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (401, Some("revoked_api_key"))
        );
        assert_eq!(h.mock.request_count(), 1);
        h.stop().await;
    }
}

#[tokio::test]
async fn malformed_and_oversize_requests_are_explained() {
    let h = start(Backend::Sqlite, |c| c.server.max_body_bytes = 2048).await;
    let url = format!("{}/v1/chat/completions", h.base);
    let post = |body: String| {
        h.http
            .post(&url)
            .bearer_auth(&h.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (s, e) = error_of(post("{\"model\": ".into()).await.unwrap()).await;
    assert_eq!(s, 400);
    assert_eq!(e["error"]["code"], "invalid_json");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    let (s, e) = error_of(post("{\"model\":\"mock-small\"}".into()).await.unwrap()).await;
    assert_eq!((s, e["error"]["param"].as_str()), (400, Some("messages")));
    let (s, e) = error_of(
        post(format!(
            "{{\"model\":\"m\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
            "x".repeat(4096)
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    let rec = h.last_record().await.record;
    assert_eq!((rec.outcome, rec.status), (Outcome::Rejected, 413));
    let (s, e) = error_of(h.chat(serde_json::json!({"model":"mock-small","n":3,"messages":[{"role":"user","content":"hi"}]})).send().await.unwrap()).await;
    assert_eq!((s, e["error"]["param"].as_str()), (400, Some("n")));
    assert_eq!(h.mock.request_count(), 0);
    h.stop().await;
}

#[tokio::test]
async fn unknown_model_is_404_with_the_list() {
    let h = start(Backend::Sqlite, |c| {
        c.models.push(model("assistant", Some("mock-small")))
    })
    .await;
    let (s, e) = error_of(h.chat(user("hi")).send().await.unwrap()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("assistant"));
    h.stop().await;
    // Pass-through mode: the upstream's own 404 comes back as 404.
    let h = start(Backend::Sqlite, |_| {}).await;
    let mut b = user("hi");
    b["model"] = "nope".into();
    let (s, e) = error_of(h.chat(b).send().await.unwrap()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
    assert_eq!(h.last_record().await.record.outcome, Outcome::UpstreamError);
    h.stop().await;
}

#[tokio::test]
async fn upstream_failures_before_the_answer_are_clear_errors() {
    let h = start(Backend::Sqlite, |c| c.upstream.first_byte_timeout_ms = 300).await;
    for (directive, stream, status, code) in [
        ("[[fault:status_500]]", false, 502, "upstream_error_status"),
        ("[[fault:status_500]]", true, 502, "upstream_error_status"),
        ("[[fault:status_429]]", false, 429, "rate_limit_exceeded"),
        ("[[fault:hang]]", false, 504, "upstream_timeout"),
        ("[[fault:hang]]", true, 504, "upstream_timeout"),
        ("[[fault:malformed_sse]]", false, 502, "upstream_malformed"),
    ] {
        let body = if stream {
            user_stream(directive, false)
        } else {
            user(directive)
        };
        let (s, e) = error_of(h.chat(body).send().await.unwrap()).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (status, Some(code)),
            "{directive} stream={stream}"
        );
        let rec = h.last_record().await.record;
        assert_eq!(
            (rec.outcome, rec.status),
            (Outcome::UpstreamError, status),
            "{directive}"
        );
        assert_eq!(rec.error_code.as_deref(), Some(code));
    }
    h.stop().await;

    // Nothing listening upstream at all.
    let h = start(Backend::Sqlite, |c| {
        c.upstream.base_url = "http://127.0.0.1:9/v1".into()
    })
    .await;
    let (s, e) = error_of(h.chat(user("hi")).send().await.unwrap()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (502, Some("upstream_unreachable"))
    );
    h.stop().await;
}

#[tokio::test]
async fn upstream_failures_mid_stream_end_cleanly_and_are_recorded() {
    for backend in backends() {
        let h = start(backend, |c| c.upstream.idle_timeout_ms = 300).await;
        for directive in [
            "[[fault:malformed_sse]]",
            "[[fault:disconnect]]",
            "[[fault:stall]]",
        ] {
            let body = user_stream(
                &format!("[[reply:abcdefghijklmnopqrstuvwxyz0123456789]][[chunk:4]]{directive}"),
                false,
            );
            let resp = h.chat(body).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let events = sse_events(&resp.text().await.unwrap());
            let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
            assert!(
                last["error"]["code"]
                    .as_str()
                    .unwrap()
                    .starts_with("upstream_"),
                "{directive}: {last}"
            );
            assert!(!events.iter().any(|e| e == "[DONE]"), "{directive}");
            let rec = h.last_record().await.record;
            assert_eq!(rec.outcome, Outcome::UpstreamError, "{directive}");
            assert_eq!(
                rec.output.as_deref(),
                Some(stream_text(&events).0.as_str()),
                "{directive}"
            );
        }
        // A server that finishes but forgets [DONE] has still finished.
        let events = sse_events(
            &h.chat(user_stream("[[reply:ok]][[fault:no_done]]", false))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        assert_eq!(h.last_record().await.record.outcome, Outcome::Served);
        h.stop().await;
    }
}

#[tokio::test]
async fn client_disconnect_mid_stream_is_recorded() {
    let h = start(Backend::Sqlite, |_| {}).await;
    let body = user_stream("[[reply:一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十]][[chunk:1]][[delay_ms:50]]", false);
    let mut resp = h.chat(body).send().await.unwrap();
    let first = resp.chunk().await.unwrap();
    assert!(first.is_some());
    drop(resp);
    h.wait_records(1).await;
    let rec = h.last_record().await.record;
    assert_eq!(rec.outcome, Outcome::ClientDisconnect);
    assert!(rec.output.unwrap().chars().count() < 30);
    // The upstream stream was abandoned rather than read to the end.
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.stop().await;
}

#[tokio::test]
async fn cached_keys_are_rechecked_within_the_configured_time() {
    let h = start(Backend::Sqlite, |c| c.identity.key_cache_ms = 300).await;
    assert_eq!(h.chat(user("hi")).send().await.unwrap().status(), 200);
    h.store
        .set_suspended(&h.user_id, true, "abuse", "t")
        .await
        .unwrap();
    // Within the cache time the earlier answer may still stand; after it, never.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (s, e) = error_of(h.chat(user("hi")).send().await.unwrap()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("account_suspended"))
    );
    h.stop().await;
}
