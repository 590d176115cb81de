//! The manual-assessment sample: stratified, seeded, reproducible and exactly mergeable across
//! shards, plus export for annotators and import of their verdicts.
//!
//! **Bottom-k sampling.** Every item gets a key `XXH3-64(seed; source, file, line)`; a source's
//! sample is the `k` items with the smallest keys (ties broken by file, then line). Because "the
//! k smallest of a union" is "the k smallest of the k smallest of each part", every shard keeps
//! its `capacity` smallest per source and [`BottomK::merge`] gives exactly the single-run
//! result. The sample is uniform without replacement within each source.
//!
//! **Allocation.** Source `s` with `n_s` of `N` items gets
//! `k_s = min(n_s, max(min_per_source, ceil(sample_size · n_s / N)))`, so the total is at least
//! `sample_size` whenever the corpus has that many items. Item counts are only known after the
//! merge, so each shard keeps `max(sample_size, min_per_source)` candidates per source, an upper
//! bound on every `k_s`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::stats::RateCi;

/// The sampling key of an item (exposed so that tools can recompute a sample id).
pub fn sample_key(seed: u64, source: &str, file: &str, line: u64) -> u64 {
    crate::keys::sample_key(seed, source, file, line)
}

/// A candidate for the sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleEntry {
    /// Sampling key.
    pub key: u64,
    /// File (relative path).
    pub file: Arc<str>,
    /// Line / row.
    pub line: u64,
    /// The text.
    pub text: String,
}

fn entry_cmp(a: &SampleEntry, b: &SampleEntry) -> Ordering {
    (a.key, &a.file, a.line).cmp(&(b.key, &b.file, b.line))
}

/// The `capacity` entries with the smallest keys seen so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BottomK {
    /// How many entries are kept.
    pub capacity: usize,
    entries: Vec<SampleEntry>,
    /// Largest kept key once full (an entry above it cannot enter). Derived, not serialised.
    #[serde(skip)]
    threshold: Option<u64>,
}

impl PartialEq for BottomK {
    fn eq(&self, other: &Self) -> bool {
        self.capacity == other.capacity && self.entries == other.entries
    }
}

impl BottomK {
    /// An empty sampler keeping `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        BottomK {
            capacity,
            entries: Vec::new(),
            threshold: None,
        }
    }

    /// Whether an entry with this key could enter (check before cloning a text).
    pub fn accepts(&self, key: u64) -> bool {
        self.capacity > 0 && self.threshold.is_none_or(|t| key <= t)
    }

    /// Offers an entry.
    pub fn offer(&mut self, e: SampleEntry) {
        if !self.accepts(e.key) {
            return;
        }
        self.entries.push(e);
        if self.entries.len() >= self.capacity.saturating_mul(2).max(64) {
            self.compact();
        }
    }

    fn compact(&mut self) {
        self.entries.sort_by(entry_cmp);
        self.entries.dedup();
        self.entries.truncate(self.capacity);
        self.threshold =
            (self.entries.len() == self.capacity).then(|| self.entries.last().map_or(0, |e| e.key));
    }

    /// Adds another sampler's entries (same capacity expected; the larger is kept).
    pub fn merge(&mut self, other: BottomK) {
        self.capacity = self.capacity.max(other.capacity);
        self.entries.extend(other.entries);
        self.compact();
    }

    /// Puts the entries in canonical order (ascending key) and drops the surplus.
    pub fn canonicalize(&mut self) {
        self.compact();
    }

    /// The kept entries (ascending key after [`BottomK::canonicalize`]).
    pub fn entries(&self) -> &[SampleEntry] {
        &self.entries
    }

    /// Re-derives the threshold after deserialisation.
    pub(crate) fn after_load(&mut self) {
        self.compact();
    }
}

/// Per-source sample sizes for item counts `counts` (see the module docs).
pub fn allocate(counts: &[u64], sample_size: u64, min_per_source: u64) -> Vec<u64> {
    let total: u128 = counts.iter().map(|&c| u128::from(c)).sum();
    counts
        .iter()
        .map(|&n| {
            if total == 0 {
                return 0;
            }
            let prop = (u128::from(sample_size) * u128::from(n)).div_ceil(total);
            let k = u64::try_from(prop).unwrap_or(u64::MAX).max(min_per_source);
            k.min(n)
        })
        .collect()
}

