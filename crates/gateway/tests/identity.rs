#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Real-name verification through the live gateway, against loopback servers that behave like
//! an SMS gateway and an identity authority, on SQLite and PostgreSQL.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::{backends, start, user, Backend, Harness};
use hegui_identity::providers::mock::{
    authority_config_for, sms_config_for, AuthorityMode, MockAuthority, MockSmsGateway, SmsMode,
};
use hegui_identity::providers::SmsConfig;
use serde_json::{json, Value};

/// A name, mobile number and ID numbers used nowhere else, so finding them anywhere is a leak.
const NAME: &str = "欧阳测试";
const PHONE: &str = "13987654321";

/// Completes 17 digits with their GB 11643 check character.
fn id_with_check(first17: &str) -> String {
    format!(
        "{first17}{}",
        hegui_pii::id_card::check_char(first17).unwrap()
    )
}

fn adult_id() -> String {
    id_with_check("11010519800704301")
}

/// Born 2014-03-05: a minor until 2032.
fn minor_id() -> String {
    id_with_check("44030520140305402")
}

/// Every log line the gateway writes in this test binary.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || LogWriter(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Env {
    h: Harness,
    sms: MockSmsGateway,
    authority: MockAuthority,
}

async fn env(backend: Backend, tweak: impl FnOnce(&mut hegui_config::RawConfig)) -> Env {
    let _ = captured_logs();
    let sms = MockSmsGateway::start(SmsMode::Ok).await;
    let authority = MockAuthority::start().await;
    let (sms_url, auth_url) = (sms.url(), authority.url());
    let h = start(backend, move |c| {
        c.identity.sms = sms_config_for(&sms_url);
        c.identity.authority = Some(authority_config_for(&auth_url));
        c.identity.key_cache_ms = 0;
        c.identity.minors.quiet_hours = String::new();
        tweak(c);
    })
    .await;
    Env { h, sms, authority }
}

