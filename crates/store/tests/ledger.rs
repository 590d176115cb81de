//! The Merkle log over stored records, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use hegui_ledger::{
    leaf_hash, verify_consistency, verify_inclusion, Checkpoint, LeafEntry, Signer,
};
use hegui_store::testing::tempfile_guard::TempDir;
use hegui_store::testing::{fresh_postgres_database, fresh_sqlite_url, postgres_admin_url};
use hegui_store::{Factor, Sequencer, SequencerConfig, Store};
use hegui_types::InteractionRecord;

fn record(i: usize) -> InteractionRecord {
    common::record_of(i, "usr_1")
}

/// Integrates and checkpoints whatever is pending with a new key, then verifies the whole log.
async fn checkpoint_and_verify(store: &Store) -> hegui_store::VerifyReport {
    let signer = Signer::generate("test.example/log").unwrap();
    sequencer(store, &signer)
        .checkpoint_now()
        .await
        .unwrap()
        .unwrap();
    store.verify_ledger(Some(&signer.verifier())).await.unwrap()
}

fn sequencer(store: &Store, signer: &Signer) -> Sequencer {
    Sequencer::new(
        store.clone(),
        Some(signer.clone()),
        SequencerConfig {
            batch: 16,
            origin: "test.example/log".into(),
            ..Default::default()
        },
    )
}

async fn exercise(store: Store) {
    let signer = Signer::generate("test.example/log").unwrap();
    let verifier = signer.verifier();
    let user = store.create_user(None, "t").await.unwrap(); // a user_event record too
    store
        .insert_records(&(0..20).map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    let mut seq = sequencer(&store, &signer);
    let first = seq
        .checkpoint_now()
        .await
        .unwrap()
        .expect("first checkpoint");
    assert_eq!(first.size, 21, "20 interactions + 1 user event");
    store
        .insert_records(&(20..57).map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    store
        .set_factor_by_operator(&user.id, Factor::Phone, true, "offline", "t")
        .await
        .unwrap();
    let second = seq
        .checkpoint_now()
        .await
        .unwrap()
        .expect("second checkpoint");
    assert_eq!(second.size, 59);
    assert!(
        seq.checkpoint_now().await.unwrap().is_none(),
        "no new checkpoint without growth"
    );

    // Signed checkpoints open with the public key; the root is the tree's.
    let cp = Checkpoint::open(&second.note, &verifier).unwrap();
    assert_eq!((cp.size, cp.root), (59, store.root_at(59).await.unwrap()));

    // Inclusion of a record, from its salted content, against the signed root.
    let row = store.journal_row("rec-0033").await.unwrap().unwrap();
    let leaf = store.leaf_of_record("rec-0033").await.unwrap().unwrap();
    let entry = LeafEntry::decode(&leaf.data).unwrap();
    assert!(entry.commits_to(
        &hex::decode(row.salt.unwrap()).unwrap(),
        row.record.unwrap().as_bytes()
    ));
    let proof = store.inclusion_proof(leaf.index, cp.size).await.unwrap();
    verify_inclusion(
        &leaf_hash(&leaf.data),
        leaf.index,
        cp.size,
        &proof,
        &cp.root,
    )
    .unwrap();

    // Consistency between the two checkpoints.
    let proof = store
        .consistency_proof(first.size, second.size)
        .await
        .unwrap();
    verify_consistency(first.size, second.size, &first.root, &second.root, &proof).unwrap();

    let report = store.verify_ledger(Some(&verifier)).await.unwrap();
    assert_eq!(report.problems, vec![]);
    assert_eq!(
        (report.leaves, report.records_checked, report.checkpoints),
        (59, 59, 2)
    );
}

on_both_backends!(
    sqlite_log_proves_and_verifies,
    postgres_log_proves_and_verifies,
    exercise
);

/// Flips the first hex digit of a column (always a change, never a no-op).
fn flip(col: &str) -> String {
    format!("(CASE WHEN substr({col}, 1, 1) = '0' THEN '1' ELSE '0' END || substr({col}, 2))")
}

/// Writes 40 records with checkpoints at 20 and 40, then edits the tables directly (as an
/// attacker with database access would) through `raw`, and checks verify names every place.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn exec(&self, sql: &str) -> u64 {
        match self {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.unwrap().rows_affected(),
            Raw::Postgres(p) => sqlx::query(sql).execute(p).await.unwrap().rows_affected(),
        }
    }
}

