//! The journal: every compliance record of every kind, salted, in one total order, waiting
//! for (or integrated into) the Merkle log.

use hegui_types::JournalEntry;
use rand::RngCore;
use sqlx::Row;

use crate::sql::Marks;
use crate::{Store, StoreError};

/// A fresh 16-byte salt, hex.
pub(crate) fn new_salt() -> String {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    hex::encode(salt)
}

/// Inserts a record's content with a fresh salt and its commitment.
pub(crate) async fn journal_insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    id: &str,
    at_ms: i64,
    content: &[u8],
) -> Result<(), sqlx::Error> {
    journal_insert_many(tx, &[(kind, id, at_ms, content)]).await
}

/// Inserts a non-interaction record (its canonical envelope) inside the caller's transaction,
/// so the record and the change it describes commit together.
pub(crate) async fn journal_entry_insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entry: &JournalEntry,
) -> Result<(), sqlx::Error> {
    journal_insert(
        tx,
        &entry.kind,
        &entry.id,
        entry.at_ms,
        &entry.canonical_bytes(),
    )
    .await
}

/// Inserts many records' content, each with a fresh salt, in few statements.
pub(crate) async fn journal_insert_many(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &[(&str, &str, i64, &[u8])],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO journal (id, kind, created_at, record, salt, commitment) VALUES ",
        );
        Marks::for_conn(tx).push_rows(&mut sql, chunk.len(), 6);
        let mut q = sqlx::query(&sql);
        for (kind, id, at_ms, content) in chunk {
            let salt = new_salt();
            let salt_bytes = hex::decode(&salt).unwrap_or_default();
            let commitment = hex::encode(hegui_ledger::commitment(&salt_bytes, content));
            q = q
                .bind(id.to_string())
                .bind(kind.to_string())
                .bind(*at_ms)
                .bind(String::from_utf8_lossy(content).into_owned())
                .bind(salt)
                .bind(commitment);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A journal row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    /// Total order of writing.
    pub seq: i64,
    /// Record id.
    pub id: String,
    /// Record kind.
    pub kind: String,
    /// Creation time (Unix ms).
    pub created_at: i64,
    /// Canonical content, `None` once erased.
    pub record: Option<String>,
    /// Salt (hex), `None` once erased.
    pub salt: Option<String>,
    /// Hex SHA-256(salt || record); kept after erasure.
    pub commitment: Option<String>,
    /// Leaf index once integrated.
    pub leaf_index: Option<i64>,
    /// When the content was erased.
    pub purged_at: Option<i64>,
    /// Why it was erased.
    pub purge_reason: Option<String>,
}

pub(crate) const JOURNAL_COLUMNS: &str =
    "seq, id, kind, created_at, record, salt, commitment, leaf_index, purged_at, purge_reason";

pub(crate) fn journal_row(r: &sqlx::any::AnyRow) -> Result<JournalRow, sqlx::Error> {
    Ok(JournalRow {
        seq: r.try_get("seq")?,
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        created_at: r.try_get("created_at")?,
        record: r.try_get("record")?,
        salt: r.try_get("salt")?,
        commitment: r.try_get("commitment")?,
        leaf_index: r.try_get("leaf_index")?,
        purged_at: r.try_get("purged_at")?,
        purge_reason: r.try_get("purge_reason")?,
    })
}

impl Store {
    /// Appends a non-interaction compliance record (user events, policy changes, complaints,
    /// staff actions, identity results, ...); durable when this returns.
    pub async fn journal_append(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        journal_entry_insert(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One journal row by record id.
    pub async fn journal_row(&self, id: &str) -> Result<Option<JournalRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {JOURNAL_COLUMNS} FROM journal WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(journal_row).transpose()?)
    }

    /// Journal rows of one kind, newest first.
    pub async fn journal_of_kind(
        &self,
        kind: &str,
        limit: i64,
    ) -> Result<Vec<JournalRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOURNAL_COLUMNS} FROM journal WHERE kind = $1 ORDER BY seq DESC LIMIT $2"
        ))
        .bind(kind)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(journal_row).collect::<Result<_, _>>()?)
    }
}