impl Env {
    async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.h.base);
        let mut req = match method {
            "GET" => self.h.http.get(url),
            "DELETE" => self.h.http.delete(url),
            _ => self.h.http.post(url),
        };
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn start(&self, key: &str, phone: &str) -> (u16, Value) {
        let body = json!({ "phone": phone });
        self.call("POST", "/identity/v1/phone/start", Some(key), Some(body))
            .await
    }

    async fn confirm(&self, key: &str, code: &str) -> (u16, Value) {
        let body = json!({ "code": code });
        self.call("POST", "/identity/v1/phone/confirm", Some(key), Some(body))
            .await
    }

    async fn verify_id(&self, key: &str, name: &str, id: &str) -> (u16, Value) {
        let body = json!({ "name": name, "id_number": id });
        self.call("POST", "/identity/v1/id/verify", Some(key), Some(body))
            .await
    }

    async fn register(&self) -> (String, String) {
        let (s, v) = self
            .call("POST", "/identity/v1/register", None, Some(json!({})))
            .await;
        assert_eq!(s, 201, "{v}");
        (
            v["user_id"].as_str().unwrap().to_string(),
            v["api_key"].as_str().unwrap().to_string(),
        )
    }

    async fn chat_status(&self, key: &str) -> (u16, Value) {
        let resp = self
            .h
            .http
            .post(format!("{}/v1/chat/completions", self.h.base))
            .bearer_auth(key)
            .json(&user("你好"))
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    /// Requests a code and reads it off the mock SMS gateway.
    async fn send_code(&self, key: &str, phone: &str) -> String {
        let (s, v) = self
            .call(
                "POST",
                "/identity/v1/phone/start",
                Some(key),
                Some(json!({"phone": phone})),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        assert_eq!(v["phone"], "139****4321");
        let (to, code) = self.sms.messages().last().cloned().unwrap();
        assert_eq!(to, phone);
        code
    }

    async fn verify_phone(&self, key: &str, phone: &str) {
        let code = self.send_code(key, phone).await;
        let (s, v) = self
            .call(
                "POST",
                "/identity/v1/phone/confirm",
                Some(key),
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }

    async fn consent(&self, key: &str) {
        let (_, c) = self.call("GET", "/identity/v1/consent", None, None).await;
        let (s, v) = self
            .call(
                "POST",
                "/identity/v1/consent",
                Some(key),
                Some(json!({"version": c["version"]})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
}

fn wrong(code: &str) -> String {
    let d = (code.as_bytes()[5] - b'0' + 1) % 10;
    format!("{}{d}", &code[..5])
}

#[tokio::test]
async fn a_new_user_registers_verifies_and_is_served() {
    for backend in backends() {
        let e = env(backend, |_| {}).await;
        let (user_id, key) = e.register().await;

        // Unverified: refused, told exactly what is missing and where.
        let (s, v) = e.chat_status(&key).await;
        assert_eq!(s, 403);
        assert_eq!(v["error"]["code"], "real_name_verification_required");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("mobile number")
                && msg.contains("identity")
                && msg.contains("/identity/v1/phone/start"),
            "{msg}"
        );

        // Phone: a wrong code counts, the right one verifies.
        let code = e.send_code(&key, PHONE).await;
        let (s, v) = e.confirm(&key, &wrong(&code)).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("code_wrong")),
            "{v}"
        );
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4 attempt"));
        let (s, v) = e.confirm(&key, &code).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["phone"], "139****4321");
        // A used code is not accepted twice.
        let (s, v) = e.confirm(&key, &code).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("code_not_requested"))
        );

        // Now only the identity is missing.
        let (s, v) = e.chat_status(&key).await;
        assert_eq!(s, 403);
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            !msg.contains("mobile number") && msg.contains("/identity/v1/id/verify"),
            "{msg}"
        );

        // The ID check needs separate consent first.
        let id = adult_id();
        let body = json!({"name": NAME, "id_number": id});
        let (s, v) = e
            .call(
                "POST",
                "/identity/v1/id/verify",
                Some(&key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("consent_required")),
            "{v}"
        );
        assert_eq!(
            e.authority.calls(),
            0,
            "no PI went to the authority before consent"
        );
        let (s, v) = e
            .call(
                "POST",
                "/identity/v1/consent",
                Some(&key),
                Some(json!({"version": "0"})),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("stale_consent_version"))
        );
        e.consent(&key).await;

        // The authority does not know the pair: 422, nothing verified.
        let (s, v) = e
            .call(
                "POST",
                "/identity/v1/id/verify",
                Some(&key),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("identity_mismatch")),
            "{v}"
        );
        e.authority.register(NAME, &id);
        let (s, v) = e
            .call("POST", "/identity/v1/id/verify", Some(&key), Some(body))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["minor"], false);
        assert_eq!(v["id_number"], format!("110***********{}", &id[14..]));

        let (s, v) = e.chat_status(&key).await;
        assert_eq!(s, 200, "{v}");
        let (_, st) = e.call("GET", "/identity/v1/status", Some(&key), None).await;
        assert_eq!(st["verified"], json!(["phone", "id"]));
        assert_eq!(st["required"], "phone+id");
        assert_eq!(st["consent"], true);

        // Every attempt and result is in the tamper-evident log, pseudonymously.
        let rows =
            e.h.store
                .journal_of_kind("identity_check", 100)
                .await
                .unwrap();
        let results: Vec<String> = rows
            .iter()
            .filter_map(|r| r.record.as_ref())
            .map(|r| {
                let v: Value = serde_json::from_str(r).unwrap();
                assert_eq!(v["body"]["user_id"], user_id.as_str());
                format!(
                    "{}:{}",
                    v["body"]["method"].as_str().unwrap(),
                    v["body"]["result"].as_str().unwrap()
                )
            })
            .collect();
        for want in [
            "phone:sent",
            "phone:wrong_code",
            "phone:verified",
            "consent:given",
            "id:no_match",
            "id:match",
        ] {
            assert!(
                results.iter().any(|r| r == want),
                "{want} missing from {results:?} ({backend:?})"
            );
        }
        e.h.stop().await;
    }
}

