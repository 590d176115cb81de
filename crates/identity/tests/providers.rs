#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Provider adapters against real loopback servers (run with `--features mock`).

use std::{
    fmt::Write as _,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use axum::{http::StatusCode, routing::any, Router};
use hegui_identity::providers::{
    build_authority, build_sms, mask_phone,
    mock::{
        authority_config_for, sms_config_for, AuthorityMode, MockAuthority, MockSmsGateway, SmsMode,
    },
    AuthorityConfig, AuthorityResult, BodyFormat, ConsoleSms, HttpMethod, HttpSms,
    IdentityAuthority, ProviderError, SmsConfig, SmsSender,
};
use serde::Deserialize;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// helpers

#[derive(Debug, Deserialize)]
struct Root {
    identity: Identity,
}

#[derive(Debug, Deserialize)]
struct Identity {
    sms: Option<SmsConfig>,
    authority: Option<AuthorityConfig>,
}

fn parse(text: &str) -> Result<Identity, toml::de::Error> {
    toml::from_str::<Root>(text).map(|r| r.identity)
}

fn http_sms(
    cfg: SmsConfig,
    f: impl FnOnce(&mut hegui_identity::providers::HttpSmsConfig),
) -> SmsConfig {
    let SmsConfig::Http(mut http) = cfg else {
        panic!("not an http config")
    };
    f(&mut http);
    SmsConfig::Http(http)
}

fn http_authority(
    cfg: AuthorityConfig,
    f: impl FnOnce(&mut hegui_identity::providers::HttpAuthorityConfig),
) -> AuthorityConfig {
    let AuthorityConfig::Http(mut http) = cfg;
    f(&mut http);
    AuthorityConfig::Http(http)
}

fn sms_for(url: &str) -> Arc<dyn SmsSender> {
    build_sms(&sms_config_for(url), true).unwrap()
}

fn authority_for(url: &str) -> Arc<dyn IdentityAuthority> {
    build_authority(&authority_config_for(url)).unwrap()
}

fn config_message(err: ProviderError) -> String {
    match err {
        ProviderError::Config(msg) => msg,
        other => panic!("expected a Config error, got {other:?}"),
    }
}

fn build_sms_err(cfg: &SmsConfig, production: bool) -> String {
    match build_sms(cfg, production) {
        Ok(_) => panic!("config was accepted"),
        Err(e) => config_message(e),
    }
}

fn build_authority_err(cfg: &AuthorityConfig) -> String {
    match build_authority(cfg) {
        Ok(_) => panic!("config was accepted"),
        Err(e) => config_message(e),
    }
}

/// A loopback URL on which nothing listens.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/nothing-here")
}

/// A loopback server answering every request with `status` and `respond(request body)`
/// (as `application/json`, whatever the text).
async fn scripted(status: u16, respond: fn(&str) -> String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/",
        any(move |body: String| async move {
            (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                respond(&body),
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/")
}

// ---------------------------------------------------------------------------------------------
// SMS adapter

#[tokio::test]
async fn sms_json_body_is_received_and_code_stays_a_string() {
    let gateway = MockSmsGateway::start(SmsMode::Ok).await;
    let sms = sms_for(&gateway.url());
    assert_eq!(sms.name(), "mock-sms");
    sms.send_code("13812345678", "012345").await.unwrap();

    assert_eq!(
        gateway.messages(),
        vec![("13812345678".to_owned(), "012345".to_owned())]
    );
    let requests = gateway.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(body, json!({"to": "13812345678", "code": "012345"}));
}

#[tokio::test]
async fn sms_form_body_nested_templates_and_method() {
    let gateway = MockSmsGateway::start(SmsMode::Ok).await;
    let cfg = http_sms(sms_config_for(&gateway.url()), |c| {
        c.body_format = BodyFormat::Form;
        c.method = HttpMethod::Put;
        c.body = json!({"to": "{{phone}}", "code": "{{code}}", "sign": "hegui & co"});
    });
    let sms = build_sms(&cfg, true).unwrap();
    sms.send_code("+86 138-1234-5678", "000111").await.unwrap();
    assert_eq!(
        gateway.messages(),
        vec![("+86 138-1234-5678".to_owned(), "000111".to_owned())]
    );
    let request = &gateway.requests()[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        request.body.contains("sign=hegui+%26+co"),
        "{}",
        request.body
    );
}

#[tokio::test]
async fn sms_placeholders_inside_longer_strings_and_nested_values() {
    // The gateway ignores extra fields; the rendered JSON is checked as received.
    let gateway = MockSmsGateway::start(SmsMode::Ok).await;
    let cfg = http_sms(sms_config_for(&gateway.url()), |c| {
        c.body = json!({
            "to": "{{phone}}",
            "code": "{{ code }}",
            "params": {"text": "code {{code}} for {{phone}}", "list": ["{{code}}", 7, true]},
        });
    });
    build_sms(&cfg, false)
        .unwrap()
        .send_code("13800000000", "99\"x")
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&gateway.requests()[0].body).unwrap();
    assert_eq!(body["code"], json!("99\"x"));
    assert_eq!(body["params"]["text"], json!("code 99\"x for 13800000000"));
    assert_eq!(body["params"]["list"], json!(["99\"x", 7, true]));
}

#[tokio::test]
async fn sms_server_error_is_unavailable() {
    let gateway = MockSmsGateway::start(SmsMode::ServerError).await;
    let err = sms_for(&gateway.url())
        .send_code("13812345678", "123456")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Unavailable { provider, detail } if provider == "mock-sms" && detail.contains("503")),
        "{err:?}"
    );
    assert!(gateway.messages().is_empty());
    assert_eq!(gateway.requests().len(), 1);
}

