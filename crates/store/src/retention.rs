//! Retention: content is erased at the end of its retention (or on a granted erasure request),
//! unless a legal hold covers it; the erasure itself is recorded in the log. Leaves and
//! commitments stay, so every proof keeps verifying.

use std::collections::HashSet;

use hegui_types::{kinds, JournalEntry, JOURNAL_ENCODING_VERSION};
use sqlx::Row;

use crate::journal::journal_entry_insert;
use crate::users::new_id;
use crate::{now_ms, Store, StoreError};

/// How long content is kept, per kind.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Interaction content, in ms.
    pub interaction_ms: i64,
    /// Every other kind, in ms.
    pub records_ms: i64,
}

/// What a purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Records whose content and salt were erased.
    pub purged: Vec<String>,
    /// Records past retention kept because a legal hold covers them.
    pub held: u64,
    /// Ids of the `purge` records written to the log, one per batch of erased records (none
    /// when nothing was purged).
    pub purge_records: Vec<String>,
}

/// A legal hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    /// Hold id.
    pub id: String,
    /// Covers every record of this user.
    pub user_id: Option<String>,
    /// Covers this record.
    pub record_id: Option<String>,
    /// Why.
    pub reason: String,
    /// Who placed it.
    pub actor: String,
    /// When (Unix ms).
    pub created_at: i64,
    /// When released.
    pub released_at: Option<i64>,
}

/// Kinds whose content is never erased: the trail of erasures and of legal holds is what
/// shows that every other erasure was lawful (`verify` checks each erased record against the
/// `purge` record naming it). Neither holds content about a person beyond a pseudonymous id.
pub const NEVER_ERASED: [&str; 2] = [kinds::PURGE, kinds::LEGAL_HOLD];

/// Whether an active legal hold covers journal row `j` (joined with its interaction `i`).
const HELD_BY_A_HOLD: &str = "EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND \
     (h.record_id = j.id OR (h.user_id IS NOT NULL AND h.user_id = i.user_id)))";

/// Rows past retention: integrated, content present, of a kind that may be erased (none of
/// [`NEVER_ERASED`]).
fn past_retention() -> String {
    let kept: Vec<String> = NEVER_ERASED.iter().map(|k| format!("'{k}'")).collect();
    format!(
        "FROM journal j LEFT JOIN interactions i ON i.id = j.id \
         WHERE j.record IS NOT NULL AND j.leaf_index IS NOT NULL AND j.kind NOT IN ({}) \
           AND ((j.kind = 'interaction' AND j.created_at < $1) OR (j.kind <> 'interaction' AND j.created_at < $2))",
        kept.join(", ")
    )
}

/// Rows erased per transaction (and per `purge` record).
const PURGE_BATCH: i64 = 10_000;

impl Store {
    /// Erases the content of every record past its retention (skipping held ones) and records
    /// the erasure, in batches of [`PURGE_BATCH`] records, each with its own `purge` record,
    /// until none is left. With `dry_run`, only reports what would be erased.
    pub async fn purge_expired(
        &self,
        now: i64,
        retention: Retention,
        actor: &str,
        dry_run: bool,
    ) -> Result<PurgeReport, StoreError> {
        self.purge_in_batches(now, retention, actor, dry_run, PURGE_BATCH)
            .await
    }