#[tokio::test]
async fn invalid_fields_are_named_with_their_rule() {
    let e = env(Backend::Sqlite, |_| {}).await;
    let (_, key) = e.register().await;
    let cases = [
        (
            "/identity/v1/phone/start",
            json!({"phone": "1234"}),
            "phone",
            "phone.length",
        ),
        (
            "/identity/v1/phone/start",
            json!({"phone": "12987654321"}),
            "phone",
            "phone.mobile_prefix",
        ),
        (
            "/identity/v1/phone/confirm",
            json!({"code": "12ab56"}),
            "code",
            "code.format",
        ),
    ];
    for (path, body, field, rule) in cases {
        let (s, v) = e.call("POST", path, Some(&key), Some(body)).await;
        assert_eq!(s, 400, "{v}");
        assert_eq!(
            (v["error"]["param"].as_str(), v["error"]["code"].as_str()),
            (Some(field), Some(rule)),
            "{v}"
        );
    }
    e.consent(&key).await;
    let bad_check = format!(
        "{}{}",
        &adult_id()[..17],
        if adult_id().ends_with('0') { '1' } else { '0' }
    );
    for (body, field, rule) in [
        (
            json!({"name": NAME, "id_number": bad_check}),
            "id_number",
            "id_number.check_character",
        ),
        (
            json!({"name": NAME, "id_number": id_with_check("11010520990101001")}),
            "id_number",
            "id_number.birth_date_future",
        ),
        (
            json!({"name": "X1", "id_number": adult_id()}),
            "name",
            "name.characters",
        ),
    ] {
        let (s, v) = e
            .call("POST", "/identity/v1/id/verify", Some(&key), Some(body))
            .await;
        assert_eq!(s, 400, "{v}");
        assert_eq!(
            (v["error"]["param"].as_str(), v["error"]["code"].as_str()),
            (Some(field), Some(rule)),
            "{v}"
        );
        assert!(
            !v.to_string().contains(&adult_id()[..17]),
            "the number is not echoed: {v}"
        );
    }
    let (s, v) = e
        .call(
            "POST",
            "/identity/v1/register",
            None,
            Some(json!({"org_code": "91350100M000100Y4Z"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (400, Some("org_code")),
        "{v}"
    );
    let (s, v) = e
        .call(
            "POST",
            "/identity/v1/phone/start",
            Some(&key),
            Some(json!({"mobile": PHONE})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_body")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("mobile"),
        "{v}"
    );
    let (s, _) = e
        .call(
            "POST",
            "/identity/v1/phone/start",
            None,
            Some(json!({"phone": PHONE})),
        )
        .await;
    assert_eq!(s, 401);
    assert_eq!(e.authority.calls(), 0);
    e.h.stop().await;
}

#[tokio::test]
async fn brute_force_and_code_flooding_are_stopped() {
    for backend in backends() {
        let e = env(backend, |c| {
            c.identity.otp.per_phone_per_hour = 2;
            c.identity.otp.per_ip_per_hour = 4;
            c.identity.register_per_ip_per_hour = 6;
        })
        .await;
        let (_, key) = e.register().await;
        let code = e.send_code(&key, PHONE).await;
        // Five wrong guesses use up the code; the right one is then refused too.
        for i in 0..5 {
            let (s, v) = e.confirm(&key, &wrong(&code)).await;
            if i < 4 {
                assert_eq!(
                    (s, v["error"]["code"].as_str()),
                    (400, Some("code_wrong")),
                    "{i}: {v}"
                );
            } else {
                assert_eq!(
                    (s, v["error"]["code"].as_str()),
                    (429, Some("code_attempts_exhausted")),
                    "{v}"
                );
            }
        }
        let (s, v) = e.confirm(&key, &code).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (429, Some("code_attempts_exhausted")),
            "{v}"
        );
        // Resend throttling: a second code at once is refused with Retry-After.
        let resp =
            e.h.http
                .post(format!("{}/identity/v1/phone/start", e.h.base))
                .bearer_auth(&key)
                .json(&json!({"phone": PHONE}))
                .send()
                .await
                .unwrap();
        assert_eq!(resp.status(), 429);
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=61).contains(&retry), "{retry}");
        // Per number: a second account may get one more code to the number, a third may not.
        let (_, key2) = e.register().await;
        e.send_code(&key2, PHONE).await;
        let (_, key3) = e.register().await;
        let (s, v) = e.start(&key3, PHONE).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (429, Some("rate_limited")),
            "{v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("one number"),
            "{v}"
        );
        // Per address: 2 codes sent so far from this address; two more numbers, then refused.
        let (s, _) = e.start(&key3, "13912340001").await;
        assert_eq!(s, 202);
        let (_, key4) = e.register().await;
        let (s, _) = e.start(&key4, "13912340002").await;
        assert_eq!(s, 202);
        let (_, key5) = e.register().await;
        let (s, v) = e.start(&key5, "13912340003").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (429, Some("rate_limited")),
            "{v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("network address"),
            "{v}"
        );
        assert_eq!(e.sms.messages().len(), 4, "refused requests send nothing");
        // Registrations per address: 5 made, one more allowed, then refused.
        e.register().await;
        let (s, v) = e
            .call("POST", "/identity/v1/register", None, Some(json!({})))
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (429, Some("rate_limited")),
            "{v}"
        );
        e.h.stop().await;
    }
}

