#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The complaint channel and the console over HTTP, on SQLite and (when
//! `HEGUI_TEST_POSTGRES_URL` is set) PostgreSQL: the public filing a complaint, staff
//! handling it, takedowns taking effect, CSRF and escaping, and every route's access for
//! every role against the matrix written out below.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hegui_cases::{CaseService, Deadlines, IncidentService};
use hegui_console::{Console, Method, RateLimiter, ROUTES};
use hegui_identity::PiKeys;
use hegui_staff::{Role, StaffService, StaffSettings, ROLES};
use hegui_store::testing::{fresh_postgres_database, fresh_sqlite_url, postgres_admin_url};
use hegui_store::Store;
use hegui_types::{kinds, AigcLabel, InteractionRecord, Outcome};

struct Server {
    base: String,
    store: Store,
    http: reqwest::Client,
    _dir: Option<hegui_store::testing::tempfile_guard::TempDir>,
}

async fn servers() -> Vec<Server> {
    let (url, dir) = fresh_sqlite_url().unwrap();
    let mut stores = vec![(Store::open(&url, 4).await.unwrap(), Some(dir))];
    if let Some(admin) = postgres_admin_url() {
        let url = fresh_postgres_database(&admin).await.unwrap();
        stores.push((Store::open(&url, 4).await.unwrap(), None));
    } else {
        eprintln!("skipping PostgreSQL: set HEGUI_TEST_POSTGRES_URL to run these tests on it too");
    }
    let mut out = Vec::new();
    for (store, dir) in stores {
        out.push(start(store, dir, 1000).await);
    }
    out
}

async fn start(
    store: Store,
    dir: Option<hegui_store::testing::tempfile_guard::TempDir>,
    complaints_per_hour: u32,
) -> Server {
    let signer = hegui_ledger::Signer::generate("hegui/test").unwrap();
    let staff = StaffService::new(store.clone(), StaffSettings::default()).unwrap();
    for role in ROLES {
        staff
            .create(
                role.as_str().replace('_', "-").as_str(),
                "a long test password",
                role,
                "test",
            )
            .await
            .unwrap();
    }
    let console = Console {
        cases: Arc::new(CaseService::new(
            store.clone(),
            Arc::new(PiKeys::generate()),
            Deadlines::default(),
        )),
        incidents: IncidentService::new(store.clone()),
        staff,
        store: store.clone(),
        ledger_key: signer.verifier(),
        secure_cookies: false,
        complaints: RateLimiter::new(complaints_per_hour, Duration::from_secs(3600)),
        logins: RateLimiter::new(1000, Duration::from_secs(900)),
        client_ip_header: None,
        exporter: Some(Arc::new(|from, to| {
            Box::pin(async move { Ok(format!("bundle {from}..{to}").into_bytes()) })
        })),
    };
    let app = hegui_console::router(Arc::new(console));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        store,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _dir: dir,
    }
}

