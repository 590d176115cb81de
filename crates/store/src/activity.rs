//! Per-user activity: what the gateway asks about a user on a request (interactions today,
//! prompts flagged today, prompts flagged in a row) and what a data-subject request reports
//! (interactions kept), without a per-user index on `interactions` in SQLite.
//!
//! Why: on SQLite that index was the largest single cost of writing a record. With tens of
//! thousands of users each new entry lands on a random page of it, written whole to the
//! write-ahead log at every commit and again at the checkpoint: 5.2 of the 13.7 KB written to
//! disk per record, and 40 % of the appends per second (`ledger_bench appends --what-if`,
//! BENCHMARKS.md). PostgreSQL keeps the index and answers from it.
//!
//! SQLite instead keeps two small summaries, folded from `interactions` in batches:
//!
//! - `user_days (day, user_id, requests, flagged)`, one row per user and China day (UTC+8),
//!   keyed by day first, so a fold writes only the pages of today's rows (a few hundred pages
//!   for 50,000 active users) however long the history;
//! - `user_activity (user_id, total, streak, first_seq)`, one row per user: interactions in
//!   all, how many of the latest (in recording order) had their prompt flagged, masked,
//!   blocked or answered with the safe answer, and the user's first interaction;
//! - `user_activity_mark (seq)`: the summaries cover exactly the `interactions` rows with
//!   `seq <= mark`.
//!
//! The record writer folds the rows after the mark into the summaries, and moves the mark, in
//! the transaction of a record batch every [`FOLD_ROWS`] rows or [`FOLD_INTERVAL`] (the pool
//! path, in every transaction). A read combines the summaries with the rows after the mark
//! (a range of the table's rowid, at most one fold's worth) in one statement, so one snapshot:
//! exact whenever it runs, whatever was folded, in any process, and after a crash (the mark
//! is committed with the summaries it describes). Interaction rows are never deleted (erasure
//! clears a journal row's content), so the summaries never need to shrink.

use std::time::Duration;

use sqlx::Row;

use crate::{Backend, Store, StoreError};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// China Standard Time is UTC+8 all year.
const UTC8_MS: i64 = 8 * 3_600_000;

/// Fold the rows after the mark once this many are waiting...
pub(crate) const FOLD_ROWS: u64 = 16_384;
/// ...or once the last fold is this old.
pub(crate) const FOLD_INTERVAL: Duration = Duration::from_secs(1);

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

/// The day an interaction was received, `ChinaDay::of(received_at).number()` in SQL (integer
/// division truncates towards zero; the `CASE` makes it floor for instants before 1970).
macro_rules! day_sql {
    () => {
        "(CASE WHEN received_at + 28800000 >= 0 THEN (received_at + 28800000) / 86400000 \
         ELSE -((-(received_at + 28800000) - 1) / 86400000) - 1 END)"
    };
}

/// 1 when the row's prompt was flagged, masked, blocked or answered with the safe answer.
macro_rules! flagged_sql {
    () => {
        "(CASE WHEN input_action IN ('flag', 'mask', 'block', 'safe_answer') THEN 1 ELSE 0 END)"
    };
}

/// Folds the `interactions` rows after the mark into the summaries and moves the mark, in the
/// caller's write transaction (SQLite only). Migration `0010_user_activity.sql` runs the same
/// statements once over the whole table (a test keeps the two the same).
pub(crate) const FOLD: [&str; 3] = [
    concat!(
        "INSERT INTO user_days (day, user_id, requests, flagged) SELECT ",
        day_sql!(),
        ", user_id, COUNT(*), SUM(",
        flagged_sql!(),
        ") FROM interactions WHERE seq > (SELECT seq FROM user_activity_mark) \
         AND user_id IS NOT NULL GROUP BY 1, 2 ON CONFLICT (day, user_id) DO UPDATE SET \
         requests = requests + excluded.requests, flagged = flagged + excluded.flagged"
    ),
    // Per user: the rows after the mark, and how many of them come after the user's last
    // unflagged one among them (all of them when there is none: the streak goes on).
    concat!(
        "INSERT INTO user_activity (user_id, total, streak, first_seq) \
         SELECT t.user_id, COUNT(*), SUM(t.seq > COALESCE(g.last_ok, 0)), MIN(t.seq) \
         FROM interactions t JOIN (SELECT user_id, MAX(CASE WHEN ",
        flagged_sql!(),
        " = 0 THEN seq END) AS last_ok FROM interactions \
         WHERE seq > (SELECT seq FROM user_activity_mark) AND user_id IS NOT NULL \
         GROUP BY user_id) g ON g.user_id = t.user_id \
         WHERE t.seq > (SELECT seq FROM user_activity_mark) GROUP BY t.user_id \
         ON CONFLICT (user_id) DO UPDATE SET total = total + excluded.total, \
         streak = CASE WHEN excluded.streak = excluded.total THEN streak + excluded.streak \
         ELSE excluded.streak END"
    ),
    "UPDATE user_activity_mark SET seq = COALESCE((SELECT MAX(seq) FROM interactions), seq)",
];

