//! `hegui ledger verify`: recompute everything from what is stored and name every record
//! that does not add up.

use std::collections::HashMap;

use hegui_ledger::{leaf_hash, Checkpoint, CompactRange, Hash, LeafEntry, Verifier};
use hegui_types::{kinds, InteractionRecord};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::journal::{journal_row, JournalRow, JOURNAL_COLUMNS};
use crate::ledger::parse_hash;
use crate::records::input_action;
use crate::{Store, StoreError};

/// One thing that does not add up, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `leaf 12 (record …)`, `checkpoint 40`, `node (3, 5)`, …
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// What `verify_ledger` checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Leaves recomputed.
    pub leaves: u64,
    /// Records whose content was checked against their leaf.
    pub records_checked: u64,
    /// Records whose content has been erased (their leaves still verify).
    pub purged: u64,
    /// Records written but not yet integrated into the log.
    pub pending: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Every problem found; empty means the log verifies.
    pub problems: Vec<Problem>,
}

const PAGE: i64 = 5000;

impl Store {
    /// Recomputes every leaf from the stored records and the whole tree from the leaves,
    /// compares every stored node, and checks every checkpoint's root and (when `verifier` is
    /// given) signature. Keeps going after a problem, so the report names all of them.
    pub async fn verify_ledger(
        &self,
        verifier: Option<&Verifier>,
    ) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        let problem = |report: &mut VerifyReport, location: String, message: String| {
            report.problems.push(Problem { location, message });
        };
        let checkpoints = self.checkpoints().await?;
        let mut by_size: HashMap<u64, Vec<&crate::StoredCheckpoint>> = HashMap::new();
        for c in &checkpoints {
            by_size.entry(c.size).or_default().push(c);
        }
        let mut range = CompactRange::new();
        let mut next: u64 = 0;
        loop {
            let leaves = self.leaves(next, PAGE).await?;
            if leaves.is_empty() {
                break;
            }
            let first = next;
            let rows = sqlx::query(&format!(
                "SELECT {JOURNAL_COLUMNS} FROM journal WHERE leaf_index >= $1 AND leaf_index < $2"
            ))
            .bind(first as i64)
            .bind((first + leaves.len() as u64) as i64)
            .fetch_all(self.pool())
            .await?;
            let mut journal: HashMap<i64, JournalRow> = HashMap::new();
            for r in &rows {
                let j = journal_row(r)?;
                if let Some(i) = j.leaf_index {
                    journal.insert(i, j);
                }
            }
            let index_rows = sqlx::query(
                "SELECT i.id, i.received_at, i.user_id, i.model, i.outcome, i.status, i.produce_id, i.content_hash, i.input_action \
                 FROM interactions i JOIN journal j ON j.id = i.id WHERE j.leaf_index >= $1 AND j.leaf_index < $2",
            )
            .bind(first as i64)
            .bind((first + leaves.len() as u64) as i64)
            .fetch_all(self.pool())
            .await?;
            let mut index: HashMap<String, sqlx::any::AnyRow> = HashMap::new();
            for r in index_rows {
                index.insert(r.try_get("id")?, r);
            }
            let mut computed_nodes: Vec<(u8, u64, Hash)> = Vec::new();
            for leaf in &leaves {
                let at = format!("leaf {} (record {})", leaf.index, leaf.record_id);
                if leaf.index != next {
                    problem(
                        &mut report,
                        at.clone(),
                        format!("expected leaf index {next}: the leaf sequence has a gap"),
                    );
                }
                let hash = leaf_hash(&leaf.data);
                if hash != leaf.hash {
                    problem(
                        &mut report,
                        at.clone(),
                        "stored leaf hash does not match the leaf data".into(),
                    );
                }
                match LeafEntry::decode(&leaf.data) {
                    Err(e) => problem(
                        &mut report,
                        at.clone(),
                        format!("leaf data is not a hegui-leaf/1 entry: {e}"),
                    ),
                    Ok(entry) => {
                        if entry.id != leaf.record_id {
                            problem(
                                &mut report,
                                at.clone(),
                                format!(
                                    "leaf names record {} but is stored for {}",
                                    entry.id, leaf.record_id
                                ),
                            );
                        }
                        match journal.get(&(leaf.index as i64)) {
                            None => problem(
                                &mut report,
                                at.clone(),
                                "no journal record claims this leaf".into(),
                            ),
                            Some(j) => check_record(&mut report, &at, &entry, j, index.get(&j.id)),
                        }
                    }
                }
                range
                    .append_with(hash, |level, idx, h| computed_nodes.push((level, idx, *h)))
                    .map_err(|e| StoreError::Ledger(e.to_string()))?;
                next += 1;
                report.leaves += 1;
                if let Some(cs) = by_size.get(&range.size()) {
                    let root = range.root();
                    for c in cs {
                        check_checkpoint(&mut report, c, &root, verifier);
                    }
                }
            }
            // Every stored node of this stretch must equal the recomputed one.
            let mut stored: HashMap<(u8, u64), Hash> = HashMap::new();
            let max_level = computed_nodes.iter().map(|n| n.0).max().unwrap_or(0);
            for level in 0..=max_level {
                let lo = first >> level;
                let hi = (next >> level) + 1;
                let rows = sqlx::query("SELECT idx, hash FROM ledger_nodes WHERE level = $1 AND idx >= $2 AND idx < $3")
                    .bind(i64::from(level))
                    .bind(lo as i64)
                    .bind(hi as i64)
                    .fetch_all(self.pool())
                    .await?;
                for r in rows {
                    let idx: i64 = r.try_get("idx")?;
                    let h: String = r.try_get("hash")?;
                    match parse_hash(&h, "node") {
                        Ok(h) => {
                            stored.insert((level, idx as u64), h);
                        }
                        Err(e) => {
                            problem(&mut report, format!("node ({level}, {idx})"), e.to_string())
                        }
                    }
                }
            }
            for (level, idx, h) in computed_nodes {
                match stored.get(&(level, idx)) {
                    Some(s) if *s == h => {}
                    Some(_) => problem(
                        &mut report,
                        format!("node ({level}, {idx})"),
                        "stored node hash differs from the recomputed tree".into(),
                    ),
                    None => problem(
                        &mut report,
                        format!("node ({level}, {idx})"),
                        "node missing from storage".into(),
                    ),
                }
            }
        }
        for c in &checkpoints {
            if c.size > next {
                problem(
                    &mut report,
                    format!("checkpoint {}", c.size),
                    format!(
                        "signed for {} leaves but only {next} are stored: leaves were deleted",
                        c.size
                    ),
                );
                report.checkpoints += 1;
            }
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM journal WHERE leaf_index IS NULL")
            .fetch_one(self.pool())
            .await?;
        report.pending = row.try_get::<i64, _>("n")? as u64;
        Ok(report)
    }
}

