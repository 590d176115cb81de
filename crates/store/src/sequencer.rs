//! The sequencer: integrates journal records into the Merkle log, in order, and issues signed
//! checkpoints.
//!
//! Records are durable the moment the writer commits them; the sequencer then gives each a
//! leaf, a little later (like a CT log's merge delay). On PostgreSQL several gateway instances
//! may run; exactly one sequencer works at a time, elected with a session advisory lock held
//! on its own connection (another instance takes over when that connection dies). Correctness
//! does not rest on the lock alone: leaf indices are a primary key, so a second writer's
//! transaction fails and it reloads its state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hegui_ledger::{leaf_hash, Checkpoint, CompactRange, LeafEntry, Signer};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Row};
use tokio::sync::{watch, Notify};

use crate::journal::new_salt;
use crate::sql::Marks;
use crate::{Backend, Store, StoreError};

/// Advisory lock key that elects the sequencer ("hegui-seq" in ASCII).
const LOCK_KEY: i64 = 0x6865_6775_692d_7371;

/// How the sequencer works.
#[derive(Debug, Clone)]
pub struct SequencerConfig {
    /// Most records integrated per transaction.
    pub batch: i64,
    /// Wait between polls when idle (a wake-up from the writer cuts it short).
    pub idle_poll: Duration,
    /// Shortest interval between scheduled checkpoints.
    pub checkpoint_every: Duration,
    /// Checkpoint origin line (the log's name).
    pub origin: String,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            batch: 1000,
            idle_poll: Duration::from_millis(200),
            checkpoint_every: Duration::from_secs(10),
            origin: "hegui/log".into(),
        }
    }
}

/// Integrates pending records and signs checkpoints.
pub struct Sequencer {
    store: Store,
    signer: Option<Signer>,
    cfg: SequencerConfig,
    range: Option<CompactRange>,
    conn: Option<PoolConnection<Any>>,
    on_demand: Arc<Notify>,
}

impl Sequencer {
    /// A sequencer over `store`; without a signer it integrates but issues no checkpoints.
    pub fn new(store: Store, signer: Option<Signer>, cfg: SequencerConfig) -> Sequencer {
        Sequencer {
            store,
            signer,
            cfg,
            range: None,
            conn: None,
            on_demand: Arc::new(Notify::new()),
        }
    }

    /// Notifying this makes the running sequencer sign a checkpoint as soon as everything
    /// pending is integrated, instead of waiting for the schedule (checkpoints on demand).
    pub fn on_demand(&self) -> Arc<Notify> {
        self.on_demand.clone()
    }

    /// Takes the sequencer role. On PostgreSQL this waits for the advisory lock; returns
    /// `Ok(false)` if another instance holds it.
    pub async fn try_elect(&mut self) -> Result<bool, StoreError> {
        if self.conn.is_some() {
            return Ok(true);
        }
        let mut conn = self.store.pool().acquire().await?;
        if self.store.backend() == Backend::Postgres {
            let row = sqlx::query("SELECT pg_try_advisory_lock($1) AS ok")
                .bind(LOCK_KEY)
                .fetch_one(&mut *conn)
                .await?;
            if !row.try_get::<bool, _>("ok")? {
                return Ok(false);
            }
        }
        self.range = None;
        self.conn = Some(conn);
        Ok(true)
    }

