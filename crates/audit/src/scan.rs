//! The technical-scan driver: reads every source, fans items out to a [`Scanner`] on all
//! cores, and accumulates a serialisable, exactly mergeable [`AuditState`]; [`finish`] turns a
//! (merged) state into an [`AuditReport`].
//!
//! **Determinism.** Every aggregate in the state is order-independent (sums, bottom-k by key,
//! sorted hash lists, smallest-key examples), and the state is put in canonical order before
//! it is returned, so the thread count never changes the result.
//!
//! **Sharding.** With `shard = Some((i, n))` a run keeps only the records whose
//! `XXH3(file, line) mod n == i` (whole-file errors use the file alone). Every shard still reads
//! (and hashes) every file, but scans only its own items; [`merge`] of all `n` states equals the
//! unsharded run.
//!
//! **Scan fraction.** With `scan_fraction < 1` an item is scanned when a second seeded key
//! falls below that fraction of the key space: deterministic and the same on every shard. The
//! report judges the fraction actually scanned.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dedup::{self, DedupState, ItemHashes};
use crate::keys;
use crate::manifest::{Finding, Manifest, Origin, PiBasis, Severity, Thresholds};
use crate::read::{self, FileReader, FileSummary, ReadError, ReadErrorKind, ReadOptions, Record};
use crate::report::{self, AuditReport};
use crate::sample::{self, BottomK, ManualResult, Sample, SampleEntry};
use crate::stats::{self, LengthHistogram, Script, ScriptMix};

/// The review engine the audit drives.
pub trait Scanner: Send + Sync {
    /// Findings for one text: the TC260 risk codes it violates (empty = passes) and PII found.
    fn scan(&self, text: &str) -> ScanResult;

    /// What decides the findings (lexicon versions, decision policy, classifier), as one
    /// version string: kept in the state, so that shards scanned under different policies
    /// are not merged and the report says which policy produced its rates. Empty: unknown.
    fn version(&self) -> String {
        String::new()
    }
}

/// What a [`Scanner`] found in one text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanResult {
    /// TC260 risk codes violated (empty = the text passes).
    pub risks: Vec<String>,
    /// Personal information found.
    pub pii: Vec<PiiHit>,
}

/// One piece of personal information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiHit {
    /// Kind (e.g. `cn_id`, `mobile`, `email`).
    pub kind: String,
    /// The value masked for display (the scanner masks; the report shows it as given).
    pub masked: String,
}

/// Progress of a run, reported after every batch.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Input files of all sources.
    pub files_total: usize,
    /// Files completely read.
    pub files_done: usize,
    /// The file being read.
    pub current_file: Arc<str>,
    /// Items of this shard processed so far.
    pub items: u64,
    /// Of which scanned.
    pub scanned: u64,
    /// Read errors of this shard so far.
    pub read_errors: u64,
}

/// A progress callback (e.g. driving an `indicatif` bar in the CLI).
pub type ProgressFn = Box<dyn Fn(Progress) + Send + Sync>;

/// How to run.
pub struct RunOptions {
    /// `(index, count)`: process only shard `index` of `count` (see the module docs).
    pub shard: Option<(u32, u32)>,
    /// Worker threads; 0 = one per core. Capped at [`MAX_THREADS_PER_CORE`] per core (see
    /// [`worker_threads`]).
    pub threads: usize,
    /// Called after every batch.
    pub progress: Option<ProgressFn>,
    /// Records per batch handed to the workers (default 1024).
    pub batch_size: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            shard: None,
            threads: 0,
            progress: None,
            batch_size: 1024,
        }
    }
}

/// Why a run or merge failed (malformed input is never an error: it is counted in the state).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// `shard` is not `(index, count)` with `index < count`.
    #[error("invalid shard {index}/{count}: need count >= 1 and index < count")]
    InvalidShard {
        /// Requested index.
        index: u32,
        /// Requested count.
        count: u32,
    },
    /// The worker pool could not start.
    #[error("cannot start the worker pool: {0}")]
    ThreadPool(String),
    /// The reader thread panicked.
    #[error("the reader thread panicked")]
    ReaderPanicked,
    /// States that cannot be merged.
    #[error("cannot merge audit states: {0}")]
    Merge(String),
    /// A state file is malformed.
    #[error("invalid audit state: {0}")]
    State(String),
    /// Some shards read an input file that others did not see: merging would silently count
    /// that file's items for some shards only.
    #[error("cannot merge audit states: {0}")]
    InputFileMissing(Box<MissingInput>),
    /// An input file has different contents on different shards.
    #[error("cannot merge audit states: {0}")]
    InputFileDiffers(Box<DifferingInput>),
}

