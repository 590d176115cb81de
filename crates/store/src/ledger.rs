//! The Merkle log's storage: leaves, perfect-subtree nodes and signed checkpoints, and the
//! proofs computed from them (through `hegui-ledger`'s pure algorithms).

use hegui_ledger::{
    consistency_proof, inclusion_proof, root_at, Bundle, CompactRange, Hash, Verifier,
};
use sqlx::Row;

use crate::{Store, StoreError};

/// A checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed note text.
    pub note: String,
    /// When it was issued (Unix ms).
    pub created_at: i64,
}

/// One leaf as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLeaf {
    /// Leaf index.
    pub index: u64,
    /// The record the leaf names.
    pub record_id: String,
    /// Leaf data (`hegui-leaf/1`).
    pub data: Vec<u8>,
    /// `leaf_hash(data)` as stored.
    pub hash: Hash,
}

pub(crate) fn parse_hash(hex_str: &str, what: &str) -> Result<Hash, StoreError> {
    let bytes = hex::decode(hex_str).map_err(|e| StoreError::Corrupt {
        id: what.into(),
        detail: format!("hash is not hex: {e}"),
    })?;
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        id: what.into(),
        detail: "hash is not 32 bytes".into(),
    })
}

pub(crate) fn ledger_err(e: hegui_ledger::LedgerError) -> StoreError {
    StoreError::Ledger(e.to_string())
}

fn size_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Number of leaves in the log.
    pub async fn tree_size(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM ledger_leaves")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    /// The root of the log at `size` leaves.
    pub async fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        self.with_nodes(size, false, |s| root_at(s, size)).await
    }

    /// The audit path of leaf `index` in the tree of `size` leaves.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.with_nodes(size, true, |s| inclusion_proof(s, index, size))
            .await
    }

    /// The consistency proof from tree size `old` to `new`.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        self.with_nodes(new, true, |s| consistency_proof(s, old, new))
            .await
    }

    /// The compact range (right edge) of the tree at `size`, to keep appending from.
    pub(crate) async fn compact_range(&self, size: u64) -> Result<CompactRange, StoreError> {
        self.with_nodes(size, false, |s| CompactRange::from_source(s, size))
            .await
    }

    /// [`Store::compact_range`] in the calling thread, without a runtime: SQLite files only
    /// (their nodes are read in place).
    pub(crate) fn compact_range_now(&self, size: u64) -> Result<CompactRange, StoreError> {
        self.with_nodes_now(size, |s| CompactRange::from_source(s, size))
    }

    /// The leaf that names a record.
    pub async fn leaf_of_record(&self, record_id: &str) -> Result<Option<StoredLeaf>, StoreError> {
        let row = sqlx::query(
            "SELECT idx, record_id, data, hash FROM ledger_leaves WHERE record_id = $1",
        )
        .bind(record_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(leaf_from_row).transpose()
    }

    /// Leaves `[from, from + limit)`, in order.
    pub async fn leaves(&self, from: u64, limit: i64) -> Result<Vec<StoredLeaf>, StoreError> {
        let rows = sqlx::query(
            "SELECT idx, record_id, data, hash FROM ledger_leaves WHERE idx >= $1 ORDER BY idx LIMIT $2",
        )
        .bind(size_i64(from))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(leaf_from_row).collect()
    }

    /// The newest checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT size, root, note, created_at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    /// Every checkpoint, oldest first.
    pub async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT size, root, note, created_at FROM ledger_checkpoints ORDER BY size",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    /// A self-contained proof bundle for a record against the newest checkpoint (or the one
    /// of `tree_size`); with `disclose`, it carries the record's content and salt too.
    pub async fn proof_bundle(
        &self,
        record_id: &str,
        key: &Verifier,
        disclose: bool,
        tree_size: Option<u64>,
    ) -> Result<Bundle, StoreError> {
        let journal = self
            .journal_row(record_id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "record",
                id: record_id.into(),
            })?;
        let leaf = self.leaf_of_record(record_id).await?.ok_or_else(|| {
            StoreError::Ledger(format!(
                "record {record_id} is not in the log yet: the sequencer integrates new records within seconds; retry"
            ))
        })?;
        let checkpoint = match tree_size {
            Some(size) => self
                .checkpoints()
                .await?
                .into_iter()
                .find(|c| c.size == size)
                .ok_or_else(|| {
                    StoreError::Ledger(format!("no signed checkpoint of tree size {size}"))
                })?,
            None => self.latest_checkpoint().await?.ok_or_else(|| {
                StoreError::Ledger("no signed checkpoint yet; run `hegui ledger checkpoint`".into())
            })?,
        };
        if checkpoint.size <= leaf.index {
            return Err(StoreError::Ledger(format!(
                "leaf {} is not covered by the newest signed checkpoint (size {}) yet; retry after the next checkpoint",
                leaf.index, checkpoint.size
            )));
        }
        let proof = self.inclusion_proof(leaf.index, checkpoint.size).await?;
        let mut bundle = Bundle::new(
            leaf.index,
            checkpoint.size,
            &leaf.data,
            &proof,
            checkpoint.note,
            key,
        );
        if disclose {
            if let (Some(record), Some(salt)) = (journal.record, journal.salt) {
                bundle = bundle
                    .with_record(serde_json::Value::String(record))
                    .with_salt(&hex::decode(salt).unwrap_or_default());
            }
        }
        Ok(bundle)
    }

    /// Stores a checkpoint (a second one for the same size is ignored: same size, same root).
    pub async fn save_checkpoint(
        &self,
        size: u64,
        root: &Hash,
        note: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (size) DO NOTHING",
        )
        .bind(size_i64(size))
        .bind(hex::encode(root))
        .bind(note)
        .bind(crate::now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

fn leaf_from_row(row: &sqlx::any::AnyRow) -> Result<StoredLeaf, StoreError> {
    let idx: i64 = row.try_get("idx")?;
    let data: String = row.try_get("data")?;
    let hash: String = row.try_get("hash")?;
    Ok(StoredLeaf {
        index: idx as u64,
        record_id: row.try_get("record_id")?,
        data: data.into_bytes(),
        hash: parse_hash(&hash, &format!("leaf {idx}"))?,
    })
}

fn checkpoint_from_row(row: &sqlx::any::AnyRow) -> Result<StoredCheckpoint, StoreError> {
    let size: i64 = row.try_get("size")?;
    let root: String = row.try_get("root")?;
    Ok(StoredCheckpoint {
        size: size as u64,
        root: parse_hash(&root, &format!("checkpoint {size}"))?,
        note: row.try_get("note")?,
        created_at: row.try_get("created_at")?,
    })
}
