//! What the inspection export (`hegui inspect export`, format in `crates/inspect`) reads: the
//! leaf span of a period, leaves with their journal rows and inclusion proofs by index range,
//! the checkpoints issued in a period and the `purge` records behind erasures.

use std::collections::HashMap;

use hegui_ledger::{inclusion_proof, nodes_needed, Hash};
use sqlx::Row;

use crate::journal::{journal_row, JournalRow, JOURNAL_COLUMNS};
use crate::ledger::{StoredCheckpoint, StoredLeaf};
use crate::{Store, StoreError};

/// One leaf to export: the leaf, its journal row (content, salt, erasure) and its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    /// The leaf as stored.
    pub leaf: StoredLeaf,
    /// The journal row whose leaf it is (`None` only if storage is inconsistent).
    pub journal: Option<JournalRow>,
    /// Inclusion proof of the leaf in the tree of the requested size.
    pub proof: Vec<Hash>,
}

fn idx(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn ledger_err(e: hegui_ledger::LedgerError) -> StoreError {
    StoreError::Ledger(e.to_string())
}

impl Store {
    /// The lowest and highest leaf index of the records created in `[from_ms, to_ms)` among
    /// the first `tree_size` leaves; `None` when there is none.
    pub async fn journal_leaf_span(
        &self,
        from_ms: i64,
        to_ms: i64,
        tree_size: u64,
    ) -> Result<Option<(u64, u64)>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(leaf_index) AS lo, MAX(leaf_index) AS hi FROM journal \
             WHERE created_at >= $1 AND created_at < $2 AND leaf_index IS NOT NULL AND leaf_index < $3",
        )
        .bind(from_ms)
        .bind(to_ms)
        .bind(idx(tree_size))
        .fetch_one(self.pool())
        .await?;
        let lo: Option<i64> = row.try_get("lo")?;
        let hi: Option<i64> = row.try_get("hi")?;
        Ok(match (lo, hi) {
            (Some(lo), Some(hi)) if lo >= 0 && hi >= lo => Some((lo as u64, hi as u64)),
            _ => None,
        })
    }

    /// How many records created in `[from_ms, to_ms)` are not among the first `tree_size`
    /// leaves (still pending, or integrated after that checkpoint).
    pub async fn journal_uncovered(
        &self,
        from_ms: i64,
        to_ms: i64,
        tree_size: u64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM journal WHERE created_at >= $1 AND created_at < $2 \
             AND (leaf_index IS NULL OR leaf_index >= $3)",
        )
        .bind(from_ms)
        .bind(to_ms)
        .bind(idx(tree_size))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Leaves `[first, end)` in index order, each with its journal row and its inclusion proof
    /// in the tree of `tree_size` leaves (the nodes for all proofs are fetched together).
    pub async fn export_leaves(
        &self,
        first: u64,
        end: u64,
        tree_size: u64,
    ) -> Result<Vec<ExportRow>, StoreError> {
        if end <= first {
            return Ok(Vec::new());
        }
        let end = end.min(tree_size);
        let leaves = self.leaves(first, idx(end.saturating_sub(first))).await?;
        let rows = sqlx::query(&format!(
            "SELECT {JOURNAL_COLUMNS} FROM journal WHERE leaf_index >= $1 AND leaf_index < $2"
        ))
        .bind(idx(first))
        .bind(idx(end))
        .fetch_all(self.pool())
        .await?;
        let mut journal: HashMap<i64, JournalRow> = HashMap::with_capacity(rows.len());
        for r in &rows {
            let j = journal_row(r)?;
            if let Some(i) = j.leaf_index {
                journal.insert(i, j);
            }
        }
        let indexes: Vec<u64> = leaves.iter().map(|l| l.index).collect();
        let needed = nodes_needed(|s| {
            for &i in &indexes {
                inclusion_proof(s, i, tree_size)?;
            }
            Ok(())
        })
        .map_err(ledger_err)?;
        self.fill_upper(tree_size).await?;
        let nodes = self.fetch_nodes(&needed).await?;
        leaves
            .into_iter()
            .map(|leaf| {
                let proof = inclusion_proof(&nodes, leaf.index, tree_size).map_err(ledger_err)?;
                Ok(ExportRow {
                    journal: journal.remove(&idx(leaf.index)),
                    leaf,
                    proof,
                })
            })
            .collect()
    }

    /// Checkpoints issued in `[from_ms, to_ms)`, oldest first.
    pub async fn checkpoints_between(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT size, root, note, created_at FROM ledger_checkpoints \
             WHERE created_at >= $1 AND created_at < $2 ORDER BY size",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let size: i64 = r.try_get("size")?;
                let root: String = r.try_get("root")?;
                Ok(StoredCheckpoint {
                    size: size as u64,
                    root: crate::ledger::parse_hash(&root, &format!("checkpoint {size}"))?,
                    note: r.try_get("note")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// The `purge` records created at any of `times` (an erased row's `purged_at` is its
    /// purge record's time) among the first `tree_size` leaves, with their proofs.
    pub async fn purge_records_at(
        &self,
        times: &[i64],
        tree_size: u64,
    ) -> Result<Vec<ExportRow>, StoreError> {
        let mut out = Vec::new();
        for chunk in times.chunks(200) {
            let mut marks = crate::sql::Marks::new(self.backend());
            let mut sql = format!(
                "SELECT {JOURNAL_COLUMNS} FROM journal WHERE kind = 'purge' AND leaf_index IS NOT NULL \
                 AND leaf_index < "
            );
            marks.push(&mut sql);
            sql.push_str(" AND created_at IN (");
            marks.push_list(&mut sql, chunk.len());
            sql.push_str(") ORDER BY leaf_index");
            let mut q = sqlx::query(&sql).bind(idx(tree_size));
            for t in chunk {
                q = q.bind(*t);
            }
            for r in q.fetch_all(self.pool()).await? {
                let j = journal_row(&r)?;
                let Some(index) = j.leaf_index else { continue };
                let mut rows = self
                    .export_leaves(index as u64, index as u64 + 1, tree_size)
                    .await?;
                if let Some(mut row) = rows.pop() {
                    row.journal = Some(j);
                    out.push(row);
                }
            }
        }
        Ok(out)
    }
}
