//! The journal: every compliance record of every kind, salted, in one total order, waiting
//! for (or integrated into) the Merkle log.

use std::borrow::Cow;

use hegui_types::JournalEntry;
use rand::RngCore;
use sqlx::Row;

use crate::sql::Marks;
use crate::{Store, StoreError};

/// A fresh 16-byte salt.
pub(crate) fn new_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

/// A record's content ready for the journal: with a fresh salt, its commitment and, when it
/// is integrated in the same transaction, its leaf index.
#[derive(Debug)]
pub(crate) struct SaltedRow<'a> {
    pub(crate) kind: &'a str,
    pub(crate) id: &'a str,
    pub(crate) at_ms: i64,
    pub(crate) content: &'a [u8],
    /// Hex of 16 random bytes.
    pub(crate) salt: Cow<'a, str>,
    /// Hex SHA-256(salt || content).
    pub(crate) commitment: Cow<'a, str>,
    pub(crate) leaf_index: Option<u64>,
}

impl<'a> SaltedRow<'a> {
    /// Salts `content` afresh and commits to it; not yet in the log.
    pub(crate) fn new(kind: &'a str, id: &'a str, at_ms: i64, content: &'a [u8]) -> Self {
        let salt = new_salt();
        SaltedRow {
            kind,
            id,
            at_ms,
            content,
            salt: Cow::Owned(hex::encode(salt)),
            commitment: Cow::Owned(hex::encode(hegui_ledger::commitment(&salt, content))),
            leaf_index: None,
        }
    }
}

/// Inserts a record's content with a fresh salt and its commitment.
pub(crate) async fn journal_insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    id: &str,
    at_ms: i64,
    content: &[u8],
) -> Result<(), sqlx::Error> {
    journal_insert_many(tx, &[SaltedRow::new(kind, id, at_ms, content)]).await
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

/// Inserts many salted rows in few statements.
pub(crate) async fn journal_insert_many(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &[SaltedRow<'_>],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO journal (id, kind, created_at, record, salt, commitment, leaf_index) VALUES ",
        );
        Marks::for_conn(tx).push_rows(&mut sql, chunk.len(), 7);
        // Canonical encodings are UTF-8 (JSON); the column is text on both backends.
        let texts: Vec<_> = chunk
            .iter()
            .map(|row| String::from_utf8_lossy(row.content))
            .collect();
        let mut q = sqlx::query(&sql);
        for (row, text) in chunk.iter().zip(&texts) {
            q = q
                .bind(row.id)
                .bind(row.kind)
                .bind(row.at_ms)
                .bind(text.as_ref())
                .bind(row.salt.as_ref())
                .bind(row.commitment.as_ref())
                .bind(row.leaf_index.map(|i| i as i64));
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