async fn tamper_and_verify(url: &str, raw: &Raw) {
    let store = Store::open(url, 2).await.unwrap();
    let signer = Signer::generate("test.example/log").unwrap();
    let mut seq = sequencer(&store, &signer);
    store
        .insert_records(&(0..20).map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    seq.checkpoint_now().await.unwrap().unwrap();
    store
        .insert_records(&(20..40).map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    seq.checkpoint_now().await.unwrap().unwrap();
    // A lawful erasure (whose row is then edited below), and two legal holds, one released.
    store
        .erase_record("rec-0023", "request 1", "t")
        .await
        .unwrap();
    let kept = store
        .add_hold(None, Some("rec-0002"), "order 1", "t")
        .await
        .unwrap();
    let user = store.create_user(None, "t").await.unwrap().id;
    let released = store
        .add_hold(Some(&user), None, "order 2", "t")
        .await
        .unwrap();
    store
        .release_hold(&released.id, "lifted", "t")
        .await
        .unwrap();
    seq.checkpoint_now().await.unwrap().unwrap();
    seq.resign();
    let clean = store.verify_ledger(Some(&signer.verifier())).await.unwrap();
    assert_eq!(clean.problems, vec![]);
    assert_eq!(clean.purged, 1);
    store.close().await;

    let kept_at = format!("legal hold {}", kept.id);
    let released_at = format!("legal hold {}", released.id);
    let mut cases: Vec<(String, &str)> = vec![
        // A malformed value first: verify must report it and go on to the others.
        ("UPDATE ledger_leaves SET hash = 'xyz' WHERE idx = 3".into(), "leaf 3 (record rec-0003)"),
        // Content deleted outside hegui, made to look like an erasure.
        ("UPDATE journal SET record = NULL, salt = NULL, purged_at = 1, purge_reason = 'x' WHERE id = 'rec-0021'".into(), "leaf 21 (record rec-0021)"),
        ("UPDATE journal SET purge_reason = 'other' WHERE id = 'rec-0023'".into(), "leaf 23 (record rec-0023)"),
        (format!("DELETE FROM legal_holds WHERE id = '{}'", kept.id), &kept_at),
        (format!("UPDATE legal_holds SET released_at = NULL WHERE id = '{}'", released.id), &released_at),
        ("UPDATE journal SET record = replace(record, '回答 7', '回答 8') WHERE id = 'rec-0007'".into(), "leaf 7 (record rec-0007)"),
        ("UPDATE interactions SET outcome = 'blocked_input' WHERE id = 'rec-0012'".into(), "leaf 12 (record rec-0012)"),
        (format!("UPDATE journal SET salt = {} WHERE id = 'rec-0015'", flip("salt")), "leaf 15 (record rec-0015)"),
        (format!("UPDATE journal SET commitment = {} WHERE id = 'rec-0016'", flip("commitment")), "leaf 16 (record rec-0016)"),
        ("UPDATE ledger_leaves SET data = replace(data, 'rec-0031', 'rec-0099') WHERE idx = 31".into(), "leaf 31"),
        (format!("UPDATE ledger_leaves SET hash = {} WHERE idx = 33", flip("hash")), "leaf 33"),
        (format!("UPDATE ledger_nodes SET hash = {} WHERE level = 2 AND idx = 3", flip("hash")), "node (2, 3)"),
        (format!("UPDATE ledger_checkpoints SET root = {} WHERE size = 20", flip("root")), "checkpoint 20"),
        ("UPDATE ledger_checkpoints SET note = replace(note, '\n40\n', '\n41\n') WHERE size = 40".into(), "checkpoint 40"),
    ];
    if let Raw::Sqlite(_) = raw {
        // SQLite stores a value of the wrong type as given; verify names the row and goes on.
        cases.push((
            "UPDATE journal SET created_at = 'x' WHERE id = 'rec-0025'".into(),
            "leaf 25 (record rec-0025)",
        ));
    }
    for (sql, _) in &cases {
        assert_eq!(raw.exec(sql).await, 1, "{sql}");
    }
    let store = Store::open(url, 2).await.unwrap();
    let report = store.verify_ledger(Some(&signer.verifier())).await.unwrap();
    for (sql, location) in &cases {
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.location.starts_with(location)),
            "{sql} not reported at {location}: {:#?}",
            report.problems
        );
    }
    // Untouched records are not blamed.
    assert!(!report
        .problems
        .iter()
        .any(|p| p.location.contains("rec-0005")));
    // A checkpoint signed by someone else is reported too.
    let other = Signer::generate("test.example/log").unwrap();
    let report = store.verify_ledger(Some(&other.verifier())).await.unwrap();
    assert!(report
        .problems
        .iter()
        .any(|p| p.location == "checkpoint 20" && p.message.contains("signature")));
}