/// An input file read by some shards but not by others (see [`AuditError::InputFileMissing`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("file `{file}` of source `{source_name}` was read by shard(s) {present_in:?} but is missing from shard(s) {missing_in:?}; every shard must see the same input files (copy the file there and re-run those shards)")]
pub struct MissingInput {
    /// Source name.
    pub source_name: String,
    /// File (relative to the manifest directory).
    pub file: String,
    /// Shard indices of the states that read the file.
    pub present_in: Vec<u32>,
    /// Shard indices of the states that did not.
    pub missing_in: Vec<u32>,
}

/// An input file whose SHA-256 differs between shards (see [`AuditError::InputFileDiffers`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("file `{file}` of source `{source_name}` has different contents on different shards (SHA-256 {sha256_a} on shard(s) {shards_a:?}, {sha256_b} on shard(s) {shards_b:?})")]
pub struct DifferingInput {
    /// Source name.
    pub source_name: String,
    /// File (relative to the manifest directory).
    pub file: String,
    /// Shard indices of the first state.
    pub shards_a: Vec<u32>,
    /// The file's SHA-256 there (`unreadable` if it could not be read).
    pub sha256_a: String,
    /// Shard indices of the second state.
    pub shards_b: Vec<u32>,
    /// The file's SHA-256 there.
    pub sha256_b: String,
}

/// Format tag of the state file.
pub const STATE_FORMAT: &str = "hegui-audit-state/1";

/// Which shards a state covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardCoverage {
    /// Number of shards the corpus is split into.
    pub count: u32,
    /// Shards included (sorted).
    pub indices: Vec<u32>,
}

impl ShardCoverage {
    /// Whether all shards are included.
    pub fn complete(&self) -> bool {
        self.indices.len() as u64 == u64::from(self.count)
    }
}

/// The audit settings a state was produced with (from the manifest's `[audit]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Seed of the sample and scan-fraction keys.
    pub seed: u64,
    /// Manual sample size.
    pub sample_size: u64,
    /// Minimum sample per source.
    pub min_per_source: u64,
    /// Configured scan fraction.
    pub scan_fraction: f64,
    /// Read-error examples kept per source.
    pub max_error_examples: usize,
    /// Thresholds.
    pub thresholds: Thresholds,
}

/// An input file's identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileRecord {
    /// Source name.
    pub source: String,
    /// Path relative to the manifest directory.
    pub file: String,
    /// SHA-256 (hex) of the stored bytes; `None` if the file could not be read.
    pub sha256: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
}

/// Read errors of a source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorTally {
    /// Number of errors.
    pub count: u64,
    /// Per kind.
    pub by_kind: BTreeMap<ReadErrorKind, u64>,
    /// The first `max_error_examples` by (file, line).
    pub examples: Vec<ReadError>,
}

/// A flagged item (location and risk codes only: the report does not repeat harmful text).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FlaggedExample {
    /// Sampling key (examples kept are those with the smallest keys: a seeded random choice).
    pub key: u64,
    /// File.
    pub file: String,
    /// Line / row.
    pub line: u64,
    /// Risk codes.
    pub risks: Vec<String>,
}

/// A masked PII example.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PiiExample {
    /// Sampling key.
    pub key: u64,
    /// File.
    pub file: String,
    /// Line / row.
    pub line: u64,
    /// Masked value.
    pub masked: String,
}

/// PII of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiTally {
    /// Hits.
    pub hits: u64,
    /// Up to 5 examples (smallest keys).
    pub examples: Vec<PiiExample>,
}

/// Examples kept per flagged-risk and per PII kind.
pub const EXAMPLES: usize = 5;

/// Technical-scan results of a source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanTally {
    /// Items scanned.
    pub scanned: u64,
    /// Items with at least one risk.
    pub harmful: u64,
    /// Items per risk code.
    pub risks: BTreeMap<String, u64>,
    /// Items with at least one PII hit.
    pub pii_items: u64,
    /// Per PII kind.
    pub pii: BTreeMap<String, PiiTally>,
    /// Up to 5 flagged items (smallest keys).
    pub flagged_examples: Vec<FlaggedExample>,
}

