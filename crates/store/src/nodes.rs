//! Where proofs get their tree nodes from, fast.
//!
//! A proof at 10M leaves needs ~24 perfect-subtree nodes, one per level. Asking the database
//! for all of them costs one pool round trip (55-100 µs through sqlx by itself, `Store::ping`)
//! plus an OR of 24 lookups: 200-450 µs per proof, against < 50 µs for the algorithm's 5 µs.
//! So:
//!
//! * **Upper levels in memory.** Nodes never change once written (a perfect subtree's hash is
//!   final), so the levels from the first cached one up are kept in dense per-level vectors,
//!   filled from the database (through the pool) when a proof asks for a tree larger than
//!   they cover, which for proofs against signed checkpoints happens once per checkpoint: in
//!   the proof itself up to [`INLINE_FILL_MAX`] hashes, in the background beyond (meanwhile
//!   proofs read the missing nodes from storage). The first cached level is the lowest at
//!   which the tree has at most [`CACHE_WIDTH`] (2^19) nodes, so the cache holds at most
//!   ~2 × 2^19 hashes (32 MB) whatever the tree size; at 10M leaves it starts at level 5
//!   (625k hashes, 20 MB, read in ~1 s).
//! * **Lower levels read in place on SQLite.** The few nodes below (≤ 5 at 10M leaves) are
//!   read with `rusqlite` on a read-only, memory-mapped connection of this process, in the
//!   calling thread, as the proof algorithm asks for them (no dry run): a point lookup costs
//!   a few µs, where sqlx's SQLite driver hands each statement to a worker thread and back
//!   (tens of µs of thread wake-ups per round trip). sqlx has no synchronous access to a
//!   connection; that is why a second SQLite binding is here, used for nothing else. Both
//!   link the same `libsqlite3-sys`. On PostgreSQL the lower nodes come in one pool query.
//!
//! What is cached came from committed rows; a node altered in the database after it was
//! cached is still served as it was written (and `verify_ledger`, which never reads this
//! cache, reports the alteration).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use hegui_ledger::{nodes_needed, Hash, LedgerError, NodeMap, NodeSource};
use rusqlite::{OpenFlags, OptionalExtension};
use sqlx::Row;

use crate::ledger::{ledger_err, parse_hash};
use crate::{Store, StoreError};

/// Most nodes of the lowest cached level.
const CACHE_WIDTH: u64 = 1 << 19;
/// Levels below this are never cached (a proof reads at most this many nodes from storage
/// below the cache, whatever the tree size, once the tree is larger than
/// `CACHE_WIDTH << MIN_CACHED_LEVEL`).
const MIN_CACHED_LEVEL: u8 = 4;

/// Most hashes read into the cache inside the proof that needs them; more are read in the
/// background.
const INLINE_FILL_MAX: u64 = 1 << 14;
/// Rows per query when filling the cache.
const FILL_CHUNK: u64 = 1 << 16;

/// The upper levels of the tree, dense: `levels[k][i]` is node (`first + k`, `i`).
#[derive(Debug, Default)]
struct Upper {
    first: u8,
    levels: Vec<Vec<Hash>>,
}

impl Upper {
    fn get(&self, level: u8, idx: u64) -> Option<Hash> {
        let k = usize::from(level.checked_sub(self.first)?);
        self.levels.get(k)?.get(usize::try_from(idx).ok()?).copied()
    }

    /// Cached nodes of `level` (0 below the cache).
    fn len(&self, level: u8) -> u64 {
        level
            .checked_sub(self.first)
            .and_then(|k| self.levels.get(usize::from(k)))
            .map_or(0, |v| v.len() as u64)
    }
}

/// The lowest level to cache for a tree of `size` leaves.
fn first_cached_level(size: u64) -> u8 {
    let mut level = MIN_CACHED_LEVEL;
    while level < 63 && (size >> level) > CACHE_WIDTH {
        level += 1;
    }
    level
}

/// The node cache and, on SQLite, the in-thread reader. One per [`Store`] (shared by clones).
#[derive(Debug)]
pub(crate) struct Nodes {
    upper: RwLock<Upper>,
    reader: Option<Mutex<rusqlite::Connection>>,
    /// A background fill is running.
    filling: AtomicBool,
    /// Largest fill done inline ([`INLINE_FILL_MAX`]; tests lower it).
    inline_fill_max: AtomicU64,
}

