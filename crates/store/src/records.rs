use hegui_types::{kinds, InteractionRecord, Outcome};
use sqlx::any::AnyRow;
use sqlx::Row;

use sha2::{Digest, Sha256};

use std::borrow::Cow;

use crate::journal::{journal_insert_many, SaltedRow};
use crate::sequencer::PreparedLeaf;
use crate::{Store, StoreError};

/// Filters for listing records; every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    /// Only this pseudonymous user.
    pub user_id: Option<String>,
    /// Only this outcome.
    pub outcome: Option<Outcome>,
    /// Only this ProduceID.
    pub produce_id: Option<String>,
    /// Received at or after (Unix ms).
    pub since_ms: Option<i64>,
    /// Received before (Unix ms).
    pub until_ms: Option<i64>,
    /// At most this many, newest first (default 50).
    pub limit: Option<i64>,
}

/// A stored interaction with its position, hash and place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    /// Insertion order.
    pub seq: i64,
    /// The record id.
    pub id: String,
    /// SHA-256 of the canonical encoding as written.
    pub content_hash: String,
    /// The decoded record; `None` once its content was erased (retention or erasure request).
    pub record: Option<InteractionRecord>,
    /// When the content was erased.
    pub purged_at: Option<i64>,
    /// Index of its leaf in the Merkle log, once the sequencer has integrated it.
    pub leaf_index: Option<i64>,
}

const ROW_COLUMNS: &str = "i.seq, i.id, i.content_hash, j.record, j.purged_at, j.leaf_index \
     FROM interactions i JOIN journal j ON j.id = i.id";

fn row_to_record(row: &AnyRow) -> Result<RecordRow, StoreError> {
    let id: String = row.try_get("id")?;
    let text: Option<String> = row.try_get("record")?;
    let record = text
        .map(|t| {
            InteractionRecord::from_canonical(t.as_bytes()).map_err(|e| StoreError::Corrupt {
                id: id.clone(),
                detail: e.to_string(),
            })
        })
        .transpose()?;
    Ok(RecordRow {
        seq: row.try_get("seq")?,
        content_hash: row.try_get("content_hash")?,
        id,
        record,
        purged_at: row.try_get("purged_at")?,
        leaf_index: row.try_get("leaf_index")?,
    })
}

impl Store {
    /// Writes records in one transaction; when this returns `Ok` they are durable.
    ///
    /// The searchable fields go to `interactions`; the content, salted, goes to the journal
    /// that the sequencer integrates into the Merkle log.
    pub async fn insert_records(&self, records: &[InteractionRecord]) -> Result<(), StoreError> {
        let records: Vec<_> = records.iter().map(PreparedRecord::new).collect();
        let mut tx = self.begin_write().await?;
        insert_records_tx(&mut tx, &records).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lists records matching `q`, newest first.
    pub async fn list_records(&self, q: &RecordQuery) -> Result<Vec<RecordRow>, StoreError> {
        let limit = q.limit.unwrap_or(50).clamp(1, 100_000);
        let user = match (&q.user_id, self.activity_pool()) {
            (Some(u), Some(_)) => u,
            _ => return self.select_records(q, &[], None, limit).await,
        };
        // SQLite has no per-user index (`activity.rs`): the user's rows after the activity
        // file's mark, newest first, then those its runs list, newest first, a slice at a time.
        let (mark, mut seqs) = self.folded_seqs(user).await?;
        let mut out = self.select_records(q, &[], Some(mark), limit).await?;
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        for slice in seqs.chunks(500) {
            if out.len() as i64 >= limit {
                break;
            }
            let more = self
                .select_records(q, slice, None, limit - out.len() as i64)
                .await?;
            out.extend(more);
        }
        Ok(out)
    }

    /// Records matching `q`, newest first, at most `limit`; only those with a `seq` in
    /// `seqs` (unless empty) and after `after` (if given).
    async fn select_records(
        &self,
        q: &RecordQuery,
        seqs: &[i64],
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut sql = format!("SELECT {ROW_COLUMNS} WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if q.user_id.is_some() {
            sql += &format!(" AND i.user_id = ${}", next());
        }
        if q.outcome.is_some() {
            sql += &format!(" AND i.outcome = ${}", next());
        }
        if q.produce_id.is_some() {
            sql += &format!(" AND i.produce_id = ${}", next());
        }
        if q.since_ms.is_some() {
            sql += &format!(" AND i.received_at >= ${}", next());
        }
        if q.until_ms.is_some() {
            sql += &format!(" AND i.received_at < ${}", next());
        }
        if after.is_some() {
            sql += &format!(" AND i.seq > ${}", next());
        }
        if !seqs.is_empty() {
            let marks: Vec<String> = seqs.iter().map(|_| format!("${}", next())).collect();
            sql += &format!(" AND i.seq IN ({})", marks.join(", "));
        }
        sql += &format!(" ORDER BY i.seq DESC LIMIT ${}", next());
        let mut query = sqlx::query(&sql);
        if let Some(u) = &q.user_id {
            query = query.bind(u);
        }
        if let Some(o) = q.outcome {
            query = query.bind(o.as_str());
        }
        if let Some(p) = &q.produce_id {
            query = query.bind(p);
        }
        if let Some(s) = q.since_ms {
            query = query.bind(s);
        }
        if let Some(u) = q.until_ms {
            query = query.bind(u);
        }
        if let Some(a) = after {
            query = query.bind(a);
        }
        for s in seqs {
            query = query.bind(*s);
        }
        query = query.bind(limit);
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(row_to_record).collect()
    }

    /// One record by id.
    pub async fn record(&self, id: &str) -> Result<Option<RecordRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ROW_COLUMNS} WHERE i.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(row_to_record).transpose()
    }

    /// Number of stored records.
    pub async fn count_records(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM interactions")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// Inserts interaction records inside the caller's transaction, pending integration.
pub(crate) async fn insert_records_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    records: &[PreparedRecord],
) -> Result<(), StoreError> {
    let rows: Vec<_> = records.iter().map(PreparedRecord::row).collect();
    write_records(tx, records, &rows).await
}

