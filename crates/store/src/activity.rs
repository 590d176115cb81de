//! Per-user activity on SQLite, and a user's records, without a per-user index on
//! `interactions`.
//!
//! What is asked: the gateway, per request of a minor or flagged prompt, how many interactions
//! a user had today (China day), how many of today's prompts were flagged (flagged, masked,
//! blocked or answered with the safe answer), and how many of the latest were flagged in a
//! row; a deletion request, how many interactions are kept; the console and subject-access
//! exports, a user's records, newest first. PostgreSQL answers all of it from the index
//! `interactions_user`.
//!
//! Why not that index on SQLite: with tens of thousands of users each new entry lands on a
//! random page of it, written whole to the write-ahead log at every commit and again at the
//! checkpoint: 5 of the 14 KB written to disk per record, ~40 % of the appends per second
//! (`ledger_bench appends`, BENCHMARKS.md).
//!
//! Instead a second SQLite file beside the database, the **activity file** (`<db>.activity`),
//! holds data derived from `interactions`, built by a thread of its own ([`ActivityFolder`])
//! on its own write lock, so the record writer never waits for it:
//!
//! - `mark (seq)`: everything below covers exactly the `interactions` rows with `seq <= mark`;
//! - `user_days (day, user_id, requests, flagged)`, keyed by day first, so a fold writes only
//!   the pages of today's rows however long the history;
//! - `user_activity (user_id, total, streak, first_seq)`: interactions in all, how many of the
//!   latest (in recording order) were flagged in a row, the first one;
//! - `user_runs (run, user_id, seq)`: which rows are whose, as sorted runs, one per fold,
//!   appended at the right edge of the B-tree (no random page writes) and merged in the
//!   background, `FANOUT` runs of a level into one of the next, in steps of bounded size,
//!   so that a lookup reads a few dozen runs at most (a log-structured merge tree's levels).
//!
//! The folder folds the rows after the mark every [`FOLD_INTERVAL`], at most [`FOLD_CHUNK`]
//! rows per transaction. A read asks the activity file first (a pool of its own, read
//! transactions only), then the database for the `interactions` rows after the file's mark:
//! every row up to the mark was committed before the fold read it, so the second read sees
//! all of them, and the sum is exact whenever it runs, whatever has been folded, in any
//! process. (Not one statement over both files: a write transaction on a connection with
//! another file attached takes that file's write lock too.) The
//! file is derived data: it is synced only at its checkpoints, and if it is lost or damaged
//! it is deleted and rebuilt from `interactions` (the mark then starts from 0). Interaction
//! rows are never deleted (erasure clears a journal row's content), so nothing folded ever
//! needs to come out again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use sqlx::Row;

use crate::{Backend, Store, StoreError};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// China Standard Time is UTC+8 all year.
const UTC8_MS: i64 = 8 * 3_600_000;

/// Between two folds.
pub(crate) const FOLD_INTERVAL: Duration = Duration::from_secs(1);
/// At most this many `interactions` rows per fold transaction (a first fold over an existing
/// log goes in such steps).
const FOLD_CHUNK: i64 = 100_000;
/// Runs of one level merged into one of the next.
const FANOUT: i64 = 8;
/// Rows moved per merge transaction, about.
const MERGE_STEP: i64 = 100_000;
/// Time the folder spends merging after each fold, at most (then it folds again).
const MERGE_BUDGET: Duration = Duration::from_millis(500);

/// A calendar day in China (UTC+8), as days since 1970-01-01 there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChinaDay(i64);

impl ChinaDay {
    /// The China day that contains the instant `ms` (Unix milliseconds).
    pub fn of(ms: i64) -> ChinaDay {
        ChinaDay((ms + UTC8_MS).div_euclid(DAY_MS))
    }

    /// Days since 1970-01-01 in China.
    pub fn number(self) -> i64 {
        self.0
    }

    /// Its first instant (00:00 China time), in Unix milliseconds.
    pub fn start_ms(self) -> i64 {
        self.0 * DAY_MS - UTC8_MS
    }
}