/// One item of the drawn sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleItem {
    /// Stable id: the sampling key as 16 hex digits.
    pub id: String,
    /// Source name.
    pub source: String,
    /// File (relative path).
    pub file: String,
    /// Line / row.
    pub line: u64,
    /// The text.
    pub text: String,
}

/// The drawn sample, grouped by source in manifest order, ascending key within a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The audit seed.
    pub seed: u64,
    /// Items.
    pub items: Vec<SampleItem>,
}

/// The id of a sampling key.
pub fn sample_id(key: u64) -> String {
    format!("{key:016x}")
}

/// Draws the sample from per-source samplers: `(source name, item count, sampler)`.
pub fn draw(
    seed: u64,
    sources: &[(&str, u64, &BottomK)],
    sample_size: u64,
    min_per_source: u64,
) -> Sample {
    let counts: Vec<u64> = sources.iter().map(|s| s.1).collect();
    let alloc = allocate(&counts, sample_size, min_per_source);
    let mut items = Vec::new();
    for ((name, _, bk), k) in sources.iter().zip(alloc) {
        let mut entries: Vec<&SampleEntry> = bk.entries.iter().collect();
        entries.sort_by(|a, b| entry_cmp(a, b));
        for e in entries
            .into_iter()
            .take(usize::try_from(k).unwrap_or(usize::MAX))
        {
            items.push(SampleItem {
                id: sample_id(e.key),
                source: (*name).to_owned(),
                file: e.file.to_string(),
                line: e.line,
                text: e.text.clone(),
            });
        }
    }
    Sample { seed, items }
}

/// Errors of export / import.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV could not be written or its header read.
    #[error("CSV error: {0}")]
    Csv(#[from] csv::Error),
    /// JSON serialisation failed.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// The annotation file lacks a required column.
    #[error("the annotation file has no `{0}` column (expected columns: id, source, file, line, text, verdict, note)")]
    MissingColumn(&'static str),
    /// The annotation file's format is not recognised.
    #[error("cannot tell the annotation format of {0}: use a .csv or .jsonl file")]
    UnknownFormat(String),
}

/// Spreadsheet formula neutralisation (OWASP "CSV injection"): a cell starting with `=`, `+`,
/// `-`, `@`, tab or carriage return is prefixed with `'` so that opening the export in a
/// spreadsheet never evaluates corpus text as a formula.
fn neutralize(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Writes the sample as CSV (`id,source,file,line,text,verdict,note`, UTF-8 with BOM so that
/// spreadsheets detect the encoding) with empty `verdict` and `note` columns.
pub fn export_csv<W: Write>(sample: &Sample, mut w: W) -> Result<(), SampleError> {
    w.write_all(b"\xEF\xBB\xBF")?;
    let mut wr = csv::Writer::from_writer(w);
    wr.write_record(["id", "source", "file", "line", "text", "verdict", "note"])?;
    for it in &sample.items {
        wr.write_record([
            it.id.as_str(),
            &neutralize(&it.source),
            &neutralize(&it.file),
            &it.line.to_string(),
            &neutralize(&it.text),
            "",
            "",
        ])?;
    }
    wr.flush()?;
    Ok(())
}

#[derive(Serialize)]
struct ExportRow<'a> {
    id: &'a str,
    source: &'a str,
    file: &'a str,
    line: u64,
    text: &'a str,
    verdict: &'a str,
    note: &'a str,
}

/// Writes the sample as JSONL with empty `verdict` and `note` fields.
pub fn export_jsonl<W: Write>(sample: &Sample, mut w: W) -> Result<(), SampleError> {
    for it in &sample.items {
        let row = ExportRow {
            id: &it.id,
            source: &it.source,
            file: &it.file,
            line: it.line,
            text: &it.text,
            verdict: "",
            note: "",
        };
        serde_json::to_writer(&mut w, &row)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

/// An annotator's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManualVerdict {
    /// The item is acceptable.
    Pass,
    /// The item is illegal or harmful.
    Fail,
}

/// Parses a verdict: `pass`/`fail` (any case), `通过`/`不通过`, `合格`/`不合格`.
pub fn parse_verdict(s: &str) -> Option<ManualVerdict> {
    match s.trim().to_lowercase().as_str() {
        "pass" | "通过" | "合格" => Some(ManualVerdict::Pass),
        "fail" | "不通过" | "不合格" => Some(ManualVerdict::Fail),
        _ => None,
    }
}

/// Annotation file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationFormat {
    /// CSV with a header row containing at least `id` and `verdict`.
    Csv,
    /// JSONL objects with `id` and `verdict`.
    Jsonl,
}

impl AnnotationFormat {
    /// By extension (`.csv`, `.jsonl`/`.ndjson`).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path
            .extension()?
            .to_string_lossy()
            .to_ascii_lowercase()
            .as_str()
        {
            "csv" => Some(AnnotationFormat::Csv),
            "jsonl" | "ndjson" => Some(AnnotationFormat::Jsonl),
            _ => None,
        }
    }
}

/// A row of an annotation file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowProblem {
    /// 1-based line in the annotation file.
    pub line: u64,
    /// The row's id, when it has one.
    pub id: Option<String>,
    /// What is wrong.
    pub problem: String,
}

