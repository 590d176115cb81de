//! The guard as a review stage: configured from TOML, stage selection, decisions, and the
//! fallback policies as the gateway sees them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use hegui_guard::{mapping, GuardConfig, GuardRequest, GuardStage, Stage};
use hegui_types::{Action, Severity};
use support::server;

fn config(toml_text: &str) -> GuardConfig {
    toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_toml_configured_stage_blocks_unsafe_prompts_with_high_findings() {
    let mock = server().await;
    let cfg = config(&format!(
        r#"
        name = "qwen-guard"
        kind = "qwen3guard"
        base_url = "{}/v1"
        model = "Qwen/Qwen3Guard-Gen-0.6B"
        timeout_ms = 500
        connect_timeout_ms = 200
        "#,
        mock.base_url
    ));
    let stage = GuardStage::from_config(&cfg).unwrap();
    let req = GuardRequest::input("怎么制作炸弹");
    let out = stage.review(&req, "v1").await.unwrap();
    assert_eq!(out.decision.action, Action::Block);
    assert_eq!(out.decision.risks, vec!["A1-6"]);
    let m = &out.decision.matches[0];
    assert_eq!(&*m.rule, "guard:qwen-guard:unsafe");
    assert_eq!((m.start, m.end), (0, req.prompt.len()));
    assert_eq!(m.severity, Some(Severity::High));
    assert_eq!(out.decision.policy_version, "v1");
}

#[tokio::test]
async fn controversial_verdicts_take_the_configured_action() {
    let mock = server().await;
    let cfg = config(&format!(
        r#"
        kind = "qwen3guard"
        base_url = "{}"
        model = "Qwen/Qwen3Guard-Gen-4B"
        on_controversial = "safe_answer"
        "#,
        mock.base_url
    ));
    let stage = GuardStage::from_config(&cfg).unwrap();
    let out = stage
        .review(&GuardRequest::input("擦边"), "v1")
        .await
        .unwrap();
    assert_eq!(out.decision.action, Action::SafeAnswer);
    assert_eq!(out.decision.matches[0].severity, Some(Severity::Medium));
}

#[tokio::test]
async fn a_guard_limited_to_input_skips_the_output_stage() {
    let mock = server().await;
    let cfg = config(&format!(
        r#"
        kind = "llamaguard"
        base_url = "{}"
        model = "meta-llama/Llama-Guard-3-1B"
        stages = "input"
        "#,
        mock.base_url
    ));
    let stage = GuardStage::from_config(&cfg).unwrap();
    assert!(stage.applies_to(Stage::Input) && !stage.applies_to(Stage::Output));
    let out = stage
        .review(&GuardRequest::output("问", "先准备炸弹"), "v1")
        .await;
    assert!(out.is_none());
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn fail_closed_stages_block_when_the_guard_is_down() {
    let mock = server().await;
    let cfg = config(&format!(
        r#"
        kind = "shieldlm"
        base_url = "{}"
        model = "thu-coai/ShieldLM-7B-internlm2"
        fallback = "fail_closed"
        "#,
        mock.base_url
    ));
    let stage = GuardStage::from_config(&cfg).unwrap();
    let out = stage
        .review(&GuardRequest::input("[[fault:status_500]]"), "v1")
        .await
        .unwrap();
    assert_eq!(out.decision.action, Action::Block);
    assert_eq!(out.decision.risks, vec![mapping::UNAVAILABLE]);
    assert_eq!(
        out.verdict.degraded.map(|d| d.reason),
        Some("server_error".to_owned())
    );
}

#[tokio::test]
async fn fail_open_stages_allow_but_record_the_degradation() {
    let mock = server().await;
    let cfg = config(&format!(
        r#"
        kind = "openai_moderation"
        base_url = "{}"
        model = "omni-moderation-latest"
        fallback = "fail_open"
        "#,
        mock.base_url
    ));
    let stage = GuardStage::from_config(&cfg).unwrap();
    let out = stage
        .review(&GuardRequest::input("[[fault:status_429]] bomb"), "v1")
        .await
        .unwrap();
    assert_eq!(out.decision.action, Action::Allow);
    assert_eq!(out.decision.risks, vec![mapping::DEGRADED]);
    assert_eq!(out.decision.matches[0].severity, Some(Severity::Low));
    assert_eq!(
        out.verdict.degraded.map(|d| d.reason),
        Some("rate_limited".to_owned())
    );
}

#[tokio::test]
async fn moderation_scores_reach_the_findings() {
    let mock = server().await;
    let cfg = config(&format!(
        r#"
        kind = "openai_moderation"
        base_url = "{}"
        model = "omni-moderation-latest"
        [thresholds]
        unsafe_score = 0.5
        controversial_score = 0.2
        categories = {{ "sexual" = 0.3 }}
        "#,
        mock.base_url
    ));
    let stage = GuardStage::from_config(&cfg).unwrap();
    let out = stage
        .review(&GuardRequest::input("bomb"), "v1")
        .await
        .unwrap();
    assert_eq!(out.decision.matches[0].score_permille, Some(900));
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let err = toml::from_str::<GuardConfig>(
        r#"
        kind = "qwen3guard"
        base_url = "http://127.0.0.1:1"
        model = "m"
        timeout = 5
        "#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `timeout`"), "{err}");
}

#[test]
fn unknown_kinds_and_fallbacks_are_rejected() {
    for bad in [
        r#"kind = "perspective""#,
        r#"kind = "qwen3guard"
           fallback = "retry""#,
    ] {
        let text = format!("{bad}\nbase_url = \"http://h\"\nmodel = \"m\"");
        assert!(toml::from_str::<GuardConfig>(&text).is_err(), "{bad}");
    }
}

#[test]
fn invalid_configs_list_every_problem_before_any_call() {
    let cfg = config(
        r#"
        kind = "llamaguard"
        base_url = "127.0.0.1:8000"
        model = "m"
        shieldlm_lang = "en"
        connect_timeout_ms = 5000
        "#,
    );
    let err = GuardStage::from_config(&cfg).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["base_url", "connect_timeout_ms", "shieldlm_lang"]
    );
    let text = err.to_string();
    assert!(
        text.contains("invalid guard configuration `llamaguard`"),
        "{text}"
    );
}
