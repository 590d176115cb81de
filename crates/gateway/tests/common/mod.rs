//! Test harness: the real gateway on port 0, in front of the real mock model server, on
//! SQLite and (when `HEGUI_TEST_POSTGRES_URL` is set) PostgreSQL.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use hegui_config::RawConfig;
use hegui_gateway::Gateway;
use hegui_mock_upstream::{MockConfig, MockServer};
use hegui_store::testing::{
    fresh_postgres_database, fresh_sqlite_url, postgres_admin_url, tempfile_guard::TempDir,
};
use hegui_store::{Factor, RecordQuery, Store};
use hegui_types::InteractionRecord;

/// The newest record.
pub struct Last {
    pub record: InteractionRecord,
}
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite always; PostgreSQL when configured.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    if postgres_admin_url().is_some() {
        v.push(Backend::Postgres);
    }
    v
}

pub struct Harness {
    pub base: String,
    /// The database URL.
    pub url: String,
    pub key: String,
    pub user_id: String,
    pub store: Store,
    pub mock: MockServer,
    pub gateway: Arc<Gateway>,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<TempDir>,
}

pub async fn start(backend: Backend, tweak: impl FnOnce(&mut RawConfig)) -> Harness {
    let mock = hegui_mock_upstream::spawn(MockConfig::default())
        .await
        .expect("mock upstream");
    let (sqlite_url, dir) = fresh_sqlite_url().expect("temp dir");
    let url = match backend {
        Backend::Sqlite => sqlite_url,
        Backend::Postgres => {
            let admin = postgres_admin_url().expect("postgres configured");
            fresh_postgres_database(&admin)
                .await
                .expect("PostgreSQL reachable")
        }
    };
    let mut raw = RawConfig::default();
    raw.storage.database_url = url.clone();
    raw.storage.data_dir = dir.path().display().to_string();
    raw.ledger.checkpoint_interval_secs = 1;
    raw.upstream.base_url = mock.base_url.clone();
    raw.label.content_producer = "001191440300708461136T1XGW3".into();
    tweak(&mut raw);
    let cfg = raw.validate(None).expect("valid test config");
    let built = hegui_gateway::build(&cfg).await.expect("gateway builds");
    let gateway = built.gateway.clone();
    let store = gateway.store.clone();
    let user = store.create_user(None, "test").await.unwrap();
    for f in [Factor::Phone, Factor::Id] {
        store
            .set_factor_by_operator(&user.id, f, true, "test fixture", "test")
            .await
            .unwrap();
    }
    let (_, key) = store.create_key(&user.id, "test").await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let gw = built.gateway;
    let server = tokio::spawn(async move {
        hegui_gateway::serve(listener, gw, async move {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    Harness {
        base: format!("http://{addr}"),
        url,
        key,
        user_id: user.id,
        store,
        mock,
        gateway,
        http: reqwest::Client::new(),
        shutdown: Some(tx),
        server: Some(server),
        _dir: Some(dir),
    }
}

impl Harness {
    pub fn chat(&self, body: serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(&self.key)
            .json(&body)
    }

    /// The newest record (its content must still be stored).
    pub async fn last_record(&self) -> Last {
        let row = self
            .store
            .list_records(&RecordQuery {
                limit: Some(1),
                ..Default::default()
            })
            .await
            .unwrap()
            .pop()
            .expect("a record");
        Last {
            record: row.record.expect("content retained"),
        }
    }

    /// Waits until `n` records exist (for outcomes recorded after the client left).
    pub async fn wait_records(&self, n: i64) {
        for _ in 0..200 {
            if self.store.count_records().await.unwrap() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "expected {n} records, have {}",
            self.store.count_records().await.unwrap()
        );
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
        }
    }
}

pub fn user(content: &str) -> serde_json::Value {
    serde_json::json!({"model": "mock-small", "messages": [{"role": "user", "content": content}]})
}

pub fn user_stream(content: &str, include_usage: bool) -> serde_json::Value {
    let mut b = user(content);
    b["stream"] = true.into();
    if include_usage {
        b["stream_options"] = serde_json::json!({"include_usage": true});
    }
    b
}

/// An SSE body split into its `data:` payloads.
pub fn sse_events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

/// The concatenated `delta.content` of the chunks, and the last finish reason.
pub fn stream_text(events: &[String]) -> (String, Option<String>) {
    let mut text = String::new();
    let mut finish = None;
    for e in events {
        if e == "[DONE]" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(e).expect("chunk is JSON");
        if let Some(c) = v
            .pointer("/choices/0/delta/content")
            .and_then(|c| c.as_str())
        {
            text.push_str(c);
        }
        if let Some(f) = v
            .pointer("/choices/0/finish_reason")
            .and_then(|c| c.as_str())
        {
            finish = Some(f.to_string());
        }
    }
    (text, finish)
}

pub const LABEL_SUFFIX: &str = "\n\n【本内容由人工智能生成】";

pub fn model(name: &str, upstream: Option<&str>) -> hegui_config::RawModel {
    hegui_config::RawModel {
        name: name.into(),
        upstream: upstream.map(String::from),
    }
}