#[tokio::test]
async fn sms_business_reject_is_rejected_with_the_code() {
    let gateway = MockSmsGateway::start(SmsMode::Reject).await;
    let err = sms_for(&gateway.url())
        .send_code("13812345678", "123456")
        .await
        .unwrap_err();
    match &err {
        ProviderError::Rejected { status, detail, .. } => {
            assert_eq!(*status, 200);
            assert!(detail.contains("isv.BUSINESS_LIMIT_CONTROL"), "{detail}");
            assert!(detail.contains("/Code"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(gateway.messages().is_empty());
}

#[tokio::test]
async fn sms_without_success_pointer_accepts_any_success_status() {
    let gateway = MockSmsGateway::start(SmsMode::Reject).await;
    let cfg = http_sms(sms_config_for(&gateway.url()), |c| {
        c.success_pointer = None;
        c.success_value = None;
    });
    build_sms(&cfg, true)
        .unwrap()
        .send_code("13812345678", "123456")
        .await
        .unwrap();
}

#[tokio::test]
async fn sms_hang_times_out() {
    let gateway = MockSmsGateway::start(SmsMode::Hang(Duration::from_secs(30))).await;
    let cfg = http_sms(sms_config_for(&gateway.url()), |c| c.timeout_ms = 200);
    let sms = build_sms(&cfg, true).unwrap();
    let started = Instant::now();
    let err = sms.send_code("13812345678", "123456").await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Timeout { ref provider, after_ms: 200 } if provider == "mock-sms"),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("timeout_ms"), "{err}");
}

#[tokio::test]
async fn sms_short_hang_within_timeout_succeeds() {
    let gateway = MockSmsGateway::start(SmsMode::Hang(Duration::from_millis(100))).await;
    sms_for(&gateway.url())
        .send_code("13812345678", "123456")
        .await
        .unwrap();
    assert_eq!(gateway.messages().len(), 1);
}

#[tokio::test]
async fn sms_garbage_is_bad_response() {
    let gateway = MockSmsGateway::start(SmsMode::Garbage).await;
    let err = sms_for(&gateway.url())
        .send_code("13812345678", "123456")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::BadResponse { detail, .. } if detail.contains("not JSON")),
        "{err:?}"
    );
}