/// The manual assessment's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManualResult {
    /// Items in the drawn sample.
    pub sample_size: u64,
    /// Sample items with a valid verdict.
    pub annotated: u64,
    /// Passed of annotated, with Wilson 95% interval.
    pub overall: RateCi,
    /// Per source (sources with at least one annotated item).
    pub per_source: BTreeMap<String, RateCi>,
    /// Rows with a missing or unrecognised verdict, duplicates, malformed rows.
    pub bad_rows: Vec<RowProblem>,
    /// Rows whose id is not in the sample.
    pub unknown_ids: Vec<RowProblem>,
    /// Sample items without a valid verdict.
    pub unannotated: u64,
    /// Up to 20 of their ids.
    pub unannotated_examples: Vec<String>,
}

struct Tally<'a> {
    sample: &'a Sample,
    index: HashMap<&'a str, usize>,
    verdicts: Vec<Option<(ManualVerdict, u64)>>,
    bad: Vec<RowProblem>,
    unknown: Vec<RowProblem>,
}

impl<'a> Tally<'a> {
    fn new(sample: &'a Sample) -> Self {
        let mut index = HashMap::new();
        for (i, it) in sample.items.iter().enumerate() {
            index.entry(it.id.as_str()).or_insert(i);
        }
        Tally {
            sample,
            index,
            verdicts: vec![None; sample.items.len()],
            bad: Vec::new(),
            unknown: Vec::new(),
        }
    }

    fn row(&mut self, line: u64, id: Option<&str>, verdict: Option<&str>) {
        let Some(id) = id.map(str::trim).filter(|s| !s.is_empty()) else {
            self.bad.push(RowProblem {
                line,
                id: None,
                problem: "missing id".into(),
            });
            return;
        };
        let Some(&i) = self.index.get(id) else {
            self.unknown.push(RowProblem {
                line,
                id: Some(id.to_owned()),
                problem: "id is not in the sample".into(),
            });
            return;
        };
        let v = match verdict.map(str::trim).filter(|s| !s.is_empty()) {
            None => {
                self.bad.push(RowProblem {
                    line,
                    id: Some(id.to_owned()),
                    problem: "missing verdict".into(),
                });
                return;
            }
            Some(v) => match parse_verdict(v) {
                Some(x) => x,
                None => {
                    self.bad.push(RowProblem {
                        line,
                        id: Some(id.to_owned()),
                        problem: format!(
                            "unrecognised verdict `{v}` (use pass/fail or 通过/不通过)"
                        ),
                    });
                    return;
                }
            },
        };
        if let Some((_, first)) = self.verdicts[i] {
            self.bad.push(RowProblem {
                line,
                id: Some(id.to_owned()),
                problem: format!("duplicate id (first at line {first}); this row is ignored"),
            });
            return;
        }
        self.verdicts[i] = Some((v, line));
    }

    fn finish(self) -> ManualResult {
        let mut per: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let (mut passed, mut annotated) = (0u64, 0u64);
        let mut unannotated_examples = Vec::new();
        for (it, v) in self.sample.items.iter().zip(&self.verdicts) {
            match v {
                Some((verdict, _)) => {
                    annotated += 1;
                    let e = per.entry(it.source.clone()).or_default();
                    e.1 += 1;
                    if *verdict == ManualVerdict::Pass {
                        passed += 1;
                        e.0 += 1;
                    }
                }
                None => {
                    if unannotated_examples.len() < 20 {
                        unannotated_examples.push(it.id.clone());
                    }
                }
            }
        }
        ManualResult {
            sample_size: self.sample.items.len() as u64,
            annotated,
            overall: RateCi::new(passed, annotated),
            per_source: per
                .into_iter()
                .map(|(k, (p, n))| (k, RateCi::new(p, n)))
                .collect(),
            bad_rows: self.bad,
            unknown_ids: self.unknown,
            unannotated: self.sample.items.len() as u64 - annotated,
            unannotated_examples,
        }
    }
}

