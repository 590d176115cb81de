//! The inspection export (Articles 15, 17, 18): every journal record of a period with its
//! proof against the newest signed checkpoint, the period's checkpoints, and the CSV views,
//! collected from storage into a `hegui-inspection/1` bundle (`crates/inspect`). Shared by
//! `hegui inspect export` and the inspector's button in the console.

use std::collections::BTreeSet;

use hegui_inspect::{BundleBuilder, Content, ExportCheckpoint, ExportLeaf, Header, Period};
use hegui_ledger::Verifier;
use hegui_store::{ExportRow, Store, StoreError};

/// Leaves fetched (with their proofs) per round trip.
const PAGE: u64 = 2000;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Storage failed or is inconsistent.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bundle could not be built.
    #[error(transparent)]
    Build(#[from] hegui_inspect::BuildError),
    /// The stored log cannot be exported as it is; the message says why and what to do.
    #[error("{0}")]
    Log(String),
}

/// A filled bundle and what went into it.
pub struct Collected {
    /// The bundle, ready to write.
    pub builder: BundleBuilder,
    /// Size of the tree the proofs are against.
    pub tree_size: u64,
    /// Records of the period not yet under that checkpoint (left out; export again later).
    pub uncovered: i64,
    /// Purge records added to explain erasures.
    pub purges: usize,
    /// Checkpoints of the period.
    pub checkpoints: usize,
}

fn content(row: &ExportRow) -> Result<Content, ExportError> {
    Ok(match &row.journal {
        Some(j) => match (&j.record, &j.salt) {
            (Some(record), Some(salt)) => Content::Present {
                record: record.clone(),
                salt: hex::decode(salt).map_err(|_| {
                    ExportError::Log(format!("record {}: the stored salt is not hex", j.id))
                })?,
            },
            _ => Content::Erased {
                at_ms: j.purged_at.unwrap_or(0),
                reason: j.purge_reason.clone().unwrap_or_else(|| {
                    "content missing from the store, no erasure recorded".to_owned()
                }),
            },
        },
        None => Content::Erased {
            at_ms: 0,
            reason: "no journal row for this leaf".to_owned(),
        },
    })
}

fn export_leaf(row: ExportRow, content: Content) -> Result<ExportLeaf, ExportError> {
    let index = row.leaf.index;
    Ok(ExportLeaf {
        index,
        data: String::from_utf8(row.leaf.data)
            .map_err(|_| ExportError::Log(format!("leaf {index} is not UTF-8")))?,
        proof: row.proof,
        content,
    })
}

/// Collects the period `[from_ms, to_ms)` against the newest signed checkpoint (make one
/// first if the newest records must be in the bundle).
pub async fn collect(
    store: &Store,
    key: &Verifier,
    from_ms: i64,
    to_ms: i64,
) -> Result<Collected, ExportError> {
    let checkpoint = store.latest_checkpoint().await?.ok_or_else(|| {
        ExportError::Log("the log has no signed checkpoint: it is empty, nothing to export".into())
    })?;
    let size = checkpoint.size;
    let uncovered = store.journal_uncovered(from_ms, to_ms, size).await?;
    let span = store.journal_leaf_span(from_ms, to_ms, size).await?;
    let p = Period::new(from_ms, to_ms);
    let mut b = BundleBuilder::new(Header {
        from_ms,
        to_ms,
        generated_at_ms: chrono::Utc::now().timestamp_millis(),
        generator: format!("hegui {}", env!("CARGO_PKG_VERSION")),
        public_key: key.key_string(),
        checkpoint: checkpoint.note.clone(),
    });
    let mut erasure_times = BTreeSet::new();
    let mut range = None;
    if let Some((lo, hi)) = span {
        // One leaf of context on each side shows where the period's records begin and end.
        let first = lo.saturating_sub(1);
        let last = hi.saturating_add(1).min(size - 1);
        range = Some((first, last));
        let mut start = first;
        while start <= last {
            let end = start.saturating_add(PAGE).min(last + 1);
            let rows = store.export_leaves(start, end, size).await?;
            if rows.len() as u64 != end - start {
                return Err(ExportError::Log(format!(
                    "leaves {start}..{end} are incomplete in storage; run `hegui ledger verify`"
                )));
            }
            for row in rows {
                let c = content(&row)?;
                if let (Content::Erased { at_ms, .. }, Some(j)) = (&c, &row.journal) {
                    if p.contains(j.created_at) {
                        erasure_times.insert(*at_ms);
                    }
                }
                b.push_leaf(export_leaf(row, c)?)?;
            }
            start = end;
        }
    }
    let times: Vec<i64> = erasure_times.into_iter().collect();
    let mut purges = 0;
    for row in store.purge_records_at(&times, size).await? {
        let in_range = range.is_some_and(|(f, l)| f <= row.leaf.index && row.leaf.index <= l);
        if in_range
            && row
                .journal
                .as_ref()
                .is_some_and(|j| p.contains(j.created_at))
        {
            continue; // disclosed in records.jsonl already
        }
        let c = content(&row)?;
        b.push_erasure(export_leaf(row, c)?)?;
        purges += 1;
    }
    let cps = store.checkpoints_between(from_ms, to_ms).await?;
    let cps: Vec<_> = cps.into_iter().filter(|c| c.size <= size).collect();
    for (i, c) in cps.iter().enumerate() {
        let next = cps.get(i + 1).map_or(size, |n| n.size);
        let proof = if c.size == next {
            Vec::new()
        } else {
            store.consistency_proof(c.size, next).await?
        };
        b.push_checkpoint(ExportCheckpoint {
            note: c.note.clone(),
            created_at_ms: c.created_at,
            consistency_proof: proof,
        })?;
    }
    Ok(Collected {
        builder: b,
        tree_size: size,
        uncovered,
        purges,
        checkpoints: cps.len(),
    })
}
