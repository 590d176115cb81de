//! Support for tests that run against both backends (used by this crate's and the gateway's
//! test suites).
//!
//! PostgreSQL tests run when `HEGUI_TEST_POSTGRES_URL` is set (CI sets it to the local
//! server); each test gets a fresh database so tests never see each other's rows. When the
//! variable is set the server must be reachable: a failure to connect fails the test rather
//! than skipping it.

use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor};

/// Environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "HEGUI_TEST_POSTGRES_URL";

/// The admin URL for PostgreSQL tests, or `None` (with a message on stderr) when unset.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!(
                "skipping PostgreSQL half of this test: set {POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/test to run it (CI does)"
            );
            None
        }
    }
}

/// Test databases older than this are dropped when a new one is made. Tests do not drop
/// their own (`Drop` cannot wait for the server, and a killed test never gets there), so
/// without this every run of the suite left its databases on the server (33 per CI run).
pub const STALE_TEST_DATABASE_SECS: i64 = 6 * 3600;

/// Creates a fresh, empty database on the test server and returns its URL. Its name
/// (`hegui_t_<unix seconds>_<uuid>`) says when it was made; test databases older than
/// [`STALE_TEST_DATABASE_SECS`], and any with a name from before the time was in it, are
/// dropped first (best effort: one still in use is left alone).
pub async fn fresh_postgres_database(admin_url: &str) -> Result<String, sqlx::Error> {
    let now = chrono::Utc::now().timestamp();
    let name = format!("hegui_t_{now}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(admin_url).await?;
    drop_stale_test_databases(&mut conn, now).await;
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    conn.close().await?;
    let base = match admin_url.rfind('/') {
        Some(i) if i > "postgres://".len() => &admin_url[..i],
        _ => admin_url,
    };
    let query = admin_url
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Ok(format!("{base}/{name}{query}"))
}

/// Drops the test databases made more than [`STALE_TEST_DATABASE_SECS`] before `now`, and
/// those named without a time. Errors (a database in use, one another test run drops at the
/// same moment) leave that database for a later run.
async fn drop_stale_test_databases(conn: &mut PgConnection, now: i64) {
    let Ok(names) = sqlx::query_scalar::<_, String>(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'hegui\\_t\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    else {
        return;
    };
    for name in names {
        let stale = match name
            .strip_prefix("hegui_t_")
            .and_then(|rest| rest.split_once('_'))
        {
            Some((made, _)) => made
                .parse::<i64>()
                .is_ok_and(|t| now - t > STALE_TEST_DATABASE_SECS),
            None => true,
        };
        if stale {
            let _ = conn
                .execute(format!("DROP DATABASE IF EXISTS \"{name}\"").as_str())
                .await;
        }
    }
}

/// Every row of every table of a PostgreSQL database as JSON text (for tests that scan the
/// stored data for values that must never be stored in plain text).
pub async fn dump_postgres(url: &str) -> Result<String, sqlx::Error> {
    use sqlx::Row;
    let mut conn = PgConnection::connect(url).await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await?;
    let mut out = String::new();
    for t in tables {
        let rows = sqlx::query(&format!("SELECT row_to_json(t)::text AS j FROM \"{t}\" t"))
            .fetch_all(&mut conn)
            .await?;
        for r in rows {
            out.push_str(&r.try_get::<String, _>("j")?);
            out.push('\n');
        }
    }
    conn.close().await?;
    Ok(out)
}

/// A SQLite URL in a fresh temporary directory (kept alive by the returned guard).
pub fn fresh_sqlite_url() -> std::io::Result<(String, tempfile_guard::TempDir)> {
    let dir = tempfile_guard::TempDir::new()?;
    let url = format!("sqlite://{}", dir.path().join("hegui.db").display());
    Ok((url, dir))
}

/// A minimal temporary directory removed on drop (keeps `tempfile` out of the library's deps).
pub mod tempfile_guard {
    use std::path::{Path, PathBuf};

    /// A directory under the system temp dir, deleted with its contents on drop.
    #[derive(Debug)]
    pub struct TempDir(PathBuf);

    impl TempDir {
        /// Creates a uniquely named directory.
        pub fn new() -> std::io::Result<TempDir> {
            let p =
                std::env::temp_dir().join(format!("hegui-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&p)?;
            Ok(TempDir(p))
        }

        /// Its path.
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
