//! Legal holds: what they may name and what they protect; and that the interaction index's
//! input review action is checked by `verify_ledger`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use hegui_ledger::Signer;
use hegui_store::testing::fresh_sqlite_url;
use hegui_store::{Sequencer, SequencerConfig, Store, StoreError};
use hegui_types::{kinds, InteractionRecord, JournalEntry};

fn record(i: usize, user: &str) -> InteractionRecord {
    common::record_of(i, user)
}

/// Integrates whatever is pending and signs a checkpoint.
async fn checkpoint(store: &Store, signer: &Signer) {
    let mut seq = Sequencer::new(
        store.clone(),
        Some(signer.clone()),
        SequencerConfig {
            batch: 16,
            origin: "test.example/log".into(),
            ..Default::default()
        },
    );
    seq.checkpoint_now().await.unwrap();
    seq.resign();
}

/// A hold on an id that does not exist would protect nothing while looking as if it did.
async fn holds_name_existing_targets(store: Store) {
    let e = store
        .add_hold(None, Some("does-not-exist"), "court order", "t")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::NotFound { kind: "record", id } if id == "does-not-exist"),
        "{e:?}"
    );
    let e = store
        .add_hold(Some("usr_nobody"), None, "court order", "t")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::NotFound { kind: "user", id } if id == "usr_nobody"),
        "{e:?}"
    );
    assert_eq!(store.holds().await.unwrap(), vec![], "nothing was placed");

    let user = store.create_user(None, "t").await.unwrap().id;
    store.insert_records(&[record(1, &user)]).await.unwrap();
    let by_user = store.add_hold(Some(&user), None, "court order", "t").await;
    let by_record = store
        .add_hold(None, Some("rec-0001"), "court order", "t")
        .await;
    assert!(by_user.is_ok() && by_record.is_ok());
    assert_eq!(store.holds().await.unwrap().len(), 2);
}

on_both_backends!(
    sqlite_holds_name_existing_targets,
    postgres_holds_name_existing_targets,
    holds_name_existing_targets
);

/// A user-wide hold covers the records about the user that are not interactions.
async fn user_hold_covers_journal_entries_about_the_user(store: Store) {
    let signer = Signer::generate("test.example/log").unwrap();
    let held = store.create_user(None, "t").await.unwrap().id;
    let other = store.create_user(None, "t").await.unwrap().id;
    let about = |user: &str, kind: &str| {
        JournalEntry::new(
            kind,
            "t",
            serde_json::json!({"user_id": user, "event": "suspended", "reason": "x"}),
        )
    };
    let event = about(&held, kinds::USER_EVENT);
    let check = JournalEntry::new(
        kinds::IDENTITY_CHECK,
        "t",
        serde_json::json!({"user_id": held, "method": "consent", "step": "give", "result": "given"}),
    );
    let unrelated = about(&other, kinds::USER_EVENT);
    for e in [&event, &check, &unrelated] {
        store.journal_append(e).await.unwrap();
    }
    checkpoint(&store, &signer).await;
    let hold = store
        .add_hold(Some(&held), None, "court order", "t")
        .await
        .unwrap();

    for id in [&event.id, &check.id] {
        let e = store
            .erase_record(id, "PIPL request", "t")
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Refused(m) if m.contains("legal hold")),
            "{id}: {e:?}"
        );
        assert!(store
            .journal_row(id)
            .await
            .unwrap()
            .unwrap()
            .record
            .is_some());
    }
    // The hold is on one user: records about others are erased as before.
    store
        .erase_record(&unrelated.id, "PIPL request", "t")
        .await
        .unwrap();

    store.release_hold(&hold.id, "lifted", "t").await.unwrap();
    store
        .erase_record(&event.id, "PIPL request", "t")
        .await
        .unwrap();
    assert!(store
        .journal_row(&event.id)
        .await
        .unwrap()
        .unwrap()
        .record
        .is_none());
}

on_both_backends!(
    sqlite_user_hold_covers_journal_entries_about_the_user,
    postgres_user_hold_covers_journal_entries_about_the_user,
    user_hold_covers_journal_entries_about_the_user
);

/// The per-user escalation reads `interactions.input_action`, so editing it must be caught.
#[tokio::test]
async fn an_edited_input_action_is_caught_by_verify() {
    let (url, dir) = fresh_sqlite_url().unwrap();
    let store = Store::open(&url, 2).await.unwrap();
    let signer = Signer::generate("test.example/log").unwrap();
    store
        .insert_records(&(0..8).map(|i| record(i, "usr_1")).collect::<Vec<_>>())
        .await
        .unwrap();
    checkpoint(&store, &signer).await;
    let report = store.verify_ledger(Some(&signer.verifier())).await.unwrap();
    assert_eq!(report.problems, vec![]);
    store.close().await;

    let raw = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("hegui.db").display()
    ))
    .await
    .unwrap();
    for sql in [
        "UPDATE interactions SET input_action = 'block' WHERE id = 'rec-0003'",
        "UPDATE interactions SET input_action = NULL WHERE id = 'rec-0006'",
    ] {
        let n = sqlx::query(sql)
            .execute(&raw)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 1, "{sql}");
    }
    raw.close().await;

    let store = Store::open(&url, 2).await.unwrap();
    let report = store.verify_ledger(Some(&signer.verifier())).await.unwrap();
    let blamed: Vec<&str> = report
        .problems
        .iter()
        .map(|p| p.location.as_str())
        .collect();
    assert_eq!(
        blamed,
        vec!["leaf 3 (record rec-0003)", "leaf 6 (record rec-0006)"],
        "{:#?}",
        report.problems
    );
    assert!(report.problems[0].message.contains("input review action"));
}