fn check_record(
    report: &mut VerifyReport,
    at: &str,
    entry: &LeafEntry,
    j: &JournalRow,
    index: Option<&sqlx::any::AnyRow>,
) {
    let mut problem = |m: String| {
        report.problems.push(Problem {
            location: at.to_string(),
            message: m,
        })
    };
    if j.id != entry.id || j.kind != entry.kind || j.created_at != entry.at_ms {
        problem(format!(
            "journal row ({}, {}, {}) differs from what the leaf names",
            j.id, j.kind, j.created_at
        ));
    }
    if j.commitment.as_deref() != Some(entry.commitment.as_str()) {
        problem("stored commitment differs from the leaf's".into());
    }
    match (&j.record, &j.salt) {
        (Some(record), Some(salt)) => {
            let salt = hex::decode(salt).unwrap_or_default();
            if !entry.commits_to(&salt, record.as_bytes()) {
                problem("record content or salt was altered: it no longer matches the leaf's commitment".into());
            }
            if entry.kind == kinds::INTERACTION {
                check_interaction_index(record, index, &mut problem);
            }
            report.records_checked += 1;
        }
        (None, None) if j.purged_at.is_some() => report.purged += 1,
        _ => problem("content or salt missing without a recorded erasure".into()),
    }
}

/// The searchable columns of an interaction must agree with its (committed) content.
fn check_interaction_index(
    record: &str,
    index: Option<&sqlx::any::AnyRow>,
    problem: &mut impl FnMut(String),
) {
    let Some(row) = index else {
        problem("interaction has no index row".into());
        return;
    };
    let rec = match InteractionRecord::from_canonical(record.as_bytes()) {
        Ok(r) => r,
        Err(e) => return problem(format!("content is not a valid interaction record: {e}")),
    };
    let get_s = |c: &str| row.try_get::<Option<String>, _>(c).ok().flatten();
    let same = row.try_get::<i64, _>("received_at").ok() == Some(rec.received_at_ms)
        && get_s("user_id") == rec.user_id
        && get_s("model") == rec.model
        && get_s("outcome").as_deref() == Some(rec.outcome.as_str())
        && row.try_get::<i64, _>("status").ok() == Some(i64::from(rec.status))
        && get_s("produce_id") == rec.label.as_ref().map(|l| l.produce_id.clone())
        && get_s("content_hash") == Some(hex::encode(Sha256::digest(record.as_bytes())))
        // The per-user escalation counts flagged inputs from this column, so editing it would
        // quietly change who gets escalated.
        && get_s("input_action").as_deref() == input_action(&rec);
    if !same {
        problem("searchable fields (user, outcome, status, model, time, ProduceID, input review action or hash) were altered".into());
    }
}

fn check_checkpoint(
    report: &mut VerifyReport,
    c: &crate::StoredCheckpoint,
    root: &Hash,
    verifier: Option<&Verifier>,
) {
    report.checkpoints += 1;
    let at = format!("checkpoint {}", c.size);
    let mut problem = |m: String| {
        report.problems.push(Problem {
            location: at.clone(),
            message: m,
        })
    };
    if &c.root != root {
        problem("its root differs from the recomputed tree: the log was rewritten".into());
    }
    if let Some(v) = verifier {
        match Checkpoint::open(&c.note, v) {
            Ok(cp) => {
                if cp.size != c.size || &cp.root != root {
                    problem(
                        "the signed note's size or root differs from the recomputed tree".into(),
                    );
                }
            }
            Err(e) => problem(format!("signature does not verify: {e}")),
        }
    }
}
