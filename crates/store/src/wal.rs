//! SQLite: copying the write-ahead log back into the database file off the writers' path.
//!
//! In WAL mode every commit appends pages to the `-wal` file, and a checkpoint copies them
//! into the database file. Left to itself SQLite checkpoints in the connection that commits,
//! once the log passes `wal_autocheckpoint` pages (1,000 by default): at 256 concurrent
//! writers that is inside every second or third record-writer commit, which then takes
//! 10-13 ms instead of 3 ms while the writers wait. Here a thread of its own runs a passive
//! checkpoint (it never blocks a reader or a writer) every [`INTERVAL`], and the writers'
//! automatic checkpoint stays only as a backstop at [`BACKSTOP_PAGES`], for when this thread
//! cannot keep up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::OpenFlags;

use crate::StoreError;

/// Between two passive checkpoints.
const INTERVAL: Duration = Duration::from_millis(50);

/// `wal_autocheckpoint` of the store's own connections: the log size (pages) at which a
/// committing connection checkpoints itself.
pub(crate) const BACKSTOP_PAGES: u32 = 10_000;

/// The checkpointing thread; it stops when this is dropped (with the last clone of the
/// store).
#[derive(Debug)]
pub(crate) struct WalCheckpointer {
    stop: Arc<AtomicBool>,
}

impl WalCheckpointer {
    /// Starts checkpointing the SQLite database at `path` (a file, not `:memory:`).
    pub(crate) fn start(path: &str) -> Result<WalCheckpointer, StoreError> {
        let failed = |e: &dyn std::fmt::Display| StoreError::SqliteAux {
            path: path.into(),
            purpose: "checkpointing the write-ahead log",
            detail: e.to_string(),
        };
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| failed(&e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| failed(&e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("hegui-wal-checkpoint".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(INTERVAL);
                    // (busy, log pages, pages checkpointed); busy = 1 only if another
                    // checkpoint ran at the same moment: the next round catches up.
                    let done = conn
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                    }
                }
            })
            .map_err(|e| failed(&e))?;
        Ok(WalCheckpointer { stop })
    }
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages committed to the log reach the database file without any writer checkpointing.
    #[test]
    fn committed_pages_reach_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let path = path.to_str().unwrap();
        let writer = rusqlite::Connection::open(path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (x BLOB);",
            )
            .unwrap();
        for _ in 0..500 {
            writer
                .execute("INSERT INTO t VALUES (randomblob(2000))", [])
                .unwrap();
        }
        let file_len = || std::fs::metadata(path).unwrap().len();
        assert!(file_len() < 100_000, "nothing checkpointed yet");
        let checkpointer = WalCheckpointer::start(path).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while file_len() < 1_000_000 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            file_len() >= 1_000_000,
            "the log was not copied: {}",
            file_len()
        );
        drop(checkpointer);
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let err = WalCheckpointer::start("/nonexistent-dir/x.db").unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent-dir/x.db (checkpointing the write-ahead log)"),
            "{err}"
        );
    }
}