/// What the gateway needs to know about a user before serving a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserActivity {
    /// Interactions received on the day asked about.
    pub requests: i64,
    /// Of those, the ones whose prompt was flagged, masked, blocked or answered with the safe
    /// answer.
    pub flagged: i64,
    /// How many of the user's latest interactions had their prompt flagged (…) one after the
    /// other, capped at the `cap` asked for. SQLite counts in recording order, PostgreSQL in
    /// order of receipt; they differ only where a user's requests overlapped.
    pub flagged_in_a_row: i64,
}

/// The input actions that count as flagged.
const FLAGGED: [&str; 4] = ["flag", "mask", "block", "safe_answer"];

/// 1 when the row's prompt was flagged, masked, blocked or answered with the safe answer.
macro_rules! flagged_sql {
    () => {
        "(CASE WHEN input_action IN ('flag', 'mask', 'block', 'safe_answer') THEN 1 ELSE 0 END)"
    };
}

/// The day an interaction was received, `ChinaDay::of(received_at).number()` in SQL (integer
/// division truncates towards zero; the `CASE` makes it floor for instants before 1970).
macro_rules! day_sql {
    () => {
        "(CASE WHEN received_at + 28800000 >= 0 THEN (received_at + 28800000) / 86400000 \
         ELSE -((-(received_at + 28800000) - 1) / 86400000) - 1 END)"
    };
}