/// One user's activity on a day, SQLite: the summaries plus the rows after the mark, in one
/// statement (one snapshot). `$1` user, `$2` day number, `$3` cap on the streak.
const ACTIVITY_SQLITE: &str = concat!(
    "WITH t AS MATERIALIZED (SELECT seq, ",
    day_sql!(),
    " AS day, ",
    flagged_sql!(),
    " AS f FROM interactions WHERE seq > (SELECT seq FROM user_activity_mark) \
     AND user_id = $1) \
     SELECT COALESCE((SELECT requests FROM user_days WHERE day = $2 AND user_id = $1), 0) \
       + (SELECT COUNT(*) FROM t WHERE day = $2) AS requests, \
     COALESCE((SELECT flagged FROM user_days WHERE day = $2 AND user_id = $1), 0) \
       + (SELECT COUNT(*) FROM t WHERE day = $2 AND f = 1) AS flagged, \
     MIN($3, CASE WHEN EXISTS (SELECT 1 FROM t WHERE f = 0) \
       THEN (SELECT COUNT(*) FROM t WHERE seq > (SELECT MAX(seq) FROM t WHERE f = 0)) \
       ELSE COALESCE((SELECT streak FROM user_activity WHERE user_id = $1), 0) \
         + (SELECT COUNT(*) FROM t) END) AS in_a_row"
);

/// PostgreSQL: the same from the index `interactions_user`. `$1` user, `$2`/`$3` the day.
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

/// How many interactions a user has in all, SQLite: the summary plus the rows after the mark.
const TOTAL_SQLITE: &str =
    "SELECT COALESCE((SELECT total FROM user_activity WHERE user_id = $1), 0) \
     + (SELECT COUNT(*) FROM interactions WHERE seq > (SELECT seq FROM user_activity_mark) \
        AND user_id = $1)";

/// The lowest `seq` a user's interactions can have, SQLite: their first folded one, else the
/// first row after the mark. Bounds a scan for a user's rows, newest first.
pub(crate) const FIRST_SEQ_SQLITE: &str = "COALESCE((SELECT first_seq FROM user_activity \
     WHERE user_id = {u}), (SELECT seq + 1 FROM user_activity_mark))";

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
                let row = sqlx::query(ACTIVITY_SQLITE)
                    .bind(user_id)
                    .bind(day.number())
                    .bind(i64::from(cap))
                    .fetch_one(self.pool())
                    .await?;
                Ok(UserActivity {
                    requests: row.try_get("requests")?,
                    flagged: row.try_get("flagged")?,
                    flagged_in_a_row: row.try_get("in_a_row")?,
                })
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

    /// Folds the interactions recorded since the last fold into the per-user summaries now
    /// (SQLite; nothing to do on PostgreSQL). Reads are exact without it; the record writer
    /// folds on its own schedule.
    pub async fn fold_user_activity(&self) -> Result<(), StoreError> {
        if self.backend() == Backend::Sqlite {
            let mut tx = self.begin_write().await?;
            fold_in(&mut tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Folds inside the caller's transaction, when it is on SQLite (the pool path of the record
/// writer).
pub(crate) async fn fold_in(conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
    if conn.backend_name() != "PostgreSQL" {
        for sql in FOLD {
            sqlx::query(sql).execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// How many interactions `user_id` has in all, read inside the caller's transaction.
pub(crate) async fn user_total(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
) -> Result<i64, StoreError> {
    let sql = if conn.backend_name() == "PostgreSQL" {
        "SELECT COUNT(*) FROM interactions WHERE user_id = $1"
    } else {
        TOTAL_SQLITE
    };
    Ok(sqlx::query_scalar(sql)
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The migration builds the summaries with the very statements the writer folds with.
    #[test]
    fn the_migration_folds_as_the_writer_does() {
        let migration = include_str!("../migrations/sqlite/0010_user_activity.sql");
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let migration = squash(
            &migration
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        for sql in FOLD {
            assert!(
                migration.contains(&format!("{};", squash(sql))),
                "the migration lacks `{sql}`"
            );
        }
    }
}
