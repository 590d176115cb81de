//! Benchmark of the tamper-evident log (ARCHITECTURE.md, "The tamper-evident log").
//!
//! Run through `bench/ledger.sh`, or directly:
//!
//! ```text
//! cargo run --release -p hegui-store --example ledger_bench -- COMMAND [OPTIONS]
//!
//! appends  --backend sqlite|postgres  --writers 1,16,256  --seconds 10  --warmup 2
//!          N tokio tasks each calling RecordWriter::write in a loop on a fresh database:
//!          durable appends/s and acknowledgement latency (p50/p99). SQLite uses
//!          RecordWriter::spawn_integrating (leaves written in the same transaction);
//!          PostgreSQL uses RecordWriter::spawn_with_wake plus a Sequencer task, and also
//!          reports how fast the sequencer turned the records into leaves.
//!          `--what-if SQL` runs SQL on each fresh database first (a diagnostic: e.g.
//!          `"DROP INDEX interactions_produce"` to see what one index costs); `--page-size N`
//!          creates the SQLite file with pages of N bytes instead of SQLite's 4096.
//! store    --records 1000000  --writers 256  --proofs 2000
//!          Builds a real SQLite store of N records through the integrating writer, signs a
//!          checkpoint, times Store::inclusion_proof + verify_inclusion over random leaves,
//!          then Store::verify_ledger over everything.
//! nodes    --leaves 1000000,10000000  --proofs 2000
//!          For each size: a hegui_ledger::MemoryTree (pure inclusion_proof/verify_inclusion)
//!          and a SQLite database whose ledger_nodes table is filled directly from that tree
//!          (what Store::inclusion_proof reads), to time the storage path at sizes that would
//!          take too long to write record by record.
//! ceiling  --batches 105,256,1000  --seconds 10  --warmup 2
//!          The leanest durable append log SQLite allows, as a bound for `appends`: one rowid
//!          table holding each record's canonical bytes (the same records as `appends`) and
//!          its 32-byte Merkle leaf hash, no other table, index, salt or tree node; one thread
//!          inserting B records per transaction, each commit synced (`synchronous = FULL`).
//!          Reports appends/s and bytes written to storage per record. `--index inline`
//!          adds each record's user and time and a B-tree index on them, updated by every
//!          commit; `--index deferred` (with `--index-batch N`, default 100000) builds that
//!          index in a second file from another thread, in sorted batches of N rows, and
//!          reports how far behind it was when the appends stopped; `--index runs` writes each
//!          batch as a run of its own instead (keys after every earlier run's: appends only),
//!          and both report what counting one user's rows then costs.
//!
//! common:  --dir DIR       where SQLite databases go (default: the system temp dir; use a
//!                          real disk, not tmpfs, or "durable" means nothing)
//!          --pg URL        PostgreSQL admin URL (default $HEGUI_TEST_POSTGRES_URL, else
//!                          postgres://postgres@127.0.0.1:5432/test); a fresh database is
//!                          created per run and dropped afterwards
//!          --keep          keep the SQLite databases
//! ```
//!
//! Output is Markdown table rows (for BENCHMARKS.md) plus progress lines on stderr.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hegui_ledger::{
    inclusion_proof, leaf_hash, nodes_needed, verify_inclusion, Hash, MemoryTree, NodeSource,
    Signer,
};
use hegui_store::testing::fresh_postgres_database;
use hegui_store::{RecordQuery, RecordWriter, Sequencer, SequencerConfig, Store};
use hegui_types::{
    Action, AigcLabel, Decision, InteractionRecord, MatchInfo, Outcome, Stage,
    RECORD_ENCODING_VERSION,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, Executor, Row};
use tokio::sync::{watch, Notify};

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

// ---------------------------------------------------------------------------------------------
// Options

struct Opts {
    args: HashMap<String, String>,
    flags: Vec<String>,
}

