//! What the store's integration tests share.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses a part

use hegui_types::{Decision, InteractionRecord, Outcome, Stage, RECORD_ENCODING_VERSION};

/// A test body run on SQLite and, when `HEGUI_TEST_POSTGRES_URL` is set, on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($sqlite:ident, $postgres:ident, $body:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let (url, _dir) = hegui_store::testing::fresh_sqlite_url().unwrap();
            $body(hegui_store::Store::open(&url, 4).await.unwrap()).await;
        }

        #[tokio::test]
        async fn $postgres() {
            let Some(admin) = hegui_store::testing::postgres_admin_url() else {
                return;
            };
            let url = hegui_store::testing::fresh_postgres_database(&admin)
                .await
                .expect("PostgreSQL reachable");
            $body(hegui_store::Store::open(&url, 4).await.unwrap()).await;
        }
    };
}

/// Interaction `rec-{i:04}` of `user`, received at `1000 + i` ms, served.
pub fn record_of(i: usize, user: &str) -> InteractionRecord {
    InteractionRecord {
        v: RECORD_ENCODING_VERSION,
        id: format!("rec-{i:04}"),
        received_at_ms: 1_000 + i as i64,
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
        input: serde_json::json!([{"role": "user", "content": format!("问题 {i}")}]),
        output: Some(format!("回答 {i}")),
        finish_reason: Some("stop".into()),
        decisions: vec![Decision::allow(Stage::Input, "v1")],
        label: None,
        usage: None,
        latency_us: 10,
        upstream_us: None,
    }
}