impl Default for Nodes {
    fn default() -> Self {
        Nodes {
            upper: RwLock::default(),
            reader: None,
            filling: AtomicBool::new(false),
            inline_fill_max: AtomicU64::new(INLINE_FILL_MAX),
        }
    }
}

impl Nodes {
    /// For SQLite at `path` (a file, not `:memory:`): with a read-only connection of its own.
    pub(crate) fn sqlite(path: &str) -> Result<Nodes, StoreError> {
        if !crate::is_sqlite_file(path) {
            return Ok(Nodes::default());
        }
        let open = || -> rusqlite::Result<rusqlite::Connection> {
            let conn = rusqlite::Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            // Read pages through a memory map instead of a pread (a system call and a 4 KB
            // copy) per page: half the time of a proof at 10M leaves (47 -> 24 µs,
            // BENCHMARKS.md). SQLite caps the map at 2 GB; pages beyond it are read as
            // before. The connection only reads, and the store never shrinks the file (no
            // VACUUM), the case where a mapped file can fault.
            conn.pragma_update(None, "mmap_size", 2_147_418_112i64)?;
            Ok(conn)
        };
        let conn = open().map_err(|e| StoreError::SqliteAux {
            path: path.into(),
            purpose: "reading tree nodes for proofs",
            detail: e.to_string(),
        })?;
        Ok(Nodes {
            reader: Some(Mutex::new(conn)),
            ..Nodes::default()
        })
    }
}

impl Store {
    /// Runs `f` (a proof, a root, a compact range of a tree of `size` leaves) over the
    /// stored tree: on SQLite directly over the cache and the in-thread reader, node by node
    /// as it asks; otherwise by a dry run that finds the nodes it needs, one fetch, and the
    /// real run.
    ///
    /// With `fill`, the cache is first extended to cover `size` (proofs: the first at a new
    /// checkpoint size reads the new upper-level nodes, or starts reading them in the
    /// background); without, it is used as it is (the writer's compact range at start-up
    /// must not wait for a fill).
    pub(crate) async fn with_nodes<T>(
        &self,
        size: u64,
        fill: bool,
        f: impl Fn(&dyn NodeSource) -> Result<T, LedgerError>,
    ) -> Result<T, StoreError> {
        if fill {
            self.fill_upper(size).await?;
        }
        if let Some(reader) = &self.nodes.reader {
            return self.run_in_place(reader, &f);
        }
        let needed = nodes_needed(|s| f(s)).map_err(ledger_err)?;
        let map = self.fetch_nodes(&needed).await?;
        f(&map).map_err(ledger_err)
    }

    /// [`Store::with_nodes`] without filling the cache, in the calling thread: only for
    /// SQLite files, whose nodes are read in place.
    pub(crate) fn with_nodes_now<T>(
        &self,
        size: u64,
        f: impl Fn(&dyn NodeSource) -> Result<T, LedgerError>,
    ) -> Result<T, StoreError> {
        match &self.nodes.reader {
            Some(reader) => self.run_in_place(reader, &f),
            None => Err(StoreError::Ledger(format!(
                "no in-place reader to read the tree of {size} leaves from (not a SQLite file)"
            ))),
        }
    }

    fn run_in_place<T>(
        &self,
        reader: &Mutex<rusqlite::Connection>,
        f: &impl Fn(&dyn NodeSource) -> Result<T, LedgerError>,
    ) -> Result<T, StoreError> {
        let upper = self.nodes.upper.read().unwrap_or_else(|e| e.into_inner());
        let conn = reader.lock().unwrap_or_else(|e| e.into_inner());
        // One read transaction for all the lookups: outside one, each statement takes and
        // drops SQLite's shared lock (fcntl system calls) on its own.
        let tx = conn.unchecked_transaction().map_err(sqlite_err)?;
        let stmt = conn
            .prepare_cached("SELECT hash FROM ledger_nodes WHERE level = ?1 AND idx = ?2")
            .map_err(sqlite_err)?;
        let src = InPlace {
            upper: &upper,
            stmt: RefCell::new(stmt),
            failure: RefCell::new(None),
        };
        let result = f(&src);
        let failure = src.failure.into_inner();
        drop(src.stmt);
        tx.commit().map_err(sqlite_err)?;
        if let Some(e) = failure {
            return Err(e);
        }
        result.map_err(ledger_err)
    }