impl Opts {
    fn parse(raw: &[String]) -> Result<Opts> {
        let mut args = HashMap::new();
        let mut flags = Vec::new();
        let mut it = raw.iter().peekable();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                bail!("unexpected argument {a:?}");
            };
            match it.peek() {
                Some(v) if !v.starts_with("--") => {
                    args.insert(name.to_string(), (*v).clone());
                    it.next();
                }
                _ => flags.push(name.to_string()),
            }
        }
        Ok(Opts { args, flags })
    }

    fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.args.get(name) {
            None => Ok(default),
            Some(v) => v
                .replace('_', "")
                .parse()
                .map_err(|e| anyhow!("--{name} {v}: {e}")),
        }
    }

    fn list(&self, name: &str, default: &str) -> Result<Vec<u64>> {
        self.args
            .get(name)
            .map(String::as_str)
            .unwrap_or(default)
            .split(',')
            .map(|s| {
                s.trim()
                    .replace('_', "")
                    .parse::<u64>()
                    .map_err(|e| anyhow!("--{name}: {s}: {e}"))
            })
            .collect()
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    fn dir(&self) -> PathBuf {
        self.args
            .get("dir")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
    }

    fn pg(&self) -> String {
        self.args
            .get("pg")
            .cloned()
            .or_else(|| std::env::var("HEGUI_TEST_POSTGRES_URL").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_PG.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics

struct Stats {
    n: usize,
    mean: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

/// A table row: what, at which tree or log size, and its timings.
fn timing_row(name: &str, size: u64, s: Stats) -> String {
    format!(
        "| {name} | {} | {} | {} | {} | {} |",
        fmt_size(size),
        s.n,
        fmt_us(s.mean),
        fmt_us(s.p50),
        fmt_us(s.p99)
    )
}

fn stats(mut v: Vec<f64>) -> Stats {
    if v.is_empty() {
        return Stats {
            n: 0,
            mean: f64::NAN,
            p50: f64::NAN,
            p99: f64::NAN,
            max: f64::NAN,
        };
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[(((v.len() as f64) * p).ceil() as usize).clamp(1, v.len()) - 1];
    Stats {
        n: v.len(),
        mean: v.iter().sum::<f64>() / v.len() as f64,
        p50: q(0.50),
        p99: q(0.99),
        max: v[v.len() - 1],
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Microseconds, printed with sensible precision.
fn fmt_us(x: f64) -> String {
    if x >= 100_000.0 {
        format!("{:.0} ms", x / 1000.0)
    } else if x >= 10_000.0 {
        format!("{:.1} ms", x / 1000.0)
    } else if x >= 100.0 {
        format!("{x:.0} µs")
    } else if x >= 10.0 {
        format!("{x:.1} µs")
    } else {
        format!("{x:.2} µs")
    }
}

fn fmt_n(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_size(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Other load: the machine's 2 cores are shared with other work, so every figure says how much
// CPU anything other than this benchmark and PostgreSQL's processes used while it was taken.

struct OtherLoad {
    at: Instant,
    busy: u64,
    ours: HashMap<u32, u64>,
}

/// Busy jiffies of the whole machine, and of each process of ours (this one, PostgreSQL's).
fn cpu_snapshot() -> (u64, HashMap<u32, u64>) {
    let busy = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<u64> = s
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal: busy = all but idle, iowait, steal
            Some(f.iter().take(7).sum::<u64>() - f.get(3)? - f.get(4)?)
        })
        .unwrap_or(0);
    let mut ours = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = &stat[open + 1..close];
            if pid != std::process::id() && comm != "postgres" {
                continue;
            }
            let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            let (Some(u), Some(s)) = (f.get(11), f.get(12)) else {
                continue;
            };
            ours.insert(
                pid,
                u.parse::<u64>().unwrap_or(0) + s.parse::<u64>().unwrap_or(0),
            );
        }
    }
    (busy, ours)
}

impl OtherLoad {
    fn start() -> OtherLoad {
        let (busy, ours) = cpu_snapshot();
        OtherLoad {
            at: Instant::now(),
            busy,
            ours,
        }
    }

    /// Cores used by other work since `start` (clock ticks are 1/100 s on Linux).
    fn cores(&self) -> f64 {
        let (busy, ours) = cpu_snapshot();
        let mine: u64 = ours
            .iter()
            .map(|(p, t)| t.saturating_sub(*self.ours.get(p).unwrap_or(&0)))
            .sum();
        let other = busy.saturating_sub(self.busy).saturating_sub(mine) as f64 / 100.0;
        (other / self.at.elapsed().as_secs_f64()).max(0.0)
    }
}

// ---------------------------------------------------------------------------------------------
// A realistic record: a served chat completion with input and output review, an AIGC label
// and usage, about 1 KB in its canonical encoding (as the gateway writes them).

const SYSTEM_PROMPT: &str = "You are a bookshop's assistant. Be brief.";
const QUESTIONS: [&str; 4] = [
    "我订的《三体》还没到，订单号 20261101-8842，能查一下物流吗？",
    "Can you recommend three introductory books on distributed systems?",
    "电子书可以在几台设备上阅读？退款政策是什么？",
    "Is the hardcover 'The Name of the Rose' back in stock, and how much is it?",
];
const ANSWER: &str = "您好！订单 20261101-8842 已于 11 月 3 日从上海仓发出，\
预计 2 个工作日内送达。祝您阅读愉快！";

fn record(i: u64) -> InteractionRecord {
    let id = uuid::Uuid::now_v7().to_string();
    let question = QUESTIONS[(i % 4) as usize];
    InteractionRecord {
        v: RECORD_ENCODING_VERSION,
        received_at_ms: chrono::Utc::now().timestamp_millis(),
        user_id: Some(format!("usr_{:012x}", i.wrapping_mul(0x9e37_79b9) % 50_000)),
        key_id: Some(format!("key_{:08x}", i % 977)),
        endpoint: "chat.completions".into(),
        model: Some("qwen-plus".into()),
        upstream_model: Some("qwen-plus-2025-09-11".into()),
        stream: i.is_multiple_of(3),
        outcome: Outcome::Served,
        status: 200,
        error_code: None,
        error: None,
        input: serde_json::json!([
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": question},
        ]),
        output: Some(ANSWER.to_string()),
        finish_reason: Some("stop".into()),
        decisions: vec![
            Decision {
                stage: Stage::Input,
                action: Action::Flag,
                risks: vec!["PII-order".into()],
                matches: vec![MatchInfo::new(
                    "pii/order-number",
                    "PII-order",
                    Action::Flag,
                    45,
                    58,
                )],
                policy_version: "9f2c1e07".into(),
                omitted_matches: 0,
            },
            Decision::allow(Stage::Output, "9f2c1e07"),
        ],
        label: Some(AigcLabel {
            label: "1".into(),
            content_producer: "001191110108MA01ABCD2X".into(),
            produce_id: id.clone(),
            reserved_code1: Some(
                "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".into(),
            ),
            content_propagator: None,
            propagate_id: None,
            reserved_code2: None,
        }),
        usage: Some(serde_json::json!({
            "prompt_tokens": 96, "completion_tokens": 118, "total_tokens": 214
        })),
        latency_us: 1_843_210 + i % 1000,
        upstream_us: Some(1_838_004 + i % 1000),
        id,
    }
}

// ---------------------------------------------------------------------------------------------
// Databases

struct Db {
    url: String,
    /// SQLite: the folder to remove afterwards. PostgreSQL: (admin URL, database name).
    sqlite_dir: Option<PathBuf>,
    pg: Option<(String, String)>,
    keep: bool,
}

impl Db {
    fn sqlite(opts: &Opts, tag: &str) -> Result<Db> {
        let dir = opts
            .dir()
            .join(format!("hegui-ledger-bench-{tag}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        if let Some(size) = opts.args.get("page-size") {
            // A diagnostic: the page size is fixed when the file is created.
            let conn = rusqlite::Connection::open(dir.join("hegui.db"))?;
            conn.pragma_update(None, "page_size", size)?;
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
        }
        Ok(Db {
            url: format!("sqlite://{}", dir.join("hegui.db").display()),
            sqlite_dir: Some(dir),
            pg: None,
            keep: opts.flag("keep"),
        })
    }

    async fn postgres(opts: &Opts) -> Result<Db> {
        let admin = opts.pg();
        let url = fresh_postgres_database(&admin)
            .await
            .with_context(|| format!("creating a database on {admin}"))?;
        let name = url
            .rsplit('/')
            .next()
            .and_then(|s| s.split('?').next())
            .unwrap_or_default()
            .to_string();
        Ok(Db {
            url,
            sqlite_dir: None,
            pg: Some((admin, name)),
            keep: opts.flag("keep"),
        })
    }

    fn file_bytes(&self) -> u64 {
        let Some(dir) = &self.sqlite_dir else {
            return 0;
        };
        std::fs::read_dir(dir)
            .map(|it| {
                it.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    async fn drop_now(self) -> Result<()> {
        if let Some(dir) = &self.sqlite_dir {
            if self.keep {
                eprintln!("kept {}", dir.display());
            } else {
                std::fs::remove_dir_all(dir)?;
            }
        }
        if let Some((admin, name)) = &self.pg {
            if self.keep {
                eprintln!("kept PostgreSQL database {name}");
                return Ok(());
            }
            let mut conn = sqlx::postgres::PgConnection::connect(admin).await?;
            conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await?;
            conn.close().await?;
        }
        Ok(())
    }
}

/// Bytes this process has caused to be written to storage (`/proc/self/io`).
fn disk_writes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The query `integrate_in` starts every batch with (besides the tree size).
const PENDING_SQL: &str = "SELECT id, kind, created_at, record, salt, commitment FROM journal \
     WHERE leaf_index IS NULL ORDER BY seq LIMIT 1000";

/// Times the sequencer's two reads (median of 3): pending rows, tree size.
async fn sequencer_reads(pool: &sqlx::AnyPool) -> Result<(f64, f64)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        sqlx::query(PENDING_SQL).fetch_all(pool).await?;
        a.push(us(t.elapsed()));
        let t = Instant::now();
        leaves_now(pool).await?;
        b.push(us(t.elapsed()));
    }
    Ok((stats(a).p50, stats(b).p50))
}

/// Leaves integrated so far, read through the primary key (as `Store::tree_size` does).
async fn leaves_now(pool: &sqlx::AnyPool) -> Result<u64> {
    let row = sqlx::query("SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM ledger_leaves")
        .fetch_one(pool)
        .await?;
    Ok(row.try_get::<i64, _>("n")? as u64)
}

// ---------------------------------------------------------------------------------------------
// appends

async fn appends(opts: &Opts) -> Result<()> {
    let backend = opts.get("backend", "sqlite".to_string())?;
    let pg = match backend.as_str() {
        "sqlite" => false,
        "postgres" | "pg" => true,
        other => bail!("--backend {other}: want sqlite or postgres"),
    };
    let writers = opts.list("writers", "1,16,256")?;
    let secs: f64 = opts.get("seconds", 10.0)?;
    let warmup: f64 = opts.get("warmup", 2.0)?;
    let sample = (0..4)
        .map(|i| record(i).canonical_bytes().len())
        .sum::<usize>()
        / 4;
    if opts.flag("show-record") {
        eprintln!("{}", String::from_utf8_lossy(&record(0).canonical_bytes()));
    }
    eprintln!(
        "appends on {backend}: writers {writers:?}, {warmup} s warm-up + {secs} s measured, records of {sample} bytes on average"
    );
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for &n in &writers {
        let db = if pg {
            Db::postgres(opts).await?
        } else {
            Db::sqlite(opts, &format!("appends{n}"))?
        };
        let store = Store::open(&db.url, 8).await?;
        sqlx::any::install_default_drivers();
        let probe = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&db.url)
            .await?;
        if let Some(sql) = opts.args.get("what-if") {
            eprintln!("what-if: {sql}");
            sqlx::raw_sql(sql).execute(&probe).await?;
        }
        let (writer, writer_task, sequencer) = if pg {
            let wake = Arc::new(Notify::new());
            let (w, t) = RecordWriter::spawn_with_wake(store.clone(), Some(wake.clone()));
            let (stop_tx, stop_rx) = watch::channel(false);
            let seq = Sequencer::new(store.clone(), None, SequencerConfig::default());
            let handle = tokio::spawn(seq.run(wake, stop_rx));
            (w, t, Some((stop_tx, handle)))
        } else {
            let (w, t) = RecordWriter::spawn_integrating(store.clone());
            (w, t, None)
        };

        let start = tokio::time::Instant::now();
        let window_start = start + Duration::from_secs_f64(warmup);
        let window_end = window_start + Duration::from_secs_f64(secs);
        let stop = Arc::new(AtomicBool::new(false));
        let counter = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..n {
            let (w, stop, counter) = (writer.clone(), stop.clone(), counter.clone());
            let (ws, we) = (window_start.into_std(), window_end.into_std());
            tasks.push(tokio::spawn(async move {
                let mut lat: Vec<f64> = Vec::new();
                let mut total = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let r = record(counter.fetch_add(1, Ordering::Relaxed));
                    let t0 = Instant::now();
                    w.write(r).await?;
                    let t1 = Instant::now();
                    total += 1;
                    if t1 >= ws && t1 < we {
                        lat.push(us(t1 - t0));
                    }
                }
                Ok::<_, hegui_store::StoreError>((lat, total))
            }));
        }
        tokio::time::sleep_until(window_start).await;
        let load = OtherLoad::start();
        let written0 = disk_writes();
        let leaves0 = leaves_now(&probe).await?;
        tokio::time::sleep_until(window_end).await;
        let leaves1 = leaves_now(&probe).await?;
        let other = load.cores();
        let written = disk_writes().saturating_sub(written0);
        // What the sequencer's two reads cost now, with the writers still going.
        let (pending_us, size_us) = sequencer_reads(&probe).await?;
        if pg && opts.flag("explain") {
            let plan = sqlx::query(&format!("EXPLAIN (ANALYZE, BUFFERS) {PENDING_SQL}"))
                .fetch_all(&probe)
                .await?;
            for r in plan {
                eprintln!("    {}", r.try_get::<String, _>(0)?);
            }
        }
        let t_end = Instant::now();
        stop.store(true, Ordering::Relaxed);
        let mut lat = Vec::new();
        let mut total = 0;
        for t in tasks {
            let (l, c) = t.await??;
            lat.extend(l);
            total += c;
        }
        drop(writer);
        writer_task.await?;
        let mut drain = None;
        if let Some((stop_tx, handle)) = sequencer {
            // How long until every written record is a leaf.
            loop {
                if leaves_now(&probe).await? >= total {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            drain = Some(t_end.elapsed());
            let _ = stop_tx.send(true);
            handle.await?;
        }
        notes.push(format!(
            "- {} at {n} writers, end of the window: the sequencer's pending-rows query took {}, its tree-size query {} ({} leaves by then)",
            if pg { "PostgreSQL" } else { "SQLite" },
            fmt_us(pending_us),
            fmt_us(size_us),
            fmt_n(leaves1 as f64)
        ));
        let size = store.tree_size().await?;
        if size != total {
            bail!("{total} records acknowledged but the log has {size} leaves");
        }
        let s = stats(lat);
        if !pg {
            notes.push(format!(
                "- SQLite at {n} writers: {:.1} KB written to disk per acknowledged record in the window (WAL and checkpoints), {:.0} MB/s",
                written as f64 / 1024.0 / s.n.max(1) as f64,
                written as f64 / 1e6 / secs
            ));
        }
        let rate = s.n as f64 / secs;
        let mut row = format!(
            "| {} | {} | {} | {} | {} |",
            if pg { "PostgreSQL" } else { "SQLite" },
            n,
            fmt_n(rate),
            fmt_us(s.p50),
            fmt_us(s.p99),
        );
        if pg {
            let integrated = (leaves1 - leaves0) as f64 / secs;
            let drain = drain.map(|d| d.as_secs_f64()).unwrap_or(0.0);
            row.push_str(&format!(" {} | {:.1} s |", fmt_n(integrated), drain));
        } else {
            row.push_str(" (same transaction) | 0 |");
        }
        row.push_str(&format!(" {other:.2} |"));
        eprintln!(
            "  {n} writers: {} acknowledged in the window ({}/s), {total} in all, max latency {}",
            s.n,
            fmt_n(rate),
            fmt_us(s.max)
        );
        rows.push(row);
        probe.close().await;
        store.close().await;
        db.drop_now().await?;
    }
    if !opts.flag("no-header") {
        println!(
            "\n| backend | writers | durable appends/s | ack p50 | ack p99 | integrated as leaves/s | backlog drained after the window | other load (cores) |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    }
    for r in rows {
        println!("{r}");
    }
    for n in notes {
        eprintln!("{n}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// store: a real SQLite log of N records, proofs over it, then verify_ledger

async fn real_store(opts: &Opts) -> Result<()> {
    let records: u64 = opts.get("records", 1_000_000)?;
    let writers: u64 = opts.get("writers", 256)?;
    let nproofs: usize = opts.get("proofs", 2000)?;
    let db = Db::sqlite(opts, "store")?;
    let store = Store::open(&db.url, 4).await?;
    eprintln!(
        "building a SQLite log of {records} records with {writers} writers in {}",
        db.url
    );
    let (writer, writer_task) = RecordWriter::spawn_integrating(store.clone());
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (w, next, done) = (writer.clone(), next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= records {
                    break;
                }
                w.write(record(i)).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, hegui_store::StoreError>(())
        }));
    }
    let t0 = Instant::now();
    let build_load = OtherLoad::start();
    let step = (records / 10).max(1);
    let mut mark = step;
    let mut last = (0u64, t0);
    let mut segments = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let d = done.load(Ordering::Relaxed);
        if d >= mark || d >= records {
            let now = Instant::now();
            let rate = (d - last.0) as f64 / (now - last.1).as_secs_f64();
            eprintln!(
                "  {:>9} records, {:>6.1} s: {}/s over the last {}",
                d,
                (now - t0).as_secs_f64(),
                fmt_n(rate),
                d - last.0
            );
            segments.push((last.0, d, rate));
            last = (d, now);
            mark = (d / step + 1) * step;
        }
        if d >= records {
            break;
        }
    }
    for t in tasks {
        t.await??;
    }
    let build = t0.elapsed();
    let build_other = build_load.cores();
    drop(writer);
    writer_task.await?;

    let signer = Signer::generate("bench.example/log").map_err(|e| anyhow!("{e}"))?;
    let verifier = signer.verifier();
    let mut seq = Sequencer::new(
        store.clone(),
        Some(signer),
        SequencerConfig {
            origin: "bench.example/log".into(),
            ..Default::default()
        },
    );
    let cp = seq
        .checkpoint_now()
        .await?
        .ok_or_else(|| anyhow!("no checkpoint issued"))?;
    seq.resign();
    let size = cp.size;
    if size != records {
        bail!("{records} records written but the log has {size} leaves");
    }
    eprintln!(
        "  built in {:.1} s ({}/s overall); database {:.2} GB; checkpoint at {size}",
        build.as_secs_f64(),
        fmt_n(records as f64 / build.as_secs_f64()),
        db.file_bytes() as f64 / 1e9
    );

    // The sequencer's two reads at this size (nothing pending any more).
    sqlx::any::install_default_drivers();
    let raw = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await?;
    let (pending_us, size_us) = sequencer_reads(&raw).await?;
    raw.close().await;

    let mut rows = storage_proofs(&store, size, &cp.root, nproofs, "real store").await?;
    rows.extend(user_reads(&store, size, "as the writer left it").await?);
    let t = Instant::now();
    store.fold_user_activity().await?;
    eprintln!(
        "  folded and merged what the writer left in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    rows.extend(user_reads(&store, size, "all folded and merged").await?);

    eprintln!("  verify_ledger over {size} records ...");
    let t = Instant::now();
    let verify_load = OtherLoad::start();
    let report = store.verify_ledger(Some(&verifier)).await?;
    let verify = t.elapsed();
    let verify_other = verify_load.cores();
    if !report.problems.is_empty() || report.records_checked != size || report.checkpoints != 1 {
        bail!(
            "verify_ledger: {} problems, {} records checked, {} checkpoints: {:?}",
            report.problems.len(),
            report.records_checked,
            report.checkpoints,
            report.problems.first()
        );
    }

    println!(
        "\nBuild of the SQLite log through RecordWriter::spawn_integrating ({writers} writers):\n"
    );
    println!("| records already in the log | appends/s |");
    println!("|---|---:|");
    for (a, b, r) in segments {
        println!(
            "| {} – {} | {} |",
            fmt_n(a as f64),
            fmt_n(b as f64),
            fmt_n(r)
        );
    }
    println!(
        "| **all {}** | **{}** ({:.1} s, database {:.2} GB, other load {:.2} cores) |",
        fmt_size(records),
        fmt_n(records as f64 / build.as_secs_f64()),
        build.as_secs_f64(),
        db.file_bytes() as f64 / 1e9,
        build_other
    );
    println!("\n| operation | leaves | n | mean | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
    println!("\n| what | size | time | rate | other load (cores) |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| `Store::verify_ledger` (with checkpoint signature) | {} records | {:.1} s | {}/s | {verify_other:.2} |",
        fmt_size(size),
        verify.as_secs_f64(),
        fmt_n(size as f64 / verify.as_secs_f64())
    );
    println!(
        "| the sequencer's pending-rows query / tree-size query (`integrate_in`, once per batch) | {} leaves | {} / {} | | |",
        fmt_size(size),
        fmt_us(pending_us),
        fmt_us(size_us)
    );
    store.close().await;
    db.drop_now().await?;
    Ok(())
}

/// Times `Store::inclusion_proof` (and its parts) and `verify_inclusion` over random leaves.
/// Per-user reads over 200 of the 50,000 users: a user's 50 newest records
/// (`list_records`, the console's filter) and the gateway's per-request question
/// (`user_activity`).
async fn user_reads(store: &Store, size: u64, when: &str) -> Result<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(50_000);
    let users: Vec<String> = (0..200)
        .map(|_| format!("usr_{:012x}", rng.gen_range(0..50_000u64)))
        .collect();
    let today = hegui_store::ChinaDay::of(chrono::Utc::now().timestamp_millis());
    let (mut list, mut activity) = (Vec::new(), Vec::new());
    let mut found = 0;
    for u in &users {
        let t = Instant::now();
        let rows = store
            .list_records(&RecordQuery {
                user_id: Some(u.clone()),
                limit: Some(50),
                ..RecordQuery::default()
            })
            .await?;
        list.push(us(t.elapsed()));
        found += rows.len();
        let t = Instant::now();
        store.user_activity(u, today, 10).await?;
        activity.push(us(t.elapsed()));
    }
    if found == 0 {
        bail!("no user had a record");
    }
    let row = |name: &str, s: Stats| timing_row(name, size, s);
    Ok(vec![
        row(
            &format!("`Store::list_records` by user, 50 newest ({when}; {found} rows)"),
            stats(list),
        ),
        row(&format!("`Store::user_activity` ({when})"), stats(activity)),
    ])
}

async fn storage_proofs(
    store: &Store,
    size: u64,
    root: &Hash,
    nproofs: usize,
    what: &str,
) -> Result<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(6962);
    let leaves: Vec<u64> = (0..nproofs).map(|_| rng.gen_range(0..size)).collect();
    // Leaf hashes, fetched outside the timed part (a verifier has them already).
    let mut hashes = Vec::with_capacity(leaves.len());
    for &i in &leaves {
        let l = store.leaves(i, 1).await?;
        let Some(l) = l.first() else {
            bail!("leaf {i} missing");
        };
        hashes.push(l.hash);
    }
    let first = first_proof(store, leaves[0], size).await?;
    // Warm-up: SQLite's page cache and sqlx's statement cache.
    for &i in leaves.iter().take(200) {
        store.inclusion_proof(i, size).await?;
    }
    let (mut dry, mut full, mut ver) = (Vec::new(), Vec::new(), Vec::new());
    let mut nodes = 0usize;
    let load = OtherLoad::start();
    for (&i, h) in leaves.iter().zip(&hashes) {
        let t = Instant::now();
        let needed = nodes_needed(|s| inclusion_proof(s, i, size)).map_err(|e| anyhow!("{e}"))?;
        dry.push(us(t.elapsed()));
        nodes += needed.len();
        let t = Instant::now();
        let proof = store.inclusion_proof(i, size).await?;
        full.push(us(t.elapsed()));
        let t = Instant::now();
        let ok = verify_inclusion(h, i, size, &proof, root);
        ver.push(us(t.elapsed()));
        ok.map_err(|e| anyhow!("proof for leaf {i} does not verify: {e}"))?;
    }
    let row = |name: &str, s: Stats| timing_row(name, size, s);
    eprintln!(
        "  {what}: {:.1} nodes per proof on average; other load {:.2} cores",
        nodes as f64 / leaves.len() as f64,
        load.cores()
    );
    Ok(vec![
        row(&first.0, first.1),
        row(
            &format!("`Store::inclusion_proof` (SQLite, {what})"),
            stats(full),
        ),
        row(
            "  for comparison: a dry run (`nodes_needed`), which only PostgreSQL's proofs do",
            stats(dry),
        ),
        row("`verify_inclusion`", stats(ver)),
    ])
}

// ---------------------------------------------------------------------------------------------
// nodes: MemoryTree proofs, and the storage path over a nodes-only SQLite database

async fn nodes(opts: &Opts) -> Result<()> {
    let sizes = opts.list("leaves", "1000000,10000000")?;
    let nproofs: usize = opts.get("proofs", 2000)?;
    let mut rows = Vec::new();
    let mut builds = Vec::new();
    for &size in &sizes {
        eprintln!("MemoryTree of {size} leaves ...");
        let t = Instant::now();
        let mut tree = MemoryTree::new();
        for i in 0..size {
            tree.append(leaf_hash(&i.to_be_bytes()))
                .map_err(|e| anyhow!("{e}"))?;
        }
        let build = t.elapsed();
        let root = tree.root();

        // Pure proofs over the in-memory tree.
        let load = OtherLoad::start();
        let mut rng = StdRng::seed_from_u64(6962);
        let leaves: Vec<u64> = (0..nproofs).map(|_| rng.gen_range(0..size)).collect();
        for &i in leaves.iter().take(200) {
            inclusion_proof(&tree, i, size).map_err(|e| anyhow!("{e}"))?;
        }
        let (mut gen, mut ver) = (Vec::new(), Vec::new());
        for &i in &leaves {
            let h = tree.leaf(i).ok_or_else(|| anyhow!("leaf {i}"))?;
            let t = Instant::now();
            let proof = inclusion_proof(&tree, i, size).map_err(|e| anyhow!("{e}"))?;
            gen.push(us(t.elapsed()));
            let t = Instant::now();
            let ok = verify_inclusion(&h, i, size, &proof, &root);
            ver.push(us(t.elapsed()));
            ok.map_err(|e| anyhow!("{e}"))?;
        }
        let row = |name: &str, s: Stats| timing_row(name, size, s);
        rows.push(row("`inclusion_proof` over `MemoryTree`", stats(gen)));
        rows.push(row("`verify_inclusion`", stats(ver)));

        // The storage path over a database holding this tree's nodes.
        let db = Db::sqlite(opts, &format!("nodes{size}"))?;
        Store::open(&db.url, 1).await?.close().await;
        let t = Instant::now();
        let count = fill_nodes(&db.url, &tree).await?;
        let fill = t.elapsed();
        drop(tree);
        let store = Store::open(&db.url, 4).await?;
        // Proofs first: the first one after opening fills the store's upper-level cache.
        let storage = storage_proofs_nodes_only(&store, size, &root, nproofs).await?;
        if store.root_at(size).await? != root {
            bail!("stored nodes give a different root");
        }
        let proofs_other = load.cores();
        rows.extend(storage);
        store.close().await;
        for cache_mb in [2u64, 512] {
            rows.push(native_proofs(&db.url, size, &root, nproofs, cache_mb).await?);
        }
        let store = Store::open(&db.url, 1).await?;
        builds.push(format!(
            "| {} | {:.1} s | {} nodes in {:.1} s, {:.2} GB | {proofs_other:.2} |",
            fmt_size(size),
            build.as_secs_f64(),
            fmt_n(count as f64),
            fill.as_secs_f64(),
            db.file_bytes() as f64 / 1e9
        ));
        store.close().await;
        db.drop_now().await?;
    }
    println!("\n| leaves | MemoryTree build | nodes-only SQLite database | other load (cores) |");
    println!("|---:|---:|---|---:|");
    for b in builds {
        println!("{b}");
    }
    println!("\n| operation | leaves | n | mean | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}

/// The first proof at a size after opening the store: it starts filling the store's cache of
/// the tree's upper levels in the background and reads what it needs from storage; then the
/// wait until the fill is done, before any measured proof.
async fn first_proof(store: &Store, leaf: u64, size: u64) -> Result<(String, Stats)> {
    let before = store.cached_nodes();
    let t = Instant::now();
    store.inclusion_proof(leaf, size).await?;
    let took = us(t.elapsed());
    while store.proof_cache_filling() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let name = format!(
        "  first proof at this size, while the cache fills in the background ({} hashes, filled after {:.0} ms)",
        store.cached_nodes() - before,
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok((name, stats(vec![took])))
}

/// Like [`storage_proofs`], for a database without leaves: leaf hashes are recomputed.
async fn storage_proofs_nodes_only(
    store: &Store,
    size: u64,
    root: &Hash,
    nproofs: usize,
) -> Result<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(6962);
    let leaves: Vec<u64> = (0..nproofs).map(|_| rng.gen_range(0..size)).collect();
    let first = first_proof(store, leaves[0], size).await?;
    for &i in leaves.iter().take(200) {
        store.inclusion_proof(i, size).await?;
    }
    let mut full = Vec::new();
    for &i in &leaves {
        let t = Instant::now();
        let proof = store.inclusion_proof(i, size).await?;
        full.push(us(t.elapsed()));
        verify_inclusion(&leaf_hash(&i.to_be_bytes()), i, size, &proof, root)
            .map_err(|e| anyhow!("leaf {i}: {e}"))?;
    }
    // The fixed cost of one query through the store's pool, whatever it asks.
    let mut ping = Vec::new();
    for _ in 0..nproofs {
        let t = Instant::now();
        store.ping().await?;
        ping.push(us(t.elapsed()));
    }
    let row = |name: &str, s: Stats| timing_row(name, size, s);
    Ok(vec![
        row(&first.0, first.1),
        row(
            "`Store::inclusion_proof` (SQLite, nodes-only database)",
            stats(full),
        ),
        row(
            "  for comparison: `Store::ping` (`SELECT 1`, one round trip through the pool)",
            stats(ping),
        ),
    ])
}

/// What-if, outside the library: the very query `Store::fetch_nodes` sends (same SQL, same
/// `$N` parameters), through sqlx's native SQLite driver instead of `Any`, with a page cache of
/// `cache_mb` (SQLite's default is 2 MB, which is what the store runs with).
async fn native_proofs(
    url: &str,
    size: u64,
    root: &Hash,
    nproofs: usize,
    cache_mb: u64,
) -> Result<String> {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let opts =
        SqliteConnectOptions::from_str(url)?.pragma("cache_size", format!("-{}", cache_mb * 1024));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?;
    let mut rng = StdRng::seed_from_u64(6962);
    let leaves: Vec<u64> = (0..nproofs).map(|_| rng.gen_range(0..size)).collect();
    let one = |i: u64| {
        let pool = pool.clone();
        async move {
            let needed =
                nodes_needed(|s| inclusion_proof(s, i, size)).map_err(|e| anyhow!("{e}"))?;
            let mut sql = String::from("SELECT level, idx, hash FROM ledger_nodes WHERE ");
            for k in 0..needed.len() {
                if k > 0 {
                    sql.push_str(" OR ");
                }
                sql.push_str(&format!(
                    "(level = ${} AND idx = ${})",
                    2 * k + 1,
                    2 * k + 2
                ));
            }
            let mut q = sqlx::query(&sql);
            for (l, x) in &needed {
                q = q.bind(i64::from(*l)).bind(*x as i64);
            }
            let mut map = hegui_ledger::NodeMap::default();
            for row in q.fetch_all(&pool).await? {
                let l: i64 = row.try_get("level")?;
                let x: i64 = row.try_get("idx")?;
                let h: String = row.try_get("hash")?;
                let h: Hash = hex::decode(h)?
                    .try_into()
                    .map_err(|_| anyhow!("bad hash"))?;
                map.0.insert((l as u8, x as u64), h);
            }
            inclusion_proof(&map, i, size).map_err(|e| anyhow!("{e}"))
        }
    };
    // Warm-up over every leaf measured, so the bigger cache holds what it will be asked.
    for &i in &leaves {
        one(i).await?;
    }
    let mut t_all = Vec::new();
    for &i in &leaves {
        let t = Instant::now();
        let proof = one(i).await?;
        t_all.push(us(t.elapsed()));
        verify_inclusion(&leaf_hash(&i.to_be_bytes()), i, size, &proof, root)
            .map_err(|e| anyhow!("leaf {i}: {e}"))?;
    }
    pool.close().await;
    let s = stats(t_all);
    Ok(format!(
        "| what-if: same query, native sqlx SQLite driver, {cache_mb} MB page cache | {} | {} | {} | {} | {} |",
        fmt_size(size),
        s.n,
        fmt_us(s.mean),
        fmt_us(s.p50),
        fmt_us(s.p99)
    ))
}

/// Writes every perfect-subtree node of `tree` into `ledger_nodes`, as the sequencer would
/// have (hex text, same schema), in large unsynchronised transactions: a fill, not a benchmark.
async fn fill_nodes(url: &str, tree: &MemoryTree) -> Result<u64> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let opts = SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    const CHUNK: usize = 500;
    let sql_for = |n: usize| {
        let mut sql = String::from("INSERT INTO ledger_nodes (level, idx, hash) VALUES ");
        for i in 0..n {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str("(?, ?, ?)");
        }
        sql
    };
    let full_sql = sql_for(CHUNK);
    let mut count = 0u64;
    let mut tx = conn.begin().await?;
    let mut pending: Vec<(u8, u64, String)> = Vec::with_capacity(CHUNK);
    let mut level = 0u8;
    loop {
        if tree.node(level, 0).is_err() {
            break;
        }
        let mut idx = 0u64;
        while let Ok(h) = tree.node(level, idx) {
            pending.push((level, idx, hex::encode(h)));
            if pending.len() == CHUNK {
                let mut q = sqlx::query(&full_sql);
                for (l, i, h) in pending.drain(..) {
                    q = q.bind(i64::from(l)).bind(i as i64).bind(h);
                }
                q.execute(&mut *tx).await?;
                count += CHUNK as u64;
                if count.is_multiple_of(1_000_000) {
                    tx.commit().await?;
                    tx = conn.begin().await?;
                }
            }
            idx += 1;
        }
        level += 1;
    }
    if !pending.is_empty() {
        let sql = sql_for(pending.len());
        let mut q = sqlx::query(&sql);
        count += pending.len() as u64;
        for (l, i, h) in pending.drain(..) {
            q = q.bind(i64::from(l)).bind(i as i64).bind(h);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    conn.close().await?;
    Ok(count)
}

// ---------------------------------------------------------------------------------------------
// ceiling

/// The leanest durable SQLite append log (see the file's header): what `appends` on SQLite
/// could reach on this machine if a record were nothing but its bytes and its leaf. With
/// `--index inline|deferred|runs` each row also carries its user and time, and a per-user
/// index is kept: `inline`, a B-tree index on the log updated by every commit (as
/// `interactions_user` is today); `deferred`, a second file built from the log by another
/// thread in sorted batches of `--index-batch` rows (derived data, rebuilt from the log past
/// its watermark after a crash); `runs`, the same with each batch a run of its own (an LSM
/// tree's first level, never merged here): to see whether a log-shaped layout with a
/// per-user index can sustain the issue's rate.
fn ceiling(opts: &Opts) -> Result<()> {
    let batches = opts.list("batches", "105,256,1000")?;
    let seconds = opts.get("seconds", 10.0f64)?;
    let warmup = opts.get("warmup", 2.0f64)?;
    let index: String = opts.get("index", "none".to_string())?;
    let index_batch = opts.get("index-batch", 100_000u64)?;
    if !matches!(index.as_str(), "none" | "inline" | "deferred" | "runs") {
        bail!("--index {index}: expected none, inline, deferred or runs");
    }
    let deferred = matches!(index.as_str(), "deferred" | "runs");
    let dir = opts.dir();
    println!(
        "| records per transaction | per-user index | appends/s | KB written per record | commits/s | rows not yet indexed at the end | one user's rows: lookup µs (runs) |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for &batch in &batches {
        let path = dir.join(format!("ceiling-{}-{batch}.db", std::process::id()));
        let index_path = dir.join(format!("ceiling-{}-{batch}-index.db", std::process::id()));
        let wal = |c: &rusqlite::Connection| -> Result<()> {
            let mode: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                bail!("journal mode {mode}, not WAL");
            }
            Ok(())
        };
        let conn = rusqlite::Connection::open(&path)?;
        wal(&conn)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE log (seq INTEGER PRIMARY KEY, user TEXT, at INTEGER, \
             record BLOB NOT NULL, leaf BLOB NOT NULL)",
        )?;
        if index == "inline" {
            conn.execute_batch("CREATE INDEX log_user ON log (user, at)")?;
        }
        let records: Vec<(Vec<u8>, Hash)> = (0..batch)
            .map(|i| {
                let bytes = record(i).canonical_bytes();
                let leaf = leaf_hash(&bytes);
                (bytes, leaf)
            })
            .collect();
        let users: Vec<String> = (0..50_000u64).map(|u| format!("usr_{u:012x}")).collect();
        let with_users = index != "none";
        // The deferred index: its own file, built by its own thread until told to stop.
        let stop = Arc::new(AtomicBool::new(false));
        let indexed = Arc::new(AtomicU64::new(0));
        let runs_mode = index == "runs";
        let indexer = deferred
            .then(|| -> Result<std::thread::JoinHandle<Result<()>>> {
                let (path, index_path) = (path.clone(), index_path.clone());
                let (stop, indexed) = (Arc::clone(&stop), Arc::clone(&indexed));
                let ix = rusqlite::Connection::open(&index_path)?;
                wal(&ix)?;
                ix.execute_batch(
                    "CREATE TABLE user_index (user TEXT, at INTEGER, seq INTEGER, \
                     PRIMARY KEY (user, at, seq)) WITHOUT ROWID; \
                     CREATE TABLE user_runs (run INTEGER, user TEXT, at INTEGER, seq INTEGER, \
                     PRIMARY KEY (run, user, at, seq)) WITHOUT ROWID; \
                     CREATE TABLE watermark (seq INTEGER NOT NULL); \
                     INSERT INTO watermark VALUES (0);",
                )?;
                Ok(std::thread::spawn(move || -> Result<()> {
                    let log = rusqlite::Connection::open(&path)?;
                    let mut wm = 0i64;
                    let mut run = 0i64;
                    let mut rows: Vec<(String, i64, i64)> = Vec::new();
                    loop {
                        rows.clear();
                        {
                            let mut q = log.prepare_cached(
                                "SELECT seq, user, at FROM log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                            )?;
                            let it = q.query_map(rusqlite::params![wm, index_batch as i64], |r| {
                                Ok((r.get::<_, String>(1)?, r.get(2)?, r.get(0)?))
                            })?;
                            for row in it {
                                rows.push(row?);
                            }
                        }
                        if (rows.len() as u64) < index_batch {
                            if stop.load(Ordering::Relaxed) && rows.is_empty() {
                                return Ok(());
                            }
                            if !stop.load(Ordering::Relaxed) {
                                // Wait for a full batch while the appender runs.
                                std::thread::sleep(Duration::from_millis(50));
                                continue;
                            }
                        }
                        wm = rows.iter().map(|r| r.2).max().unwrap_or(wm);
                        // Sorted, so the B-tree takes the batch in key order: each page once.
                        rows.sort_unstable();
                        let tx = ix.unchecked_transaction()?;
                        {
                            // `runs`: each batch is a run of its own, keys after every
                            // earlier run's, so the B-tree only grows at its right edge (a
                            // first level of a log-structured merge tree, never merged here).
                            let mut ins = tx.prepare_cached(if runs_mode {
                                "INSERT INTO user_runs (run, user, at, seq) VALUES (?4, ?1, ?2, ?3)"
                            } else {
                                "INSERT INTO user_index (user, at, seq) VALUES (?1, ?2, ?3)"
                            })?;
                            for (u, at, seq) in &rows {
                                if runs_mode {
                                    ins.execute(rusqlite::params![u, at, seq, run])?;
                                } else {
                                    ins.execute(rusqlite::params![u, at, seq])?;
                                }
                            }
                            tx.execute("UPDATE watermark SET seq = ?1", [wm])?;
                        }
                        run += 1;
                        tx.commit()?;
                        indexed.store(wm as u64, Ordering::Relaxed);
                        if stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                    }
                }))
            })
            .transpose()?;
        let mut next = 0u64;
        let mut run = |secs: f64| -> Result<(u64, Duration, u64, u64)> {
            let (t, w) = (Instant::now(), disk_writes());
            let (mut n, mut commits) = (0u64, 0u64);
            while t.elapsed().as_secs_f64() < secs {
                let tx = conn.unchecked_transaction()?;
                {
                    let mut ins = tx.prepare_cached(
                        "INSERT INTO log (user, at, record, leaf) VALUES (?1, ?2, ?3, ?4)",
                    )?;
                    let at = chrono::Utc::now().timestamp_millis();
                    for (bytes, leaf) in &records {
                        next += 1;
                        let user = with_users
                            .then(|| &users[(next.wrapping_mul(0x9e37_79b9) % 50_000) as usize]);
                        ins.execute(rusqlite::params![user, at, bytes, leaf.as_slice()])?;
                    }
                }
                tx.commit()?;
                n += batch;
                commits += 1;
            }
            Ok((n, t.elapsed(), disk_writes() - w, commits))
        };
        run(warmup)?;
        let (n, took, written, commits) = run(seconds)?;
        let behind = next.saturating_sub(indexed.load(Ordering::Relaxed));
        stop.store(true, Ordering::Relaxed);
        if let Some(t) = indexer {
            t.join()
                .map_err(|_| anyhow!("the indexer thread panicked"))??;
        }
        // What a per-user read costs in the index built: one user's rows counted, for 1,000
        // users (a seek per run for `runs`).
        let lookup = if deferred {
            let ix = rusqlite::Connection::open(&index_path)?;
            let runs: i64 =
                ix.query_row("SELECT COALESCE(MAX(run) + 1, 0) FROM user_runs", [], |r| {
                    r.get(0)
                })?;
            let t = Instant::now();
            let mut found = 0i64;
            for k in 0..1000u64 {
                let user = &users[(k.wrapping_mul(7919) % 50_000) as usize];
                if runs_mode {
                    let mut q = ix.prepare_cached(
                        "SELECT COUNT(*) FROM user_runs WHERE run = ?1 AND user = ?2",
                    )?;
                    for r in 0..runs {
                        found += q.query_row(rusqlite::params![r, user], |r| r.get::<_, i64>(0))?;
                    }
                } else {
                    let mut q =
                        ix.prepare_cached("SELECT COUNT(*) FROM user_index WHERE user = ?1")?;
                    found += q.query_row([user], |r| r.get::<_, i64>(0))?;
                }
            }
            if found == 0 {
                bail!("no user found in the index");
            }
            format!(
                "{:.0} ({})",
                t.elapsed().as_secs_f64() * 1e6 / 1000.0,
                if runs_mode { runs } else { 1 }
            )
        } else {
            "–".into()
        };
        let secs = took.as_secs_f64();
        println!(
            "| {batch} | {index} | {} | {:.1} | {} | {} | {lookup} |",
            fmt_n(n as f64 / secs),
            written as f64 / n as f64 / 1024.0,
            fmt_n(commits as f64 / secs),
            if deferred {
                fmt_n(behind as f64)
            } else {
                "–".into()
            },
        );
        drop(conn);
        if !opts.flag("keep") {
            for p in [&path, &index_path] {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn usage() -> &'static str {
    "usage: ledger_bench appends|store|nodes|ceiling [--option value ...]  (see the file's header)"
}

fn main() -> Result<()> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = raw.split_first() else {
        bail!("{}", usage());
    };
    let opts = Opts::parse(rest)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cmd.as_str() {
            "appends" => appends(&opts).await,
            "store" => real_store(&opts).await,
            "nodes" => nodes(&opts).await,
            "ceiling" => ceiling(&opts),
            _ => bail!("{}", usage()),
        }
    })
}