/// The activity file's tables; `{s}` is the schema. Idempotent: every process that opens the
/// store runs it.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS {s}.mark (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL,
    -- The id of the last interaction folded: a database restored from a backup, or another
    -- database in this one's place, does not have it there, and the file is rebuilt.
    id TEXT
);
INSERT OR IGNORE INTO {s}.mark (one, seq, id) VALUES (1, 0, NULL);
CREATE TABLE IF NOT EXISTS {s}.user_days (
    day INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    requests INTEGER NOT NULL,
    flagged INTEGER NOT NULL,
    PRIMARY KEY (day, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {s}.user_activity (
    user_id TEXT PRIMARY KEY,
    total INTEGER NOT NULL,
    streak INTEGER NOT NULL,
    first_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {s}.runs (
    run INTEGER PRIMARY KEY,
    level INTEGER NOT NULL,
    rows INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.user_runs (
    run INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (run, user_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {s}.merge (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    target INTEGER NOT NULL,
    done_through TEXT
);
CREATE TABLE IF NOT EXISTS {s}.merge_sources (run INTEGER PRIMARY KEY);
";

/// The activity file's tables in schema `schema`.
pub(crate) fn schema_sql(schema: &str) -> String {
    SCHEMA.replace("{s}", schema)
}

/// The activity file of the SQLite database file `db`.
pub(crate) fn activity_path(db: &str) -> String {
    format!("{db}.activity")
}

/// PostgreSQL: a user's interactions on a day, from the index `interactions_user`. `$1` user,
/// `$2`/`$3` the day.
const ACTIVITY_POSTGRES: &str = concat!(
    "SELECT COUNT(*) AS requests, COALESCE(SUM(",
    flagged_sql!(),
    "), 0) AS flagged FROM interactions \
     WHERE user_id = $1 AND received_at >= $2 AND received_at < $3"
);

/// PostgreSQL: the latest input actions, newest first, for the streak.
const RECENT_POSTGRES: &str = concat!(
    "SELECT ",
    flagged_sql!(),
    " AS f FROM interactions WHERE user_id = $1 \
     ORDER BY received_at DESC, seq DESC LIMIT $2"
);

/// What the activity file says about a user: its mark, and the user's summaries up to it.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    /// The file covers the `interactions` rows with `seq <= mark`.
    pub(crate) mark: i64,
    requests: i64,
    flagged: i64,
    streak: i64,
    total: i64,
}

impl Store {
    /// What the activity file says about `user_id` (and `day`); nothing (mark 0) without one.
    /// Read before the rows after the mark, so that those include everything it does not.
    pub(crate) async fn folded(&self, user_id: &str, day: ChinaDay) -> Result<Folded, StoreError> {
        let Some(pool) = self.activity_pool() else {
            return Ok(Folded::default());
        };
        let row = sqlx::query(
            "SELECT m.seq AS mark, COALESCE(d.requests, 0) AS requests, \
             COALESCE(d.flagged, 0) AS flagged, COALESCE(a.streak, 0) AS streak, \
             COALESCE(a.total, 0) AS total FROM mark m \
             LEFT JOIN user_days d ON d.day = $1 AND d.user_id = $2 \
             LEFT JOIN user_activity a ON a.user_id = $2",
        )
        .bind(day.number())
        .bind(user_id)
        .fetch_one(pool)
        .await?;
        Ok(Folded {
            mark: row.try_get("mark")?,
            requests: row.try_get("requests")?,
            flagged: row.try_get("flagged")?,
            streak: row.try_get("streak")?,
            total: row.try_get("total")?,
        })
    }

    /// The `seq`s of `user_id`'s folded interactions (every run of the activity file), and the
    /// mark they go up to.
    pub(crate) async fn folded_seqs(&self, user_id: &str) -> Result<(i64, Vec<i64>), StoreError> {
        let Some(pool) = self.activity_pool() else {
            return Ok((0, Vec::new()));
        };
        // One read transaction: the runs and the mark of one snapshot.
        let mut tx = pool.begin().await?;
        let mark: i64 = sqlx::query_scalar("SELECT seq FROM mark")
            .fetch_one(&mut *tx)
            .await?;
        let seqs: Vec<i64> = sqlx::query_scalar(
            "SELECT seq FROM user_runs WHERE run IN (SELECT run FROM runs) AND user_id = $1",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((mark, seqs))
    }
}

impl Store {
    /// `user_id`'s interactions on `day`, and how many of their latest prompts were flagged in a
    /// row (counted up to `cap`).
    pub async fn user_activity(
        &self,
        user_id: &str,
        day: ChinaDay,
        cap: u32,
    ) -> Result<UserActivity, StoreError> {
        match self.backend() {
            Backend::Sqlite => {
                let folded = self.folded(user_id, day).await?;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    day_sql!(),
                    " AS day, ",
                    flagged_sql!(),
                    " AS f FROM interactions WHERE seq > $1 AND user_id = $2 ORDER BY seq"
                ))
                .bind(folded.mark)
                .bind(user_id)
                .fetch_all(self.pool())
                .await?;
                let mut a = UserActivity {
                    requests: folded.requests,
                    flagged: folded.flagged,
                    flagged_in_a_row: folded.streak,
                };
                for r in &rows {
                    let flagged = r.try_get::<i64, _>("f")? == 1;
                    if r.try_get::<i64, _>("day")? == day.number() {
                        a.requests += 1;
                        a.flagged += i64::from(flagged);
                    }
                    a.flagged_in_a_row = if flagged { a.flagged_in_a_row + 1 } else { 0 };
                }
                a.flagged_in_a_row = a.flagged_in_a_row.min(i64::from(cap));
                Ok(a)
            }
            Backend::Postgres => {
                let row = sqlx::query(ACTIVITY_POSTGRES)
                    .bind(user_id)
                    .bind(day.start_ms())
                    .bind(day.start_ms() + DAY_MS)
                    .fetch_one(self.pool())
                    .await?;
                let recent = sqlx::query(RECENT_POSTGRES)
                    .bind(user_id)
                    .bind(i64::from(cap))
                    .fetch_all(self.pool())
                    .await?;
                let mut in_a_row = 0;
                for r in &recent {
                    if r.try_get::<i32, _>("f")? == 0 {
                        break;
                    }
                    in_a_row += 1;
                }
                Ok(UserActivity {
                    requests: row.try_get("requests")?,
                    flagged: row.try_get("flagged")?,
                    flagged_in_a_row: in_a_row,
                })
            }
        }
    }

    /// Folds the interactions recorded since the last fold into the activity file now, and
    /// finishes any merge (SQLite; nothing to do on PostgreSQL). Reads are exact without it;
    /// the record writer's [`ActivityFolder`] folds on its own schedule.
    pub async fn fold_user_activity(&self) -> Result<(), StoreError> {
        let Some(files) = self.activity_files() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || {
            let mut folder = Folding::open(&files.0, &files.1)?;
            while folder.fold_once()? > 0 {}
            while folder.merge_step(MERGE_STEP)? {}
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Ledger(format!("folding user activity: {e}")))?
    }

    /// Starts folding this store's interactions into its activity file in the background
    /// (SQLite; `None` on PostgreSQL). It stops when the handle is dropped.
    pub(crate) fn start_folder(&self) -> Result<Option<ActivityFolder>, StoreError> {
        match self.activity_files() {
            Some((db, act)) => ActivityFolder::start(db, act).map(Some),
            None => Ok(None),
        }
    }
}

impl Store {
    /// How many interactions `user_id` has in all, counted inside the caller's transaction.
    pub(crate) async fn user_total(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<i64, StoreError> {
        Ok(match self.backend() {
            Backend::Postgres => {
                sqlx::query_scalar("SELECT COUNT(*) FROM interactions WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *conn)
                    .await?
            }
            Backend::Sqlite => {
                let folded = self.folded(user_id, ChinaDay(0)).await?;
                let after: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM interactions WHERE seq > $1 AND user_id = $2",
                )
                .bind(folded.mark)
                .bind(user_id)
                .fetch_one(&mut *conn)
                .await?;
                folded.total + after
            }
        })
    }
}

/// Folds in the background: a thread with its own connections to the database (read only)
/// and to the activity file, stopped (and joined) when dropped.
pub(crate) struct ActivityFolder {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ActivityFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActivityFolder")
    }
}

impl ActivityFolder {
    fn start(db: String, act: String) -> Result<ActivityFolder, StoreError> {
        let mut folding = Folding::open(&db, &act)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hegui-activity".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    if let Err(e) = folding.run_once(&stopped) {
                        // Reads stay exact (they read the rows after the mark); the next
                        // round tries again.
                        tracing::warn!(error = %e, "folding user activity failed; retrying");
                    }
                    std::thread::park_timeout(FOLD_INTERVAL);
                }
            })
            .map_err(|e| StoreError::SqliteAux {
                path: act.clone(),
                purpose: "folding user activity",
                detail: e.to_string(),
            })?;
        Ok(ActivityFolder {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ActivityFolder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Per user, what one fold adds.
#[derive(Default)]
struct UserFold {
    rows: i64,
    /// Flagged rows since the user's last unflagged one in this fold.
    streak: i64,
    /// Whether the fold had an unflagged row of the user (the streak restarts).
    broken: bool,
    first_seq: i64,
}

/// The folder's two connections.
struct Folding {
    /// The database, read only.
    rec: Connection,
    /// The activity file.
    act: Connection,
}

impl Folding {
    fn open(db: &str, act_path: &str) -> Result<Folding, StoreError> {
        let failed = |detail: String| StoreError::SqliteAux {
            path: act_path.into(),
            purpose: "folding user activity",
            detail,
        };
        let rec = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| failed(format!("cannot open {db}: {e}")))?;
        rec.busy_timeout(Duration::from_secs(10))
            .map_err(|e| failed(e.to_string()))?;
        let act = open_activity(act_path, false).map_err(failed)?;
        Ok(Folding { rec, act })
    }

    /// Folds until caught up, then merges for at most [`MERGE_BUDGET`].
    fn run_once(&mut self, stop: &AtomicBool) -> Result<(), StoreError> {
        while self.fold_once()? > 0 && !stop.load(Ordering::Relaxed) {}
        let started = Instant::now();
        while started.elapsed() < MERGE_BUDGET
            && !stop.load(Ordering::Relaxed)
            && self.merge_step(MERGE_STEP)?
        {}
        Ok(())
    }

    /// Folds up to [`FOLD_CHUNK`] rows after the mark in one transaction; returns how many.
    fn fold_once(&mut self) -> Result<i64, StoreError> {
        self.fold_chunk(FOLD_CHUNK)
    }

    fn fold_chunk(&mut self, chunk: i64) -> Result<i64, StoreError> {
        let tx = self
            .act
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mark: i64 = tx.query_row("SELECT seq FROM mark", [], |r| r.get(0))?;
        let top: i64 =
            self.rec
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM interactions", [], |r| {
                    r.get(0)
                })?;
        if top <= mark {
            return Ok(0);
        }
        let hi = top.min(mark.saturating_add(chunk));
        let mut days: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
        let mut users: BTreeMap<String, UserFold> = BTreeMap::new();
        let mut seqs: Vec<(String, i64)> = Vec::new();
        {
            let mut rows = self.rec.prepare_cached(
                "SELECT seq, user_id, received_at, input_action FROM interactions \
                 WHERE seq > ?1 AND seq <= ?2 AND user_id IS NOT NULL ORDER BY seq",
            )?;
            let mut rows = rows.query(params![mark, hi])?;
            while let Some(r) = rows.next()? {
                let seq: i64 = r.get(0)?;
                let user: String = r.get(1)?;
                let at: i64 = r.get(2)?;
                let action: Option<String> = r.get(3)?;
                let flagged = action.as_deref().is_some_and(|a| FLAGGED.contains(&a));
                let d = days
                    .entry((ChinaDay::of(at).number(), user.clone()))
                    .or_default();
                d.0 += 1;
                d.1 += i64::from(flagged);
                let u = users.entry(user.clone()).or_insert_with(|| UserFold {
                    first_seq: seq,
                    ..UserFold::default()
                });
                u.rows += 1;
                if flagged {
                    u.streak += 1;
                } else {
                    u.streak = 0;
                    u.broken = true;
                }
                seqs.push((user, seq));
            }
        }
        {
            let mut day = tx.prepare_cached(
                "INSERT INTO user_days (day, user_id, requests, flagged) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (day, user_id) DO UPDATE SET requests = requests + excluded.requests, \
                 flagged = flagged + excluded.flagged",
            )?;
            for ((d, user), (n, f)) in &days {
                day.execute(params![d, user, n, f])?;
            }
            let mut user = tx.prepare_cached(
                "INSERT INTO user_activity (user_id, total, streak, first_seq) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id) DO UPDATE SET \
                 total = total + excluded.total, \
                 streak = CASE WHEN ?5 THEN excluded.streak ELSE streak + excluded.streak END",
            )?;
            for (id, u) in &users {
                user.execute(params![id, u.rows, u.streak, u.first_seq, u.broken])?;
            }
            if !seqs.is_empty() {
                seqs.sort_unstable();
                let run: i64 =
                    tx.query_row("SELECT COALESCE(MAX(run), 0) + 1 FROM runs", [], |r| {
                        r.get(0)
                    })?;
                tx.execute(
                    "INSERT INTO runs (run, level, rows) VALUES (?1, 0, ?2)",
                    params![run, seqs.len() as i64],
                )?;
                let mut put = tx.prepare_cached(
                    "INSERT INTO user_runs (run, user_id, seq) VALUES (?1, ?2, ?3)",
                )?;
                for (user, seq) in &seqs {
                    put.execute(params![run, user, seq])?;
                }
            }
            let id = id_at(&self.rec, hi)?;
            tx.execute("UPDATE mark SET seq = ?1, id = ?2", params![hi, id])?;
        }
        tx.commit()?;
        Ok(hi - mark)
    }

    /// One step of merging runs: starts a merge when some level has [`FANOUT`] runs, or moves
    /// about `step` rows of the merge under way into its target run, in one transaction.
    /// Returns `false` when there was nothing to merge.
    fn merge_step(&mut self, step: i64) -> Result<bool, StoreError> {
        let tx = self
            .act
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(i64, Option<String>)> = tx
            .query_row("SELECT target, done_through FROM merge", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((target, done_through)) = current else {
            // Plan one: the oldest FANOUT runs of the lowest level that has that many.
            let level: Option<i64> = tx
                .query_row(
                    "SELECT level FROM runs GROUP BY level HAVING COUNT(*) >= ?1 \
                     ORDER BY level LIMIT 1",
                    [FANOUT],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(level) = level else {
                return Ok(false);
            };
            let target: i64 =
                tx.query_row("SELECT COALESCE(MAX(run), 0) + 1 FROM runs", [], |r| {
                    r.get(0)
                })?;
            tx.execute(
                "INSERT INTO merge_sources (run) SELECT run FROM runs WHERE level = ?1 \
                 ORDER BY run LIMIT ?2",
                params![level, FANOUT],
            )?;
            tx.execute(
                "INSERT INTO runs (run, level, rows) VALUES (?1, ?2, 0)",
                params![target, level + 1],
            )?;
            tx.execute(
                "INSERT INTO merge (one, target, done_through) VALUES (1, ?1, NULL)",
                [target],
            )?;
            tx.commit()?;
            return Ok(true);
        };
        // Up to which user this step goes: `step` rows on, counted in the largest source
        // (the sources of a level are of similar sizes).
        let (biggest, sources): (i64, i64) = tx.query_row(
            "SELECT (SELECT r.run FROM runs r JOIN merge_sources s ON s.run = r.run \
               ORDER BY r.rows DESC LIMIT 1), (SELECT COUNT(*) FROM merge_sources)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let through: Option<String> = tx
            .query_row(
                "SELECT user_id FROM user_runs WHERE run = ?1 \
                 AND (?2 IS NULL OR user_id > ?2) ORDER BY user_id LIMIT 1 OFFSET ?3",
                params![biggest, done_through, (step / sources.max(1)).max(1)],
                |r| r.get(0),
            )
            .optional()?;
        // (done_through, through]; `None` bounds are open.
        let range = "run IN (SELECT run FROM merge_sources) AND (?1 IS NULL OR user_id > ?1) \
                     AND (?2 IS NULL OR user_id <= ?2)";
        let moved = tx.execute(
            &format!(
                "INSERT INTO user_runs (run, user_id, seq) SELECT ?3, user_id, seq \
                 FROM user_runs WHERE {range} ORDER BY user_id, seq"
            ),
            params![done_through, through, target],
        )?;
        tx.execute(
            &format!("DELETE FROM user_runs WHERE {range}"),
            params![done_through, through],
        )?;
        tx.execute(
            "UPDATE runs SET rows = rows + ?1 WHERE run = ?2",
            params![moved as i64, target],
        )?;
        match through {
            Some(t) => {
                tx.execute("UPDATE merge SET done_through = ?1", [t])?;
            }
            None => {
                tx.execute_batch(
                    "DELETE FROM runs WHERE run IN (SELECT run FROM merge_sources); \
                     DELETE FROM merge_sources; DELETE FROM merge;",
                )?;
            }
        }
        tx.commit()?;
        Ok(true)
    }
}

/// The id of the last interaction at or before `seq`: what the mark records.
fn id_at(rec: &Connection, seq: i64) -> rusqlite::Result<Option<String>> {
    rec.query_row(
        "SELECT id FROM interactions WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1",
        [seq],
        |r| r.get(0),
    )
    .optional()
}

/// Makes the activity file at `path` ready for the database file `db` as the store opens:
/// created with its tables, or rebuilt when SQLite cannot open it or its mark is not this
/// database's (the interaction at the mark is not the one it names).
pub(crate) fn prepare_activity(db: &str, path: &str) -> Result<(), String> {
    let rec = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open {db}: {e}"))?;
    let matches = |mark: i64, id: Option<String>| -> Result<bool, String> {
        if mark == 0 {
            return Ok(true);
        }
        let top: i64 = rec
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM interactions", [], |r| {
                r.get(0)
            })
            .map_err(|e| e.to_string())?;
        Ok(top >= mark && id_at(&rec, mark).map_err(|e| e.to_string())? == id)
    };
    open_activity_checked(path, true, matches).map(drop)
}

/// Opens (creating) the activity file at `path` with its tables. With `rebuild`, a file
/// SQLite cannot read (derived data) is removed and built again; only the store's opening
/// does that, before anything else has the file open.
pub(crate) fn open_activity(path: &str, rebuild: bool) -> Result<Connection, String> {
    open_activity_checked(path, rebuild, |_, _| Ok(true))
}

/// [`open_activity`], and with `rebuild` also when `matches(mark, id)` says the file's mark
/// is not this database's (see the `mark` table).
fn open_activity_checked(
    path: &str,
    rebuild: bool,
    matches: impl Fn(i64, Option<String>) -> Result<bool, String>,
) -> Result<Connection, String> {
    let open = || -> Result<Connection, String> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| e.to_string())?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())?;
        // Derived data: a power loss may lose the last folds, never the file's consistency.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| e.to_string())?;
        conn.execute_batch(&schema_sql("main"))
            .map_err(|e| e.to_string())?;
        let (mark, id) = conn
            .query_row("SELECT seq, id FROM mark", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(|e| e.to_string())?;
        if !matches(mark, id)? {
            return Err(format!(
                "it was built from another database than this one (up to record {mark})"
            ));
        }
        Ok(conn)
    };
    match open() {
        Ok(c) => Ok(c),
        Err(first) if rebuild => {
            tracing::warn!(path, error = %first, "the activity file cannot be used; rebuilding it from the interactions");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
            open().map_err(|e| format!("{e} (after removing it, first: {first})"))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn china_days_start_at_midnight_utc8() {
        // 2026-12-01 00:00 China time = 2026-11-30 16:00 UTC.
        let midnight = 1_764_518_400_000;
        let day = ChinaDay::of(midnight);
        assert_eq!(day.start_ms(), midnight);
        assert_eq!(ChinaDay::of(midnight - 1).number(), day.number() - 1);
        assert_eq!(ChinaDay::of(midnight + DAY_MS - 1), day);
        assert_eq!(ChinaDay::of(-UTC8_MS).number(), 0);
        assert_eq!(ChinaDay::of(-UTC8_MS - 1).number(), -1);
    }

    /// The SQL day of an instant is `ChinaDay::of`, before 1970 too.
    #[test]
    fn the_sql_day_is_the_china_day() {
        let c = Connection::open_in_memory().unwrap();
        for at in [
            0,
            -1,
            -UTC8_MS,
            -UTC8_MS - 1,
            -DAY_MS * 3 - 5,
            1_764_518_400_000,
            1_764_518_399_999,
        ] {
            let d: i64 = c
                .query_row(
                    &format!("SELECT {} FROM (SELECT ?1 AS received_at)", day_sql!()),
                    [at],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(d, ChinaDay::of(at).number(), "{at}");
        }
    }

    /// Runs hold exactly each user's rows, whatever was folded and however far merges got:
    /// a seeded random history folded in random chunks and merged with small fan-out in
    /// small steps, checked against the rows after every fold and every merge step.
    #[test]
    fn runs_hold_each_users_rows_through_folds_and_merges() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("h.db").display().to_string();
        let act = activity_path(&db);
        let rec = Connection::open(&db).unwrap();
        rec.execute_batch(
            "CREATE TABLE interactions (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, \
             user_id TEXT, received_at INTEGER NOT NULL, input_action TEXT)",
        )
        .unwrap();
        let mut f = Folding::open(&db, &act).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let users = ["a", "b", "c", "d", "e", "f", "g"];
        let check = |f: &Folding| {
            for u in users {
                let mut got: Vec<i64> = f
                    .act
                    .prepare("SELECT seq FROM user_runs WHERE run IN (SELECT run FROM runs) AND user_id = ?1")
                    .unwrap()
                    .query_map([u], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                got.sort_unstable();
                let mark: i64 = f
                    .act
                    .query_row("SELECT seq FROM mark", [], |r| r.get(0))
                    .unwrap();
                let want: Vec<i64> = rec
                    .prepare("SELECT seq FROM interactions WHERE user_id = ?1 AND seq <= ?2 ORDER BY seq")
                    .unwrap()
                    .query_map(params![u, mark], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                assert_eq!(got, want, "user {u}");
            }
        };
        let mut merges = 0;
        for round in 0..60 {
            for _ in 0..rng.gen_range(1..40) {
                let user = (rng.gen_range(0..8) < 7).then(|| users[rng.gen_range(0..users.len())]);
                rec.execute(
                    "INSERT INTO interactions (id, user_id, received_at, input_action) \
                     VALUES (lower(hex(randomblob(8))), ?1, ?2, 'allow')",
                    params![user, round],
                )
                .unwrap();
            }
            f.fold_chunk(rng.gen_range(1..50)).unwrap();
            check(&f);
            // Merges with a fan-out of FANOUT, in steps of a few rows.
            for _ in 0..rng.gen_range(0..6) {
                if f.merge_step(rng.gen_range(1..8)).unwrap() {
                    merges += 1;
                }
                check(&f);
            }
        }
        while f.fold_once().unwrap() > 0 {}
        while f.merge_step(5).unwrap() {
            merges += 1;
        }
        check(&f);
        assert!(merges > 20, "only {merges} merge steps ran");
        let levels: i64 = f
            .act
            .query_row("SELECT MAX(level) FROM runs", [], |r| r.get(0))
            .unwrap();
        assert!(levels >= 1, "no run was merged");
        let runs: i64 = f
            .act
            .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
            .unwrap();
        assert!(
            runs < FANOUT * (levels + 1),
            "{runs} runs left over {levels} levels"
        );
    }

    /// A damaged activity file is rebuilt, not fatal.
    #[test]
    fn a_damaged_activity_file_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db.activity").display().to_string();
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let c = open_activity(&path, true).unwrap();
        let mark: i64 = c
            .query_row("SELECT seq FROM mark", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mark, 0);
    }
}
