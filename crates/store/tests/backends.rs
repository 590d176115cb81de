//! The same behaviour on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use hegui_store::testing::{fresh_postgres_database, fresh_sqlite_url, postgres_admin_url};
use hegui_store::{Factor, RecordQuery, RecordWriter, Store};
use hegui_types::{Decision, InteractionRecord, Outcome, Stage, RECORD_ENCODING_VERSION};

fn record(id: &str, user: Option<&str>, outcome: Outcome, at: i64) -> InteractionRecord {
    InteractionRecord {
        v: RECORD_ENCODING_VERSION,
        id: id.into(),
        received_at_ms: at,
        user_id: user.map(String::from),
        key_id: None,
        endpoint: "chat.completions".into(),
        model: Some("m".into()),
        upstream_model: Some("m".into()),
        stream: false,
        outcome,
        status: 200,
        error_code: None,
        error: None,
        input: serde_json::json!([{"role": "user", "content": "你好"}]),
        output: Some("好".into()),
        finish_reason: Some("stop".into()),
        decisions: vec![Decision::allow(Stage::Input, "v1")],
        label: None,
        usage: None,
        latency_us: 10,
        upstream_us: None,
    }
}

async fn exercise(store: Store) {
    // Users and verification with a recorded reason.
    let u = store.create_user(Some("acct-1"), "cli").await.unwrap();
    assert!(u.id.starts_with("usr_"));
    assert!(!u.has(Factor::Phone) && !u.has(Factor::Id) && !u.suspended);
    let u = store
        .set_factor_by_operator(
            &u.id,
            Factor::Id,
            true,
            "verified offline at counter 3",
            "alice",
        )
        .await
        .unwrap();
    assert!(u.has(Factor::Id) && !u.has(Factor::Phone));
    let u = store
        .set_suspended(&u.id, true, "abuse", "bob")
        .await
        .unwrap();
    assert!(u.suspended);
    let kinds: Vec<String> = store
        .user_events(&u.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["created", "id_verified", "suspended"]);
    assert!(store
        .set_factor_by_operator("usr_nope", Factor::Phone, true, "x", "y")
        .await
        .is_err());

    // Keys: stored hashed, looked up by secret, revocable.
    let (key, secret) = store.create_key(&u.id, "cli").await.unwrap();
    assert!(secret.starts_with("hg-") && secret.len() > 40);
    let (k, owner) = store
        .authenticate(&secret)
        .await
        .unwrap()
        .expect("key found");
    assert_eq!(k.id, key.id);
    assert_eq!(owner.id, u.id);
    assert!(k.revoked_at.is_none());
    assert!(store.authenticate("hg-wrong").await.unwrap().is_none());
    store.revoke_key(&key.id, "cli").await.unwrap();
    let (k, _) = store
        .authenticate(&secret)
        .await
        .unwrap()
        .expect("still found");
    assert!(k.revoked_at.is_some());
    assert_eq!(store.list_keys(Some(&u.id)).await.unwrap().len(), 1);

    // Records through the group-committing writer.
    let (writer, task) = RecordWriter::spawn(store.clone());
    let mut handles = Vec::new();
    for i in 0..40 {
        let w = writer.clone();
        let uid = u.id.clone();
        handles.push(tokio::spawn(async move {
            let outcome = if i % 4 == 0 {
                Outcome::BlockedInput
            } else {
                Outcome::Served
            };
            w.write(record(
                &format!("rec-{i:03}"),
                Some(&uid),
                outcome,
                1_000 + i,
            ))
            .await
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    drop(writer);
    task.await.unwrap();
    assert_eq!(store.count_records().await.unwrap(), 40);
    let blocked = store
        .list_records(&RecordQuery {
            outcome: Some(Outcome::BlockedInput),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(blocked.len(), 10);
    let recent = store
        .list_records(&RecordQuery {
            since_ms: Some(1_030),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(recent.len(), 5);
    assert!(
        recent.windows(2).all(|w| w[0].seq > w[1].seq),
        "newest first"
    );
    let one = store.record("rec-007").await.unwrap().expect("found");
    let content = one.record.expect("content retained");
    assert_eq!(
        content,
        record("rec-007", Some(&u.id), Outcome::Served, 1_007)
    );
    assert_eq!(one.content_hash, content.content_hash());
    assert_eq!((one.purged_at, one.leaf_index), (None, None));
    // Ids are unique: a duplicate is refused, not silently merged.
    assert!(store
        .insert_records(&[record("rec-007", None, Outcome::Served, 1)])
        .await
        .is_err());
    store.ping().await.unwrap();
}

#[tokio::test]
async fn sqlite_backend_behaves() {
    let (url, _dir) = fresh_sqlite_url().unwrap();
    let store = Store::open(&url, 4).await.unwrap();
    exercise(store.clone()).await;
    // Reopening applies no migration twice and keeps the data.
    store.close().await;
    let again = Store::open(&url, 2).await.unwrap();
    assert_eq!(again.count_records().await.unwrap(), 40);
}

#[tokio::test]
async fn postgres_backend_behaves() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let url = fresh_postgres_database(&admin)
        .await
        .expect("PostgreSQL reachable");
    let store = Store::open(&url, 4).await.unwrap();
    exercise(store.clone()).await;
    store.close().await;
    let again = Store::open(&url, 2).await.unwrap();
    assert_eq!(again.count_records().await.unwrap(), 40);
}

#[tokio::test]
async fn bad_urls_are_explained() {
    let e = Store::open("mysql://x", 1).await.unwrap_err().to_string();
    assert!(e.contains("sqlite://") && e.contains("postgres://"), "{e}");
    let e = Store::open("postgres://nobody:pw@127.0.0.1:1/x", 1)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot connect") && e.contains("***") && !e.contains("pw@"),
        "{e}"
    );
}

/// Each run of the suite used to leave its databases on the server: making a new one drops
/// those older than the stale age (and ones named before the age was in the name), and keeps
/// recent ones, which a test running at the same time may be using.
#[tokio::test]
async fn stale_test_databases_are_dropped_and_recent_ones_kept() {
    use sqlx::{Connection, Executor};
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let now = chrono::Utc::now().timestamp();
    let old = format!(
        "hegui_t_{}_{}",
        now - hegui_store::testing::STALE_TEST_DATABASE_SECS - 60,
        uuid::Uuid::new_v4().simple()
    );
    let legacy = format!("hegui_t_{}", uuid::Uuid::new_v4().simple());
    let recent = format!("hegui_t_{}_{}", now - 60, uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::postgres::PgConnection::connect(&admin).await.unwrap();
    for n in [&old, &legacy, &recent] {
        conn.execute(format!("CREATE DATABASE {n}").as_str())
            .await
            .unwrap();
    }
    let made = fresh_postgres_database(&admin).await.unwrap();
    let exists = |n: String| {
        let admin = admin.clone();
        async move {
            let mut c = sqlx::postgres::PgConnection::connect(&admin).await.unwrap();
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = $1")
                .bind(n)
                .fetch_one(&mut c)
                .await
                .unwrap()
                == 1
        }
    };
    assert!(!exists(old.clone()).await, "{old} was not dropped");
    assert!(!exists(legacy.clone()).await, "{legacy} was not dropped");
    assert!(exists(recent.clone()).await, "{recent} was dropped");
    let made_name = made.rsplit('/').next().unwrap().to_string();
    assert!(exists(made_name.clone()).await);
    for n in [recent, made_name] {
        conn.execute(format!("DROP DATABASE IF EXISTS {n}").as_str())
            .await
            .unwrap();
    }
}
