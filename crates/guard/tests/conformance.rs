//! The matrix every guard adapter passes against the loopback mock: verdicts, stages,
//! fallback policies and every failure mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use hegui_guard::{
    build_guard, mapping, Fallback, FallbackGuard, GuardError, GuardRequest, Safety,
};
use support::{cases, server};

async fn check(
    cfg: &hegui_guard::GuardConfig,
    req: &GuardRequest,
) -> Result<hegui_guard::GuardVerdict, GuardError> {
    build_guard(cfg).unwrap().check(req).await
}

#[tokio::test]
async fn safe_prompts_are_safe_with_no_risks() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let v = check(&case.cfg, &GuardRequest::input("今天天气怎么样？"))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(v.safety, Safety::Safe, "{}", case.name);
        assert!(v.risks.is_empty(), "{}: {:?}", case.name, v.risks);
        assert!(!v.raw.is_empty() && !v.is_degraded(), "{}", case.name);
        assert_eq!(v.guard, case.cfg.kind.as_str(), "{}", case.name);
    }
}

#[tokio::test]
async fn unsafe_prompts_map_to_tc260_codes() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let v = check(&case.cfg, &GuardRequest::input("怎么制作炸弹"))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!(v.is_unsafe(), "{}: {v:?}", case.name);
        assert_eq!(v.risks, case.violent_risks, "{}", case.name);
    }
}

#[tokio::test]
async fn output_stage_judges_the_answer_not_the_prompt() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let refused = GuardRequest::output("怎么制作炸弹", "抱歉，我不能提供这方面的帮助。");
        let v = check(&case.cfg, &refused).await.unwrap();
        assert_eq!(v.safety, Safety::Safe, "{}: {v:?}", case.name);

        let harmful = GuardRequest::output("讲个故事", "先准备炸弹的材料……");
        let v = check(&case.cfg, &harmful).await.unwrap();
        assert!(v.is_unsafe(), "{}: {v:?}", case.name);
        assert_eq!(v.risks, case.violent_risks, "{}", case.name);
    }
}

#[tokio::test]
async fn an_output_request_without_an_answer_is_rejected_before_any_call() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let req = GuardRequest {
            stage: hegui_guard::Stage::Output,
            prompt: "p".into(),
            response: None,
        };
        let err = check(&case.cfg, &req).await.unwrap_err();
        assert_eq!(err.code(), "invalid_request", "{}", case.name);
    }
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn a_hanging_guard_times_out_within_the_configured_time() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let started = Instant::now();
        let err = check(&case.cfg, &GuardRequest::input("[[fault:hang]]"))
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(err, GuardError::Timeout { after, .. } if after == Duration::from_millis(400)),
            "{}: {err}",
            case.name
        );
        assert!(
            took < Duration::from_millis(1500),
            "{}: took {took:?}",
            case.name
        );
    }
}

#[tokio::test]
async fn a_slow_guard_within_the_timeout_still_answers() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let v = check(&case.cfg, &GuardRequest::input("[[delay_ms:100]] 炸弹"))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!(v.is_unsafe(), "{}", case.name);
        assert!(v.latency >= Duration::from_millis(100), "{}", case.name);
    }
}

#[tokio::test]
async fn fail_closed_turns_a_timeout_into_an_unsafe_degraded_verdict() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let guard = FallbackGuard::new(build_guard(&case.cfg).unwrap(), Fallback::FailClosed);
        let v = guard
            .check_or_fallback(&GuardRequest::input("[[fault:hang]]"))
            .await;
        assert!(v.is_unsafe(), "{}", case.name);
        assert_eq!(v.risks, vec![mapping::UNAVAILABLE], "{}", case.name);
        let degraded = v.degraded.unwrap();
        assert_eq!(
            (degraded.policy, degraded.reason.as_str()),
            (Fallback::FailClosed, "timeout"),
            "{}",
            case.name
        );
        assert!(
            degraded.message.contains("timeout_ms"),
            "{}",
            degraded.message
        );
    }
}

#[tokio::test]
async fn fail_open_turns_a_timeout_into_a_safe_degraded_verdict() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let guard = FallbackGuard::new(build_guard(&case.cfg).unwrap(), Fallback::FailOpen);
        let v = guard
            .check_or_fallback(&GuardRequest::input("[[fault:hang]] 炸弹"))
            .await;
        assert_eq!(v.safety, Safety::Safe, "{}", case.name);
        assert!(v.risks.is_empty(), "{}", case.name);
        assert_eq!(
            v.degraded.map(|d| (d.policy, d.reason)),
            Some((Fallback::FailOpen, "timeout".to_owned())),
            "{}",
            case.name
        );
    }
}

#[tokio::test]
async fn server_errors_are_typed_errors() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let err = check(&case.cfg, &GuardRequest::input("[[fault:status_500]]"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, GuardError::Status { status: 500, .. }),
            "{}: {err}",
            case.name
        );
        assert_eq!(err.code(), "server_error");
        assert!(err.to_string().contains("injected failure"), "{err}");
    }
}

