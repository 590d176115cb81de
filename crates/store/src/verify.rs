//! `hegui ledger verify`: recompute everything from what is stored and name every record
//! that does not add up.

use std::collections::{HashMap, HashSet};

use hegui_ledger::{leaf_hash, Checkpoint, CompactRange, Hash, LeafEntry, Verifier};
use hegui_types::{kinds, InteractionRecord, JournalEntry};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::journal::{journal_row, JournalRow, JOURNAL_COLUMNS};
use crate::ledger::{parse_hash, StoredCheckpoint};
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
        let checkpoints = self.checkpoints_checked(&mut report).await?;
        let mut by_size: HashMap<u64, Vec<&StoredCheckpoint>> = HashMap::new();
        for c in &checkpoints {
            by_size.entry(c.size).or_default().push(c);
        }
        let erasures = self.logged_erasures(&mut report).await?;
        let mut range = CompactRange::new();
        let mut next: u64 = 0;
        loop {
            let leaves = self.leaves_checked(next, PAGE, &mut report).await?;
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
            // Leaves whose journal row could not be read (reported once, here).
            let mut unreadable: HashSet<i64> = HashSet::new();
            for r in &rows {
                match journal_row(r) {
                    Ok(j) => {
                        if let Some(i) = j.leaf_index {
                            journal.insert(i, j);
                        }
                    }
                    Err(e) => {
                        let leaf = r.try_get::<i64, _>("leaf_index").ok();
                        let id = r.try_get::<String, _>("id").unwrap_or_default();
                        if let Some(i) = leaf {
                            unreadable.insert(i);
                        }
                        problem(
                            &mut report,
                            match leaf {
                                Some(i) => format!("leaf {i} (record {id})"),
                                None => format!("journal row (record {id})"),
                            },
                            format!("the journal row cannot be read, a column holds a value of the wrong type: {e}"),
                        );
                    }
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
                // Unreadable data (reported) leaves the stored hash to carry the tree on.
                let hash = match &leaf.data {
                    Some(d) => leaf_hash(d),
                    None => leaf.hash.unwrap_or_default(),
                };
                if leaf.hash.is_some_and(|h| h != hash) {
                    problem(
                        &mut report,
                        at.clone(),
                        "stored leaf hash does not match the leaf data".into(),
                    );
                }
                match leaf.data.as_deref().map(LeafEntry::decode) {
                    // Reported when read.
                    None => {}
                    Some(Err(e)) => problem(
                        &mut report,
                        at.clone(),
                        format!("leaf data is not a hegui-leaf/1 entry: {e}"),
                    ),
                    Some(Ok(entry)) => {
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
                            None if unreadable.contains(&(leaf.index as i64)) => {}
                            None => problem(
                                &mut report,
                                at.clone(),
                                "no journal record claims this leaf".into(),
                            ),
                            Some(j) => check_record(
                                &mut report,
                                &at,
                                &entry,
                                j,
                                index.get(&j.id),
                                &erasures,
                            ),
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
        self.check_holds(&mut report).await?;
        Ok(report)
    }

    /// Every stored checkpoint whose columns can be read; the others are reported.
    async fn checkpoints_checked(
        &self,
        report: &mut VerifyReport,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT size, root, note, created_at FROM ledger_checkpoints ORDER BY size",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let size = r.try_get::<i64, _>("size");
            let at = match &size {
                Ok(n) => format!("checkpoint {n}"),
                Err(_) => "checkpoint (size unreadable)".to_string(),
            };
            let read = || -> Result<StoredCheckpoint, String> {
                let size =
                    u64::try_from(size.as_ref().map_err(|e| format!("size: {e}"))?.to_owned())
                        .map_err(|_| "size is negative".to_string())?;
                let root: String = r.try_get("root").map_err(|e| format!("root: {e}"))?;
                Ok(StoredCheckpoint {
                    size,
                    root: parse_hash(&root, "root")
                        .map_err(|_| format!("stored root {root:?} is not 64 hex digits"))?,
                    note: r.try_get("note").map_err(|e| format!("note: {e}"))?,
                    created_at: r
                        .try_get("created_at")
                        .map_err(|e| format!("created_at: {e}"))?,
                })
            };
            match read() {
                Ok(c) => out.push(c),
                Err(m) => {
                    report.checkpoints += 1;
                    report.problems.push(Problem {
                        location: at,
                        message: format!("cannot be read: {m}"),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Up to `limit` leaves from index `from`, each as far as it can be read: a leaf whose
    /// hash column is unreadable is reported and continues with the hash of its data, so one
    /// bad value does not hide the problems after it.
    async fn leaves_checked(
        &self,
        from: u64,
        limit: i64,
        report: &mut VerifyReport,
    ) -> Result<Vec<CheckedLeaf>, StoreError> {
        let rows = sqlx::query(
            "SELECT idx, record_id, data, hash FROM ledger_leaves WHERE idx >= $1 ORDER BY idx LIMIT $2",
        )
        .bind(i64::try_from(from).unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (k, r) in rows.iter().enumerate() {
            // The query orders by index, so an unreadable index is the one after the previous.
            let index = r
                .try_get::<i64, _>("idx")
                .ok()
                .and_then(|i| u64::try_from(i).ok())
                .unwrap_or(from + k as u64);
            let record_id = r.try_get::<String, _>("record_id").unwrap_or_default();
            let at = format!("leaf {index} (record {record_id})");
            let mut bad = |m: String| {
                report.problems.push(Problem {
                    location: at.clone(),
                    message: m,
                })
            };
            let data = match r.try_get::<String, _>("data") {
                Ok(d) => Some(d.into_bytes()),
                Err(e) => {
                    bad(format!("the leaf data cannot be read as text: {e}"));
                    None
                }
            };
            let hash = match r.try_get::<String, _>("hash") {
                Ok(h) => match parse_hash(&h, "leaf") {
                    Ok(h) => Some(h),
                    Err(_) => {
                        bad(format!("stored leaf hash {h:?} is not 64 hex digits"));
                        None
                    }
                },
                Err(e) => {
                    bad(format!("the leaf hash cannot be read as text: {e}"));
                    None
                }
            };
            out.push(CheckedLeaf {
                index,
                record_id,
                data,
                hash,
            });
        }
        Ok(out)
    }

    /// What the log says was erased: record id → the erasure (`purge` record) naming it.
    /// A `purge` record that cannot be read is reported (what it erased then shows up as
    /// erased without a logged erasure).
    async fn logged_erasures(
        &self,
        report: &mut VerifyReport,
    ) -> Result<HashMap<String, Erasure>, StoreError> {
        let mut out = HashMap::new();
        for entry in self.entries_of_kind(kinds::PURGE, report).await? {
            let reason = entry.body.get("reason").and_then(|v| v.as_str());
            let ids = entry.body.get("record_ids").and_then(|v| v.as_array());
            let (Some(reason), Some(ids)) = (reason, ids) else {
                report.problems.push(Problem {
                    location: format!("record {}", entry.id),
                    message: "purge record without a reason and a list of record_ids".into(),
                });
                continue;
            };
            for id in ids.iter().filter_map(|v| v.as_str()) {
                out.insert(
                    id.to_string(),
                    Erasure {
                        purge_id: entry.id.clone(),
                        at_ms: entry.at_ms,
                        reason: reason.to_string(),
                    },
                );
            }
        }
        Ok(out)
    }

    /// The decoded content of every journal record of `kind`, oldest first; rows whose content
    /// is erased are skipped, rows that cannot be decoded are reported.
    async fn entries_of_kind(
        &self,
        kind: &str,
        report: &mut VerifyReport,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOURNAL_COLUMNS} FROM journal WHERE kind = $1 ORDER BY seq"
        ))
        .bind(kind)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            // Unreadable rows are reported by the leaf pass.
            let Ok(j) = journal_row(r) else { continue };
            let Some(text) = &j.record else { continue };
            match serde_json::from_str::<JournalEntry>(text) {
                Ok(e) if e.kind == kind && e.id == j.id => out.push(e),
                Ok(_) => report.problems.push(Problem {
                    location: format!("record {}", j.id),
                    message: format!("content is not the {kind} record stored under this id"),
                }),
                Err(e) => report.problems.push(Problem {
                    location: format!("record {}", j.id),
                    message: format!("content is not a {kind} record: {e}"),
                }),
            }
        }
        Ok(out)
    }

    /// The table of legal holds, which decides what may be erased, must be what the logged
    /// `legal_hold` records say: each hold placed (and released) in the log, nothing else.
    async fn check_holds(&self, report: &mut VerifyReport) -> Result<(), StoreError> {
        #[derive(Default)]
        struct Logged {
            user_id: Option<String>,
            record_id: Option<String>,
            placed_at: Option<i64>,
            released_at: Option<i64>,
        }
        let mut logged: HashMap<String, Logged> = HashMap::new();
        for e in self.entries_of_kind(kinds::LEGAL_HOLD, report).await? {
            let Some(id) = e.body.get("hold_id").and_then(|v| v.as_str()) else {
                report.problems.push(Problem {
                    location: format!("record {}", e.id),
                    message: "legal_hold record without a hold_id".into(),
                });
                continue;
            };
            let h = logged.entry(id.to_string()).or_default();
            let text = |k: &str| e.body.get(k).and_then(|v| v.as_str()).map(String::from);
            if e.body.get("released").and_then(|v| v.as_bool()) == Some(true) {
                h.released_at = Some(e.at_ms);
            } else {
                h.placed_at = Some(e.at_ms);
                h.user_id = text("user_id");
                h.record_id = text("record_id");
            }
        }
        let rows = sqlx::query(
            "SELECT id, user_id, record_id, created_at, released_at FROM legal_holds ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut seen = HashSet::new();
        for r in &rows {
            let id: String = r.try_get("id").unwrap_or_default();
            let at = format!("legal hold {id}");
            let mut bad = |m: &str| {
                report.problems.push(Problem {
                    location: at.clone(),
                    message: m.to_string(),
                })
            };
            seen.insert(id.clone());
            let Some(l) = logged.get(&id) else {
                bad("in the table of holds but never placed in the log");
                continue;
            };
            let user: Option<String> = r.try_get("user_id").ok().flatten();
            let record: Option<String> = r.try_get("record_id").ok().flatten();
            let created: Option<i64> = r.try_get("created_at").ok();
            let released: Option<i64> = r.try_get("released_at").ok().flatten();
            if user != l.user_id || record != l.record_id || created != l.placed_at {
                bad("what it covers or when it was placed differs from its logged placement");
            }
            if released != l.released_at {
                bad(match (released, l.released_at) {
                    (Some(_), None) => "released in the table but no release is logged",
                    (None, Some(_)) => "released in the log but still active in the table",
                    _ => "its release time differs from the logged release",
                });
            }
        }
        for (id, l) in &logged {
            if l.placed_at.is_some() && !seen.contains(id) {
                report.problems.push(Problem {
                    location: format!("legal hold {id}"),
                    message: "placed in the log but missing from the table of holds (deleted)"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

/// A stored leaf as far as it could be read (`None`: that column was unreadable, reported).
struct CheckedLeaf {
    index: u64,
    record_id: String,
    data: Option<Vec<u8>>,
    hash: Option<Hash>,
}

/// A logged erasure of one record's content.
struct Erasure {
    purge_id: String,
    at_ms: i64,
    reason: String,
}

fn check_record(
    report: &mut VerifyReport,
    at: &str,
    entry: &LeafEntry,
    j: &JournalRow,
    index: Option<&sqlx::any::AnyRow>,
    erasures: &HashMap<String, Erasure>,
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
        (None, None) if j.purged_at.is_some() => match erasures.get(&j.id) {
            // The erasure writes the row's time and reason and its `purge` record together.
            Some(e)
                if j.purged_at == Some(e.at_ms)
                    && j.purge_reason.as_deref() == Some(e.reason.as_str()) =>
            {
                report.purged += 1
            }
            Some(e) => problem(format!(
                "erased, but its erasure time or reason differs from the logged erasure {}",
                e.purge_id
            )),
            None => problem(
                "content erased, but no erasure in the log names this record: it was deleted \
                 outside hegui, or the record of its erasure was"
                    .into(),
            ),
        },
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
    c: &StoredCheckpoint,
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