/// Everything accumulated for one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceState {
    /// Source name.
    pub name: String,
    /// Origin (from the manifest).
    pub origin: Origin,
    /// PI basis (from the manifest).
    pub pi_basis: Option<PiBasis>,
    /// Items read.
    pub items: u64,
    /// Blank lines / values.
    pub blank: u64,
    /// Read errors.
    pub read_errors: ErrorTally,
    /// Files not read to the end, each with the error that stopped it (one per file, sorted;
    /// recorded by every shard, since every shard reads every file). Such a file counts as one
    /// read error however many items it lost, so the per-item rate alone could pass a source
    /// with most of its data unread.
    #[serde(default)]
    pub incomplete_files: Vec<ReadError>,
    /// Lengths in characters.
    pub length: LengthHistogram,
    /// Majority scripts.
    pub scripts: ScriptMix,
    /// Technical scan.
    pub scan: ScanTally,
    /// Manual-sample candidates.
    pub sample: BottomK,
    /// Dedup hashes.
    pub dedup: DedupState,
}

/// The complete, serialisable result of a (sharded) run. See `AUDIT_FORMAT.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditState {
    /// [`STATE_FORMAT`].
    pub format: String,
    /// Version of this crate.
    pub tool_version: String,
    /// [`Manifest::fingerprint`].
    pub manifest_sha256: String,
    /// [`Scanner::version`] of the scanner that produced the findings (empty in states
    /// written before it was recorded, or by a scanner that names none).
    #[serde(default)]
    pub scanner: String,
    /// Settings.
    pub settings: Settings,
    /// Shards covered.
    pub shards: ShardCoverage,
    /// Per source, in manifest order.
    pub sources: Vec<SourceState>,
    /// Input files, sorted by (source, file).
    pub files: Vec<FileRecord>,
}

fn keep_smallest<T: Ord>(v: &mut Vec<T>, x: T, cap: usize) {
    if cap == 0 {
        return;
    }
    if v.len() < cap {
        let pos = v.binary_search(&x).unwrap_or_else(|p| p);
        v.insert(pos, x);
    } else if v.last().is_some_and(|last| x < *last) {
        v.pop();
        let pos = v.binary_search(&x).unwrap_or_else(|p| p);
        v.insert(pos, x);
    }
}

fn merge_smallest<T: Ord>(v: &mut Vec<T>, other: Vec<T>, cap: usize) {
    v.extend(other);
    v.sort();
    v.dedup();
    v.truncate(cap);
}

impl ErrorTally {
    fn add(&mut self, e: ReadError, cap: usize) {
        self.count += 1;
        *self.by_kind.entry(e.kind).or_default() += 1;
        keep_smallest(&mut self.examples, e, cap);
    }

    fn merge(&mut self, o: ErrorTally, cap: usize) {
        self.count += o.count;
        for (k, n) in o.by_kind {
            *self.by_kind.entry(k).or_default() += n;
        }
        merge_smallest(&mut self.examples, o.examples, cap);
    }
}

impl ScanTally {
    fn add(&mut self, key: u64, file: &str, line: u64, r: ScanResult) {
        self.scanned += 1;
        let mut risks: Vec<String> = r
            .risks
            .into_iter()
            .filter(|r| !r.trim().is_empty())
            .collect();
        risks.sort();
        risks.dedup();
        if !risks.is_empty() {
            self.harmful += 1;
            for code in &risks {
                *self.risks.entry(code.clone()).or_default() += 1;
            }
            keep_smallest(
                &mut self.flagged_examples,
                FlaggedExample {
                    key,
                    file: file.to_owned(),
                    line,
                    risks,
                },
                EXAMPLES,
            );
        }
        if !r.pii.is_empty() {
            self.pii_items += 1;
            for hit in r.pii {
                let t = self.pii.entry(hit.kind).or_default();
                t.hits += 1;
                keep_smallest(
                    &mut t.examples,
                    PiiExample {
                        key,
                        file: file.to_owned(),
                        line,
                        masked: hit.masked,
                    },
                    EXAMPLES,
                );
            }
        }
    }

    fn merge(&mut self, o: ScanTally) {
        self.scanned += o.scanned;
        self.harmful += o.harmful;
        for (k, n) in o.risks {
            *self.risks.entry(k).or_default() += n;
        }
        self.pii_items += o.pii_items;
        for (k, t) in o.pii {
            let mine = self.pii.entry(k).or_default();
            mine.hits += t.hits;
            merge_smallest(&mut mine.examples, t.examples, EXAMPLES);
        }
        merge_smallest(&mut self.flagged_examples, o.flagged_examples, EXAMPLES);
    }
}