/// Reads an annotated export and computes the manual pass rate against `sample`.
///
/// Row-level problems (missing/unrecognised verdict, unknown or duplicate id, malformed row,
/// invalid UTF-8) are reported with their line numbers, never fatal; only an unreadable file
/// or a CSV header without `id` / `verdict` is an error.
pub fn import_annotations<R: Read>(
    reader: R,
    format: AnnotationFormat,
    sample: &Sample,
) -> Result<ManualResult, SampleError> {
    let mut tally = Tally::new(sample);
    match format {
        AnnotationFormat::Csv => {
            let mut rdr = crate::read::NewlineTap::csv_reader(
                csv::ReaderBuilder::new().flexible(true).has_headers(true),
                reader,
            );
            let headers: Vec<String> = rdr
                .byte_headers()?
                .iter()
                .map(|h| {
                    let h = h.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(h);
                    String::from_utf8_lossy(h).trim().to_lowercase()
                })
                .collect();
            let id_col = headers
                .iter()
                .position(|h| h == "id")
                .ok_or(SampleError::MissingColumn("id"))?;
            let v_col = headers
                .iter()
                .position(|h| h == "verdict")
                .ok_or(SampleError::MissingColumn("verdict"))?;
            let mut rec = csv::ByteRecord::new();
            loop {
                match rdr.read_byte_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {
                        // Not `rec.position()`: one line too low after CRLF (see NewlineTap).
                        let line = rdr.get_ref().record_line(rdr.position(), &rec);
                        let field = |i: usize| rec.get(i).map(std::str::from_utf8);
                        match (field(id_col), field(v_col)) {
                            (Some(Err(_)), _) | (_, Some(Err(_))) => tally.bad.push(RowProblem {
                                line,
                                id: None,
                                problem:
                                    "invalid UTF-8 in the id or verdict (save the file as UTF-8)"
                                        .into(),
                            }),
                            (id, v) => {
                                let id = id.and_then(Result::ok).map(str::to_owned);
                                let v = v.and_then(Result::ok).map(str::to_owned);
                                tally.row(line, id.as_deref(), v.as_deref());
                            }
                        }
                    }
                    Err(e) => {
                        if e.is_io_error() {
                            return Err(e.into());
                        }
                        let line = e.position().map_or(0, |p| p.line());
                        tally.bad.push(RowProblem {
                            line,
                            id: None,
                            problem: format!("malformed row: {e}"),
                        });
                    }
                }
            }
        }
        AnnotationFormat::Jsonl => {
            let mut r = BufReader::new(reader);
            let mut buf = Vec::new();
            let mut line = 0u64;
            loop {
                buf.clear();
                if r.read_until(b'\n', &mut buf)? == 0 {
                    break;
                }
                line += 1;
                let mut bytes: &[u8] = &buf;
                if line == 1 {
                    bytes = bytes
                        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
                        .unwrap_or(bytes);
                }
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let v: serde_json::Value = match serde_json::from_slice(bytes) {
                    Ok(v) => v,
                    Err(e) => {
                        tally.bad.push(RowProblem {
                            line,
                            id: None,
                            problem: format!("invalid JSON: {e}"),
                        });
                        continue;
                    }
                };
                let id = match v.get("id") {
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                let verdict = match v.get("verdict") {
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(serde_json::Value::Null) | None => None,
                    Some(other) => Some(other.to_string()),
                };
                tally.row(line, id.as_deref(), verdict.as_deref());
            }
        }
    }
    Ok(tally.finish())
}

/// [`import_annotations`] from a file, the format chosen by its extension.
pub fn import_annotations_file(path: &Path, sample: &Sample) -> Result<ManualResult, SampleError> {
    let format = AnnotationFormat::from_path(path)
        .ok_or_else(|| SampleError::UnknownFormat(path.display().to_string()))?;
    let f = std::fs::File::open(path)?;
    import_annotations(f, format, sample)
}