#[tokio::test]
async fn provider_outages_are_503_and_never_a_silent_pass() {
    for backend in backends() {
        let e = env(backend, |c| {
            if let SmsConfig::Http(h) = &mut c.identity.sms {
                h.timeout_ms = 300;
            }
            if let Some(hegui_identity::providers::AuthorityConfig::Http(a)) =
                &mut c.identity.authority
            {
                a.timeout_ms = 300;
            }
            c.identity.otp.resend_after_secs = 30;
            c.identity.id_checks_per_day = 10;
        })
        .await;
        for (i, mode) in [
            SmsMode::ServerError,
            SmsMode::Reject,
            SmsMode::Garbage,
            SmsMode::Hang(Duration::from_secs(2)),
        ]
        .into_iter()
        .enumerate()
        {
            let (_, key) = e.register().await;
            e.sms.set_mode(mode.clone());
            let (s, v) = e.start(&key, &format!("1391234500{i}")).await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (503, Some("verification_unavailable")),
                "{mode:?}: {v}"
            );
            // No code was stored: confirming finds none.
            let (s, _) = e.confirm(&key, "123456").await;
            assert_eq!(s, 400);
        }
        e.sms.set_mode(SmsMode::Ok);
        let (_, key) = e.register().await;
        e.consent(&key).await;
        e.authority.register(NAME, &adult_id());
        for mode in [
            AuthorityMode::ServerError,
            AuthorityMode::Garbage,
            AuthorityMode::UnknownResult,
            AuthorityMode::Hang(Duration::from_secs(2)),
        ] {
            e.authority.set_mode(mode.clone());
            let (s, v) = e.verify_id(&key, NAME, &adult_id()).await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (503, Some("verification_unavailable")),
                "{mode:?}: {v}"
            );
            let (_, st) = e.call("GET", "/identity/v1/status", Some(&key), None).await;
            assert_eq!(st["verified"], json!([]), "{mode:?}");
        }
        let (_, st) = e.call("GET", "/identity/v1/status", Some(&key), None).await;
        assert_eq!(
            st["verified"],
            json!([]),
            "nothing verified during the outage"
        );
        e.authority.set_mode(AuthorityMode::Ok);
        let (s, _) = e.verify_id(&key, NAME, &adult_id()).await;
        assert_eq!(s, 200, "verifies once the authority is back");
        e.h.stop().await;
    }
}