/// A logged-in staff member: session cookie and CSRF token.
struct Staff {
    cookie: String,
    csrf: String,
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

impl Server {
    async fn login(&self, username: &str) -> Staff {
        let page = self
            .http
            .get(format!("{}/console/login", self.base))
            .send()
            .await
            .unwrap();
        let pre = set_cookie(&page, "hegui_csrf").unwrap();
        let token = hidden(&page.text().await.unwrap(), "csrf");
        let resp = self
            .http
            .post(format!("{}/console/login", self.base))
            .header("cookie", &pre)
            .form(&[
                ("username", username),
                ("password", "a long test password"),
                ("csrf", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "login as {username}");
        let cookie = set_cookie(&resp, "hegui_session").unwrap();
        let dash = self
            .http
            .get(format!("{}/console", self.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(dash.status(), 200);
        let csrf = hidden(&dash.text().await.unwrap(), "csrf");
        Staff { cookie, csrf }
    }

    async fn get(&self, who: Option<&Staff>, path: &str) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(s) = who {
            req = req.header("cookie", &s.cookie);
        }
        req.send().await.unwrap()
    }

    async fn post(
        &self,
        who: Option<&Staff>,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(format!("{}{path}", self.base));
        if let Some(s) = who {
            req = req.header("cookie", &s.cookie);
            if !form.iter().any(|(k, _)| *k == "csrf") {
                fields.push(("csrf", &s.csrf));
            }
        }
        req.form(&fields).send().await.unwrap()
    }

    async fn file_json(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/complaints/v1", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

fn record(id: &str, user: &str, produce_id: &str) -> InteractionRecord {
    InteractionRecord {
        v: hegui_types::RECORD_ENCODING_VERSION,
        id: id.into(),
        received_at_ms: chrono::Utc::now().timestamp_millis(),
        user_id: Some(user.into()),
        key_id: None,
        endpoint: "chat.completions".into(),
        model: Some("m".into()),
        upstream_model: Some("m".into()),
        stream: false,
        outcome: Outcome::Served,
        status: 200,
        error_code: None,
        error: None,
        input: serde_json::json!([{"role": "user", "content": "hi"}]),
        output: Some("answer".into()),
        finish_reason: Some("stop".into()),
        decisions: vec![],
        label: Some(AigcLabel {
            label: "1".into(),
            content_producer: "P1".into(),
            produce_id: produce_id.into(),
            reserved_code1: None,
            content_propagator: None,
            propagate_id: None,
            reserved_code2: None,
        }),
        usage: None,
        latency_us: 1,
        upstream_us: None,
    }
}

#[tokio::test]
async fn a_complaint_filed_in_public_is_handled_with_a_takedown_that_takes_effect() {
    for s in servers().await {
        let user = s.store.create_user(None, "test").await.unwrap();
        s.store
            .insert_records(&[record(
                "0190aaaa-0000-7000-8000-000000000001",
                &user.id,
                "pid-taken-down",
            )])
            .await
            .unwrap();

        // The public form: CSRF cookie, then submit; the receipt page shows the code.
        let form = s.get(None, "/complaints").await;
        assert_eq!(form.status(), 200);
        let pre = set_cookie(&form, "hegui_csrf").unwrap();
        let html = form.text().await.unwrap();
        assert!(html.contains("投诉举报"), "Chinese by default");
        let token = hidden(&html, "csrf");
        let resp = s
            .http
            .post(format!("{}/complaints", s.base))
            .header("cookie", &pre)
            .form(&[
                ("category", "A1-4"),
                ("target_kind", "produce_id"),
                ("target", "pid-taken-down"),
                ("description", "<script>alert('x')</script> 宣扬恐怖主义"),
                ("contact", "13800138000"),
                ("lang", "zh"),
                ("csrf", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let html = resp.text().await.unwrap();
        let i = html.find("id=\"receipt\">").unwrap() + "id=\"receipt\">".len();
        let receipt = html[i..i + 17].to_string();
        assert!(receipt.starts_with("HG-"), "{receipt}");

        // Follow it by receipt (typed in lower case without dashes).
        let typed = receipt.to_lowercase().replace('-', "");
        let track = s
            .get(None, &format!("/complaints/track?receipt={typed}&lang=en"))
            .await;
        assert_eq!(track.status(), 200);
        assert!(track
            .text()
            .await
            .unwrap()
            .contains("data-state=\"received\""));

        // A reviewer takes it, sees the description escaped, resolves with a takedown.
        let reviewer = s.login("reviewer").await;
        let case = s
            .get(Some(&reviewer), &format!("/console/complaints/{receipt}"))
            .await;
        let case_html = case.text().await.unwrap();
        assert!(
            case_html.contains("&lt;script&gt;alert('x')&lt;/script&gt;"),
            "escaped"
        );
        assert!(!case_html.contains("<script>alert"), "never raw");
        assert!(
            case_html.contains("13800138000"),
            "reviewers see the contact to reply"
        );
        assert_eq!(
            s.post(
                Some(&reviewer),
                &format!("/console/complaints/{receipt}/review"),
                &[]
            )
            .await
            .status(),
            303
        );
        // A reviewer may not suspend users: asking to is refused and nothing changes.
        let refused = s
            .post(
                Some(&reviewer),
                &format!("/console/complaints/{receipt}/resolve"),
                &[
                    ("action", "delete"),
                    ("reason", "terrorism"),
                    ("suspend_user", "1"),
                ],
            )
            .await;
        assert_eq!(refused.status(), 403);
        let officer = s.login("compliance-officer").await;
        let done = s
            .post(
                Some(&officer),
                &format!("/console/complaints/{receipt}/resolve"),
                &[
                    ("action", "delete"),
                    ("reason", "宣扬恐怖主义，已删除"),
                    ("suspend_user", "1"),
                    ("propose_term", "恐怖新词"),
                ],
            )
            .await;
        assert_eq!(done.status(), 303);

        // The takedown is in effect, the user suspended, the proposal recorded.
        let content: serde_json::Value = s
            .get(None, "/complaints/v1/content/pid-taken-down")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(content["withdrawn"], true);
        assert_eq!(content["action"], "delete");
        assert!(s.store.user(&user.id).await.unwrap().unwrap().suspended);
        assert_eq!(
            s.store.lexicon_proposals(10).await.unwrap()[0].term,
            "恐怖新词"
        );
        let status: serde_json::Value = s
            .get(None, &format!("/complaints/v1/{receipt}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(status["state"], "resolved");
        assert_eq!(status["history"].as_array().unwrap().len(), 3);

        // Every step is in the journal with who did it; the contact is not.
        let steps = s
            .store
            .journal_of_kind(kinds::COMPLAINT_STEP, 10)
            .await
            .unwrap();
        assert_eq!(steps.len(), 2);
        assert!(steps.iter().any(|r| r
            .record
            .as_deref()
            .unwrap()
            .contains("staff:compliance-officer")));
        let filed = s.store.journal_of_kind(kinds::COMPLAINT, 10).await.unwrap();
        assert!(!filed[0].record.as_deref().unwrap().contains("13800138000"));
        // A decided complaint cannot be decided again.
        let again = s
            .post(
                Some(&officer),
                &format!("/console/complaints/{receipt}/reject"),
                &[("reason", "x")],
            )
            .await;
        assert_eq!(again.status(), 409);
    }
}

#[tokio::test]
async fn bad_complaints_get_clear_errors_and_keep_what_was_entered() {
    for s in servers().await {
        // JSON API: every field problem named.
        let resp = s
            .file_json(
                serde_json::json!({"category": "A9-9", "target_kind": "produce_id",
                "target": "x", "description": "d".repeat(6000)}),
            )
            .await;
        assert_eq!(resp.status(), 400);
        let e: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["param"], "category");
        let fields: Vec<_> = e["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(fields, vec!["category", "description"]);
        // Unknown fields and non-JSON bodies.
        let resp = s
            .file_json(serde_json::json!({"category": "other", "bogus": 1}))
            .await;
        assert_eq!(resp.status(), 400);
        let resp = s
            .http
            .post(format!("{}/complaints/v1", s.base))
            .body("category=other")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 415);
        // Unknown receipts.
        assert_eq!(
            s.get(None, "/complaints/v1/HG-0000-0000-0000")
                .await
                .status(),
            404
        );
        assert_eq!(
            s.get(None, "/complaints/track?receipt=%3Cscript%3E")
                .await
                .status(),
            404
        );

        // The form: an invalid submission re-renders with the entered text kept (escaped).
        let form = s.get(None, "/complaints?lang=en").await;
        let pre = set_cookie(&form, "hegui_csrf").unwrap();
        let token = hidden(&form.text().await.unwrap(), "csrf");
        let resp = s
            .http
            .post(format!("{}/complaints", s.base))
            .header("cookie", &pre)
            .form(&[
                ("category", ""),
                ("target_kind", "excerpt"),
                ("target", "\"><img src=x onerror=alert(1)>"),
                ("description", "kept text 保留"),
                ("lang", "en"),
                ("csrf", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let html = resp.text().await.unwrap();
        assert!(html.contains("kept text 保留"));
        assert!(
            html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
            "attribute escaped"
        );
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("category"), "names the field");
        // A forged or missing CSRF token: refused, form kept.
        let resp = s
            .http
            .post(format!("{}/complaints", s.base))
            .header("cookie", &pre)
            .form(&[
                ("category", "other"),
                ("target_kind", "excerpt"),
                ("target", "t"),
                ("description", "d"),
                ("csrf", "0".repeat(64).as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert!(s.store.list_complaints(None, 10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn complaints_from_one_address_are_limited() {
    let (url, dir) = fresh_sqlite_url().unwrap();
    let s = start(Store::open(&url, 4).await.unwrap(), Some(dir), 2).await;
    let body = serde_json::json!({"category": "other", "target_kind": "excerpt", "target": "t", "description": "d"});
    assert_eq!(s.file_json(body.clone()).await.status(), 201);
    assert_eq!(s.file_json(body.clone()).await.status(), 201);
    let third = s.file_json(body).await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().get("retry-after").is_some());
    assert_eq!(s.store.list_complaints(None, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn console_forms_refuse_forged_or_replayed_csrf_tokens() {
    let s = servers().await.remove(0);
    let officer = s.login("compliance-officer").await;
    let reviewer = s.login("reviewer").await;
    let user = s.store.create_user(None, "test").await.unwrap();
    let path = format!("/console/users/{}/suspend", user.id);
    // Missing, forged, and another session's token (replayed): all refused.
    for token in ["", "deadbeef", reviewer.csrf.as_str()] {
        let r = s
            .post(Some(&officer), &path, &[("reason", "r"), ("csrf", token)])
            .await;
        assert_eq!(r.status(), 403, "token {token:?}");
        assert!(r.text().await.unwrap().contains("security token"));
    }
    assert!(!s.store.user(&user.id).await.unwrap().unwrap().suspended);
    // After logout the old session's token and cookie are dead.
    assert_eq!(
        s.post(Some(&officer), "/console/logout", &[])
            .await
            .status(),
        303
    );
    let r = s.post(Some(&officer), &path, &[("reason", "r")]).await;
    assert_eq!(r.status(), 303, "no session: back to the login page");
    assert!(!s.store.user(&user.id).await.unwrap().unwrap().suspended);
    // Wrong passwords lock the account after five tries, even with the right one after.
    let page = s
        .http
        .get(format!("{}/console/login", s.base))
        .send()
        .await
        .unwrap();
    let pre = set_cookie(&page, "hegui_csrf").unwrap();
    let token = hidden(&page.text().await.unwrap(), "csrf");
    for i in 0..6 {
        let pw = if i == 5 {
            "a long test password"
        } else {
            "wrong password!!"
        };
        let r = s
            .http
            .post(format!("{}/console/login", s.base))
            .header("cookie", &pre)
            .form(&[
                ("username", "inspector"),
                ("password", pw),
                ("csrf", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        let expect = if i < 4 { 401 } else { 429 };
        assert_eq!(r.status(), expect, "attempt {i}");
    }
}

/// Who may use each route, written out by hand: A admin, C compliance officer, R reviewer,
/// I inspector; `*` public (no login).
const MATRIX: &[(&str, &str, &str)] = &[
    ("GET", "/complaints", "*"),
    ("POST", "/complaints", "*"),
    ("GET", "/complaints/track", "*"),
    ("POST", "/complaints/v1", "*"),
    ("GET", "/complaints/v1/{receipt}", "*"),
    ("GET", "/complaints/v1/content/{produce_id}", "*"),
    ("GET", "/console/login", "*"),
    ("POST", "/console/login", "*"),
    ("POST", "/console/logout", "ACRI"),
    ("GET", "/console", "ACRI"),
    ("GET", "/console/complaints", "ACRI"),
    ("GET", "/console/complaints/{receipt}", "ACRI"),
    ("POST", "/console/complaints/{receipt}/review", "ACR"),
    ("POST", "/console/complaints/{receipt}/resolve", "ACR"),
    ("POST", "/console/complaints/{receipt}/reject", "ACR"),
    ("GET", "/console/interactions", "ACRI"),
    ("GET", "/console/interactions/{id}", "ACRI"),
    ("GET", "/console/users", "ACRI"),
    ("POST", "/console/users/{id}/suspend", "AC"),
    ("POST", "/console/users/{id}/reinstate", "AC"),
    ("GET", "/console/policy", "ACRI"),
    ("POST", "/console/policy/proposals/{id}", "AC"),
    ("GET", "/console/ledger", "ACRI"),
    ("GET", "/console/incidents", "ACI"),
    ("POST", "/console/incidents", "AC"),
    ("GET", "/console/incidents/{id}", "ACI"),
    ("POST", "/console/incidents/{id}/events", "AC"),
    ("GET", "/console/incidents/{id}/report", "ACI"),
    ("GET", "/console/export", "ACI"),
    ("POST", "/console/export", "ACI"),
    ("GET", "/console/staff", "A"),
    ("POST", "/console/staff", "A"),
    ("POST", "/console/staff/{username}", "A"),
];

fn letter(r: Role) -> char {
    match r {
        Role::Admin => 'A',
        Role::ComplianceOfficer => 'C',
        Role::Reviewer => 'R',
        Role::Inspector => 'I',
    }
}

#[tokio::test]
async fn every_route_admits_exactly_the_roles_in_the_written_matrix() {
    let s = servers().await.remove(0);
    // The matrix covers exactly the routes the console serves.
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| {
            (
                if r.method == Method::Get {
                    "GET"
                } else {
                    "POST"
                }
                .to_string(),
                r.path.to_string(),
            )
        })
        .collect();
    let written: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        served, written,
        "a route is missing from the matrix or the router"
    );

    let receipt = s
        .file_json(serde_json::json!({"category": "other", "target_kind": "excerpt", "target": "t", "description": "d"}))
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["receipt"]
        .as_str()
        .unwrap()
        .to_string();
    let fill = |p: &str| {
        p.replace("{receipt}", &receipt)
            .replace("{produce_id}", "pid-1")
            .replace("{id}", "unknown-id")
            .replace("{username}", "nobody")
    };
    let mut checked = 0;
    for role in ROLES {
        let who = s.login(role.as_str().replace('_', "-").as_str()).await;
        for (method, path, allowed) in MATRIX.iter().filter(|(_, p, _)| *p != "/console/logout") {
            let url = fill(path);
            let resp = if *method == "GET" {
                s.get(Some(&who), &url).await
            } else {
                s.post(Some(&who), &url, &[]).await
            };
            let status = resp.status().as_u16();
            if *allowed == "*" {
                // Public: no role applies (its forms answer 403 only for a missing
                // pre-session CSRF token, tested elsewhere).
                assert!(status < 500, "{method} {path}: {status}");
            } else if allowed.contains(letter(role)) {
                assert_ne!(status, 403, "{role:?} must be allowed {method} {path}");
                assert!(status < 500, "{role:?} {method} {path}: {status}");
            } else {
                assert_eq!(status, 403, "{role:?} must be refused {method} {path}");
            }
            checked += 1;
        }
        let out = s.post(Some(&who), "/console/logout", &[]).await;
        assert_eq!(out.status(), 303, "{role:?} logs out");
        checked += 1;
    }
    assert_eq!(checked, MATRIX.len() * ROLES.len());
    // Without a session every console route sends to the login page.
    for (method, path, allowed) in MATRIX {
        if *allowed == "*" {
            continue;
        }
        let url = fill(path);
        let resp = if *method == "GET" {
            s.get(None, &url).await
        } else {
            s.post(None, &url, &[]).await
        };
        assert_eq!(resp.status(), 303, "anonymous {method} {path}");
        assert_eq!(resp.headers()["location"], "/console/login");
    }
}

#[tokio::test]
async fn incidents_are_recorded_with_a_timeline_and_a_report() {
    for s in servers().await {
        let officer = s.login("compliance-officer").await;
        let bad = s
            .post(
                Some(&officer),
                "/console/incidents",
                &[
                    ("title", "t"),
                    ("severity", "huge"),
                    ("occurred", "2026-11-29 10:00"),
                    ("detected", "2026-11-29 09:00"),
                    ("impact", "x"),
                ],
            )
            .await;
        assert_eq!(bad.status(), 400);
        let body = bad.text().await.unwrap();
        assert!(
            body.contains("severity") && body.contains("detected_at"),
            "{body}"
        );
        let created = s
            .post(
                Some(&officer),
                "/console/incidents",
                &[
                    ("title", "模型输出违法内容 <i>x</i>"),
                    ("severity", "high"),
                    ("occurred", "2026-11-29 10:00"),
                    ("detected", "2026-11-29 10:20"),
                    ("impact", "约 30 名用户收到未拦截的回答"),
                    ("measures", "下线模型"),
                ],
            )
            .await;
        assert_eq!(created.status(), 303);
        let at = created.headers()["location"].to_str().unwrap().to_string();
        let id = at.rsplit('/').next().unwrap().to_string();
        // Reporting needs the regulator's reference.
        let no_ref = s
            .post(
                Some(&officer),
                &format!("{at}/events"),
                &[("kind", "reported"), ("note", "已报告")],
            )
            .await;
        assert_eq!(no_ref.status(), 400);
        for (kind, note, r) in [
            ("measure", "更新词库", ""),
            ("reported", "已报告网信办", "CAC-2026-001"),
            ("closed", "处置完毕", ""),
        ] {
            let resp = s
                .post(
                    Some(&officer),
                    &format!("{at}/events"),
                    &[("kind", kind), ("note", note), ("report_ref", r)],
                )
                .await;
            assert_eq!(resp.status(), 303, "{kind}");
        }
        let page = s.get(Some(&officer), &at).await.text().await.unwrap();
        assert!(page.contains("&lt;i&gt;x&lt;/i&gt;"), "title escaped");
        let report = s.get(Some(&officer), &format!("{at}/report")).await;
        assert_eq!(
            report.headers()["content-type"],
            "text/markdown; charset=utf-8"
        );
        let md = report.text().await.unwrap();
        for needle in [
            "CAC-2026-001",
            "更新词库",
            "closed",
            "下线模型",
            "2026-11-29 10:00:00 +08:00",
        ] {
            assert!(md.contains(needle), "{needle} in {md}");
        }
        let inc = s.store.incident(&id).await.unwrap().unwrap();
        assert_eq!(inc.state, "closed");
        assert_eq!(s.store.incident_events(&id).await.unwrap().len(), 4);
        assert_eq!(
            s.store
                .journal_of_kind(kinds::INCIDENT, 10)
                .await
                .unwrap()
                .len(),
            4
        );
        // A reviewer may not record incidents.
        let reviewer = s.login("reviewer").await;
        assert_eq!(
            s.get(Some(&reviewer), "/console/incidents").await.status(),
            403
        );
    }
}
