//! SQLite: the record writer's transactions on a connection and a thread of their own.
//!
//! Every other write goes through the sqlx pool. The record writer, which carries nearly all
//! of the write volume, does not, for three reasons that `perf` showed at 256 concurrent
//! writers (`ledger_bench appends`, BENCHMARKS.md):
//!
//! - sqlx hands each statement to its connection thread and awaits the answer, so the
//!   ~10 statements of a batch are as many round trips between two threads, with the
//!   SQLite thread idle in between;
//! - sqlx's `Any` driver copies every bound value (each ~1.3 KB record twice), and the
//!   multi-row statements that kept round trips few are re-prepared whenever the batch size
//!   changes;
//! - a multi-row `INSERT` may fail half-way, so SQLite opens a statement journal for it and
//!   copies every page it touches into a temporary file first.
//!
//! Here one blocking thread runs the whole transaction against its own `rusqlite`
//! connection, with one cached single-row statement per table, executed once per row. The
//! SQL and the order of the writes are those of the pool path (`writer.rs`,
//! `sequencer.rs`, `records.rs`), which stays the path for PostgreSQL, in-memory SQLite, and
//! any batch this one cannot integrate.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hegui_ledger::CompactRange;
use rusqlite::{params, Connection, OpenFlags};

use crate::journal::SaltedRow;
use crate::records::PreparedRecord;
use crate::sequencer::{PendingRow, TreeWrites, PENDING_ROWS};
use crate::writer::{acknowledge, Ack};
use crate::{Store, StoreError};

/// A write connection to one SQLite file, with the state of the tree it last wrote.
pub(crate) struct SqliteWriter {
    /// Makes committed batches durable and acknowledges them. Declared first so that it is
    /// dropped (its queue drained) while the connection, and so the log file, still exist.
    syncer: WalSyncer,
    conn: Connection,
    store: Store,
    /// The tree as of the last commit; reloaded when the stored size says otherwise.
    tree: Option<CompactRange>,
}

/// Durability off the writer's path. The writer's connection commits with `synchronous =
/// NORMAL`: a commit writes its pages to the write-ahead log and returns without waiting for
/// the disk. This thread then syncs the log (`fdatasync`) and only after that acknowledges
/// the batches committed before the sync began, several at once when they queued up
/// meanwhile, while the writer already runs the next transaction. With `synchronous = FULL`
/// the writer itself waited for every commit's sync, idle, a third of its time at 256
/// concurrent writers (BENCHMARKS.md).
///
/// Why this is as durable as `FULL` for what is acknowledged: a commit's frames are in the
/// log file (written, in the page cache) when `COMMIT` returns; a sync of the file begun
/// after that covers them and everything before them, and SQLite's recovery replays the log
/// up to its last intact commit frame. The log file stays the same file while the writer's
/// connection is open (SQLite deletes it only when the last connection closes) and is never
/// truncated by the store (no `journal_size_limit`); SQLite starts writing it from the
/// beginning again only after a checkpoint has copied all of it and synced the database
/// file. The file is the one SQLite names (the connection's resolved path plus `-wal`), and
/// is opened once, before the first commit, so that a write error the kernel reports to
/// another handle first (the checkpointer's) is still reported to this one.
///
/// A sync that fails stops the writer for good, as PostgreSQL stops on a failed `fsync`:
/// pages the kernel could not write may be dropped from its cache, and the log's frames
/// chain their checksums, so no later commit could be trusted either. The batches waiting
/// for that sync, and every batch after it, are answered with [`StoreError::NotDurable`]
/// (those waiting are committed and readable, but may not survive a power loss); the
/// operator checks the disk and restarts. Until acknowledged, a committed batch is already
/// readable by other connections; what is promised durable is what is acknowledged, and a
/// signed checkpoint, whose own commit syncs the log (`synchronous = FULL`), covers it.
struct WalSyncer {
    shared: Arc<SyncState>,
    queue: Option<std::sync::mpsc::Sender<Vec<Ack>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The log file and the first sync failure, shared by the writer and the sync thread.
struct SyncState {
    file: std::fs::File,
    wal: PathBuf,
    failure: Mutex<Option<String>>,
}

impl SyncState {
    /// Syncs the log; after the first failure every call fails with it.
    fn sync(&self) -> Result<(), StoreError> {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            if let Err(e) = self.file.sync_data() {
                *failure = Some(format!(
                    "syncing the write-ahead log {} failed ({e}); records are no longer written \
                     until hegui is restarted (check the disk first)",
                    self.wal.display()
                ));
            }
        }
        as_result(&failure)
    }