    /// Gives up the role cleanly: releases the lock and closes its connection, so a standby
    /// can take over at once.
    pub async fn step_down(&mut self) {
        if let Some(mut c) = self.conn.take() {
            if self.store.backend() == Backend::Postgres {
                let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut *c)
                    .await;
            }
            let _ = c.detach().close().await;
        }
        self.range = None;
    }

    /// Gives up the role (and the lock with its connection) without waiting: the server
    /// releases the lock when it notices the connection is gone.
    pub fn resign(&mut self) {
        if let Some(c) = self.conn.take() {
            // Closing the connection releases the session lock; never return it to the pool.
            drop(c.detach());
        }
        self.range = None;
    }

    /// Integrates up to one batch of pending records; returns how many.
    pub async fn integrate_pending(&mut self) -> Result<usize, StoreError> {
        if !self.try_elect().await? {
            return Ok(0);
        }
        match self.integrate_batch().await {
            Ok(n) => Ok(n),
            Err(e) => {
                // Our view may be stale (another writer, a failed commit): start afresh.
                self.resign();
                Err(e)
            }
        }
    }

    async fn integrate_batch(&mut self) -> Result<usize, StoreError> {
        let store = self.store.clone();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(0);
        };
        let mut tx = if store.backend() == Backend::Sqlite {
            // A deferred transaction that reads and then writes fails at once (SQLITE_BUSY)
            // when another connection committed in between; take the write lock up front,
            // but only when there is work, so idle polls never contend with the writer.
            let pending =
                sqlx::query("SELECT 1 AS x FROM journal WHERE leaf_index IS NULL LIMIT 1")
                    .fetch_optional(&mut **conn)
                    .await?;
            if pending.is_none() {
                return Ok(0);
            }
            conn.begin_with("BEGIN IMMEDIATE").await?
        } else {
            conn.begin().await?
        };
        let n = integrate_in(&store, &mut self.range, self.cfg.batch, &mut tx).await?;
        if n > 0 {
            tx.commit().await?;
        }
        Ok(n)
    }

    /// Integrates everything pending, then signs a checkpoint of the current tree if it grew
    /// since the last one. Returns the checkpoint issued, if any.
    pub async fn checkpoint_now(&mut self) -> Result<Option<crate::StoredCheckpoint>, StoreError> {
        while self.integrate_pending().await? > 0 {}
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        if self.conn.is_none() {
            return Ok(None);
        }
        let size = self.store.tree_size().await?;
        if size == 0 {
            return Ok(None);
        }
        if let Some(last) = self.store.latest_checkpoint().await? {
            if last.size >= size {
                return Ok(None);
            }
        }
        let root = match &self.range {
            Some(r) if r.size() == size => r.root(),
            _ => self.store.root_at(size).await?,
        };
        let note = Checkpoint::new(self.cfg.origin.clone(), size, root)
            .sign(signer)
            .map_err(|e| StoreError::Ledger(e.to_string()))?;
        self.store.save_checkpoint(size, &root, &note).await?;
        self.store.latest_checkpoint().await
    }

    /// Runs until `shutdown` turns true: integrates as records arrive (woken by `wake`),
    /// checkpoints on schedule, and on PostgreSQL waits its turn for the sequencer role.
    pub async fn run(mut self, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
        let mut last_checkpoint = Instant::now();
        let on_demand = self.on_demand.clone();
        let mut forced = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let result = async {
                let n = self.integrate_pending().await?;
                if (forced || last_checkpoint.elapsed() >= self.cfg.checkpoint_every) && n == 0 {
                    self.checkpoint_now().await?;
                    last_checkpoint = Instant::now();
                    forced = false;
                }
                Ok::<usize, StoreError>(n)
            }
            .await;
            match result {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sequencer step failed; retrying"),
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = on_demand.notified() => { forced = true; }
                _ = tokio::time::sleep(self.cfg.idle_poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        // Leave the log integrated and checkpointed for whoever comes next.
        if let Err(e) = self.checkpoint_now().await {
            tracing::warn!(error = %e, "final checkpoint failed");
        }
        self.step_down().await;
    }
}

impl Drop for Sequencer {
    /// A session advisory lock must never go back into the pool with its connection: another
    /// sequencer taking that connection would find the lock "free" (it is re-entrant).
    fn drop(&mut self) {
        self.resign();
    }
}

/// Integrates up to `batch` pending journal rows inside the caller's transaction, appending to
/// `state` (reloaded from storage when it does not match the stored tree). Used by the
/// sequencer on its own connection and, on SQLite, by the record writer for rows written
/// outside it (its own records get their leaves as they are written: `writer.rs`).
pub(crate) async fn integrate_in(
    store: &Store,
    state: &mut Option<CompactRange>,
    batch: i64,
    tx: &mut sqlx::Transaction<'_, Any>,
) -> Result<usize, StoreError> {
    let rows = pending_rows(tx, batch).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut range = current_range(store, state, tx).await?;
    let mut tree = TreeWrites::default();
    let backfills = tree.append_pending(&mut range, rows)?;
    tree.write(tx).await?;
    write_backfills(tx, &backfills).await?;
    mark_integrated(tx, &tree.leaves).await?;
    *state = Some(range);
    Ok(tree.leaves.len())
}

/// A journal row waiting for its leaf.
pub(crate) struct PendingRow {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) at: i64,
    pub(crate) salt: Option<String>,
    pub(crate) commitment: Option<String>,
    /// The content, read only when the row still needs a salt and a commitment.
    pub(crate) record: Option<String>,
}