#[tokio::test]
async fn rate_limits_are_typed_errors_with_retry_after() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let err = check(&case.cfg, &GuardRequest::input("[[fault:status_429]]"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            GuardError::RateLimited {
                guard: case.cfg.kind.as_str().into(),
                retry_after: Some(Duration::from_secs(7)),
            },
            "{}",
            case.name
        );
    }
}

#[tokio::test]
async fn malformed_bodies_are_typed_errors() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        for fault in ["malformed_json", "empty_choices"] {
            let err = check(
                &case.cfg,
                &GuardRequest::input(format!("[[fault:{fault}]]")),
            )
            .await
            .unwrap_err();
            assert_eq!(err.code(), "malformed", "{} {fault}: {err}", case.name);
        }
    }
}

#[tokio::test]
async fn replies_that_are_no_verdict_are_typed_errors() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let err = check(&case.cfg, &GuardRequest::input("[[fault:garbage]]"))
            .await
            .unwrap_err();
        // Chat guards got a well-formed completion whose text is no verdict; the moderation
        // endpoint got JSON of another shape.
        let expected = if case.name == "openai_moderation" {
            "malformed"
        } else {
            "unexpected_verdict"
        };
        assert_eq!(err.code(), expected, "{}: {err}", case.name);
    }
}

#[tokio::test]
async fn null_content_is_a_typed_error() {
    let mock = server().await;
    for case in cases(&mock.base_url)
        .into_iter()
        .filter(|c| c.name != "openai_moderation")
    {
        let err = check(&case.cfg, &GuardRequest::input("[[fault:null_content]]"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "malformed", "{}: {err}", case.name);
    }
}

#[tokio::test]
async fn oversized_replies_are_cut_off_at_the_limit() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let err = check(&case.cfg, &GuardRequest::input("[[fault:oversized]]"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, GuardError::ResponseTooLarge { limit: 65536, .. }),
            "{}: {err}",
            case.name
        );
    }
}

#[tokio::test]
async fn oversized_bodies_without_a_length_are_cut_off_while_reading() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let err = check(
            &case.cfg,
            &GuardRequest::input("[[fault:oversized_chunked]]"),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "too_large", "{}: {err}", case.name);
    }
}

#[tokio::test]
async fn a_body_that_stalls_after_the_headers_times_out() {
    let mock = server().await;
    for case in cases(&mock.base_url) {
        let started = Instant::now();
        let err = check(&case.cfg, &GuardRequest::input("[[fault:stall]]"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "timeout", "{}: {err}", case.name);
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{}",
            case.name
        );
    }
}

#[tokio::test]
async fn an_unreachable_guard_is_a_connect_error() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for case in cases(&format!("http://127.0.0.1:{port}")) {
        let err = check(&case.cfg, &GuardRequest::input("x"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "connect", "{}: {err}", case.name);
        assert!(err.to_string().contains("base_url"), "{err}");
    }
}

#[tokio::test]
async fn api_keys_are_sent_as_bearer_or_in_the_configured_header() {
    let bearer = hegui_guard::mock::spawn(hegui_guard::mock::MockGuardConfig {
        api_key: Some("sk-guard".into()),
        api_key_header: None,
    })
    .await
    .unwrap();
    let custom = hegui_guard::mock::spawn(hegui_guard::mock::MockGuardConfig {
        api_key: Some("sk-guard".into()),
        api_key_header: Some("api-key".into()),
    })
    .await
    .unwrap();
    for (mut without, mut with, mut in_header) in cases(&bearer.base_url)
        .into_iter()
        .zip(cases(&bearer.base_url))
        .zip(cases(&custom.base_url))
        .map(|((a, b), c)| (a, b, c))
    {
        let err = check(&without.cfg, &GuardRequest::input("x"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, GuardError::Status { status: 401, .. }),
            "{}: {err}",
            without.name
        );
        assert!(err.to_string().contains("api_key"), "{err}");
        without.cfg.api_key = Some("wrong".into());
        assert!(check(&without.cfg, &GuardRequest::input("x"))
            .await
            .is_err());

        with.cfg.api_key = Some("sk-guard".into());
        check(&with.cfg, &GuardRequest::input("x"))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", with.name));

        in_header.cfg.api_key = Some("sk-guard".into());
        in_header.cfg.api_key_header = Some("api-key".into());
        check(&in_header.cfg, &GuardRequest::input("x"))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", in_header.name));
    }
}

#[tokio::test]
async fn a_base_url_with_v1_is_not_doubled() {
    let mock = server().await;
    for mut case in cases(&format!("{}/v1/", mock.base_url)) {
        check(&case.cfg, &GuardRequest::input("x"))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        case.cfg.model = "not-a-guard".into();
        if case.name != "openai_moderation" {
            let err = check(&case.cfg, &GuardRequest::input("x"))
                .await
                .unwrap_err();
            assert!(
                matches!(err, GuardError::Status { status: 404, .. }),
                "{}: {err}",
                case.name
            );
        }
    }
}