    /// The first sync failure, if any.
    fn failed(&self) -> Result<(), StoreError> {
        as_result(&self.failure.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// `Ok` before any failure, else the first failure.
fn as_result(failure: &Option<String>) -> Result<(), StoreError> {
    match failure {
        None => Ok(()),
        Some(msg) => Err(StoreError::NotDurable(msg.clone())),
    }
}

impl WalSyncer {
    /// Syncs `file`, the log at `wal` (named in messages), on a thread of its own.
    fn start(file: std::fs::File, wal: PathBuf) -> std::io::Result<WalSyncer> {
        let shared = Arc::new(SyncState {
            file,
            wal,
            failure: Mutex::new(None),
        });
        let (queue, batches) = std::sync::mpsc::channel::<Vec<Ack>>();
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("hegui-wal-sync".into())
            .spawn(move || {
                while let Ok(first) = batches.recv() {
                    let mut waiting = vec![first];
                    waiting.extend(batches.try_iter());
                    let synced = state.sync();
                    if let Err(e) = &synced {
                        tracing::error!(error = %e, "the record writer has stopped");
                    }
                    for acks in waiting {
                        let result = match &synced {
                            Ok(()) => Ok(()),
                            Err(e) => Err(StoreError::NotDurable(not_durable(e))),
                        };
                        acknowledge(result, acks, None);
                    }
                }
            })?;
        Ok(WalSyncer {
            shared,
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Acknowledges `acks` once the log is synced.
    fn after_sync(&self, acks: Vec<Ack>) {
        let unsent = match &self.queue {
            Some(queue) => match queue.send(acks) {
                Ok(()) => return,
                Err(unsent) => unsent.0,
            },
            None => acks,
        };
        // The sync thread is gone (it panicked): sync in this thread instead.
        let result = self
            .shared
            .sync()
            .map_err(|e| StoreError::NotDurable(not_durable(&e)));
        acknowledge(result, unsent, None);
    }
}

/// The message of a batch that was committed but whose sync failed.
fn not_durable(e: &StoreError) -> String {
    let detail = match e {
        StoreError::NotDurable(msg) => msg.clone(),
        e => e.to_string(),
    };
    format!("committed, but it may not survive a power loss: {detail}")
}

impl Drop for WalSyncer {
    /// Waits until every queued batch is synced and acknowledged.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(t) = self.thread.take() {
            // A panic in the thread has been reported by the panic hook already; the
            // requesters it did not answer see the writer as closed.
            let _ = t.join();
        }
    }
}

impl SqliteWriter {
    /// Opens a write connection to the SQLite file at `path`, with the settings of the
    /// store's own connections (`lib.rs`): durable commits, the same busy wait and WAL
    /// checkpoint backstop.
    pub(crate) fn open(store: Store, path: &str) -> Result<SqliteWriter, StoreError> {
        let open = || -> Result<Connection, String> {
            let e = |e: rusqlite::Error| e.to_string();
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(e)?;
            conn.busy_timeout(Duration::from_secs(10)).map_err(e)?;
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(e)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(format!("the journal mode is {mode}, not WAL"));
            }
            // Commits do not wait for the disk; `WalSyncer` does, before acknowledging.
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(e)?;
            conn.pragma_update(None, "foreign_keys", "ON").map_err(e)?;
            conn.pragma_update(None, "wal_autocheckpoint", crate::wal::BACKSTOP_PAGES)
                .map_err(e)?;
            conn.set_prepared_statement_cache_capacity(16);
            Ok(conn)
        };
        let conn = open().map_err(|detail| StoreError::SqliteAux {
            path: path.into(),
            purpose: "writing records",
            detail,
        })?;
        // The log SQLite writes: named after the database's resolved path (a symbolic link's
        // target, say), and there once a connection has read the database in WAL mode.
        let wal = (|| -> Result<(std::fs::File, PathBuf), String> {
            conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| e.to_string())?;
            let db = conn
                .path()
                .filter(|p| !p.is_empty())
                .ok_or("the connection names no database file")?;
            let wal = PathBuf::from(format!("{db}-wal"));
            let file = std::fs::File::open(&wal)
                .map_err(|e| format!("cannot open {}: {e}", wal.display()))?;
            Ok((file, wal))
        })();
        let syncer = wal
            .and_then(|(file, wal)| WalSyncer::start(file, wal).map_err(|e| e.to_string()))
            .map_err(|detail| StoreError::SqliteAux {
                path: path.into(),
                purpose: "syncing the write-ahead log",
                detail,
            })?;
        Ok(SqliteWriter {
            syncer,
            conn,
            store,
            tree: None,
        })
    }

    /// Acknowledges a committed batch once the log is synced (see [`WalSyncer`]).
    pub(crate) fn acknowledge_when_durable(&self, acks: Vec<Ack>) {
        self.syncer.after_sync(acks);
    }

    /// Writes `records` in one transaction, with their leaves when the log has no backlog;
    /// when this returns `Ok` they are committed, and durable only once the log is synced
    /// ([`SqliteWriter::acknowledge_when_durable`]).
    pub(crate) fn write_batch(&mut self, records: &[PreparedRecord]) -> Result<(), StoreError> {
        // After a failed sync nothing more is written (see [`WalSyncer`]).
        self.syncer.shared.failed()?;
        let mut rows: Vec<_> = records.iter().map(PreparedRecord::row).collect();
        let result = self.try_write(records, &mut rows);
        if result.is_err() {
            self.tree = None;
            if !self.conn.is_autocommit() {
                // The error already says what failed; a failed rollback adds nothing to it
                // (SQLite rolls back an interrupted transaction when the file is next opened).
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
        result
    }

    fn try_write(
        &mut self,
        records: &[PreparedRecord],
        rows: &mut [SaltedRow<'_>],
    ) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match self.integrate(records, rows) {
            // With their leaves, or (a backlog of older rows went first) pending.
            Ok(_) => {}
            Err(e) => {
                // As on the pool path: no savepoint (SQLite would copy every page it covers
                // into a statement journal), so a failure rolls back the whole transaction
                // and the batch is written again without its leaves, for the sequencer.
                tracing::warn!(error = %e, "writing records with their leaves failed; writing them for the sequencer");
                self.tree = None;
                self.conn.execute_batch("ROLLBACK")?;
                self.conn.execute_batch("BEGIN IMMEDIATE")?;
                for row in rows.iter_mut() {
                    row.leaf_index = None;
                }
            }
        }
        self.insert_records(records, rows)?;
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Integrates pending older rows, then gives `rows` their leaf indexes (unless more
    /// than one batch of older rows is pending: `false`, and `rows` stay pending). Writes
    /// the leaves, nodes and older rows' indexes; the caller writes `rows` themselves.
    fn integrate(
        &mut self,
        records: &[PreparedRecord],
        rows: &mut [SaltedRow<'_>],
    ) -> Result<bool, StoreError> {
        let backlog = (crate::writer::MAX_BATCH * 2) as i64;
        let size: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_leaves",
            [],
            |r| r.get(0),
        )?;
        let mut range = match self.tree.take() {
            Some(r) if r.size() == size as u64 => r,
            // Read through the store's own reader: it sees what is committed, which is all
            // there is, since this transaction has written nothing yet.
            _ => self.store.compact_range_now(size as u64)?,
        };
        let pending = self.pending_rows(backlog)?;
        let caught_up = (pending.len() as i64) < backlog;
        let mut tree = TreeWrites::default();
        let backfills = tree.append_pending(&mut range, pending)?;
        let older = tree.len();
        if caught_up {
            for (row, r) in rows.iter_mut().zip(records) {
                row.leaf_index = Some(tree.push_leaf(&mut range, row.id, &r.leaf)?);
            }
        }
        self.write_tree(&tree, older, &backfills)?;
        self.tree = Some(range);
        Ok(caught_up)
    }

    /// Up to `limit` journal rows not yet in the tree, oldest first (`sequencer::pending_rows`).
    fn pending_rows(&self, limit: i64) -> rusqlite::Result<Vec<PendingRow>> {
        let mut stmt = self.conn.prepare_cached(PENDING_ROWS)?;
        let rows = stmt.query_map([limit], |r| {
            Ok(PendingRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                at: r.get(2)?,
                salt: r.get(3)?,
                commitment: r.get(4)?,
                record: r.get(5)?,
            })
        })?;
        rows.collect()
    }

    /// Inserts the leaves and nodes, the salts of older rows that had none, and the leaf
    /// indexes of the first `older` leaves' journal rows (written before this transaction).
    fn write_tree(
        &self,
        tree: &TreeWrites,
        older: usize,
        backfills: &[(String, String, String)],
    ) -> Result<(), StoreError> {
        let mut leaf = self.conn.prepare_cached(
            "INSERT INTO ledger_leaves (idx, record_id, data, hash) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (idx, id, data, hash) in tree.leaves() {
            leaf.execute(params![*idx as i64, id, data, hash])?;
        }
        let mut node = self
            .conn
            .prepare_cached("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
        for (level, idx, hash) in tree.nodes() {
            node.execute(params![i64::from(*level), *idx as i64, hash])?;
        }
        for (id, salt, c) in backfills {
            self.conn
                .prepare_cached("UPDATE journal SET salt = ?1, commitment = ?2 WHERE id = ?3")
                .and_then(|mut s| s.execute(params![salt, c, id]))?;
        }
        let mut mark = self.conn.prepare_cached(
            "UPDATE journal SET leaf_index = ?1 WHERE id = ?2 AND leaf_index IS NULL",
        )?;
        for (idx, id, _, _) in &tree.leaves()[..older] {
            if mark.execute(params![*idx as i64, id])? != 1 {
                return Err(StoreError::Ledger(format!(
                    "journal row {id} was integrated concurrently; retrying"
                )));
            }
        }
        Ok(())
    }

    /// Inserts the records' journal rows (with their leaf indexes, if given) and their
    /// searchable columns (`records::write_records`).
    fn insert_records(
        &self,
        records: &[PreparedRecord],
        rows: &[SaltedRow<'_>],
    ) -> rusqlite::Result<()> {
        let mut journal = self.conn.prepare_cached(
            "INSERT INTO journal (id, kind, created_at, record, salt, commitment, leaf_index) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for row in rows {
            // Canonical encodings are UTF-8 (JSON); the column is text, as on the pool path.
            let text = match std::str::from_utf8(row.content) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(row.content),
            };
            journal.execute(params![
                row.id,
                row.kind,
                row.at_ms,
                text.as_ref(),
                row.salt.as_ref(),
                row.commitment.as_ref(),
                row.leaf_index.map(|i| i as i64),
            ])?;
        }
        let mut interaction = self.conn.prepare_cached(
            "INSERT INTO interactions (id, received_at, user_id, model, outcome, status, \
             produce_id, content_hash, input_action) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for r in records {
            let c = &r.columns;
            interaction.execute(params![
                c.id,
                c.received_at,
                c.user_id,
                c.model,
                c.outcome,
                c.status,
                c.produce_id,
                c.content_hash,
                c.input_action,
            ])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::AckError;

    type Answer = tokio::sync::oneshot::Receiver<Result<(), AckError>>;

    fn ack() -> (Ack, Answer) {
        tokio::sync::oneshot::channel()
    }

    /// Acknowledgements go out after a sync of the log.
    #[test]
    fn batches_are_acknowledged_after_the_sync() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("x.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let syncer = WalSyncer::start(std::fs::File::open(&wal).unwrap(), wal).unwrap();
        let (a, mut got_a) = ack();
        let (b, mut got_b) = ack();
        syncer.after_sync(vec![a, b]);
        drop(syncer); // waits for the queue to drain
        assert_eq!(got_a.try_recv().unwrap(), Ok(()));
        assert_eq!(got_b.try_recv().unwrap(), Ok(()));
    }

    /// A failed sync is reported to the batches waiting for it, as committed but not
    /// durable, and stops the writer: later batches fail too, even if a sync would succeed.
    #[test]
    fn a_failed_sync_is_reported_and_stops_the_writer() {
        // A pipe cannot be synced (EINVAL), like a log whose pages the disk refused.
        let (_reader, writer) = std::io::pipe().unwrap();
        let file = std::fs::File::from(std::os::fd::OwnedFd::from(writer));
        let syncer = WalSyncer::start(file, PathBuf::from("/data/hegui.db-wal")).unwrap();
        let (a, mut got_a) = ack();
        syncer.after_sync(vec![a]);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let answer = loop {
            match got_a.try_recv() {
                Ok(answer) => break answer,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("no answer: {e}"),
            }
        };
        let Err(AckError::NotDurable(msg)) = answer else {
            panic!("expected a durability failure, got {answer:?}");
        };
        assert!(
            msg.contains("committed, but it may not survive a power loss")
                && msg.contains("/data/hegui.db-wal")
                && msg.contains("restarted"),
            "{msg}"
        );
        let later = syncer.shared.failed().unwrap_err().to_string();
        assert!(
            later.starts_with("record not made durable: syncing the write-ahead log"),
            "{later}"
        );
        let (b, mut got_b) = ack();
        syncer.after_sync(vec![b]);
        drop(syncer);
        assert!(matches!(
            got_b.try_recv().unwrap(),
            Err(AckError::NotDurable(_))
        ));
    }
}