/// Up to `$1` journal rows not yet in the tree, oldest first, with the content only of
/// rows that still need a salt and a commitment (both backends, and the SQLite writer's own
/// connection, which binds `$1` by position).
pub(crate) const PENDING_ROWS: &str = "SELECT id, kind, created_at, salt, commitment, \
     CASE WHEN salt IS NULL OR commitment IS NULL THEN record END AS record \
     FROM journal WHERE leaf_index IS NULL ORDER BY seq LIMIT $1";

/// Up to `limit` journal rows not yet in the tree, oldest first.
pub(crate) async fn pending_rows(
    tx: &mut sqlx::Transaction<'_, Any>,
    limit: i64,
) -> Result<Vec<PendingRow>, StoreError> {
    // The content itself is read only for rows that still need a salt and a commitment
    // (written before the log existed), not for every row of every batch.
    let rows = sqlx::query(PENDING_ROWS)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingRow {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                at: row.try_get("created_at")?,
                salt: row.try_get("salt")?,
                commitment: row.try_get("commitment")?,
                record: row.try_get("record")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// The compact range of the stored tree, as of this transaction: `state` when it matches
/// the stored size, else reloaded. Call it before this transaction writes to the tree: the
/// reload reads through the pool, which does not see uncommitted leaves.
pub(crate) async fn current_range(
    store: &Store,
    state: &mut Option<CompactRange>,
    tx: &mut sqlx::Transaction<'_, Any>,
) -> Result<CompactRange, StoreError> {
    let size_row = sqlx::query("SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM ledger_leaves")
        .fetch_one(&mut **tx)
        .await?;
    let size = size_row.try_get::<i64, _>("n")? as u64;
    match state.take() {
        Some(r) if r.size() == size => Ok(r),
        _ => store.compact_range(size).await,
    }
}

/// A journal row's Merkle leaf: its data (the encoded [`LeafEntry`]) and hash.
#[derive(Debug)]
pub(crate) struct PreparedLeaf {
    pub(crate) data: String,
    pub(crate) hash: hegui_ledger::Hash,
}

impl PreparedLeaf {
    /// The leaf of a journal row.
    pub(crate) fn new(kind: &str, id: &str, at_ms: i64, commitment: &str) -> PreparedLeaf {
        let entry = LeafEntry {
            format: hegui_ledger::LEAF_FORMAT.into(),
            kind: kind.into(),
            id: id.into(),
            at_ms,
            commitment: commitment.into(),
        };
        let data = entry.encode();
        PreparedLeaf {
            hash: leaf_hash(&data),
            data: String::from_utf8_lossy(&data).into_owned(),
        }
    }
}

/// Leaves and nodes appended to the tree, to be written in one go.
#[derive(Default)]
pub(crate) struct TreeWrites {
    /// (index, record id, leaf data, leaf hash hex)
    leaves: Vec<(u64, String, String, String)>,
    /// (level, index, hash hex)
    nodes: Vec<(u8, u64, String)>,
}

impl TreeWrites {
    /// Appends the leaf of one journal row to `range`; returns its index.
    pub(crate) fn push(
        &mut self,
        range: &mut CompactRange,
        kind: &str,
        id: &str,
        at_ms: i64,
        commitment: &str,
    ) -> Result<u64, StoreError> {
        self.push_leaf(range, id, &PreparedLeaf::new(kind, id, at_ms, commitment))
    }

    /// Appends the leaf (made beforehand) of record `id` to `range`; returns its index.
    pub(crate) fn push_leaf(
        &mut self,
        range: &mut CompactRange,
        id: &str,
        leaf: &PreparedLeaf,
    ) -> Result<u64, StoreError> {
        let index = range.size();
        let nodes = &mut self.nodes;
        range
            .append_with(leaf.hash, |level, idx, h| {
                nodes.push((level, idx, hex::encode(h)))
            })
            .map_err(|e| StoreError::Ledger(e.to_string()))?;
        self.leaves
            .push((index, id.into(), leaf.data.clone(), hex::encode(leaf.hash)));
        Ok(index)
    }

    /// Appends pending journal rows, salting those written before the log existed; returns
    /// the salts and commitments to store for those: (id, salt, commitment).
    pub(crate) fn append_pending(
        &mut self,
        range: &mut CompactRange,
        rows: Vec<PendingRow>,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut backfills = Vec::new();
        for row in rows {
            let commitment = match (row.commitment, row.record) {
                (Some(c), _) if row.salt.is_some() => c,
                // Records written before the log existed get their salt now.
                (_, Some(record)) => {
                    let salt = new_salt();
                    let c = hex::encode(hegui_ledger::commitment(&salt, record.as_bytes()));
                    backfills.push((row.id.clone(), hex::encode(salt), c.clone()));
                    c
                }
                _ => {
                    return Err(StoreError::Corrupt {
                        id: row.id,
                        detail: "journal row has neither content nor commitment".into(),
                    })
                }
            };
            self.push(range, &row.kind, &row.id, row.at, &commitment)?;
        }
        Ok(backfills)
    }

    /// How many leaves were appended.
    pub(crate) fn len(&self) -> usize {
        self.leaves.len()
    }

    /// The leaves appended: (index, record id, leaf data, leaf hash hex).
    pub(crate) fn leaves(&self) -> &[(u64, String, String, String)] {
        &self.leaves
    }

    /// The nodes completed: (level, index, hash hex).
    pub(crate) fn nodes(&self) -> &[(u8, u64, String)] {
        &self.nodes
    }

    /// Inserts the leaves and nodes.
    pub(crate) async fn write(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
    ) -> Result<(), StoreError> {
        for chunk in self.leaves.chunks(250) {
            let mut sql =
                String::from("INSERT INTO ledger_leaves (idx, record_id, data, hash) VALUES ");
            Marks::for_conn(tx).push_rows(&mut sql, chunk.len(), 4);
            let mut q = sqlx::query(&sql);
            for (idx, id, data, hash) in chunk {
                q = q
                    .bind(*idx as i64)
                    .bind(id.as_str())
                    .bind(data.as_str())
                    .bind(hash.as_str());
            }
            q.execute(&mut **tx).await?;
        }
        for chunk in self.nodes.chunks(300) {
            let mut sql = String::from("INSERT INTO ledger_nodes (level, idx, hash) VALUES ");
            Marks::for_conn(tx).push_rows(&mut sql, chunk.len(), 3);
            let mut q = sqlx::query(&sql);
            for (level, idx, hash) in chunk {
                q = q
                    .bind(i64::from(*level))
                    .bind(*idx as i64)
                    .bind(hash.as_str());
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Sets `leaf_index` on the journal rows of the first `n` leaves (rows written before
    /// this transaction; rows written with it carry their index already).
    pub(crate) async fn mark_first_integrated(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        n: usize,
    ) -> Result<(), StoreError> {
        mark_integrated(tx, &self.leaves[..n.min(self.leaves.len())]).await
    }
}

/// Stores the salts and commitments given to rows written before the log existed.
pub(crate) async fn write_backfills(
    tx: &mut sqlx::Transaction<'_, Any>,
    backfills: &[(String, String, String)],
) -> Result<(), StoreError> {
    for (id, salt, c) in backfills {
        sqlx::query("UPDATE journal SET salt = $1, commitment = $2 WHERE id = $3")
            .bind(salt)
            .bind(c)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Sets `leaf_index` on the journal rows of `leaves`, failing if any was integrated already.
async fn mark_integrated(
    tx: &mut sqlx::Transaction<'_, Any>,
    leaves: &[(u64, String, String, String)],
) -> Result<(), StoreError> {
    // One statement per chunk, not one per row: each statement is a round trip. The new
    // indexes come as a VALUES list joined on the id (both backends name its columns column1,
    // column2), not as `CASE id WHEN … THEN …`, which compares each updated row with every
    // branch: quadratic in the chunk, and 40-60 ms of every 1,000-leaf batch on PostgreSQL.
    // The guard that the row is still pending is written `COALESCE(leaf_index, -1) = -1`
    // (leaf indexes are never negative) rather than `leaf_index IS NULL` so that PostgreSQL
    // cannot use the partial index of pending rows for it: it would read every pending row
    // to join 300 of them, instead of looking each id up.
    for chunk in leaves.chunks(300) {
        let mut sql = String::from("UPDATE journal SET leaf_index = v.column2 FROM (VALUES ");
        Marks::for_conn(tx).push_rows(&mut sql, chunk.len(), 2);
        sql.push_str(
            ") AS v WHERE journal.id = v.column1 AND COALESCE(journal.leaf_index, -1) = -1",
        );
        let mut q = sqlx::query(&sql);
        for (idx, id, _, _) in chunk {
            q = q.bind(id.as_str()).bind(*idx as i64);
        }
        let done = q.execute(&mut **tx).await?.rows_affected();
        if done != chunk.len() as u64 {
            return Err(StoreError::Ledger(format!(
                "{} of {} journal rows were integrated concurrently; retrying",
                chunk.len() as u64 - done,
                chunk.len()
            )));
        }
    }
    Ok(())
}
