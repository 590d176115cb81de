/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL has an unsupported scheme.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    BadUrl(String),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database could not be reached.
    #[error("cannot connect to {url}: {source}; check storage.database_url and that the server is running")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver error.
        source: sqlx::Error,
    },
    /// A connection of the store's own (the proofs' node reader, the WAL checkpointer) to
    /// the SQLite file could not be opened.
    #[error("cannot open {path} ({purpose}): {detail}")]
    SqliteAux {
        /// The database file.
        path: String,
        /// What the connection is for.
        purpose: &'static str,
        /// The SQLite or OS error.
        detail: String,
    },
    /// A statement on one of the store's own SQLite connections (the record writer's) failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Migrations failed.
    #[error("cannot apply database migrations: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored record could not be decoded (it was altered or written by a newer version).
    #[error("stored record {id} is not a valid canonical record: {detail}")]
    Corrupt {
        /// The record id.
        id: String,
        /// What failed.
        detail: String,
    },
    /// No such user or key.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// `user` or `key`.
        kind: &'static str,
        /// The id looked up.
        id: String,
    },
    /// The transaction carrying a record failed; the record was not written.
    #[error("record not written: {0}")]
    WriteFailed(String),
    /// The record was committed but the write-ahead log could not be synced to disk, so it may
    /// not survive a power loss; or such a failure earlier stopped the writer (SQLite).
    #[error("record not made durable: {0}")]
    NotDurable(String),
    /// The operation is not allowed in the current state; the message says why and what to do.
    #[error("{0}")]
    Refused(String),
    /// A uniqueness rule would be broken (e.g. a number already verified for another account).
    #[error("{0}")]
    Conflict(&'static str),
    /// The Merkle log's stored state is inconsistent or a proof was asked for out of range.
    #[error("ledger: {0}")]
    Ledger(String),
    /// The record writer has stopped (the process is shutting down).
    #[error("the record writer has stopped; the record was not written")]
    WriterClosed,
}