    async fn purge_in_batches(
        &self,
        now: i64,
        retention: Retention,
        actor: &str,
        dry_run: bool,
        batch: i64,
    ) -> Result<PurgeReport, StoreError> {
        let interaction_before = now.saturating_sub(retention.interaction_ms);
        let records_before = now.saturating_sub(retention.records_ms);
        let past_retention = past_retention();
        let held = sqlx::query(&format!(
            "SELECT COUNT(*) AS n {past_retention} AND {HELD_BY_A_HOLD}"
        ))
        .bind(interaction_before)
        .bind(records_before)
        .fetch_one(self.pool())
        .await?;
        let mut report = PurgeReport {
            held: u64::try_from(held.try_get::<i64, _>("n")?).unwrap_or(0),
            ..PurgeReport::default()
        };
        // A user hold also covers the records whose body names the user (`journal_subject`),
        // which SQL shared by both backends cannot read: those are skipped here.
        let held_users: HashSet<String> = sqlx::query(
            "SELECT user_id FROM legal_holds WHERE released_at IS NULL AND user_id IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| r.try_get("user_id"))
        .collect::<Result<_, _>>()?;
        // Held rows are left out (by the query, or here), so however many there are, every
        // batch makes progress; `seq` pages on (a dry run erases nothing to page past).
        let mut after = 0_i64;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT j.seq, j.id, j.kind, \
                 (CASE WHEN j.kind = 'interaction' THEN NULL ELSE j.record END) AS body \
                 {past_retention} AND NOT {HELD_BY_A_HOLD} AND j.seq > $3 ORDER BY j.seq LIMIT $4"
            ))
            .bind(interaction_before)
            .bind(records_before)
            .bind(after)
            .bind(batch)
            .fetch_all(self.pool())
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("seq")?;
            let mut ids = Vec::with_capacity(rows.len());
            for r in &rows {
                let id: String = r.try_get("id")?;
                let kind: String = r.try_get("kind")?;
                let body: Option<String> = r.try_get("body")?;
                match journal_subject(&id, &kind, body.as_deref())? {
                    Some(user) if held_users.contains(&user) => report.held += 1,
                    _ => ids.push(id),
                }
            }
            if !dry_run && !ids.is_empty() {
                let purge = self
                    .erase_content(&ids, "retention period ended", actor)
                    .await?;
                report.purge_records.push(purge);
            }
            report.purged.extend(ids);
            if (rows.len() as i64) < batch {
                break;
            }
        }
        Ok(report)
    }

    /// Erases one record's content on a granted erasure request (PIPL Art. 47). Refused while
    /// a legal hold covers it or before it is in the log.
    pub async fn erase_record(
        &self,
        record_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<String, StoreError> {
        let row = self
            .journal_row(record_id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "record",
                id: record_id.into(),
            })?;
        if row.record.is_none() {
            return Err(StoreError::Refused(format!(
                "record {record_id} was already erased"
            )));
        }
        if NEVER_ERASED.contains(&row.kind.as_str()) {
            return Err(StoreError::Refused(format!(
                "record {record_id} is a {} record, part of the trail that shows erasures and \
                 legal holds were lawful; it is kept and never erased",
                row.kind
            )));
        }
        if row.leaf_index.is_none() {
            return Err(StoreError::Refused(format!(
                "record {record_id} is not in the log yet; erase it after the next checkpoint so its proof survives"
            )));
        }
        let held = sqlx::query(
            "SELECT COUNT(*) AS n FROM legal_holds h LEFT JOIN interactions i ON i.id = $1 \
             WHERE h.released_at IS NULL AND (h.record_id = $2 OR (h.user_id IS NOT NULL AND h.user_id = i.user_id))",
        )
        .bind(record_id)
        .bind(record_id)
        .fetch_one(self.pool())
        .await?;
        if held.try_get::<i64, _>("n")? > 0 {
            return Err(StoreError::Refused(format!(
                "record {record_id} is under a legal hold; release the hold first (`hegui holds list`)"
            )));
        }
        if let Some(user) = journal_subject(&row.id, &row.kind, row.record.as_deref())? {
            let held = sqlx::query(
                "SELECT COUNT(*) AS n FROM legal_holds WHERE released_at IS NULL AND user_id = $1",
            )
            .bind(&user)
            .fetch_one(self.pool())
            .await?;
            if held.try_get::<i64, _>("n")? > 0 {
                return Err(StoreError::Refused(format!(
                    "record {record_id} is about user {user}, who is under a legal hold; release the hold first (`hegui holds list`)"
                )));
            }
        }
        self.erase_content(
            &[record_id.to_string()],
            &format!("erasure request: {reason}"),
            actor,
        )
        .await
    }

    async fn erase_content(
        &self,
        ids: &[String],
        reason: &str,
        actor: &str,
    ) -> Result<String, StoreError> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        for id in ids {
            sqlx::query(
                "UPDATE journal SET record = NULL, salt = NULL, purged_at = $1, purge_reason = $2 \
                 WHERE id = $3 AND record IS NOT NULL",
            )
            .bind(now)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let entry = JournalEntry {
            v: JOURNAL_ENCODING_VERSION,
            kind: kinds::PURGE.into(),
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: now,
            actor: actor.into(),
            body: serde_json::json!({"reason": reason, "record_ids": ids}),
        };
        journal_entry_insert(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(entry.id)
    }

    /// Places a legal hold on a user's records or on one record.
    pub async fn add_hold(
        &self,
        user_id: Option<&str>,
        record_id: Option<&str>,
        reason: &str,
        actor: &str,
    ) -> Result<LegalHold, StoreError> {
        if user_id.is_none() == record_id.is_none() {
            return Err(StoreError::Refused(
                "a hold covers either a user or a record".into(),
            ));
        }
        let hold = LegalHold {
            id: new_id("hold"),
            user_id: user_id.map(String::from),
            record_id: record_id.map(String::from),
            reason: reason.into(),
            actor: actor.into(),
            created_at: now_ms(),
            released_at: None,
        };
        let mut tx = self.begin_write().await?;
        // A hold on a mistyped id would protect nothing while looking like it did, so the
        // target must exist. Checked in the write transaction so it cannot vanish in between.
        // Users are never deleted from the table (only marked), so a closed account can still
        // be held.
        let (kind, id, sql) = match (user_id, record_id) {
            (Some(u), _) => ("user", u, "SELECT COUNT(*) AS n FROM users WHERE id = $1"),
            (_, Some(r)) => (
                "record",
                r,
                "SELECT COUNT(*) AS n FROM journal WHERE id = $1",
            ),
            (None, None) => {
                return Err(StoreError::Refused(
                    "a hold covers either a user or a record".into(),
                ))
            }
        };
        let found = sqlx::query(sql).bind(id).fetch_one(&mut *tx).await?;
        if found.try_get::<i64, _>("n")? == 0 {
            return Err(StoreError::NotFound {
                kind,
                id: id.into(),
            });
        }
        sqlx::query(
            "INSERT INTO legal_holds (id, user_id, record_id, reason, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&hold.id)
        .bind(user_id)
        .bind(record_id)
        .bind(reason)
        .bind(actor)
        .bind(hold.created_at)
        .execute(&mut *tx)
        .await?;
        hold_record(&mut tx, &hold, false, reason).await?;
        tx.commit().await?;
        Ok(hold)
    }

    /// Releases a hold.
    pub async fn release_hold(
        &self,
        id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<LegalHold, StoreError> {
        let mut hold = self
            .holds()
            .await?
            .into_iter()
            .find(|h| h.id == id)
            .ok_or_else(|| StoreError::NotFound {
                kind: "hold",
                id: id.into(),
            })?;
        if hold.released_at.is_some() {
            return Err(StoreError::Refused(format!(
                "hold {id} is already released"
            )));
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE legal_holds SET released_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        hold.released_at = Some(now);
        hold.actor = actor.into();
        hold_record(&mut tx, &hold, true, reason).await?;
        tx.commit().await?;
        Ok(hold)
    }

    /// Every hold, newest first.
    pub async fn holds(&self) -> Result<Vec<LegalHold>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, record_id, reason, actor, created_at, released_at FROM legal_holds ORDER BY created_at DESC, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LegalHold {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    record_id: r.try_get("record_id")?,
                    reason: r.try_get("reason")?,
                    actor: r.try_get("actor")?,
                    created_at: r.try_get("created_at")?,
                    released_at: r.try_get("released_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

async fn hold_record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    hold: &LegalHold,
    released: bool,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let entry = JournalEntry {
        v: JOURNAL_ENCODING_VERSION,
        kind: kinds::LEGAL_HOLD.into(),
        id: uuid::Uuid::now_v7().to_string(),
        at_ms: hold.released_at.unwrap_or(hold.created_at),
        actor: hold.actor.clone(),
        body: serde_json::json!({
            "hold_id": hold.id, "user_id": hold.user_id, "record_id": hold.record_id,
            "reason": reason, "released": released,
        }),
    };
    journal_entry_insert(tx, &entry).await
}

/// The user a non-interaction record is about, read from its body's `user_id`, so that a
/// user-wide hold also covers the records about that user that are not interactions
/// (an interaction's user is in its index row, which the hold queries read).
///
/// Kinds whose body carries `user_id`: `user_event` (operator actions on the account),
/// `identity_check` (real-name results, and separate consent given or withdrawn, which is
/// recorded with method `consent`), and `legal_hold` (for user-wide holds). `complaint`,
/// `complaint_step`, `staff_action`, `incident`, `policy_change`, `purge` and
/// `training_audit` name no user in their body (a complaint names its target, a
/// staff action its target id), so only a record hold protects them.
fn journal_subject(
    id: &str,
    kind: &str,
    content: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let Some(content) = content else {
        return Ok(None);
    };
    if kind == kinds::INTERACTION {
        return Ok(None);
    }
    // Undecodable content is refused rather than erased: it might be about a held user.
    let entry: JournalEntry = serde_json::from_str(content).map_err(|e| StoreError::Corrupt {
        id: id.to_string(),
        detail: e.to_string(),
    })?;
    Ok(entry
        .body
        .get("user_id")
        .and_then(serde_json::Value::as_str)
        .map(String::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize, user: &str) -> hegui_types::InteractionRecord {
        let r: hegui_types::InteractionRecord = serde_json::from_value(serde_json::json!({
            "v": hegui_types::RECORD_ENCODING_VERSION, "id": format!("rec-{i:04}"),
            "received_at_ms": 1000 + i as i64, "user_id": user, "key_id": null,
            "endpoint": "chat.completions", "model": "m", "upstream_model": "m", "stream": false,
            "outcome": "served", "status": 200, "error_code": null, "error": null,
            "input": [], "output": "x", "finish_reason": "stop", "decisions": [], "label": null,
            "usage": null, "latency_us": 1, "upstream_us": null
        }))
        .unwrap();
        r
    }

    /// Held rows ahead of the expired ones never stall the purge, and it goes on batch after
    /// batch until nothing expired is left, one `purge` record per batch.
    #[tokio::test]
    async fn held_rows_do_not_stall_the_purge_and_batches_go_on() {
        let (url, _dir) = crate::testing::fresh_sqlite_url().unwrap();
        let store = Store::open(&url, 2).await.unwrap();
        let held = store.create_user(None, "t").await.unwrap().id;
        let mut records: Vec<_> = (0..5).map(|i| record(i, &held)).collect();
        records.extend((5..12).map(|i| record(i, "usr_free")));
        store.insert_records(&records).await.unwrap();
        // Records about a user that are not interactions: the user hold covers them too.
        let event = |user: &str| JournalEntry {
            v: JOURNAL_ENCODING_VERSION,
            kind: kinds::USER_EVENT.into(),
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: 1500,
            actor: "t".into(),
            body: serde_json::json!({"user_id": user, "event": "suspended", "reason": "x"}),
        };
        let held_event = event(&held);
        store.journal_append(&held_event).await.unwrap();
        store.journal_append(&event("usr_free")).await.unwrap();
        let signer = hegui_ledger::Signer::generate("test.example/log").unwrap();
        crate::Sequencer::new(store.clone(), Some(signer), Default::default())
            .checkpoint_now()
            .await
            .unwrap();
        store
            .add_hold(Some(&held), None, "court order", "t")
            .await
            .unwrap();
        let retention = Retention {
            interaction_ms: 1,
            records_ms: 1,
        };
        let r = store
            .purge_in_batches(10_000_000, retention, "t", false, 3)
            .await
            .unwrap();
        assert_eq!((r.purged.len(), r.held, r.purge_records.len()), (8, 6, 3));
        assert!(!r.purged.contains(&held_event.id));
        let again = store
            .purge_in_batches(10_000_000, retention, "t", false, 3)
            .await
            .unwrap();
        assert_eq!((again.purged.len(), again.held), (0, 6));
        // The trail of erasures is never erased itself.
        let e = store
            .erase_record(&r.purge_records[0], "x", "t")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("never erased"), "{e}");
    }
}
