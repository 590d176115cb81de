//! Group commit: many concurrent requests share one transaction (and one fsync), and each
//! is acknowledged only after that transaction commits.

use hegui_types::InteractionRecord;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

use hegui_ledger::CompactRange;

use crate::activity::ActivityFolder;
use crate::records::{insert_records_tx, write_records, PreparedRecord};
use crate::sequencer::{current_range, pending_rows, write_backfills, TreeWrites};
use crate::sqlite_writer::SqliteWriter;
use crate::{Store, StoreError};

pub(crate) type Ack = oneshot::Sender<Result<(), AckError>>;

/// Why a batch was not acknowledged, as each of its requesters hears it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AckError {
    /// Not written: [`StoreError::WriteFailed`].
    Failed(String),
    /// Committed, not known to be on disk: [`StoreError::NotDurable`].
    NotDurable(String),
}

/// Most records committed in one transaction.
pub(crate) const MAX_BATCH: usize = 512;

/// Handle for writing records durably; cheap to clone.
#[derive(Clone, Debug)]
pub struct RecordWriter {
    tx: mpsc::Sender<(PreparedRecord, Ack)>,
}

impl RecordWriter {
    /// Starts the writer task. It ends when every handle is dropped, after writing what is queued.
    pub fn spawn(store: Store) -> (RecordWriter, JoinHandle<()>) {
        Self::spawn_with_wake(store, None)
    }

    /// Like [`RecordWriter::spawn`], and wakes `wake` (the sequencer) after every commit.
    pub fn spawn_with_wake(
        store: Store,
        wake: Option<Arc<Notify>>,
    ) -> (RecordWriter, JoinHandle<()>) {
        Self::spawn_inner(store, wake, false)
    }

    /// For SQLite, which has one writer at a time: the records are integrated into the Merkle
    /// log inside the transaction that writes them, so the writer and a separate sequencer
    /// never contend for the write lock (whose busy wait is a sleep of milliseconds) and each
    /// batch costs one fsync. If integration fails the records are still written (a savepoint
    /// is rolled back) and the background sequencer integrates them later.
    pub fn spawn_integrating(store: Store) -> (RecordWriter, JoinHandle<()>) {
        Self::spawn_inner(store, None, true)
    }

    fn spawn_inner(
        store: Store,
        wake: Option<Arc<Notify>>,
        integrate: bool,
    ) -> (RecordWriter, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<(PreparedRecord, Ack)>(8192);
        // SQLite files: per-user activity is folded from the records in the background, for
        // as long as this writer runs (`activity.rs`).
        let folder = store.start_folder().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "per-user activity is not folded; reads count the records instead");
            None
        });
        if integrate {
            if let Some(path) = store.sqlite_file() {
                match SqliteWriter::open(store.clone(), path) {
                    Ok(writer) => return (RecordWriter { tx }, spawn_sqlite(writer, rx, folder)),
                    Err(e) => {
                        tracing::warn!(error = %e, "writing records through the pool instead")
                    }
                }
            }
        }
        let task = tokio::spawn(async move {
            let _folder = folder;
            let mut batch: Vec<(PreparedRecord, Ack)> = Vec::with_capacity(MAX_BATCH);
            let mut tree: Option<CompactRange> = None;
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                // Split the batch rather than copy every record on the hot path.
                let (records, acks): (Vec<PreparedRecord>, Vec<Ack>) = batch.drain(..).unzip();
                let result = if integrate {
                    write_and_integrate(&store, &records, &mut tree).await
                } else {
                    insert_records(&store, &records).await
                };
                acknowledge(result, acks, wake.as_deref());
            }
        });
        (RecordWriter { tx }, task)
    }

    /// Queues a record and waits until it is durable.
    pub async fn write(&self, record: InteractionRecord) -> Result<(), StoreError> {
        // Encoding, salting and hashing happen here, in the requester's task, so that the
        // one task or thread that writes every record only writes.
        let prepared = PreparedRecord::new(&record);
        drop(record);
        let (ack, done) = oneshot::channel();
        self.tx
            .send((prepared, ack))
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(AckError::Failed(msg))) => Err(StoreError::WriteFailed(msg)),
            Ok(Err(AckError::NotDurable(msg))) => Err(StoreError::NotDurable(msg)),
            Err(_) => Err(StoreError::WriterClosed),
        }
    }
}