/// Changing any stored record, leaf, node or checkpoint makes verify fail at that place.
#[tokio::test]
async fn tampering_with_sqlite_tables_is_caught_where_it_happened() {
    let (url, dir) = fresh_sqlite_url().unwrap();
    Store::open(&url, 1).await.unwrap().close().await;
    let raw = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("hegui.db").display()
    ))
    .await
    .unwrap();
    tamper_and_verify(&url, &Raw::Sqlite(raw)).await;
}

#[tokio::test]
async fn tampering_with_postgres_tables_is_caught_where_it_happened() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let url = fresh_postgres_database(&admin)
        .await
        .expect("PostgreSQL reachable");
    let raw = sqlx::PgPool::connect(&url).await.unwrap();
    tamper_and_verify(&url, &Raw::Postgres(raw)).await;
}

/// A fresh SQLite store (`connections` in its pool) holding records `0..n`, pending
/// integration, with its URL, the directory that holds it, and a new signing key.
async fn sqlite_store_with_records(n: usize, connections: u32) -> (String, TempDir, Store, Signer) {
    let (url, dir) = fresh_sqlite_url().unwrap();
    let store = Store::open(&url, connections).await.unwrap();
    store
        .insert_records(&(0..n).map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    let signer = Signer::generate("test.example/log").unwrap();
    (url, dir, store, signer)
}

/// One byte flipped in the SQLite file itself (no SQL at all) is caught at its record.
#[tokio::test]
async fn a_flipped_byte_in_the_sqlite_file_is_caught() {
    let (url, dir, store, signer) = sqlite_store_with_records(30, 1).await;
    sequencer(&store, &signer)
        .checkpoint_now()
        .await
        .unwrap()
        .unwrap();
    store.close().await;
    // Every page into the database file. A checkpoint that another connection still in use
    // blocks (the store's background threads may not have let go yet) reports itself busy
    // rather than failing, and leaves the records in the log: wait for a complete one.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut complete = false;
    for _ in 0..100 {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&pool)
            .await
            .unwrap();
        if busy == 0 {
            complete = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(complete, "the log was never checkpointed completely");
    pool.close().await;
    let path = dir.path().join("hegui.db");
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = "回答 23\"".as_bytes();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("record content in the file");
    bytes[at + needle.len() - 2] = b'4'; // 回答 23 -> 回答 24, same length
    std::fs::write(&path, bytes).unwrap();
    let store = Store::open(&url, 1).await.unwrap();
    let report = store.verify_ledger(Some(&signer.verifier())).await.unwrap();
    assert!(!report.problems.is_empty());
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.location.starts_with("leaf 23 (record rec-0023)")),
        "{:#?}",
        report.problems
    );
    assert!(
        report.problems[0]
            .location
            .starts_with("leaf 23 (record rec-0023)"),
        "{:#?}",
        report.problems
    );
}

