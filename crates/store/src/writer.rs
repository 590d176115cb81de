//! Group commit: many concurrent requests share one transaction (and one fsync), and each
//! is acknowledged only after that transaction commits.

use hegui_types::InteractionRecord;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

use crate::{Store, StoreError};

type Ack = oneshot::Sender<Result<(), String>>;

/// Most records committed in one transaction.
const MAX_BATCH: usize = 512;

/// Handle for writing records durably; cheap to clone.
#[derive(Clone, Debug)]
pub struct RecordWriter {
    tx: mpsc::Sender<(InteractionRecord, Ack)>,
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
        let (tx, mut rx) = mpsc::channel::<(InteractionRecord, Ack)>(8192);
        let task = tokio::spawn(async move {
            let mut batch: Vec<(InteractionRecord, Ack)> = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let records: Vec<InteractionRecord> =
                    batch.iter().map(|(r, _)| r.clone()).collect();
                let result = store.insert_records(&records).await;
                match &result {
                    Err(e) => {
                        tracing::error!(error = %e, count = records.len(), "record batch failed")
                    }
                    Ok(()) => {
                        if let Some(w) = &wake {
                            w.notify_one();
                        }
                    }
                }
                let result = result.map_err(|e| e.to_string());
                for (_, ack) in batch.drain(..) {
                    // The requester may have gone away; the record is written either way.
                    let _ = ack.send(result.clone());
                }
            }
        });
        (RecordWriter { tx }, task)
    }

    /// Queues a record and waits until it is durable.
    pub async fn write(&self, record: InteractionRecord) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send((record, ack))
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err(StoreError::WriteFailed(msg)),
            Err(_) => Err(StoreError::WriterClosed),
        }
    }
}