#[tokio::test]
async fn sms_connection_refused_is_unavailable() {
    let err = sms_for(&refused_url())
        .send_code("13812345678", "123456")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Unavailable { detail, .. } if detail.contains("could not connect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn sms_mode_changes_at_runtime() {
    let gateway = MockSmsGateway::start(SmsMode::Ok).await;
    let sms = sms_for(&gateway.url());
    sms.send_code("13800000001", "111111").await.unwrap();
    gateway.set_mode(SmsMode::ServerError);
    assert!(matches!(
        sms.send_code("13800000002", "222222").await,
        Err(ProviderError::Unavailable { .. })
    ));
    gateway.set_mode(SmsMode::Ok);
    sms.send_code("13800000003", "333333").await.unwrap();
    let sent: Vec<String> = gateway.messages().into_iter().map(|(to, _)| to).collect();
    assert_eq!(sent, ["13800000001", "13800000003"]);
}

#[tokio::test]
async fn dropping_a_mock_shuts_it_down() {
    let gateway = MockSmsGateway::start(SmsMode::Ok).await;
    let sms = sms_for(&gateway.url());
    sms.send_code("13812345678", "123456").await.unwrap();
    drop(gateway);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match sms.send_code("13812345678", "123456").await {
            Err(ProviderError::Unavailable { .. }) => break,
            other => assert!(
                Instant::now() < deadline,
                "still served after drop: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn dropping_a_mock_releases_hanging_requests() {
    let gateway = MockSmsGateway::start(SmsMode::Hang(Duration::from_secs(3600))).await;
    let sms = sms_for(&gateway.url());
    let pending = tokio::spawn(async move { sms.send_code("13812345678", "123456").await });
    let deadline = Instant::now() + Duration::from_secs(3);
    while gateway.requests().is_empty() {
        assert!(Instant::now() < deadline, "the request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    drop(gateway);
    let result = pending.await.unwrap();
    assert!(
        matches!(result, Err(ProviderError::Unavailable { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn sms_success_status_range_and_numeric_success_value() {
    // {"code": 0} with success_value = 0 (TOML integer) → accepted.
    let url = scripted(200, |_| r#"{"code":0}"#.to_owned()).await;
    let toml_text = format!(
        r#"
        [identity.sms]
        kind = "http"
        url = "{url}"
        body = {{ to = "{{{{phone}}}}", code = "{{{{code}}}}" }}
        success_pointer = "/code"
        success_value = 0
        "#
    );
    let cfg = parse(&toml_text).unwrap().sms.unwrap();
    let sms = build_sms(&cfg, true).unwrap();
    assert_eq!(sms.name(), "sms-http");
    sms.send_code("13812345678", "123456").await.unwrap();

    // 202 outside success_status = [200, 200] → Rejected with the status.
    let url = scripted(202, |_| "{}".to_owned()).await;
    let cfg = http_sms(sms_config_for(&url), |c| {
        c.success_status = [200, 200];
        c.success_pointer = None;
        c.success_value = None;
    });
    let err = build_sms(&cfg, true)
        .unwrap()
        .send_code("13812345678", "123456")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { status: 202, .. }),
        "{err:?}"
    );

    // 401 → Rejected; 500 → Unavailable.
    let url = scripted(401, |_| r#"{"Code":"InvalidAccessKeyId"}"#.to_owned()).await;
    let err = sms_for(&url)
        .send_code("13812345678", "123456")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { status: 401, detail, .. } if detail.contains("InvalidAccessKeyId")),
        "{err:?}"
    );
    let url = scripted(500, |_| String::new()).await;
    let err = sms_for(&url)
        .send_code("13812345678", "123456")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");

    // Success status but the pointer is missing → BadResponse.
    let url = scripted(200, |_| r#"{"Status":"OK"}"#.to_owned()).await;
    let err = sms_for(&url)
        .send_code("13812345678", "123456")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::BadResponse { detail, .. } if detail.contains("/Code")),
        "{err:?}"
    );
}

#[test]
fn console_sender_line_and_masking() {
    assert_eq!(
        ConsoleSms::line("13812345678", "123456"),
        "hegui dev SMS to 138****5678: your verification code is 123456"
    );
    assert_eq!(mask_phone("13812345678"), "138****5678");
    assert_eq!(mask_phone("1234567"), "****");
    assert_eq!(mask_phone(""), "****");
}

#[tokio::test]
async fn console_sender_in_development_sends() {
    let cfg = parse("[identity.sms]\nkind = \"console\"\n")
        .unwrap()
        .sms
        .unwrap();
    let sms = build_sms(&cfg, false).unwrap();
    assert_eq!(sms.name(), "console");
    sms.send_code("13812345678", "123456").await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Authority adapter

#[tokio::test]
async fn authority_match_and_no_match_with_quotes_and_unicode() {
    let authority = MockAuthority::start().await;
    authority.register("张\"三", "11010519491231002X");
    let check = authority_for(&authority.url());
    assert_eq!(check.name(), "mock-authority");

    assert_eq!(
        check.check("张\"三", "11010519491231002X").await.unwrap(),
        AuthorityResult::Match
    );
    assert_eq!(
        check.check("张三", "11010519491231002X").await.unwrap(),
        AuthorityResult::NoMatch
    );
    assert_eq!(
        check.check("张\"三", "110105194912310000").await.unwrap(),
        AuthorityResult::NoMatch
    );
    assert_eq!(authority.calls(), 3);
    let body: Value = serde_json::from_str(&authority.requests()[0].body).unwrap();
    assert_eq!(
        body,
        json!({"name": "张\"三", "idNumber": "11010519491231002X"})
    );
}

#[tokio::test]
async fn authority_form_body_with_quotes_and_unicode() {
    let authority = MockAuthority::start().await;
    authority.register("张\"三 & O'Brien=1", "11010519491231002X");
    let cfg = http_authority(authority_config_for(&authority.url()), |c| {
        c.body_format = BodyFormat::Form;
    });
    let check = build_authority(&cfg).unwrap();
    assert_eq!(
        check
            .check("张\"三 & O'Brien=1", "11010519491231002X")
            .await
            .unwrap(),
        AuthorityResult::Match
    );
    let request = &authority.requests()[0];
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn authority_failures_map_to_errors() {
    let authority = MockAuthority::start().await;
    authority.register("李四", "11010519491231002X");
    let cfg = http_authority(authority_config_for(&authority.url()), |c| {
        c.timeout_ms = 200;
    });
    let check = build_authority(&cfg).unwrap();

    authority.set_mode(AuthorityMode::ServerError);
    let err = check.check("李四", "11010519491231002X").await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Unavailable { detail, .. } if detail.contains("503")),
        "{err:?}"
    );

    authority.set_mode(AuthorityMode::Hang(Duration::from_secs(30)));
    let started = Instant::now();
    let err = check.check("李四", "11010519491231002X").await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Timeout { after_ms: 200, .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    authority.set_mode(AuthorityMode::Garbage);
    let err = check.check("李四", "11010519491231002X").await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::BadResponse { detail, .. } if detail.contains("not JSON")),
        "{err:?}"
    );

    authority.set_mode(AuthorityMode::UnknownResult);
    let err = check.check("李四", "11010519491231002X").await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::BadResponse { detail, .. } if detail.contains("pending") && detail.contains("neither")),
        "{err:?}"
    );

    authority.set_mode(AuthorityMode::Ok);
    assert_eq!(
        check.check("李四", "11010519491231002X").await.unwrap(),
        AuthorityResult::Match
    );
    assert_eq!(authority.calls(), 5);
}

#[tokio::test]
async fn authority_connection_refused_is_unavailable() {
    let err = authority_for(&refused_url())
        .check("李四", "11010519491231002X")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn authority_numeric_verdicts_missing_pointer_and_non_scalar() {
    let url = scripted(200, |_| r#"{"data":{"res":1}}"#.to_owned()).await;
    let cfg = http_authority(authority_config_for(&url), |c| {
        c.result_pointer = "/data/res".to_owned();
        c.match_values = vec!["1".to_owned()];
        c.no_match_values = vec!["0".to_owned(), "2".to_owned()];
    });
    assert_eq!(
        build_authority(&cfg)
            .unwrap()
            .check("王五", "11010519491231002X")
            .await
            .unwrap(),
        AuthorityResult::Match
    );

    let url = scripted(200, |_| r#"{"data":{"res":2}}"#.to_owned()).await;
    let cfg = http_authority(cfg, |c| c.url = url);
    assert_eq!(
        build_authority(&cfg)
            .unwrap()
            .check("王五", "11010519491231002X")
            .await
            .unwrap(),
        AuthorityResult::NoMatch
    );

    let url = scripted(200, |_| r#"{"data":{}}"#.to_owned()).await;
    let err = authority_for(&url)
        .check("王五", "11010519491231002X")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::BadResponse { detail, .. } if detail.contains("no value at `/result`")),
        "{err:?}"
    );

    let url = scripted(200, |_| r#"{"result":null}"#.to_owned()).await;
    let err = authority_for(&url)
        .check("王五", "11010519491231002X")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::BadResponse { detail, .. } if detail.contains("null")),
        "{err:?}"
    );

    let url = scripted(403, |_| r#"{"error":"forbidden"}"#.to_owned()).await;
    let err = authority_for(&url)
        .check("王五", "11010519491231002X")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { status: 403, .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[tokio::test]
async fn header_env_substitution() {
    std::env::set_var("HEGUI_TEST_SMS_TOKEN_7F3A", "s3cr3t-token-value");
    let gateway = MockSmsGateway::start(SmsMode::Ok).await;
    let cfg = http_sms(sms_config_for(&gateway.url()), |c| {
        c.headers.insert(
            "Authorization".to_owned(),
            "Bearer ${env:HEGUI_TEST_SMS_TOKEN_7F3A}".to_owned(),
        );
        c.headers
            .insert("X-Plain".to_owned(), "a $ b {not a placeholder}".to_owned());
    });
    let sms = build_sms(&cfg, true).unwrap();
    sms.send_code("13812345678", "123456").await.unwrap();
    let request = &gateway.requests()[0];
    assert_eq!(
        request.header("authorization"),
        Some("Bearer s3cr3t-token-value")
    );
    assert_eq!(request.header("x-plain"), Some("a $ b {not a placeholder}"));
    // The resolved secret does not show in Debug output of the adapter.
    let SmsConfig::Http(http) = &cfg else {
        panic!("http")
    };
    let debug = format!("{:?}", HttpSms::from_config(http).unwrap());
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(debug.contains("authorization"), "{debug}");
}

#[tokio::test]
async fn body_env_substitution_is_literal() {
    std::env::set_var("HEGUI_TEST_SMS_SIGN_7F3A", "{{code}} signed");
    let gateway = MockSmsGateway::start(SmsMode::Ok).await;
    let cfg = http_sms(sms_config_for(&gateway.url()), |c| {
        c.body = json!({"to": "{{phone}}", "code": "{{code}}", "sign": "${env:HEGUI_TEST_SMS_SIGN_7F3A}"});
    });
    build_sms(&cfg, true)
        .unwrap()
        .send_code("13812345678", "123456")
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&gateway.requests()[0].body).unwrap();
    assert_eq!(body["sign"], json!("{{code}} signed"));
}

#[test]
fn missing_env_var_is_a_config_error_naming_it() {
    let cfg = http_sms(sms_config_for("http://127.0.0.1:9/send"), |c| {
        c.headers.insert(
            "Authorization".to_owned(),
            "Bearer ${env:HEGUI_TEST_DEFINITELY_UNSET_91C2}".to_owned(),
        );
    });
    let msg = build_sms_err(&cfg, true);
    assert!(msg.contains("HEGUI_TEST_DEFINITELY_UNSET_91C2"), "{msg}");
    assert!(msg.contains("headers.Authorization"), "{msg}");

    let cfg = http_authority(authority_config_for("http://127.0.0.1:9/x"), |c| {
        c.url = "http://${env:HEGUI_TEST_UNSET_HOST_91C2}/check".to_owned();
    });
    let msg = build_authority_err(&cfg);
    assert!(msg.contains("HEGUI_TEST_UNSET_HOST_91C2"), "{msg}");
}

#[test]
fn unknown_or_missing_placeholders_are_config_errors() {
    let cfg = http_sms(sms_config_for("http://127.0.0.1:9/send"), |c| {
        c.body = json!({"to": "{{phone}}", "code": "{{code}}", "extra": {"n": "{{phone_number}}"}});
    });
    let msg = build_sms_err(&cfg, true);
    assert!(msg.contains("{{phone_number}}"), "{msg}");
    assert!(msg.contains("body.extra.n"), "{msg}");

    // An authority placeholder is unknown in an SMS body.
    let cfg = http_sms(sms_config_for("http://127.0.0.1:9/send"), |c| {
        c.body = json!({"to": "{{phone}}", "code": "{{code}}", "who": "{{name}}"});
    });
    assert!(build_sms_err(&cfg, true).contains("{{name}}"));

    // A body that never carries the code.
    let cfg = http_sms(sms_config_for("http://127.0.0.1:9/send"), |c| {
        c.body = json!({"to": "{{phone}}"});
    });
    assert!(build_sms_err(&cfg, true).contains("{{code}}"));

    // Placeholders are not substituted in headers.
    let cfg = http_sms(sms_config_for("http://127.0.0.1:9/send"), |c| {
        c.headers
            .insert("X-Phone".to_owned(), "{{phone}}".to_owned());
    });
    assert!(build_sms_err(&cfg, true).contains("only in `body`"));

    // Unterminated placeholder.
    let cfg = http_authority(authority_config_for("http://127.0.0.1:9/x"), |c| {
        c.body = json!({"name": "{{name", "idNumber": "{{id_number}}"});
    });
    assert!(build_authority_err(&cfg).contains("unterminated"));
}

#[test]
fn console_is_refused_in_production() {
    let cfg = parse("[identity.sms]\nkind = \"console\"\n")
        .unwrap()
        .sms
        .unwrap();
    let msg = build_sms_err(&cfg, true);
    assert!(msg.contains("kind = \"http\""), "{msg}");
    assert!(build_sms(&cfg, false).is_ok());
}

#[test]
fn toml_examples_parse_with_defaults() {
    let identity = parse(
        r#"
        [identity.sms]
        kind = "http"
        url = "https://sms.example/send"
        headers = { Authorization = "Bearer ${env:SMS_TOKEN}" }
        body = { to = "{{phone}}", template = "SMS_123", params = { code = "{{code}}" } }
        success_pointer = "/Code"
        success_value = "OK"

        [identity.authority]
        kind = "http"
        name = "gov-auth"
        url = "http://127.0.0.1:9/check"
        timeout_ms = 1500
        headers = {}
        body_format = "form"
        body = { name = "{{name}}", idNumber = "{{id_number}}" }
        result_pointer = "/result"
        match_values = ["match", 1]
        no_match_values = ["no_match", "0"]
        "#,
    )
    .unwrap();
    let Some(SmsConfig::Http(sms)) = identity.sms else {
        panic!("sms")
    };
    assert_eq!(sms.name, "sms-http");
    assert_eq!(sms.method, HttpMethod::Post);
    assert_eq!(sms.timeout_ms, 5000);
    assert_eq!(sms.body_format, BodyFormat::Json);
    assert_eq!(sms.success_status, [200, 299]);
    assert_eq!(sms.success_value.as_deref(), Some("OK"));
    assert_eq!(sms.body["params"]["code"], json!("{{code}}"));
    let Some(AuthorityConfig::Http(authority)) = identity.authority else {
        panic!("authority")
    };
    assert_eq!(authority.name, "gov-auth");
    assert_eq!(authority.timeout_ms, 1500);
    assert_eq!(authority.body_format, BodyFormat::Form);
    assert_eq!(authority.match_values, ["match", "1"]);
    assert_eq!(authority.no_match_values, ["no_match", "0"]);
    build_authority(&AuthorityConfig::Http(authority)).unwrap();
}

#[test]
fn unknown_keys_in_toml_are_rejected() {
    let cases = [
        // typo in an http sms table
        "[identity.sms]\nkind = \"http\"\nurl = \"http://x/\"\nbody = {}\nsucess_value = \"OK\"\n",
        // console takes no other key
        "[identity.sms]\nkind = \"console\"\nurl = \"http://x/\"\n",
        // unknown kind
        "[identity.sms]\nkind = \"carrier-pigeon\"\n",
        // typo in an authority table
        "[identity.authority]\nkind = \"http\"\nurl = \"http://x/\"\nbody = {}\nresult_pointer = \"/r\"\nmatch_values = [\"1\"]\nno_match_values = [\"0\"]\nmatch_value = [\"1\"]\n",
        // unknown method
        "[identity.sms]\nkind = \"http\"\nurl = \"http://x/\"\nbody = {}\nmethod = \"DELETE\"\n",
    ];
    for case in cases {
        assert!(parse(case).is_err(), "accepted: {case}");
    }
    let err = parse(cases[0]).unwrap_err().to_string();
    assert!(err.contains("sucess_value"), "{err}");
}

#[test]
fn other_config_mistakes_are_config_errors() {
    let base = || sms_config_for("http://127.0.0.1:9/send");

    let form_nested = http_sms(base(), |c| {
        c.body_format = BodyFormat::Form;
        c.body = json!({"to": "{{phone}}", "params": {"code": "{{code}}"}});
    });
    assert!(build_sms_err(&form_nested, true).contains("flat table of strings"));

    let form_number = http_sms(base(), |c| {
        c.body_format = BodyFormat::Form;
        c.body = json!({"to": "{{phone}}", "code": "{{code}}", "n": 1});
    });
    assert!(build_sms_err(&form_number, true).contains("flat table of strings"));

    let half_check = http_sms(base(), |c| c.success_value = None);
    assert!(build_sms_err(&half_check, true).contains("success_value"));

    let bad_pointer = http_sms(base(), |c| c.success_pointer = Some("Code".to_owned()));
    assert!(build_sms_err(&bad_pointer, true).contains("JSON pointer"));

    let bad_url = http_sms(base(), |c| c.url = "ftp://example/send".to_owned());
    assert!(build_sms_err(&bad_url, true).contains("scheme"));

    let zero_timeout = http_sms(base(), |c| c.timeout_ms = 0);
    assert!(build_sms_err(&zero_timeout, true).contains("timeout_ms"));

    let bad_range = http_sms(base(), |c| c.success_status = [299, 200]);
    assert!(build_sms_err(&bad_range, true).contains("success_status"));

    let bad_header = http_sms(base(), |c| {
        c.headers.insert("Bad Header".to_owned(), "x".to_owned());
    });
    assert!(build_sms_err(&bad_header, true).contains("Bad Header"));

    let overlap = http_authority(authority_config_for("http://127.0.0.1:9/x"), |c| {
        c.no_match_values = vec!["match".to_owned()];
    });
    assert!(build_authority_err(&overlap).contains("both"));

    let empty = http_authority(authority_config_for("http://127.0.0.1:9/x"), |c| {
        c.match_values.clear();
    });
    assert!(build_authority_err(&empty).contains("match_values"));
}

// ---------------------------------------------------------------------------------------------
// Personal information never reaches errors or logs

const PHONE: &str = "13987654321";
const CODE: &str = "864209";
const NAME: &str = "欧阳\"娜娜";
const ID_NUMBER: &str = "33010619850307151X";

/// Captures every tracing event and span field as text, with the emitting thread.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(std::thread::ThreadId, String)>>>);

impl Capture {
    fn push(&self, text: String) {
        let thread = std::thread::current().id();
        self.0.lock().unwrap().push((thread, text));
    }

    fn text(&self, only_thread: Option<std::thread::ThreadId>) -> String {
        let lines = self.0.lock().unwrap();
        let lines = lines
            .iter()
            .filter(|(thread, _)| only_thread.is_none_or(|t| t == *thread))
            .map(|(_, text)| text.as_str());
        lines.collect::<Vec<_>>().join("\n")
    }
}

/// The process-wide capturing subscriber. It must be global: tracing caches a callsite's
/// interest when the callsite is first hit, on whatever thread, so a thread-local subscriber
/// would miss callsites first hit by tests running in parallel.
fn global_capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone()).unwrap();
        capture
    })
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields(span.metadata().name().to_owned());
        span.record(&mut fields);
        self.push(fields.0);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut fields = Fields(String::new());
        values.record(&mut fields);
        self.push(fields.0);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(event.metadata().target().to_owned());
        event.record(&mut fields);
        self.push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn assert_no_pi(what: &str, text: &str) {
    for pi in [
        PHONE,
        CODE,
        NAME,
        ID_NUMBER,
        "欧阳",
        "娜娜",
        "98765",
        "3301061985",
    ] {
        assert!(!text.contains(pi), "{what} leaks `{pi}`: {text}");
    }
}

fn assert_error_clean(err: &ProviderError) {
    assert_no_pi("Display", &err.to_string());
    assert_no_pi("Debug", &format!("{err:?}"));
}

#[tokio::test]
async fn no_personal_information_in_errors_debug_or_logs() {
    let capture = global_capture();
    // A callsite first hit by a parallel test while the subscriber was being installed can
    // keep a stale "never" interest (registration race); recompute them all.
    tracing::callsite::rebuild_interest_cache();
    let mut errors: Vec<ProviderError> = Vec::new();

    // --- SMS: every mock mode, refused, and upstreams that echo the request.
    let gateway = MockSmsGateway::start(SmsMode::Ok).await;
    let cfg = http_sms(sms_config_for(&gateway.url()), |c| c.timeout_ms = 200);
    let sms = build_sms(&cfg, true).unwrap();
    sms.send_code(PHONE, CODE).await.unwrap();
    for mode in [
        SmsMode::ServerError,
        SmsMode::Reject,
        SmsMode::Hang(Duration::from_secs(30)),
        SmsMode::Garbage,
    ] {
        gateway.set_mode(mode);
        errors.push(sms.send_code(PHONE, CODE).await.unwrap_err());
    }
    errors.push(
        sms_for(&refused_url())
            .send_code(PHONE, CODE)
            .await
            .unwrap_err(),
    );

    let echo = |body: &str| body.to_owned();
    let echo_text = |body: &str| format!("error: {body}");
    let wrapped = |body: &str| format!(r#"{{"echo":{body}}}"#);
    for (status, respond) in [
        (400, echo as fn(&str) -> String),
        (429, echo),
        (500, echo),
        (503, echo_text),
        (200, echo_text),
        (200, wrapped),
    ] {
        let url = scripted(status, respond).await;
        errors.push(sms_for(&url).send_code(PHONE, CODE).await.unwrap_err());
    }
    // A success check whose value is the phone number itself.
    let url = scripted(200, echo).await;
    let cfg = http_sms(sms_config_for(&url), |c| {
        c.success_pointer = Some("/to".to_owned())
    });
    errors.push(
        build_sms(&cfg, true)
            .unwrap()
            .send_code(PHONE, CODE)
            .await
            .unwrap_err(),
    );

    // --- Authority: every mock mode, refused, and echoing upstreams.
    let authority = MockAuthority::start().await;
    authority.register(NAME, ID_NUMBER);
    let cfg = http_authority(authority_config_for(&authority.url()), |c| {
        c.timeout_ms = 200
    });
    let check = build_authority(&cfg).unwrap();
    assert_eq!(
        check.check(NAME, ID_NUMBER).await.unwrap(),
        AuthorityResult::Match
    );
    for mode in [
        AuthorityMode::ServerError,
        AuthorityMode::Hang(Duration::from_secs(30)),
        AuthorityMode::Garbage,
        AuthorityMode::UnknownResult,
    ] {
        authority.set_mode(mode);
        errors.push(check.check(NAME, ID_NUMBER).await.unwrap_err());
    }
    errors.push(
        authority_for(&refused_url())
            .check(NAME, ID_NUMBER)
            .await
            .unwrap_err(),
    );
    for (status, respond) in [
        (400, echo as fn(&str) -> String),
        (500, echo),
        (200, echo_text),
        (200, wrapped),
    ] {
        let url = scripted(status, respond).await;
        errors.push(
            authority_for(&url)
                .check(NAME, ID_NUMBER)
                .await
                .unwrap_err(),
        );
    }
    // Verdicts that are the submitted name / ID number themselves.
    for pointer in ["/name", "/idNumber"] {
        let url = scripted(200, echo).await;
        let cfg = http_authority(authority_config_for(&url), |c| {
            c.result_pointer = pointer.to_owned();
        });
        errors.push(
            build_authority(&cfg)
                .unwrap()
                .check(NAME, ID_NUMBER)
                .await
                .unwrap_err(),
        );
    }
    // The same through a form body (percent-encoded echo).
    let url = scripted(400, echo).await;
    let cfg = http_authority(authority_config_for(&url), |c| {
        c.body_format = BodyFormat::Form
    });
    errors.push(
        build_authority(&cfg)
            .unwrap()
            .check(NAME, ID_NUMBER)
            .await
            .unwrap_err(),
    );

    // Every variant except Config was produced, and none leaks.
    assert_eq!(errors.len(), 24);
    let kinds = |f: fn(&ProviderError) -> bool| errors.iter().filter(|e| f(e)).count();
    assert!(kinds(|e| matches!(e, ProviderError::Timeout { .. })) >= 2);
    assert!(kinds(|e| matches!(e, ProviderError::Unavailable { .. })) >= 4);
    assert!(kinds(|e| matches!(e, ProviderError::Rejected { .. })) >= 4);
    assert!(kinds(|e| matches!(e, ProviderError::BadResponse { .. })) >= 4);
    for err in &errors {
        assert_error_clean(err);
    }
    // The echoing upstreams really did echo the data (so the checks above mean something).
    assert!(errors
        .iter()
        .any(|e| e.to_string().contains("response starts")));

    // Debug output of the mocks (the adapters hold no personal data at all).
    assert_no_pi("mock Debug", &format!("{gateway:?} {authority:?}"));

    // Logs: the failures were logged, without personal information.
    let mine = capture.text(Some(std::thread::current().id()));
    assert!(mine.contains("identity check failed"), "{mine}");
    assert!(mine.contains("SMS sending failed"), "{mine}");
    assert!(mine.contains("mock-sms"), "{mine}");
    assert_no_pi("logs", &capture.text(None));
}