/// With PostgreSQL, exactly one sequencer works at a time; another takes over when it goes.
#[tokio::test]
async fn one_sequencer_at_a_time_on_postgres() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let url = fresh_postgres_database(&admin)
        .await
        .expect("PostgreSQL reachable");
    let a_store = Store::open(&url, 2).await.unwrap();
    let b_store = Store::open(&url, 2).await.unwrap(); // a second gateway instance
    let signer = Signer::generate("test.example/log").unwrap();
    let mut a = sequencer(&a_store, &signer);
    let mut b = sequencer(&b_store, &signer);
    assert!(a.try_elect().await.unwrap());
    assert!(!b.try_elect().await.unwrap());
    a_store
        .insert_records(&(0..10).map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    b_store
        .insert_records(&(10..25).map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(
        b.integrate_pending().await.unwrap(),
        0,
        "the standby does nothing"
    );
    assert_eq!(a.integrate_pending().await.unwrap(), 16);
    // The first instance dies (its connection drops without a goodbye): the server frees the
    // lock once it notices, and the standby takes over.
    a.resign();
    let mut elected = false;
    for _ in 0..100 {
        if b.try_elect().await.unwrap() {
            elected = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(elected, "the standby never took over");
    b.checkpoint_now().await.unwrap().unwrap();
    assert_eq!(b_store.tree_size().await.unwrap(), 25);
    let report = b_store
        .verify_ledger(Some(&signer.verifier()))
        .await
        .unwrap();
    assert_eq!(report.problems, vec![]);
}

async fn retention(store: Store) {
    let signer = Signer::generate("test.example/log").unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let mut recent = record(99);
    recent.received_at_ms = now;
    let mut old: Vec<_> = (0..10).map(record).collect(); // received in 1970: long expired
    old.push(recent);
    store.insert_records(&old).await.unwrap();
    let mut seq = sequencer(&store, &signer);
    seq.checkpoint_now().await.unwrap().unwrap();
    let hold = store
        .add_hold(None, Some("rec-0003"), "court order 42", "t")
        .await
        .unwrap();
    let policy = hegui_store::Retention {
        interaction_ms: 183 * 86_400_000,
        records_ms: 1095 * 86_400_000,
    };

    let dry = store.purge_expired(now, policy, "t", true).await.unwrap();
    assert_eq!((dry.purged.len(), dry.held), (9, 1));
    assert!(
        store
            .journal_row("rec-0001")
            .await
            .unwrap()
            .unwrap()
            .record
            .is_some(),
        "dry run erases nothing"
    );
    let report = store.purge_expired(now, policy, "t", false).await.unwrap();
    assert_eq!((report.purged.len(), report.held), (9, 1));
    assert!(
        !report.purged.contains(&"rec-0003".to_string())
            && !report.purged.contains(&"rec-0099".to_string())
    );
    let gone = store.journal_row("rec-0001").await.unwrap().unwrap();
    assert!(gone.record.is_none() && gone.salt.is_none() && gone.purged_at.is_some());
    let listed = store.record("rec-0001").await.unwrap().unwrap();
    assert!(listed.record.is_none() && listed.purged_at.is_some());

    // Proofs survive erasure; the erasure itself is a record in the log.
    seq.checkpoint_now().await.unwrap().unwrap();
    let bundle = store
        .proof_bundle("rec-0001", &signer.verifier(), true, None)
        .await
        .unwrap();
    let verified = bundle.verify(&signer.verifier()).unwrap();
    let (entry, content) = hegui_ledger::check_disclosure(&verified).unwrap();
    assert_eq!((entry.id.as_str(), content), ("rec-0001", None));
    let purge = store
        .journal_row(report.purge_records.first().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(purge.record.unwrap().contains("rec-0001") && purge.leaf_index.is_some());
    let v = store.verify_ledger(Some(&signer.verifier())).await.unwrap();
    assert_eq!(v.problems, vec![]);
    assert_eq!(v.purged, 9);

    // Erasure requests respect holds and wait for integration.
    let e = store
        .erase_record("rec-0003", "data subject request", "t")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("legal hold"), "{e}");
    store
        .release_hold(&hold.id, "order lifted", "t")
        .await
        .unwrap();
    store
        .erase_record("rec-0003", "data subject request", "t")
        .await
        .unwrap();
    let mut pending = record(500);
    pending.received_at_ms = now;
    store.insert_records(&[pending]).await.unwrap();
    let e = store.erase_record("rec-0500", "x", "t").await.unwrap_err();
    assert!(e.to_string().contains("not in the log yet"), "{e}");
    assert!(store.erase_record("rec-0003", "again", "t").await.is_err());
    seq.checkpoint_now().await.unwrap();
    assert_eq!(
        store
            .verify_ledger(Some(&signer.verifier()))
            .await
            .unwrap()
            .problems,
        vec![]
    );
}

on_both_backends!(
    sqlite_retention_erases_content_and_keeps_proofs,
    postgres_retention_erases_content_and_keeps_proofs,
    retention
);

/// On SQLite the writer integrates leaves in the transaction that writes the records: once a
/// write is acknowledged its record is already a leaf.
#[tokio::test]
async fn sqlite_writer_integrates_in_the_same_transaction() {
    let (url, _dir) = fresh_sqlite_url().unwrap();
    let store = Store::open(&url, 4).await.unwrap();
    store.create_user(None, "t").await.unwrap(); // a straggler written outside the writer
    let (writer, task) = hegui_store::RecordWriter::spawn_integrating(store.clone());
    let mut handles = Vec::new();
    for i in 0..50 {
        let w = writer.clone();
        handles.push(tokio::spawn(async move { w.write(record(i)).await }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    for i in [0, 17, 49] {
        let row = store
            .journal_row(&format!("rec-{i:04}"))
            .await
            .unwrap()
            .unwrap();
        assert!(
            row.leaf_index.is_some(),
            "rec-{i:04} not integrated on acknowledgement"
        );
    }
    assert_eq!(store.tree_size().await.unwrap(), 51);
    drop(writer);
    task.await.unwrap();
    assert_eq!(checkpoint_and_verify(&store).await.problems, vec![]);
}

/// A batch that cannot be written (here: its record's id is taken) fails as a whole: its
/// requester hears why, nothing of it is left behind (neither the leaf it was given first
/// nor its rows), and the writer goes on with the next batch.
#[tokio::test]
async fn sqlite_writer_reports_a_failed_batch_and_goes_on() {
    let (url, _dir) = fresh_sqlite_url().unwrap();
    let store = Store::open(&url, 4).await.unwrap();
    let (writer, task) = hegui_store::RecordWriter::spawn_integrating(store.clone());
    writer.write(record(1)).await.unwrap();
    let err = writer.write(record(1)).await.unwrap_err().to_string();
    assert!(
        err.contains("UNIQUE constraint failed: journal.id"),
        "unclear error: {err}"
    );
    writer.write(record(2)).await.unwrap();
    assert_eq!(store.tree_size().await.unwrap(), 2);
    assert_eq!(store.count_records().await.unwrap(), 2);
    let second = store.journal_row("rec-0002").await.unwrap().unwrap();
    assert_eq!(second.leaf_index, Some(1));
    drop(writer);
    task.await.unwrap();
    assert_eq!(checkpoint_and_verify(&store).await.problems, vec![]);
}

/// Records written outside the writer (here: a backlog larger than one batch, left by a
/// writer that could not integrate) become leaves before the writer's own records, so leaves
/// keep journal order; a batch that finds more pending than it may integrate leaves its own
/// records pending instead of putting them ahead, and the next batches catch up.
#[tokio::test]
async fn sqlite_writer_integrates_a_backlog_first_in_journal_order() {
    let (url, _dir) = fresh_sqlite_url().unwrap();
    let store = Store::open(&url, 4).await.unwrap();
    let backlog: Vec<_> = (1000..2100).map(record).collect();
    store.insert_records(&backlog).await.unwrap();
    assert_eq!(store.tree_size().await.unwrap(), 0);
    let (writer, task) = hegui_store::RecordWriter::spawn_integrating(store.clone());
    writer.write(record(0)).await.unwrap();
    // One batch of the backlog went in; this record waits behind the rest.
    let first = store.journal_row("rec-0000").await.unwrap().unwrap();
    assert_eq!(first.leaf_index, None);
    assert_eq!(store.tree_size().await.unwrap(), 1024);
    writer.write(record(1)).await.unwrap();
    let second = store.journal_row("rec-0001").await.unwrap().unwrap();
    assert_eq!(second.leaf_index, Some(1101));
    drop(writer);
    task.await.unwrap();
    let mut rows = Vec::new();
    for i in (1000..2100).chain(0..2) {
        rows.push(
            store
                .journal_row(&format!("rec-{i:04}"))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    rows.sort_by_key(|r| r.seq);
    let leaves: Vec<_> = rows.iter().map(|r| r.leaf_index).collect();
    let expected: Vec<_> = (0..1102).map(Some).collect();
    assert_eq!(leaves, expected, "leaves follow journal order");
    let report = checkpoint_and_verify(&store).await;
    assert_eq!(report.problems, vec![]);
    assert_eq!(report.leaves, 1102);
}

/// Writes records `ids`, then integrates and checkpoints them.
async fn log_records(store: &Store, seq: &mut Sequencer, ids: std::ops::Range<usize>) {
    store
        .insert_records(&ids.map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    seq.checkpoint_now().await.unwrap().unwrap();
}

/// The stored leaves as a pure in-memory tree.
async fn stored_tree(store: &Store) -> hegui_ledger::MemoryTree {
    let mut tree = hegui_ledger::MemoryTree::new();
    for leaf in store.leaves(0, 100_000).await.unwrap() {
        tree.append_data(&leaf.data).unwrap();
    }
    tree
}

/// Proofs served through the store (upper levels from its in-memory cache, the rest from
/// storage: in place on SQLite, by query on PostgreSQL) equal the pure algorithm's over the
/// same leaves, at sizes below, at and across the cache's levels, for a tree first proven
/// at its full size, then at smaller (older) sizes, then grown.
async fn proofs_match_the_pure_algorithm(store: Store) {
    use hegui_ledger::{consistency_proof, inclusion_proof, root_at};
    let signer = Signer::generate("test.example/log").unwrap();
    let mut seq = sequencer(&store, &signer);
    let check = |store: Store, sizes: Vec<u64>| async move {
        let tree = stored_tree(&store).await;
        for &n in &sizes {
            assert_eq!(store.root_at(n).await.unwrap(), root_at(&tree, n).unwrap());
            for i in (0..n).step_by(7).chain([n - 1]) {
                assert_eq!(
                    store.inclusion_proof(i, n).await.unwrap(),
                    inclusion_proof(&tree, i, n).unwrap(),
                    "inclusion of {i} in {n}"
                );
            }
            for old in [1, n / 3, n - 1].into_iter().filter(|&o| o >= 1 && o < n) {
                assert_eq!(
                    store.consistency_proof(old, n).await.unwrap(),
                    consistency_proof(&tree, old, n).unwrap(),
                    "consistency {old} -> {n}"
                );
            }
        }
    };
    log_records(&store, &mut seq, 0..700).await;
    check(store.clone(), vec![700, 1, 15, 16, 17, 64, 257, 699]).await;
    // Levels 4.. of a 700-leaf tree: 43 + 21 + 10 + 5 + 2 + 1.
    assert_eq!(store.cached_nodes(), 82);
    log_records(&store, &mut seq, 700..1000).await;
    check(store.clone(), vec![1000, 700, 993]).await;
    assert_eq!(store.cached_nodes(), 62 + 31 + 15 + 7 + 3 + 1);
    // A tree larger than what is stored: the missing nodes are named, nothing is made up.
    let err = store
        .inclusion_proof(5, 5000)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("node"), "{err}");
}

on_both_backends!(
    sqlite_proofs_match_the_pure_algorithm,
    postgres_proofs_match_the_pure_algorithm,
    proofs_match_the_pure_algorithm
);

/// A cache fill larger than the inline limit runs in the background: the proof that starts
/// it is served from storage at once, and later proofs from the filled cache, equal.
async fn large_cache_fills_run_in_the_background(store: Store) {
    let signer = Signer::generate("test.example/log").unwrap();
    log_records(&store, &mut sequencer(&store, &signer), 0..300).await;
    let tree = stored_tree(&store).await;
    store.set_inline_fill_limit(0);
    let expected = hegui_ledger::inclusion_proof(&tree, 123, 300).unwrap();
    assert_eq!(store.inclusion_proof(123, 300).await.unwrap(), expected);
    if store.backend() == hegui_store::Backend::Sqlite {
        // On SQLite that proof never yielded to the (single-threaded) test runtime, so the
        // fill it started cannot have run yet: it was not done inline.
        assert_eq!(store.cached_nodes(), 0);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.cached_nodes() < 34 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Levels 4.. of a 300-leaf tree: 18 + 9 + 4 + 2 + 1.
    assert_eq!(store.cached_nodes(), 34);
    assert_eq!(store.inclusion_proof(123, 300).await.unwrap(), expected);
}

on_both_backends!(
    sqlite_large_cache_fills_run_in_the_background,
    postgres_large_cache_fills_run_in_the_background,
    large_cache_fills_run_in_the_background
);

/// Journal rows written before the log existed (no salt, no commitment) get both when the
/// sequencer integrates them, and the log verifies.
#[tokio::test]
async fn rows_from_before_the_log_are_salted_when_integrated() {
    let (url, _dir) = fresh_sqlite_url().unwrap();
    let store = Store::open(&url, 2).await.unwrap();
    store
        .insert_records(&(0..5).map(record).collect::<Vec<_>>())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE journal SET salt = NULL, commitment = NULL WHERE id IN ('rec-0001', 'rec-0003')",
    )
    .execute(&sqlx::SqlitePool::connect(&url).await.unwrap())
    .await
    .unwrap();
    let report = checkpoint_and_verify(&store).await;
    let row = store.journal_row("rec-0003").await.unwrap().unwrap();
    let (salt, record) = (row.salt.unwrap(), row.record.unwrap());
    let leaf = store.leaf_of_record("rec-0003").await.unwrap().unwrap();
    assert!(LeafEntry::decode(&leaf.data)
        .unwrap()
        .commits_to(&hex::decode(salt).unwrap(), record.as_bytes()));
    assert_eq!((report.problems, report.leaves), (vec![], 5));
}

/// Migration 0009 rebuilds SQLite's `ledger_leaves` (its leaf index becomes the rowid) and
/// drops an index: a log written under the schema before it (0008) keeps every leaf and
/// checkpoint, verifies after the upgrade, and takes new records with their leaves.
#[tokio::test]
async fn sqlite_upgrade_through_0009_keeps_the_log() {
    let (url, dir, store, signer) = sqlite_store_with_records(40, 2).await;
    let mut seq = sequencer(&store, &signer);
    let checkpoint = seq.checkpoint_now().await.unwrap().unwrap();
    let leaves = store.leaves(0, 1_000).await.unwrap();
    assert_eq!(leaves.len(), 40);
    drop(seq);
    store.close().await;
    drop(store);

    // Back to the schema an older hegui left: 0008 applied, 0009 not.
    let path = dir.path().join("hegui.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE INDEX journal_pending ON journal(leaf_index, seq);
         CREATE TABLE old_leaves (idx BIGINT PRIMARY KEY, record_id TEXT NOT NULL UNIQUE,
                                  data TEXT NOT NULL, hash TEXT NOT NULL);
         INSERT INTO old_leaves SELECT idx, record_id, data, hash FROM ledger_leaves;
         DROP TABLE ledger_leaves;
         ALTER TABLE old_leaves RENAME TO ledger_leaves;
         DELETE FROM _sqlx_migrations WHERE version = 9;",
    )
    .unwrap();
    drop(conn);

    let store = Store::open(&url, 2).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let schema: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'ledger_leaves'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        schema.contains("idx         INTEGER PRIMARY KEY"),
        "{schema}"
    );
    let pending_index: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'journal_pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending_index, 0);
    drop(conn);
    assert_eq!(store.leaves(0, 1_000).await.unwrap(), leaves);
    assert_eq!(
        store.latest_checkpoint().await.unwrap().unwrap(),
        checkpoint
    );
    let report = store.verify_ledger(Some(&signer.verifier())).await.unwrap();
    assert_eq!(report.problems, vec![]);

    let (writer, task) = hegui_store::RecordWriter::spawn_integrating(store.clone());
    for i in 40..60 {
        writer.write(record(i)).await.unwrap();
    }
    drop(writer);
    task.await.unwrap();
    assert_eq!(store.tree_size().await.unwrap(), 60);
    sequencer(&store, &signer)
        .checkpoint_now()
        .await
        .unwrap()
        .unwrap();
    let report = store.verify_ledger(Some(&signer.verifier())).await.unwrap();
    assert_eq!(report.problems, vec![]);
    assert_eq!(report.leaves, 60);
}