    /// The nodes `needed`: from the cache, the rest in one pool query per 200. A node that
    /// is not stored is left out (the proof algorithm then names it). Callers that want the
    /// cache extended first call [`Store::fill_upper`].
    pub(crate) async fn fetch_nodes(&self, needed: &[(u8, u64)]) -> Result<NodeMap, StoreError> {
        let mut map = NodeMap::default();
        let mut rest = Vec::new();
        {
            let upper = self.nodes.upper.read().unwrap_or_else(|e| e.into_inner());
            for &(level, idx) in needed {
                match upper.get(level, idx) {
                    Some(h) => {
                        map.0.insert((level, idx), h);
                    }
                    None => rest.push((level, idx)),
                }
            }
        }
        self.query_nodes(&rest, &mut map).await?;
        Ok(map)
    }

    /// Extends the cached upper levels to cover a tree of `size` leaves.
    pub(crate) async fn fill_upper(&self, size: u64) -> Result<(), StoreError> {
        let wanted = first_cached_level(size);
        if size >> wanted == 0 {
            return Ok(());
        }
        // What is missing, per level: [have, want).
        let (first, missing): (u8, Vec<(u8, u64, u64)>) = {
            let mut upper = self.nodes.upper.write().unwrap_or_else(|e| e.into_inner());
            if upper.levels.is_empty() {
                upper.first = wanted;
            } else if wanted > upper.first {
                // The tree outgrew the cache's width: drop the lowest levels. (A proof for a
                // smaller, older tree never lowers it: it reads more nodes from storage.)
                let drop = usize::from(wanted - upper.first).min(upper.levels.len());
                upper.levels.drain(..drop);
                upper.first = wanted;
            }
            let first = upper.first;
            let missing = (first..64)
                .take_while(|&l| size >> l > 0)
                .map(|l| (l, upper.len(l), size >> l))
                .filter(|(_, have, want)| have < want)
                .collect();
            (first, missing)
        };
        let total: u64 = missing.iter().map(|(_, have, want)| want - have).sum();
        if total == 0 {
            return Ok(());
        }
        if total <= self.nodes.inline_fill_max.load(Ordering::Relaxed) {
            return self.fetch_upper(first, missing).await;
        }
        // A large fill (the first proof after start-up at 10M leaves reads 625k hashes, ~1 s)
        // runs in the background; until it is done proofs read the missing upper nodes from
        // storage like the lower ones.
        if !self.nodes.filling.swap(true, Ordering::AcqRel) {
            let store = self.clone();
            tokio::spawn(async move {
                if let Err(e) = store.fetch_upper(first, missing).await {
                    tracing::warn!(error = %e, "filling the proof node cache failed; proofs read from storage");
                }
                store.nodes.filling.store(false, Ordering::Release);
            });
        }
        Ok(())
    }

    /// Reads the `missing` ranges of the upper levels into the cache, a chunk at a time.
    async fn fetch_upper(&self, first: u8, missing: Vec<(u8, u64, u64)>) -> Result<(), StoreError> {
        for (level, have, want) in missing {
            let mut from = have;
            while from < want {
                let to = want.min(from + FILL_CHUNK);
                let rows = sqlx::query(
                    "SELECT idx, hash FROM ledger_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 \
                     ORDER BY idx",
                )
                .bind(i64::from(level))
                .bind(from as i64)
                .bind(to as i64)
                .fetch_all(self.pool())
                .await?;
                let mut hashes = Vec::with_capacity(rows.len());
                for (i, row) in rows.iter().enumerate() {
                    let idx: i64 = row.try_get("idx")?;
                    if idx as u64 != from + i as u64 {
                        break; // a gap: the tree is not all stored (yet); keep what is contiguous
                    }
                    let hash: String = row.try_get("hash")?;
                    hashes.push(parse_hash(&hash, &format!("node ({level}, {idx})"))?);
                }
                let complete = hashes.len() as u64 == to - from;
                let mut upper = self.nodes.upper.write().unwrap_or_else(|e| e.into_inner());
                if upper.first != first {
                    return Ok(()); // the cache moved up meanwhile; the next proof refills
                }
                let k = usize::from(level - first);
                if upper.levels.len() <= k {
                    upper.levels.resize_with(k + 1, Vec::new);
                }
                // Append only where no concurrent fill did already.
                if upper.levels[k].len() as u64 != from {
                    break;
                }
                upper.levels[k].extend(hashes);
                if !complete {
                    break;
                }
                from = to;
            }
        }
        Ok(())
    }