/// Runs `writer` on a blocking thread until every handle is dropped (SQLite files).
fn spawn_sqlite(
    mut writer: SqliteWriter,
    mut rx: mpsc::Receiver<(PreparedRecord, Ack)>,
    folder: Option<ActivityFolder>,
) -> JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let _folder = folder;
        let mut batch: Vec<(PreparedRecord, Ack)> = Vec::with_capacity(MAX_BATCH);
        while rx.blocking_recv_many(&mut batch, MAX_BATCH) > 0 {
            let (records, acks): (Vec<PreparedRecord>, Vec<Ack>) = batch.drain(..).unzip();
            match writer.write_batch(&records) {
                Ok(()) => writer.acknowledge_when_durable(acks),
                Err(e) => acknowledge(Err(e), acks, None),
            }
        }
        // Dropping the writer waits until every committed batch is durable and acknowledged.
        drop(writer);
    })
}

/// Tells every requester of a batch how its transaction ended, and wakes `wake` (the
/// sequencer) after a commit.
pub(crate) fn acknowledge(result: Result<(), StoreError>, acks: Vec<Ack>, wake: Option<&Notify>) {
    match &result {
        Err(e) => {
            tracing::error!(error = %e, count = acks.len(), "record batch failed")
        }
        Ok(()) => {
            if let Some(w) = wake {
                w.notify_one();
            }
        }
    }
    let result = result.map_err(|e| match e {
        StoreError::NotDurable(msg) => AckError::NotDurable(msg),
        e => AckError::Failed(e.to_string()),
    });
    for ack in acks {
        // The requester may have gone away; the record is written either way.
        let _ = ack.send(result.clone());
    }
}

/// Writes records pending integration, in one transaction.
async fn insert_records(store: &Store, records: &[PreparedRecord]) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    insert_records_tx(&mut tx, records).await?;
    tx.commit().await?;
    Ok(())
}

async fn write_and_integrate(
    store: &Store,
    records: &[PreparedRecord],
    tree: &mut Option<CompactRange>,
) -> Result<(), StoreError> {
    // No savepoint around the integration: SQLite copies every page a savepoint changes into
    // a statement journal (a temporary file): 23 instead of 18 KB written per record at 256
    // writers, and 11.3k instead of 14.3k appends/s (`ledger_bench appends`). A failure
    // rolls back the whole transaction instead, and the batch is written again without its
    // leaves, for the sequencer to integrate later. Failures are rare (they mean the stored
    // tree is not what this writer expected), so the second attempt costs nothing in practice.
    let mut tx = store.begin_write().await?;
    match insert_integrated(store, tree, records, &mut tx).await {
        Ok(true) => {}
        // A backlog of older rows: they went first; these wait their turn.
        Ok(false) => insert_records_tx(&mut tx, records).await?,
        Err(e) => {
            tracing::warn!(error = %e, "writing records with their leaves failed; writing them for the sequencer");
            *tree = None;
            tx.rollback().await?;
            tx = store.begin_write().await?;
            insert_records_tx(&mut tx, records).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Writes `records` with their leaves: first any older journal rows still pending (so leaves
/// keep journal order), then the records themselves, each journal row written with its leaf
/// index rather than inserted and then updated. Returns `false`, having integrated one batch
/// of older rows and written nothing of `records`, when more than that batch is pending.
async fn insert_integrated(
    store: &Store,
    state: &mut Option<CompactRange>,
    records: &[PreparedRecord],
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
) -> Result<bool, StoreError> {
    let backlog = (MAX_BATCH * 2) as i64;
    let mut range = current_range(store, state, tx).await?;
    let pending = pending_rows(tx, backlog).await?;
    let caught_up = (pending.len() as i64) < backlog;
    let mut tree = TreeWrites::default();
    let backfills = tree.append_pending(&mut range, pending)?;
    let older = tree.len();
    let mut rows: Vec<_> = records.iter().map(PreparedRecord::row).collect();
    if caught_up {
        for (row, r) in rows.iter_mut().zip(records) {
            row.leaf_index = Some(tree.push_leaf(&mut range, row.id, &r.leaf)?);
        }
    }
    tree.write(tx).await?;
    write_backfills(tx, &backfills).await?;
    tree.mark_first_integrated(tx, older).await?;
    if caught_up {
        write_records(tx, records, &rows).await?;
    }
    *state = Some(range);
    Ok(caught_up)
}