/// An interaction record made ready to be written, by the task that asks for it rather
/// than by the one thread that writes every record: its canonical encoding, a fresh salt,
/// the commitment, its searchable columns and its Merkle leaf (which does not depend on
/// where the leaf goes in the tree).
#[derive(Debug)]
pub(crate) struct PreparedRecord {
    pub(crate) columns: InteractionColumns,
    /// The canonical encoding.
    pub(crate) content: Vec<u8>,
    /// Hex of 16 random bytes.
    pub(crate) salt: String,
    /// Hex SHA-256(salt || content).
    pub(crate) commitment: String,
    pub(crate) leaf: PreparedLeaf,
}

impl PreparedRecord {
    /// Encodes, salts and commits to `r`.
    pub(crate) fn new(r: &InteractionRecord) -> PreparedRecord {
        let content = r.canonical_bytes();
        let row = SaltedRow::new(kinds::INTERACTION, &r.id, r.received_at_ms, &content);
        let (salt, commitment) = (row.salt.into_owned(), row.commitment.into_owned());
        let leaf = PreparedLeaf::new(kinds::INTERACTION, &r.id, r.received_at_ms, &commitment);
        PreparedRecord {
            columns: InteractionColumns::of(r, &content),
            content,
            salt,
            commitment,
            leaf,
        }
    }

    /// Its journal row, not yet in the log.
    pub(crate) fn row(&self) -> SaltedRow<'_> {
        SaltedRow {
            kind: kinds::INTERACTION,
            id: &self.columns.id,
            at_ms: self.columns.received_at,
            content: &self.content,
            salt: Cow::Borrowed(&self.salt),
            commitment: Cow::Borrowed(&self.commitment),
            leaf_index: None,
        }
    }
}

/// Writes records' journal rows (`rows`, as given) and their searchable columns.
pub(crate) async fn write_records(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    records: &[PreparedRecord],
    rows: &[SaltedRow<'_>],
) -> Result<(), StoreError> {
    journal_insert_many(&mut *tx, rows).await?;
    // Multi-row statements: one round trip per 100 records, not one per record (9 parameters
    // each, well under every driver's limit).
    for chunk in records.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO interactions (id, received_at, user_id, model, outcome, status, produce_id, content_hash, input_action) VALUES ",
        );
        crate::sql::Marks::for_conn(tx).push_rows(&mut sql, chunk.len(), 9);
        let mut q = sqlx::query(&sql);
        for r in chunk {
            let c = &r.columns;
            q = q
                .bind(c.id.as_str())
                .bind(c.received_at)
                .bind(c.user_id.as_deref())
                .bind(c.model.as_deref())
                .bind(c.outcome)
                .bind(c.status)
                .bind(c.produce_id.as_deref())
                .bind(c.content_hash.as_str())
                .bind(c.input_action);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The searchable columns of a record's `interactions` row, in the order of the table's
/// insert statements (here and in `sqlite_writer.rs`).
#[derive(Debug)]
pub(crate) struct InteractionColumns {
    pub(crate) id: String,
    pub(crate) received_at: i64,
    pub(crate) user_id: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) outcome: &'static str,
    pub(crate) status: i64,
    pub(crate) produce_id: Option<String>,
    /// Hex SHA-256 of the canonical encoding.
    pub(crate) content_hash: String,
    pub(crate) input_action: Option<&'static str>,
}

impl InteractionColumns {
    /// The columns of `r`, whose canonical encoding is `bytes`.
    fn of(r: &InteractionRecord, bytes: &[u8]) -> Self {
        InteractionColumns {
            id: r.id.clone(),
            received_at: r.received_at_ms,
            user_id: r.user_id.clone(),
            model: r.model.clone(),
            outcome: r.outcome.as_str(),
            status: i64::from(r.status),
            produce_id: r.label.as_ref().map(|l| l.produce_id.clone()),
            content_hash: hex::encode(Sha256::digest(bytes)),
            input_action: input_action(r),
        }
    }
}

/// The strongest input-review action of a record, if its prompt was reviewed.
pub(crate) fn input_action(r: &InteractionRecord) -> Option<&'static str> {
    r.decisions
        .iter()
        .filter(|d| d.stage == hegui_types::Stage::Input)
        .map(|d| d.action)
        .max()
        .map(hegui_types::Action::as_str)
}

impl Store {
    /// Interactions per (day, outcome) since `since_ms`, days as Unix ms / 86 400 000 (UTC),
    /// for the console's traffic and blocked-rate charts.
    pub async fn outcome_counts_by_day(
        &self,
        since_ms: i64,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT received_at / 86400000 AS day, outcome, COUNT(*) AS n FROM interactions \
             WHERE received_at >= $1 GROUP BY received_at / 86400000, outcome ORDER BY day, outcome",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push((r.try_get("day")?, r.try_get("outcome")?, r.try_get("n")?));
        }
        Ok(out)
    }
}
