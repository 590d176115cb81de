//! hegui's persistence.
//!
//! One [`Store`] API over SQLite (the embedded default) and PostgreSQL (for scale-out),
//! through sqlx's `Any` driver so both run the very same queries. Migrations are applied at
//! start. Records are written through a [`RecordWriter`] that group-commits and acknowledges
//! each record only once its transaction is durable.
//!
//! Architecture invariant: this crate knows nothing about HTTP or review logic.

mod activity;
mod cases;
mod error;
mod export;
mod identity;
mod journal;
mod keys;
mod ledger;
mod nodes;
mod records;
mod retention;
mod sequencer;
mod sql;
mod sqlite_writer;
mod staff;
mod users;
mod verify;
mod wal;
mod writer;

pub mod testing;

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

pub use activity::{ChinaDay, UserActivity};
pub use cases::{
    CaseUpdate, Complaint, ComplaintStep, Incident, IncidentEvent, LexiconProposal, Withdrawal,
};
pub use error::StoreError;
pub use export::ExportRow;
pub use identity::{
    Consent, DeletionReport, IdBinding, IdentityCiphertexts, OtpChallenge, OtpCounter, PhoneBinding,
};
pub use journal::JournalRow;
pub use keys::{key_hash, ApiKey};
pub use ledger::{StoredCheckpoint, StoredLeaf};
pub use records::{RecordQuery, RecordRow};
pub use retention::{LegalHold, PurgeReport, Retention};
pub use sequencer::{Sequencer, SequencerConfig};
pub use staff::{StaffMember, StaffSession};
pub use users::{Factor, User, UserEvent};
pub use verify::{Problem, VerifyReport};
pub use writer::RecordWriter;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    nodes: std::sync::Arc<nodes::Nodes>,
    /// SQLite files: the thread that checkpoints the WAL, stopped with the last clone.
    _wal: Option<std::sync::Arc<wal::WalCheckpointer>>,
    /// SQLite files: the file (the record writer opens a connection of its own to it).
    sqlite_file: Option<std::sync::Arc<str>>,
    /// SQLite files: the activity file beside it (`activity.rs`), and a pool to read it.
    activity: Option<(std::sync::Arc<str>, AnyPool)>,
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    ///
    /// `sqlite://PATH` creates the file and its directory; `postgres://…` must name an
    /// existing database.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let opts = AnyConnectOptions::from_str(&url).map_err(|e| StoreError::Connect {
            url: redact(&url),
            source: e,
        })?;
        // One direct attempt first: the pool retries until its acquire timeout, which would
        // make a wrong URL take seconds to report.
        AnyConnection::connect_with(&opts)
            .await
            .map_err(|e| StoreError::Connect {
                url: redact(&url),
                source: e,
            })?
            .close()
            .await
            .map_err(StoreError::Query)?;
        let pool = AnyPoolOptions::new()
            // At least two: a sequencer keeps one connection (and, on PostgreSQL, its lock).
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; synchronous=FULL makes every
                        // commit durable before we acknowledge a record (kill -9 safe).
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        // Checkpoints run on a thread of their own (`wal.rs`); a committing
                        // connection checkpoints itself only past this backstop.
                        conn.execute(
                            format!("PRAGMA wal_autocheckpoint = {}", wal::BACKSTOP_PAGES).as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Connect {
                url: redact(&url),
                source: e,
            })?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.map_err(StoreError::Migrate)?;
        let (nodes, wal, sqlite_file) = match backend {
            Backend::Sqlite => {
                let path = sqlite_path(&url);
                let (wal, file) = if is_sqlite_file(path) {
                    (
                        Some(std::sync::Arc::new(wal::WalCheckpointer::start(path)?)),
                        Some(std::sync::Arc::from(path)),
                    )
                } else {
                    (None, None)
                };
                (nodes::Nodes::sqlite(path)?, wal, file)
            }
            Backend::Postgres => (nodes::Nodes::default(), None, None),
        };
        let activity = match &sqlite_file {
            Some(db) => Some(open_activity_pool(db).await?),
            // In memory: nothing is folded; reads count the rows themselves.
            None => None,
        };
        Ok(Store {
            pool,
            backend,
            nodes: std::sync::Arc::new(nodes),
            _wal: wal,
            sqlite_file,
            activity,
        })
    }

    /// The database file and its activity file (SQLite files).
    pub(crate) fn activity_files(&self) -> Option<(String, String)> {
        Some((
            self.sqlite_file.as_deref()?.to_string(),
            self.activity.as_ref()?.0.to_string(),
        ))
    }

    /// A pool reading the activity file (SQLite files).
    pub(crate) fn activity_pool(&self) -> Option<&AnyPool> {
        self.activity.as_ref().map(|(_, p)| p)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The SQLite file, when the store is one (not PostgreSQL, not in memory).
    pub(crate) fn sqlite_file(&self) -> Option<&str> {
        self.sqlite_file.as_deref()
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails at once
    /// with SQLITE_BUSY, without waiting, when another connection committed in between.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }
}

/// Creates (or, if damaged, rebuilds) the activity file of the SQLite file `db`, and opens a
/// small pool that reads it.
async fn open_activity_pool(db: &str) -> Result<(std::sync::Arc<str>, AnyPool), StoreError> {
    let path = activity::activity_path(db);
    let failed = |detail: String| StoreError::SqliteAux {
        path: path.clone(),
        purpose: "keeping per-user activity",
        detail,
    };
    let (setup, db) = (path.clone(), db.to_string());
    tokio::task::spawn_blocking(move || activity::prepare_activity(&db, &setup))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(failed)?;
    let url = prepare_sqlite_url(&format!("sqlite://{path}"))?;
    let connect_failed = |source| StoreError::Connect {
        url: redact(&url),
        source,
    };
    let opts = AnyConnectOptions::from_str(&url).map_err(connect_failed)?;
    let pool = AnyPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                // Read transactions only: never hold the file's write lock.
                conn.execute("PRAGMA query_only = ON").await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await
        .map_err(connect_failed)?;
    Ok((std::sync::Arc::from(path.as_str()), pool))
}

/// Adds `mode=rwc` and creates the parent directory so a fresh machine needs no setup.
fn prepare_sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path != ":memory:" && !path.is_empty() {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
        }
    }
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_string(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_string(),
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Whether a SQLite path names a file (not an in-memory database).
pub(crate) fn is_sqlite_file(path: &str) -> bool {
    !(path.is_empty() || path == ":memory:" || path.starts_with("file::memory:"))
}

/// The file of a `sqlite://PATH?QUERY` URL.
fn sqlite_path(url: &str) -> &str {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    rest.split_once('?').map_or(rest, |(path, _)| path)
}

/// Hides a password in a database URL before it goes into an error message or a log.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/x.db");
        let u = prepare_sqlite_url(&format!("sqlite://{}", p.display())).unwrap();
        assert!(u.ends_with("x.db?mode=rwc"), "{u}");
        assert!(p.parent().unwrap().is_dir());
    }
}