#[tokio::test]
async fn minors_get_minors_mode() {
    for backend in backends() {
        let e = env(backend, |c| {
            c.identity.level = Some("id".into());
            c.identity.minors.daily_requests = 3;
        })
        .await;
        let (_, key) = e.register().await;
        e.consent(&key).await;
        e.authority.register(NAME, &minor_id());
        let (s, v) = e.verify_id(&key, NAME, &minor_id()).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["minor"], true);
        // Stricter review: a prompt flagged for adults (the fixture user) is blocked for a minor.
        let adult = e.h.chat(user("赌博网站有哪些")).send().await.unwrap();
        assert_eq!(adult.status(), 200);
        let minor =
            e.h.http
                .post(format!("{}/v1/chat/completions", e.h.base))
                .bearer_auth(&key)
                .json(&user("赌博网站有哪些"))
                .send()
                .await
                .unwrap();
        assert_eq!(minor.status(), 400);
        // A minor's stream is reviewed whole before release and still arrives as a stream.
        let resp =
            e.h.http
                .post(format!("{}/v1/chat/completions", e.h.base))
                .bearer_auth(&key)
                .json(&common::user_stream("你好", false))
                .send()
                .await
                .unwrap();
        assert_eq!(resp.status(), 200);
        let events = common::sse_events(&resp.text().await.unwrap());
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        let (text, finish) = common::stream_text(&events);
        assert!(!text.is_empty());
        assert_eq!(finish.as_deref(), Some("stop"));
        // Daily limit of 3 (the blocked prompt counts): the third passes, the fourth is refused.
        assert_eq!(e.chat_status(&key).await.0, 200);
        let (s, v) = e.chat_status(&key).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (429, Some("minors_daily_limit")),
            "{v}"
        );
        let (_, st) = e.call("GET", "/identity/v1/status", Some(&key), None).await;
        assert_eq!(st["minor"], true);
        e.h.stop().await;
    }
}

#[tokio::test]
async fn minors_quiet_hours_refuse_service() {
    // A quiet window around the current China time.
    use chrono::Timelike;
    let now = chrono::Utc::now().naive_utc() + chrono::Duration::hours(8);
    let m = now.hour() * 60 + now.minute();
    let (a, b) = ((m + 1440 - 30) % 1440, (m + 30) % 1440);
    let window = format!("{:02}:{:02}-{:02}:{:02}", a / 60, a % 60, b / 60, b % 60);
    let e = env(Backend::Sqlite, move |c| {
        c.identity.level = Some("id".into());
        c.identity.minors.quiet_hours = window;
    })
    .await;
    let (_, key) = e.register().await;
    e.consent(&key).await;
    e.authority.register(NAME, &minor_id());
    e.verify_id(&key, NAME, &minor_id()).await;
    let (s, v) = e.chat_status(&key).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("minors_quiet_hours")),
        "{v}"
    );
    // Adults are not affected.
    assert_eq!(e.h.chat(user("你好")).send().await.unwrap().status(), 200);
    e.h.stop().await;
}

/// Every text stored in the database, for the plaintext scan.
async fn database_text(e: &Env, backend: Backend) -> Vec<u8> {
    match backend {
        Backend::Sqlite => {
            // The file and its write-ahead log, as bytes on disk.
            let url = e.h.url.clone();
            let path = url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap()
                .to_string();
            let mut all = std::fs::read(&path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                all.extend(wal);
            }
            all
        }
        Backend::Postgres => hegui_store::testing::dump_postgres(&e.h.url)
            .await
            .unwrap()
            .into_bytes(),
    }
}

