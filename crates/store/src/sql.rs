//! Statements built at run time (multi-row inserts, `IN` lists): placeholders that suit the
//! backend.

use std::fmt::Write as _;

use crate::Backend;

/// Writes the placeholders of a statement built at run time, in the order they are bound:
/// anonymous `?` on SQLite, `$1, $2, …` on PostgreSQL.
///
/// Why not `$n` on both (SQLite accepts it): sqlx binds each SQLite parameter after asking
/// SQLite for its name, and SQLite finds the name of a numbered or named parameter by a
/// linear search, so binding a statement with n of them costs O(n²). With the ledger's
/// 600–1,000-parameter batch statements that was a quarter of the SQLite thread's time.
/// Anonymous parameters have no name to look up.
#[derive(Debug)]
pub(crate) struct Marks {
    numbered: bool,
    count: usize,
}

impl Marks {
    pub(crate) fn new(backend: Backend) -> Self {
        Self {
            numbered: backend == Backend::Postgres,
            count: 0,
        }
    }

    /// Appends the next placeholder.
    pub(crate) fn push(&mut self, sql: &mut String) {
        self.count += 1;
        if self.numbered {
            let _ = write!(sql, "${}", self.count);
        } else {
            sql.push('?');
        }
    }

    /// Appends `rows` tuples of `cols` placeholders, comma separated: `(?, ?), (?, ?)`.
    pub(crate) fn push_rows(&mut self, sql: &mut String, rows: usize, cols: usize) {
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            self.push_list(sql, cols);
            sql.push(')');
        }
    }

    /// Appends `n` placeholders, comma separated.
    pub(crate) fn push_list(&mut self, sql: &mut String, n: usize) {
        for c in 0..n {
            if c > 0 {
                sql.push_str(", ");
            }
            self.push(sql);
        }
    }
}

impl Marks {
    /// Placeholders for the backend `conn` talks to.
    pub(crate) fn for_conn(conn: &sqlx::AnyConnection) -> Self {
        Self::new(if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let mut sql = String::from("INSERT INTO t (a, b) VALUES ");
        Marks::new(Backend::Postgres).push_rows(&mut sql, 2, 2);
        assert_eq!(sql, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        let mut sql = String::from("x IN (");
        let mut m = Marks::new(Backend::Sqlite);
        m.push_list(&mut sql, 3);
        sql.push(')');
        assert_eq!(sql, "x IN (?, ?, ?)");
    }
}