/// Sorts and keeps one entry per file (shards record the same files; should their error text
/// differ, e.g. another OS message, the file still counts once).
fn canonical_incomplete(v: &mut Vec<ReadError>) {
    v.sort();
    v.dedup_by(|a, b| a.file == b.file);
}

impl SourceState {
    fn merge(&mut self, o: SourceState, cap: usize) {
        self.items += o.items;
        self.blank += o.blank;
        self.read_errors.merge(o.read_errors, cap);
        self.incomplete_files.extend(o.incomplete_files);
        canonical_incomplete(&mut self.incomplete_files);
        self.length.merge(&o.length);
        self.scripts.merge(&o.scripts);
        self.scan.merge(o.scan);
        self.sample.merge(o.sample);
        self.dedup.merge(o.dedup);
    }
}

impl AuditState {
    fn empty(manifest: &Manifest, index: u32, count: u32) -> Self {
        let a = &manifest.audit;
        let capacity = usize::try_from(a.sample_size.max(a.min_per_source)).unwrap_or(usize::MAX);
        AuditState {
            format: STATE_FORMAT.to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            manifest_sha256: manifest.fingerprint(),
            scanner: String::new(),
            settings: Settings {
                seed: a.seed,
                sample_size: a.sample_size,
                min_per_source: a.min_per_source,
                scan_fraction: a.scan_fraction,
                max_error_examples: a.max_error_examples,
                thresholds: a.thresholds.clone(),
            },
            shards: ShardCoverage {
                count,
                indices: vec![index],
            },
            sources: manifest
                .sources
                .iter()
                .map(|s| SourceState {
                    name: s.name.clone(),
                    origin: s.origin,
                    pi_basis: s.pi_basis,
                    items: 0,
                    blank: 0,
                    read_errors: ErrorTally::default(),
                    incomplete_files: Vec::new(),
                    length: LengthHistogram::default(),
                    scripts: ScriptMix::default(),
                    scan: ScanTally::default(),
                    sample: BottomK::new(capacity),
                    dedup: DedupState::default(),
                })
                .collect(),
            files: Vec::new(),
        }
    }

    /// Puts every part in canonical order (done by [`run_audit`] and [`merge`]).
    pub fn canonicalize(&mut self) {
        let cap = self.settings.max_error_examples;
        for s in &mut self.sources {
            s.sample.canonicalize();
            s.dedup.canonicalize();
            s.read_errors.examples.sort();
            s.read_errors.examples.truncate(cap);
            canonical_incomplete(&mut s.incomplete_files);
        }
        self.files.sort();
        self.files.dedup();
    }

    /// Serialises the state (compact JSON).
    pub fn to_json(&self) -> Result<String, AuditError> {
        serde_json::to_string(self).map_err(|e| AuditError::State(e.to_string()))
    }

    /// Parses a state written by [`AuditState::to_json`].
    pub fn from_json(text: &str) -> Result<AuditState, AuditError> {
        let mut s: AuditState =
            serde_json::from_str(text).map_err(|e| AuditError::State(e.to_string()))?;
        if s.format != STATE_FORMAT {
            return Err(AuditError::State(format!(
                "format `{}` is not `{STATE_FORMAT}`",
                s.format
            )));
        }
        for src in &mut s.sources {
            src.sample.after_load();
        }
        Ok(s)
    }

    /// Draws the manual-assessment sample.
    pub fn sample(&self) -> Sample {
        let sources: Vec<(&str, u64, &BottomK)> = self
            .sources
            .iter()
            .map(|s| (s.name.as_str(), s.items, &s.sample))
            .collect();
        sample::draw(
            self.settings.seed,
            &sources,
            self.settings.sample_size,
            self.settings.min_per_source,
        )
    }
}

enum Msg {
    Batch {
        si: usize,
        file: Arc<str>,
        records: Vec<Record>,
    },
    FileDone {
        si: usize,
        file: Arc<str>,
        summary: FileSummary,
    },
}

enum Outcome {
    Item {
        item: read::Item,
        key: u64,
        chars: u64,
        script: Script,
        hashes: ItemHashes,
        scan: Option<ScanResult>,
    },
    Error(ReadError),
    Blank,
}