    /// The nodes `needed` in one query per 200 through the pool.
    async fn query_nodes(&self, needed: &[(u8, u64)], map: &mut NodeMap) -> Result<(), StoreError> {
        for chunk in needed.chunks(200) {
            let mut marks = crate::sql::Marks::new(self.backend());
            let mut sql = String::from("SELECT level, idx, hash FROM ledger_nodes WHERE ");
            for i in 0..chunk.len() {
                sql.push_str(if i > 0 { " OR (level = " } else { "(level = " });
                marks.push(&mut sql);
                sql.push_str(" AND idx = ");
                marks.push(&mut sql);
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for (level, idx) in chunk {
                q = q
                    .bind(i64::from(*level))
                    .bind(i64::try_from(*idx).unwrap_or(i64::MAX));
            }
            for row in q.fetch_all(self.pool()).await? {
                let level: i64 = row.try_get("level")?;
                let idx: i64 = row.try_get("idx")?;
                let hash: String = row.try_get("hash")?;
                let h = parse_hash(&hash, &format!("node ({level}, {idx})"))?;
                map.0.insert((level as u8, idx as u64), h);
            }
        }
        Ok(())
    }

    /// Fills of the proof node cache larger than `hashes` run in the background (default
    /// 16,384; for tests).
    #[doc(hidden)]
    pub fn set_inline_fill_limit(&self, hashes: u64) {
        self.nodes.inline_fill_max.store(hashes, Ordering::Relaxed);
    }

    /// Whether a background fill of the proof node cache is running (for benchmarks).
    pub fn proof_cache_filling(&self) -> bool {
        self.nodes.filling.load(Ordering::Acquire)
    }

    /// How many upper-level hashes are cached (for tests and benchmarks).
    pub fn cached_nodes(&self) -> usize {
        let upper = self.nodes.upper.read().unwrap_or_else(|e| e.into_inner());
        upper.levels.iter().map(Vec::len).sum()
    }
}

fn sqlite_err(e: rusqlite::Error) -> StoreError {
    StoreError::Ledger(format!("cannot read tree nodes: {e}"))
}

/// The tree as the proof algorithms see it on SQLite: cached upper levels, and the rest
/// looked up one node at a time as the algorithm asks (no dry run, no map).
struct InPlace<'a> {
    upper: &'a Upper,
    stmt: RefCell<rusqlite::CachedStatement<'a>>,
    /// A storage error met while answering (the algorithm only knows `LedgerError`).
    failure: RefCell<Option<StoreError>>,
}

impl NodeSource for InPlace<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, LedgerError> {
        if let Some(h) = self.upper.get(level, index) {
            return Ok(h);
        }
        let missing = LedgerError::MissingNode { level, index };
        let found: rusqlite::Result<Option<String>> = self
            .stmt
            .borrow_mut()
            .query_row(
                (i64::from(level), i64::try_from(index).unwrap_or(i64::MAX)),
                |r| r.get(0),
            )
            .optional();
        let parsed = match found {
            Ok(None) => return Err(missing),
            Ok(Some(hex)) => parse_hash(&hex, &format!("node ({level}, {index})")),
            Err(e) => Err(sqlite_err(e)),
        };
        parsed.map_err(|e| {
            self.failure.borrow_mut().get_or_insert(e);
            missing
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_starts_where_a_level_fits_its_width() {
        assert_eq!(first_cached_level(0), MIN_CACHED_LEVEL);
        assert_eq!(first_cached_level(1_000_000), MIN_CACHED_LEVEL);
        assert_eq!(first_cached_level(10_000_000), 5);
        assert_eq!(first_cached_level(u64::MAX), 45);
    }

    #[test]
    fn lookups_outside_the_cache_miss() {
        let upper = Upper {
            first: 4,
            levels: vec![vec![[1; 32], [2; 32]], vec![[3; 32]]],
        };
        assert_eq!(upper.get(4, 1), Some([2; 32]));
        assert_eq!(upper.get(5, 0), Some([3; 32]));
        assert_eq!(upper.get(3, 0), None);
        assert_eq!(upper.get(4, 2), None);
        assert_eq!(upper.get(6, 0), None);
        assert_eq!(upper.len(4), 2);
        assert_eq!(upper.len(2), 0);
    }
}
