//! `hegui inspect export` / `verify` as an inspector uses them, on SQLite and (when
//! HEGUI_TEST_POSTGRES_URL is set) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use hegui_types::{kinds, InteractionRecord, JournalEntry, Outcome};

const HEGUI: &str = env!("CARGO_BIN_EXE_hegui");
/// 2025-06-01 00:00 China time.
const DAY: i64 = 1_748_707_200_000;

fn hegui(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(HEGUI)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn interaction(n: usize, at: i64) -> InteractionRecord {
    InteractionRecord {
        v: 1,
        id: format!("0190aaaa-0000-7000-8000-{n:012}"),
        received_at_ms: at,
        user_id: Some(format!("usr_inspect_{n}")),
        key_id: Some("key_1".into()),
        endpoint: "chat.completions".into(),
        model: Some("mock-small".into()),
        upstream_model: Some("mock-small".into()),
        stream: false,
        outcome: Outcome::Served,
        status: 200,
        error_code: None,
        error: None,
        input: serde_json::json!([{"role": "user", "content": format!("问题 {n}")}]),
        output: Some(format!("回答 {n}")),
        finish_reason: Some("stop".into()),
        decisions: vec![serde_json::from_value(serde_json::json!({
            "stage": "input", "action": "flag", "risks": ["A.1.a"], "matches": [],
            "policy_version": "lex-test"
        }))
        .unwrap()],
        label: Some(
            serde_json::from_value(serde_json::json!({
                "Label": "1", "ContentProducer": "hegui-test", "ProduceID": format!("prod-{n}")
            }))
            .unwrap(),
        ),
        usage: None,
        latency_us: 1000,
        upstream_us: Some(800),
    }
}

fn entry(kind: &str, at: i64, body: serde_json::Value) -> JournalEntry {
    let mut e = JournalEntry::new(kind, "cli:inspector-test", body);
    e.at_ms = at;
    e
}

fn write_config(dir: &Path, db: &str) -> PathBuf {
    let p = dir.join("hegui.toml");
    std::fs::write(
        &p,
        format!(
            "[storage]\ndatabase_url = \"{db}\"\ndata_dir = \"{}\"\n[ledger]\nsigning_key_file = \"{}\"\n",
            dir.join("data").display(),
            dir.join("log.key").display()
        ),
    )
    .unwrap();
    p
}

async fn raw_exec(db: &str, sql: &str, id: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db).await.unwrap();
    let n = sqlx::query(sql)
        .bind(id)
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);
    pool.close().await;
}