fn record_line(r: &Record) -> Option<u64> {
    match r {
        Record::Item(it) => Some(it.line),
        Record::Error(e) => e.line,
        Record::Blank { line } => Some(*line),
    }
}

/// Most worker threads per available core.
pub const MAX_THREADS_PER_CORE: usize = 4;

/// The worker threads a run uses for `requested` (`RunOptions::threads`): 0 = one per core,
/// otherwise `requested` capped at [`MAX_THREADS_PER_CORE`] per core. The work is CPU-bound, so
/// more threads than cores gain nothing, and an absurd count (`--threads 100000`) spent minutes
/// starting threads and then thrashing on a tiny corpus.
pub fn worker_threads(requested: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if requested == 0 {
        cores
    } else {
        requested.min(cores.saturating_mul(MAX_THREADS_PER_CORE))
    }
}

/// Runs the audit (or one shard of it) over the manifest's sources.
///
/// Malformed input never fails the run; it is counted per source. Errors are only about the
/// run itself (bad shard spec, thread pool).
pub fn run_audit(
    manifest: &Manifest,
    base_dir: &Path,
    scanner: &dyn Scanner,
    opts: RunOptions,
) -> Result<AuditState, AuditError> {
    let (index, count) = opts.shard.unwrap_or((0, 1));
    if count == 0 || index >= count {
        return Err(AuditError::InvalidShard { index, count });
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(worker_threads(opts.threads))
        .build()
        .map_err(|e| AuditError::ThreadPool(e.to_string()))?;
    let mut state = AuditState::empty(manifest, index, count);
    state.scanner = scanner.version();
    let cap = state.settings.max_error_examples;
    let seed = state.settings.seed;
    let fraction = state.settings.scan_fraction;
    let batch_size = opts.batch_size.max(1);

    let plans: Vec<(usize, read::Resolved, ReadOptions)> = manifest
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                i,
                read::resolve_paths(base_dir, &s.paths),
                ReadOptions::for_source(s, &manifest.audit),
            )
        })
        .collect();
    let files_total: usize = plans.iter().map(|p| p.1.files.len()).sum();
    for (si, res, _) in &plans {
        for (file, detail) in &res.errors {
            let e = ReadError {
                source: Arc::from(manifest.sources[*si].name.as_str()),
                file: Arc::from(file.as_str()),
                line: None,
                kind: ReadErrorKind::Open,
                detail: detail.clone(),
            };
            // Files under an unlistable directory are lost whatever the shard.
            state.sources[*si].incomplete_files.push(e.clone());
            if keys::shard_of(file, None, count) == index {
                state.sources[*si].read_errors.add(e, cap);
            }
        }
    }

    let names: Vec<Arc<str>> = manifest
        .sources
        .iter()
        .map(|s| Arc::from(s.name.as_str()))
        .collect();
    let (tx, rx) = mpsc::sync_channel::<Msg>(4);
    let plans_ref = &plans;
    let names_ref = &names;
    std::thread::scope(|scope| -> Result<(), AuditError> {
        let reader = scope.spawn(move || {
            for (si, res, ropts) in plans_ref {
                for f in &res.files {
                    let rel: Arc<str> = Arc::from(f.rel.as_str());
                    let mut fr =
                        FileReader::open(names_ref[*si].clone(), rel.clone(), &f.path, ropts);
                    let mut batch = Vec::with_capacity(batch_size);
                    for rec in fr.by_ref() {
                        if keys::shard_of(&rel, record_line(&rec), count) != index {
                            continue;
                        }
                        batch.push(rec);
                        if batch.len() >= batch_size {
                            let records =
                                std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                            if tx
                                .send(Msg::Batch {
                                    si: *si,
                                    file: rel.clone(),
                                    records,
                                })
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                    if !batch.is_empty()
                        && tx
                            .send(Msg::Batch {
                                si: *si,
                                file: rel.clone(),
                                records: batch,
                            })
                            .is_err()
                    {
                        return;
                    }
                    let summary = fr.finish();
                    if tx
                        .send(Msg::FileDone {
                            si: *si,
                            file: rel,
                            summary,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });

        let mut files_done = 0usize;
        let (mut items, mut scanned, mut errors) = (0u64, 0u64, 0u64);
        for msg in rx {
            match msg {
                Msg::FileDone { si, file, summary } => {
                    files_done += 1;
                    if let Some(e) = summary.incomplete {
                        state.sources[si].incomplete_files.push(e);
                    }
                    state.files.push(FileRecord {
                        source: manifest.sources[si].name.clone(),
                        file: file.to_string(),
                        sha256: summary.sha256,
                        bytes: summary.bytes,
                    });
                }
                Msg::Batch { si, file, records } => {
                    let outcomes: Vec<Outcome> = pool.install(|| {
                        records
                            .into_par_iter()
                            .map(|rec| match rec {
                                Record::Item(item) => {
                                    let key =
                                        keys::sample_key(seed, &item.source, &item.file, item.line);
                                    let selected = keys::below_fraction(
                                        keys::scan_key(seed, &item.source, &item.file, item.line),
                                        fraction,
                                    );
                                    let scan = selected.then(|| scanner.scan(&item.text));
                                    let (script, chars) = stats::script_and_length(&item.text);
                                    Outcome::Item {
                                        key,
                                        chars,
                                        script,
                                        hashes: dedup::hash_item(&item.text),
                                        scan,
                                        item,
                                    }
                                }
                                Record::Error(e) => Outcome::Error(e),
                                Record::Blank { .. } => Outcome::Blank,
                            })
                            .collect()
                    });
                    let st = &mut state.sources[si];
                    for o in outcomes {
                        match o {
                            Outcome::Item {
                                item,
                                key,
                                chars,
                                script,
                                hashes,
                                scan,
                            } => {
                                items += 1;
                                st.items += 1;
                                st.length.add(chars);
                                st.scripts.add(script);
                                st.dedup.push(hashes);
                                if let Some(r) = scan {
                                    scanned += 1;
                                    st.scan.add(key, &item.file, item.line, r);
                                }
                                if st.sample.accepts(key) {
                                    st.sample.offer(SampleEntry {
                                        key,
                                        file: item.file,
                                        line: item.line,
                                        text: item.text,
                                    });
                                }
                            }
                            Outcome::Error(e) => {
                                errors += 1;
                                st.read_errors.add(e, cap);
                            }
                            Outcome::Blank => st.blank += 1,
                        }
                    }
                    if let Some(p) = &opts.progress {
                        p(Progress {
                            files_total,
                            files_done,
                            current_file: file,
                            items,
                            scanned,
                            read_errors: errors,
                        });
                    }
                }
            }
        }
        reader.join().map_err(|_| AuditError::ReaderPanicked)
    })?;
    state.canonicalize();
    Ok(state)
}

/// Every shard reads every file, so all states must list exactly the same input files with
/// the same hashes: comparing only the files present in both would let a shard that missed a
/// file (e.g. not copied to its machine) merge silently with that file's items undercounted.
fn check_same_files(a: &AuditState, b: &AuditState) -> Result<(), AuditError> {
    let map = |st: &AuditState| -> BTreeMap<(String, String), Option<String>> {
        st.files
            .iter()
            .map(|f| ((f.source.clone(), f.file.clone()), f.sha256.clone()))
            .collect()
    };
    let (fa, fb) = (map(a), map(b));
    let missing =
        |(source_name, file): &(String, String), present: &AuditState, missing: &AuditState| {
            AuditError::InputFileMissing(Box::new(MissingInput {
                source_name: source_name.clone(),
                file: file.clone(),
                present_in: present.shards.indices.clone(),
                missing_in: missing.shards.indices.clone(),
            }))
        };
    for (k, ha) in &fa {
        match fb.get(k) {
            None => return Err(missing(k, a, b)),
            Some(hb) if hb != ha => {
                return Err(AuditError::InputFileDiffers(Box::new(DifferingInput {
                    source_name: k.0.clone(),
                    file: k.1.clone(),
                    shards_a: a.shards.indices.clone(),
                    sha256_a: ha.clone().unwrap_or_else(|| "unreadable".into()),
                    shards_b: b.shards.indices.clone(),
                    sha256_b: hb.clone().unwrap_or_else(|| "unreadable".into()),
                })))
            }
            Some(_) => {}
        }
    }
    if let Some(k) = fb.keys().find(|k| !fa.contains_key(*k)) {
        return Err(missing(k, b, a));
    }
    Ok(())
}

/// Merges shard states into one. They must come from the same manifest and settings, use the
/// same shard count, and cover disjoint shards; all must have read the same input files with the
/// same SHA-256.
pub fn merge(states: Vec<AuditState>) -> Result<AuditState, AuditError> {
    let mut it = states.into_iter();
    let mut acc = it
        .next()
        .ok_or_else(|| AuditError::Merge("no states given".into()))?;
    let cap = acc.settings.max_error_examples;
    for s in it {
        if s.format != acc.format {
            return Err(AuditError::Merge(format!(
                "state formats differ: `{}` and `{}`",
                acc.format, s.format
            )));
        }
        if s.manifest_sha256 != acc.manifest_sha256 {
            return Err(AuditError::Merge(
                "the states come from different manifests (manifest_sha256 differs)".into(),
            ));
        }
        if s.scanner != acc.scanner {
            return Err(AuditError::Merge(format!(
                "the states were scanned under different review policies (`{}` and `{}`): \
                 run every shard with the same lexicons, decision policy and classifier",
                acc.scanner, s.scanner
            )));
        }
        if s.settings != acc.settings {
            return Err(AuditError::Merge(
                "the states were produced with different [audit] settings".into(),
            ));
        }
        if s.shards.count != acc.shards.count {
            return Err(AuditError::Merge(format!(
                "shard counts differ: {} and {} (all shards of one split must use the same count)",
                acc.shards.count, s.shards.count
            )));
        }
        if let Some(dup) = s
            .shards
            .indices
            .iter()
            .find(|i| acc.shards.indices.contains(i))
        {
            return Err(AuditError::Merge(format!(
                "shard {dup} of {} is included twice",
                s.shards.count
            )));
        }
        let names_a: Vec<&str> = acc.sources.iter().map(|x| x.name.as_str()).collect();
        let names_b: Vec<&str> = s.sources.iter().map(|x| x.name.as_str()).collect();
        if names_a != names_b {
            return Err(AuditError::Merge(
                "the states list different sources".into(),
            ));
        }
        check_same_files(&acc, &s)?;
        acc.shards.indices.extend(s.shards.indices);
        acc.shards.indices.sort_unstable();
        for (a, b) in acc.sources.iter_mut().zip(s.sources) {
            a.merge(b, cap);
        }
        acc.files.extend(s.files);
        acc.files.sort();
        acc.files.dedup();
    }
    acc.canonicalize();
    Ok(acc)
}

/// What [`finish`] needs besides the state.
#[derive(Debug, Clone, Default)]
pub struct FinishOptions {
    /// The command that reproduces this report (recorded verbatim).
    pub reproduction_command: String,
    /// Manual-assessment results, once the annotated sample has been imported.
    pub manual: Option<ManualResult>,
    /// Report timestamp (RFC 3339); `None` = now.
    pub generated_at: Option<String>,
}

/// Turns a (merged) state and the manifest findings into the report.
pub fn finish(
    state: &AuditState,
    manifest_findings: Vec<Finding>,
    opts: &FinishOptions,
) -> AuditReport {
    let mut findings = manifest_findings;
    for s in &state.sources {
        if s.pi_basis == Some(PiBasis::NonePresent) && s.scan.pii_items > 0 {
            let kinds: Vec<&str> = s.scan.pii.keys().map(String::as_str).collect();
            findings.push(Finding {
                source: s.name.clone(),
                severity: Severity::Error,
                rule_code: crate::manifest::rules::PII_FOUND_NONE_DECLARED.to_owned(),
                message: format!(
                    "declared `pi_basis = \"none_present\"` but the scan found personal information in {} item(s) ({}): de-identify the source or declare and document a legal basis",
                    s.scan.pii_items,
                    kinds.join(", ")
                ),
            });
        }
    }
    for s in &state.sources {
        for e in &s.incomplete_files {
            // A warning, not an error: the source's `read_errors` check fails on it, and an
            // error finding would also fail `legality`, which is about provenance.
            findings.push(Finding {
                source: s.name.clone(),
                severity: Severity::Warning,
                rule_code: crate::manifest::rules::FILE_NOT_READ_COMPLETELY.to_owned(),
                message: format!(
                    "file `{}` was not read completely ({}{}: {}): its remaining items are unaudited; fix or replace the file (or the source's settings) and re-run",
                    e.file,
                    e.kind.as_str(),
                    e.line.map(|l| format!(" at line/row {l}")).unwrap_or_default(),
                    e.detail
                ),
            });
        }
    }
    report::build(state, findings, opts)
}