#[tokio::test]
async fn no_plaintext_phone_or_id_number_in_the_database_logs_metrics_or_ledger() {
    for backend in backends() {
        let e = env(backend, |c| c.identity.store_id_number = true).await;
        let (user_id, key) = e.register().await;
        e.verify_phone(&key, PHONE).await;
        e.consent(&key).await;
        // A failed check and a successful one, an outage, an operator verification.
        let id = adult_id();
        e.verify_id(&key, NAME, &id).await;
        e.authority.register(NAME, &id);
        e.authority.set_mode(AuthorityMode::ServerError);
        e.verify_id(&key, NAME, &id).await;
        e.authority.set_mode(AuthorityMode::Ok);
        let (s, _) = e.verify_id(&key, NAME, &id).await;
        assert_eq!(s, 200);
        e.sms.set_mode(SmsMode::ServerError);
        let (_, key2) = e.register().await;
        e.start(&key2, "13912349999").await;
        e.sms.set_mode(SmsMode::Ok);
        assert_eq!(e.chat_status(&key).await.0, 200);
        // The holder's export is the one place the numbers appear: decrypted for their owner.
        let (s, export) = e.call("GET", "/identity/v1/export", Some(&key), None).await;
        assert_eq!(s, 200);
        assert_eq!(export["personal_information"]["phone"], PHONE);
        assert_eq!(export["personal_information"]["id_number"], id.as_str());
        assert_eq!(export["account"]["user_id"], user_id.as_str());
        let (_, metrics) = e.call("GET", "/metrics", None, None).await;
        e.h.wait_records(1).await;
        tokio::time::sleep(Duration::from_millis(1200)).await; // a checkpoint over the records

        let db = database_text(&e, backend).await;
        let logs = captured_logs().lock().unwrap().clone();
        let metrics = metrics.to_string().into_bytes();
        for (what, hay) in [("database", &db), ("logs", &logs), ("metrics", &metrics)] {
            for needle in [PHONE, "13912349999", id.as_str(), &id[..17], NAME] {
                assert!(
                    !hay.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle} found in the {what} ({backend:?})"
                );
            }
        }
        assert!(!logs.is_empty(), "the log capture works");
        e.h.stop().await;
    }
}

#[tokio::test]
async fn the_holder_can_delete_the_account() {
    for backend in backends() {
        let e = env(backend, |_| {}).await;
        let (user_id, key) = e.register().await;
        e.verify_phone(&key, PHONE).await;
        e.h.wait_records(0).await;
        let (s, v) = e
            .call(
                "POST",
                "/identity/v1/delete",
                Some(&key),
                Some(json!({"confirm": false})),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("confirmation_required"))
        );
        let (s, r) = e
            .call(
                "POST",
                "/identity/v1/delete",
                Some(&key),
                Some(json!({"confirm": true})),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["erased"]["identity"], true);
        assert_eq!(r["erased"]["api_keys_revoked"], 1);
        assert!(r["kept"][0]["why"].as_str().unwrap().contains("six months"));
        // The key no longer works; the number is free for another account.
        let (s, v) = e.chat_status(&key).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("account_deleted")),
            "{v}"
        );
        assert!(e
            .h
            .store
            .identity_ciphertexts(&user_id)
            .await
            .unwrap()
            .is_none());
        let (_, key2) = e.register().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        e.verify_phone(&key2, PHONE).await;
        e.h.stop().await;
    }
}

#[tokio::test]
async fn one_number_verifies_one_account() {
    for backend in backends() {
        let e = env(backend, |_| {}).await;
        let (_, key1) = e.register().await;
        e.verify_phone(&key1, PHONE).await;
        let (_, key2) = e.register().await;
        let code = e.send_code(&key2, PHONE).await;
        let (s, v) = e.confirm(&key2, &code).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (409, Some("already_verified_elsewhere")),
            "{v}"
        );
        e.h.stop().await;
    }
}