async fn scenario(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), db);
    let (ok, key, err) = hegui(
        &cfg,
        &[
            "ledger",
            "keygen",
            "--out",
            dir.path().join("log.key").to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let key = key.trim().to_string();
    let store = hegui_store::Store::open(db, 2).await.unwrap();

    // Leaf order: one record of May 31, then 1 June with a late May record in between, then
    // 3 June; checkpoints between the batches.
    let mut ids = Vec::new();
    store
        .insert_records(&[interaction(0, DAY - 60_000)])
        .await
        .unwrap();
    let first: Vec<InteractionRecord> = (1..=4)
        .map(|n| interaction(n, DAY + n as i64 * 1000))
        .collect();
    ids.extend(first.iter().map(|r| r.id.clone()));
    store.insert_records(&first).await.unwrap();
    let (ok, _, err) = hegui(&cfg, &["ledger", "checkpoint"]);
    assert!(ok, "{err}");
    let others = [
        entry(
            kinds::COMPLAINT,
            DAY + 10_000,
            serde_json::json!({"receipt": "TS-0001", "category": "harmful", "target": ids[1], "description_hash": "ab"}),
        ),
        entry(
            kinds::COMPLAINT_STEP,
            DAY + 11_000,
            serde_json::json!({"receipt": "TS-0001", "from_state": "received", "to_state": "resolved", "action": "takedown", "reason": "违规内容"}),
        ),
        entry(
            kinds::STAFF_ACTION,
            DAY + 12_000,
            serde_json::json!({"action": "suspend", "target": "usr_inspect_2", "details": {"why": "complaint TS-0001"}}),
        ),
        entry(
            kinds::POLICY_CHANGE,
            DAY + 13_000,
            serde_json::json!({"policy_version": "lex-test", "lexicons": [{"name": "demo", "version": "v1"}]}),
        ),
        entry(
            kinds::IDENTITY_CHECK,
            DAY + 14_000,
            serde_json::json!({"user_id": "usr_inspect_1", "method": "id_card", "result": "passed", "provider": "mock"}),
        ),
        entry(
            kinds::USER_EVENT,
            DAY - 5_000,
            serde_json::json!({"user_id": "usr_x", "event": "created", "reason": "late"}),
        ),
    ];
    for e in &others {
        store.journal_append(e).await.unwrap();
    }
    store
        .insert_records(&[interaction(5, DAY + 20_000)])
        .await
        .unwrap();
    ids.push(interaction(5, 0).id);
    let (ok, _, err) = hegui(&cfg, &["ledger", "checkpoint"]);
    assert!(ok, "{err}");
    store
        .insert_records(&[interaction(6, DAY + 2 * 86_400_000)])
        .await
        .unwrap();
    // Erase one record of 1 June (its purge record is written now, outside 1 June).
    store
        .erase_record(&ids[2], "PIPL request 9", "cli:test")
        .await
        .unwrap();
    store.close().await;

    // Bad periods are refused with the flag named.
    let bundle = dir.path().join("june1.tar");
    let b = bundle.to_str().unwrap();
    let (ok, _, err) = hegui(
        &cfg,
        &[
            "inspect",
            "export",
            "--from",
            "2025-06-02",
            "--to",
            "2025-06-01",
            "--out",
            b,
        ],
    );
    assert!(!ok && err.contains("not before"), "{err}");
    let (ok, _, err) = hegui(
        &cfg,
        &[
            "inspect",
            "export",
            "--from",
            "June 1",
            "--to",
            "2025-06-01",
            "--out",
            b,
        ],
    );
    assert!(
        !ok && err.contains("--from") && err.contains("YYYY-MM-DD"),
        "{err}"
    );

    // 1 June: everything of that day, the erasure backed by its purge record.
    let (ok, out, err) = hegui(
        &cfg,
        &[
            "inspect",
            "export",
            "--from",
            "2025-06-01",
            "--to",
            "2025-06-01",
            "--out",
            b,
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["counts"]["interaction"], 5, "{summary}");
    assert_eq!(summary["counts"]["complaint"], 1);
    assert_eq!(summary["counts"]["complaint_step"], 1);
    assert_eq!(summary["counts"]["staff_action"], 1);
    assert_eq!(summary["counts"]["policy_change"], 1);
    assert_eq!(summary["counts"]["identity_check"], 1);
    assert_eq!(summary["erased"], 1);
    assert_eq!(summary["outside_period"], 3, "{summary}"); // May 31 (x2) and 3 June
    assert_eq!(summary["supporting_purges"], 1);
    let (ok, out, err) = hegui(&cfg, &["inspect", "verify", b, "--public-key", &key]);
    assert!(ok && out.contains("OK: the bundle verifies"), "{out}{err}");
    assert!(out.contains("1 erasure(s) matched"), "{out}");

    // The key from a file works too; another key fails.
    let key_file = dir.path().join("log.pub");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let (ok, out, _) = hegui(
        &cfg,
        &[
            "inspect",
            "verify",
            b,
            "--public-key",
            key_file.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(ok, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["disclosed"], 9);
    assert!(report["problems"].as_array().unwrap().is_empty());
    let other = dir.path().join("other.key");
    let (_, other_key, _) = hegui(
        &cfg,
        &["ledger", "keygen", "--out", other.to_str().unwrap()],
    );
    let (ok, out, _) = hegui(
        &cfg,
        &["inspect", "verify", b, "--public-key", other_key.trim()],
    );
    assert!(!ok && out.contains("FAIL"), "{out}");

    // The whole span up to tomorrow includes the checkpoints issued today.
    let tomorrow = chrono::Utc::now().timestamp_millis() + 86_400_000;
    let to = chrono::DateTime::from_timestamp_millis(tomorrow)
        .unwrap()
        .to_rfc3339();
    let all = dir.path().join("all.tar");
    let (ok, out, err) = hegui(
        &cfg,
        &[
            "inspect",
            "export",
            "--from",
            "2025-05-01",
            "--to",
            &to,
            "--out",
            all.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(summary["checkpoints"].as_u64().unwrap() >= 3, "{summary}");
    assert_eq!(summary["counts"]["purge"], 1);
    let (ok, out, err) = hegui(
        &cfg,
        &[
            "inspect",
            "verify",
            all.to_str().unwrap(),
            "--public-key",
            &key,
        ],
    );
    assert!(ok, "{out}{err}");

    // A flipped byte inside the bundle: the record and its member are named.
    let bytes = std::fs::read(&bundle).unwrap();
    let needle = b"usr_inspect_4";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut bad = bytes.clone();
    bad[at + needle.len() - 1] = b'7';
    std::fs::write(&bundle, &bad).unwrap();
    let (ok, out, _) = hegui(&cfg, &["inspect", "verify", b, "--public-key", &key]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "FAIL records.jsonl line 5 (record {}): the record and salt do not match",
            ids[3]
        )),
        "{out}"
    );
    assert!(out.contains("FAIL records.jsonl: SHA-256"), "{out}");
    // In a CSV view.
    let needle = b"TS-0001,harmful";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut bad = bytes.clone();
    bad[at + 3] = b'9';
    std::fs::write(&bundle, &bad).unwrap();
    let (ok, out, _) = hegui(&cfg, &["inspect", "verify", b, "--public-key", &key]);
    assert!(
        !ok && out.contains("FAIL complaints.csv line 2 (record "),
        "{out}"
    );
    // Garbage is refused without a panic.
    std::fs::write(&bundle, &bytes[..bytes.len() / 3]).unwrap();
    let (ok, _, err) = hegui(&cfg, &["inspect", "verify", b, "--public-key", &key]);
    assert!(!ok && err.contains("not an inspection bundle"), "{err}");

    // A record altered in the database: the export still carries its leaf, so verify names it.
    raw_exec(
        db,
        "UPDATE journal SET record = replace(record, '回答 4', '回答 X') WHERE id = $1",
        &ids[3],
    )
    .await;
    let (ok, _, err) = hegui(
        &cfg,
        &[
            "inspect",
            "export",
            "--from",
            "2025-06-01",
            "--to",
            "2025-06-01",
            "--out",
            b,
        ],
    );
    assert!(ok, "{err}");
    let (ok, out, _) = hegui(&cfg, &["inspect", "verify", b, "--public-key", &key]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "(record {}): the record and salt do not match the leaf's commitment",
            ids[3]
        )),
        "{out}"
    );
    assert_eq!(out.matches("FAIL").count(), 1, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspection_bundle_round_trip_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("hegui.db").display());
    scenario(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspection_bundle_round_trip_on_postgres() {
    let Some(admin) = hegui_store::testing::postgres_admin_url() else {
        return;
    };
    let db = hegui_store::testing::fresh_postgres_database(&admin)
        .await
        .expect("PostgreSQL reachable");
    scenario(&db).await;
}
