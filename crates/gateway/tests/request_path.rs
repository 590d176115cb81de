//! The request path end to end through the real server: serving, labeling, records.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use hegui_types::{Action, Outcome, Stage};
use serde_json::Value;

#[tokio::test]
async fn non_streaming_answer_is_reviewed_labeled_and_recorded() {
    for backend in backends() {
        let h = start(backend, |_| {}).await;
        let resp = h.chat(user("[[reply:今天天气很好]]")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let header: Value =
            serde_json::from_str(resp.headers()["x-aigc"].to_str().unwrap()).unwrap();
        let record_id = resp.headers()["x-hegui-record-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = resp.json().await.unwrap();
        let content = body["choices"][0]["message"]["content"].as_str().unwrap();
        assert_eq!(content, format!("今天天气很好{LABEL_SUFFIX}"));
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert_eq!(body["model"], "mock-small");
        // Implicit label: body and header carry the same GB 45438 fields.
        assert_eq!(body["aigc"]["Label"], "1");
        assert_eq!(
            body["aigc"]["ContentProducer"],
            "001191440300708461136T1XGW3"
        );
        assert_eq!(header["AIGC"], body["aigc"]);
        assert_eq!(
            body["aigc"]["ReservedCode1"].as_str().unwrap(),
            hegui_label::text_integrity(content)
        );

        let rec = h.last_record().await.record;
        assert_eq!(rec.id, record_id);
        assert_eq!(rec.outcome, Outcome::Served);
        assert_eq!(rec.status, 200);
        assert_eq!(rec.user_id.as_deref(), Some(h.user_id.as_str()));
        assert_eq!(rec.output.as_deref(), Some(content));
        assert_eq!(
            rec.label.as_ref().unwrap().produce_id,
            body["aigc"]["ProduceID"]
        );
        assert_eq!(rec.input[0]["content"], "[[reply:今天天气很好]]");
        let stages: Vec<Stage> = rec.decisions.iter().map(|d| d.stage).collect();
        assert_eq!(stages, vec![Stage::Input, Stage::Output]);
        assert!(rec
            .decisions
            .iter()
            .all(|d| d.policy_version.starts_with("lex-")));
        assert!(rec.upstream_us.is_some() && rec.latency_us >= rec.upstream_us.unwrap());
        assert!(rec.usage.is_some());
        h.stop().await;
    }
}

#[tokio::test]
async fn produce_ids_are_unique_per_response() {
    let h = start(Backend::Sqlite, |_| {}).await;
    let mut ids = std::collections::HashSet::new();
    for _ in 0..5 {
        let body: Value = h
            .chat(user("hi"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(ids.insert(body["aigc"]["ProduceID"].as_str().unwrap().to_string()));
    }
    h.stop().await;
}

#[tokio::test]
async fn streaming_answer_is_relayed_after_review_with_label_and_usage() {
    for backend in backends() {
        let h = start(backend, |_| {}).await;
        for include_usage in [false, true] {
            let resp = h
                .chat(user_stream(
                    "[[reply:一二三四五六七八九十]][[chunk:3]]",
                    include_usage,
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["content-type"], "text/event-stream");
            assert!(resp.headers().contains_key("x-aigc"));
            let events = sse_events(&resp.text().await.unwrap());
            assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
            let (text, finish) = stream_text(&events);
            assert_eq!(text, format!("一二三四五六七八九十{LABEL_SUFFIX}"));
            assert_eq!(finish.as_deref(), Some("stop"));
            // The explicit label travels as its own delta.
            assert!(events
                .iter()
                .any(|e| e.contains("【本内容由人工智能生成】") && !e.contains("十")));
            let finish_chunk: Value = serde_json::from_str(
                events
                    .iter()
                    .find(|e| e.contains("\"finish_reason\":\"stop\""))
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(
                finish_chunk["aigc"]["ReservedCode1"].as_str().unwrap(),
                hegui_label::text_integrity(&text)
            );
            let usage_chunks = events.iter().filter(|e| e.contains("\"usage\"")).count();
            assert_eq!(usage_chunks, usize::from(include_usage));

            let rec = h.last_record().await.record;
            assert!(rec.stream);
            assert_eq!(rec.outcome, Outcome::Served);
            assert_eq!(rec.output.as_deref(), Some(text.as_str()));
            assert_eq!(rec.finish_reason.as_deref(), Some("stop"));
            assert_eq!(
                rec.label.unwrap().produce_id,
                finish_chunk["aigc"]["ProduceID"]
            );
        }
        h.stop().await;
    }
}

#[tokio::test]
async fn label_position_and_wording_are_configurable() {
    let h = start(Backend::Sqlite, |c| {
        c.label.explicit_position = "start".into();
        c.label.explicit_text = "AI生成".into();
    })
    .await;
    let body: Value = h
        .chat(user("[[reply:答]]"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "【AI生成】\n\n答");
    let events = sse_events(
        &h.chat(user_stream("[[reply:答]]", false))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(stream_text(&events).0, "【AI生成】\n\n答");
    h.stop().await;
}

#[tokio::test]
async fn every_request_leaves_exactly_one_record() {
    let h = start(Backend::Sqlite, |c| {
        c.models.push(model("mock-small", None));
    })
    .await;
    let mut sent = 0;
    let chat = |b: Value| h.chat(b);
    for body in [user("hi"), user("教我制造炸弹"), user_stream("hi", true)] {
        chat(body).send().await.unwrap().bytes().await.unwrap();
        sent += 1;
    }
    // Rejections are recorded too: no key, bad JSON, unknown model.
    h.http
        .post(format!("{}/v1/chat/completions", h.base))
        .json(&user("hi"))
        .send()
        .await
        .unwrap();
    h.http
        .post(format!("{}/v1/chat/completions", h.base))
        .bearer_auth(&h.key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let mut unknown = user("hi");
    unknown["model"] = "gpt-nope".into();
    assert_eq!(chat(unknown).send().await.unwrap().status(), 404);
    sent += 3;
    assert_eq!(h.store.count_records().await.unwrap(), sent);
    h.stop().await;
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let h = start(Backend::Sqlite, |_| {}).await;
    let get = |p: &str| h.http.get(format!("{}{p}", h.base)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    h.chat(user("hi"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    h.chat(user("教我制造炸弹"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let m = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        m.contains("hegui_requests_total{outcome=\"served\",status=\"200\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("hegui_requests_total{outcome=\"blocked_input\",status=\"400\"} 1"),
        "{m}"
    );
    assert!(
        m.contains(
            "hegui_review_decisions_total{stage=\"input\",action=\"block\",risk=\"A1-4\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("hegui_overhead_seconds_bucket"), "{m}");
    assert!(m.contains("hegui_upstream_duration_seconds_count 1"), "{m}");
    // Models: upstream's list when none are configured.
    assert_eq!(
        get("/v1/models").await.unwrap().status(),
        401,
        "the model list needs a key"
    );
    let models: Value = h
        .http
        .get(format!("{}/v1/models", h.base))
        .bearer_auth(&h.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "mock-small");
    h.gateway.store.close().await;
    assert_eq!(get("/readyz").await.unwrap().status(), 503);
    h.stop().await;
}

#[tokio::test]
async fn configured_models_are_mapped_and_listed() {
    let h = start(Backend::Sqlite, |c| {
        c.models.push(model("assistant", Some("mock-large")));
    })
    .await;
    let mut b = user("hi");
    b["model"] = "assistant".into();
    let body: Value = h.chat(b).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["model"], "assistant");
    assert_eq!(h.mock.requests().last().unwrap()["model"], "mock-large");
    let models: Value = h
        .http
        .get(format!("{}/v1/models", h.base))
        .bearer_auth(&h.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"].as_array().unwrap().len(), 1);
    assert_eq!(models["data"][0]["id"], "assistant");
    let rec = h.last_record().await.record;
    assert_eq!(rec.upstream_model.as_deref(), Some("mock-large"));
    h.stop().await;
}

#[tokio::test]
async fn decisions_name_action_risk_and_offsets() {
    let h = start(Backend::Sqlite, |c| c.review.output = false).await;
    h.chat(user("你这个傻冒"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let rec = h.last_record().await.record;
    let d = &rec.decisions[0];
    assert_eq!(d.action, Action::Mask);
    assert_eq!(d.risks, vec!["A2-9".to_string()]);
    let m = &d.matches[0];
    assert_eq!(&"你这个傻冒"[m.start..m.end], "傻冒");
    // The model saw the masked prompt.
    assert_eq!(
        h.mock.requests().last().unwrap()["messages"][0]["content"],
        "你这个**"
    );
    h.stop().await;
}
