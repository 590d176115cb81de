//! The same behaviour on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use hegui_store::testing::{fresh_postgres_database, fresh_sqlite_url, postgres_admin_url};
use hegui_store::{ChinaDay, Factor, RecordQuery, RecordWriter, Store, UserActivity};
use hegui_types::{
    Action, Decision, InteractionRecord, JournalEntry, Outcome, Stage, RECORD_ENCODING_VERSION,
};

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

/// A record of `user` received at `at` whose prompt review ended in `action` (`None`: not
/// reviewed).
fn reviewed(id: &str, user: Option<&str>, at: i64, action: Option<Action>) -> InteractionRecord {
    let mut r = record(id, user, Outcome::Served, at);
    r.decisions = match action {
        None => vec![],
        Some(a) => {
            let mut d = Decision::allow(Stage::Input, "v1");
            d.action = a;
            vec![d]
        }
    };
    r
}

/// Per-user activity (today's requests, today's flagged prompts, flagged prompts in a row,
/// interactions in all) is exact on every write path and whatever has been folded: checked
/// against a count of what was written, after every chunk of a seeded random history spread
/// over four China days, written alternately through the record writer and the pool.
async fn activity_is_exact(store: Store) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let real = store.create_user(None, "test").await.unwrap().id;
    let users = [real.as_str(), "usr_b", "usr_c"];
    let first_day = ChinaDay::of(1_764_518_400_000);
    let days: Vec<ChinaDay> = (0..4)
        .map(|d| ChinaDay::of(first_day.start_ms() + d * 86_400_000))
        .collect();
    let actions = [
        None,
        Some(Action::Allow),
        Some(Action::Flag),
        Some(Action::Mask),
        Some(Action::Block),
        Some(Action::SafeAnswer),
    ];
    // (user, day, flagged), in the order written (and received).
    let mut written: Vec<(Option<usize>, ChinaDay, bool)> = Vec::new();
    let (writer, task) = RecordWriter::spawn_integrating(store.clone());
    let total = 400;
    let mut chunk = 0;
    while written.len() < total {
        // Small chunks, folded often: a user's streak then often spans folds.
        let n = rng.gen_range(1..12).min(total - written.len());
        let mut batch = Vec::new();
        for _ in 0..n {
            let i = written.len() + batch.len();
            let user = (rng.gen_range(0..10) < 9).then(|| rng.gen_range(0..users.len()));
            // Flagged far more often than in life, so that streaks run long and end.
            let action = if rng.gen_bool(0.6) {
                actions[rng.gen_range(2..actions.len())]
            } else {
                actions[rng.gen_range(0..2)]
            };
            let at = first_day.start_ms() + (i as i64) * 4 * 86_400_000 / total as i64;
            batch.push((user, at, action));
        }
        let records: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(k, (u, at, a))| {
                reviewed(
                    &format!("act-{:05}", written.len() + k),
                    u.map(|u| users[u]),
                    *at,
                    *a,
                )
            })
            .collect();
        if chunk % 2 == 0 {
            store.insert_records(&records).await.unwrap();
        } else {
            for r in records {
                writer.write(r).await.unwrap();
            }
        }
        if rng.gen_bool(0.5) {
            store.fold_user_activity().await.unwrap();
        }
        chunk += 1;
        for (u, at, a) in batch {
            written.push((u, ChinaDay::of(at), a.is_some_and(|a| a >= Action::Flag)));
        }
        for (ui, user) in users.iter().enumerate() {
            let mine: Vec<_> = written.iter().filter(|w| w.0 == Some(ui)).collect();
            let streak = mine.iter().rev().take_while(|w| w.2).count() as i64;
            for &day in &days {
                for cap in [0u32, 3, 1000] {
                    let got = store.user_activity(user, day, cap).await.unwrap();
                    let want = UserActivity {
                        requests: mine.iter().filter(|w| w.1 == day).count() as i64,
                        flagged: mine.iter().filter(|w| w.1 == day && w.2).count() as i64,
                        flagged_in_a_row: streak.min(i64::from(cap)),
                    };
                    assert_eq!(got, want, "{user} on day {day:?}, cap {cap}, chunk {chunk}");
                }
            }
        }
    }
    drop(writer);
    task.await.unwrap();
    // A user's records, newest first, and nobody else's.
    for (ui, user) in users.iter().enumerate() {
        let rows = store
            .list_records(&RecordQuery {
                user_id: Some(user.to_string()),
                limit: Some(10_000),
                ..Default::default()
            })
            .await
            .unwrap();
        let want = written.iter().filter(|w| w.0 == Some(ui)).count();
        assert_eq!(rows.len(), want, "{user}");
        assert!(rows.windows(2).all(|w| w[0].seq > w[1].seq));
    }
    let none = RecordQuery {
        user_id: Some("usr_nobody".into()),
        ..Default::default()
    };
    assert!(store.list_records(&none).await.unwrap().is_empty());
    // What a deletion request reports as kept.
    let report = store
        .delete_account(&real, "asked", "test", |r| {
            JournalEntry::new(
                "user_event",
                "test",
                serde_json::json!({"kept": r.interactions_kept}),
            )
        })
        .await
        .unwrap();
    let want = written.iter().filter(|w| w.0 == Some(0)).count() as u64;
    assert_eq!(report.interactions_kept, want);
}

#[tokio::test]
async fn sqlite_user_activity_is_exact() {
    let (url, _dir) = fresh_sqlite_url().unwrap();
    activity_is_exact(Store::open(&url, 4).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_user_activity_is_exact() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let url = fresh_postgres_database(&admin)
        .await
        .expect("PostgreSQL reachable");
    activity_is_exact(Store::open(&url, 4).await.unwrap()).await;
}

/// The activity file is derived from one database: put beside another (a database restored
/// from a backup, say), it is rebuilt, and what it answers is that database's.
#[tokio::test]
async fn an_activity_file_from_another_database_is_rebuilt() {
    let day = ChinaDay::of(1_764_518_400_000);
    let mut urls = Vec::new();
    let mut dirs = Vec::new();
    for (n, prefix) in [(30, "a"), (5, "b")] {
        let (url, dir) = fresh_sqlite_url().unwrap();
        let store = Store::open(&url, 2).await.unwrap();
        let records: Vec<_> = (0..n)
            .map(|i| {
                reviewed(
                    &format!("{prefix}-{i}"),
                    Some("usr_x"),
                    day.start_ms() + i,
                    Some(Action::Flag),
                )
            })
            .collect();
        store.insert_records(&records).await.unwrap();
        store.fold_user_activity().await.unwrap();
        store.close().await;
        urls.push(url);
        dirs.push(dir);
    }
    let file = |url: &str| {
        url.trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap()
            .to_string()
    };
    std::fs::copy(
        format!("{}.activity", file(&urls[0])),
        format!("{}.activity", file(&urls[1])),
    )
    .unwrap();
    let b = Store::open(&urls[1], 2).await.unwrap();
    let got = b.user_activity("usr_x", day, 100).await.unwrap();
    assert_eq!(
        got,
        UserActivity {
            requests: 5,
            flagged: 5,
            flagged_in_a_row: 5
        }
    );
    let kept = b
        .list_records(&RecordQuery {
            user_id: Some("usr_x".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(kept.len(), 5);
}
