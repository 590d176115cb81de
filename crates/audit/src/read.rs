//! Streaming readers: every input file becomes an iterator of [`Record`]s — an [`Item`] of
//! text, a [`ReadError`] for anything malformed, or a blank line — in constant memory (one
//! line, CSV record or Parquet record batch at a time).
//!
//! Formats: JSONL (text at a dotted path such as `data.text`), plain text (one item per line or
//! per file), CSV/TSV (header row, named column) and Parquet (string column read in record
//! batches). Line-based formats may be gzip- or zstd-compressed; compression is recognised by
//! the magic bytes (the `.gz` / `.zst` extension is only stripped to find the format).
//!
//! Nothing malformed is skipped silently and nothing panics: an unreadable file, a broken
//! compressed stream, invalid UTF-8, invalid JSON, a missing or non-string field, an oversized
//! line or a truncated Parquet file each yield a [`ReadError`] with the line (or Parquet row)
//! it concerns. An I/O or decompression error ends the file (its position is reported);
//! per-line problems do not.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::{AuditConfig, Format, Source, TxtMode};

/// One text item of the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Source name.
    pub source: Arc<str>,
    /// File path relative to the manifest directory, `/`-separated.
    pub file: Arc<str>,
    /// 1-based line for JSONL / text / CSV (the line the record starts on), 0-based row index
    /// for Parquet; 1 for a whole-file text item.
    pub line: u64,
    /// The text.
    pub text: String,
}

/// What kind of problem a [`ReadError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadErrorKind {
    /// The file could not be opened (or a directory could not be listed).
    Open,
    /// The format could not be determined from the extension.
    UnknownFormat,
    /// A gzip/zstd stream is broken or truncated (ends the file).
    Decompress,
    /// Another I/O error (ends the file).
    Io,
    /// The line is not valid UTF-8.
    InvalidUtf8,
    /// The JSONL line is not valid JSON.
    InvalidJson,
    /// The text field/column is absent or null.
    MissingField,
    /// The text field/column is not a string.
    NonStringField,
    /// The line or item is larger than `audit.max_item_bytes`.
    TooLarge,
    /// The Parquet file is unreadable or truncated.
    Parquet,
}

impl ReadErrorKind {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadErrorKind::Open => "open",
            ReadErrorKind::UnknownFormat => "unknown_format",
            ReadErrorKind::Decompress => "decompress",
            ReadErrorKind::Io => "io",
            ReadErrorKind::InvalidUtf8 => "invalid_utf8",
            ReadErrorKind::InvalidJson => "invalid_json",
            ReadErrorKind::MissingField => "missing_field",
            ReadErrorKind::NonStringField => "non_string_field",
            ReadErrorKind::TooLarge => "too_large",
            ReadErrorKind::Parquet => "parquet",
        }
    }
}

/// A malformed line, row or file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReadError {
    /// Source name.
    pub source: Arc<str>,
    /// File path relative to the manifest directory.
    pub file: Arc<str>,
    /// The line (row for Parquet) concerned; `None` for the whole file.
    pub line: Option<u64>,
    /// Category.
    pub kind: ReadErrorKind,
    /// Human-readable detail.
    pub detail: String,
}

/// What a reader yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A text item.
    Item(Item),
    /// A malformed line/row/file. With lossy UTF-8 decoding the item follows its error.
    Error(ReadError),
    /// A blank or whitespace-only line / text value (counted, not an item).
    Blank {
        /// The line (row) number.
        line: u64,
    },
}

/// How to read the files of one source.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// Format override; `None` = by extension.
    pub format: Option<Format>,
    /// JSONL dotted path / CSV column / Parquet column.
    pub text_field: String,
    /// Plain-text cutting.
    pub txt_mode: TxtMode,
    /// Decode invalid UTF-8 lossily (still reported as an error).
    pub lossy_utf8: bool,
    /// Largest line / item in bytes.
    pub max_item_bytes: u64,
    /// Parquet record-batch size.
    pub parquet_batch_rows: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            text_field: "text".into(),
            txt_mode: TxtMode::Line,
            lossy_utf8: false,
            max_item_bytes: 16 << 20,
            parquet_batch_rows: 1024,
        }
    }
}

impl ReadOptions {
    /// The options a manifest gives a source.
    pub fn for_source(source: &Source, audit: &AuditConfig) -> Self {
        ReadOptions {
            format: source.format,
            text_field: source.text_field.clone(),
            txt_mode: source.txt_mode,
            lossy_utf8: source.lossy_utf8.unwrap_or(audit.lossy_utf8),
            max_item_bytes: audit.max_item_bytes,
            ..ReadOptions::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Path resolution

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFile {
    /// Path to open.
    pub path: PathBuf,
    /// Path relative to the base directory, `/`-separated: the file's identity in items,
    /// keys, shards and reports (so it is the same on every machine).
    pub rel: String,
}

/// The files a source's `paths` resolve to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Files, in a deterministic order: per entry sorted, entries in manifest order, each file
    /// once.
    pub files: Vec<ResolvedFile>,
    /// Entries that matched no file (including invalid glob patterns).
    pub unmatched: Vec<String>,
    /// Directories or glob matches that could not be read: (path, detail).
    pub errors: Vec<(String, String)>,
}

fn has_glob_meta(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

fn rel_name(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

/// Recursive directory listing, sorted, skipping hidden entries and symlinked directories.
///
/// Hand-written (no `walkdir`): twenty lines, and the policy (sorting for determinism, hidden
/// files skipped, no symlink loops) is the point.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<(PathBuf, String)>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push((dir.to_owned(), format!("cannot list directory: {e}")));
            return;
        }
    };
    let mut entries = Vec::new();
    for e in rd {
        match e {
            Ok(e) => entries.push(e.path()),
            Err(e) => errors.push((dir.to_owned(), format!("cannot list directory entry: {e}"))),
        }
    }
    entries.sort();
    for p in entries {
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let Ok(lmd) = std::fs::symlink_metadata(&p) else {
            errors.push((p.clone(), "cannot stat".into()));
            continue;
        };
        if lmd.is_dir() {
            walk(&p, out, errors);
        } else if lmd.is_file() || (lmd.file_type().is_symlink() && p.is_file()) {
            out.push(p);
        }
    }
}

/// Resolves path entries (files, directories, glob patterns) relative to `base_dir`.
pub fn resolve_paths(base_dir: &Path, patterns: &[String]) -> Resolved {
    let mut res = Resolved::default();
    let mut seen = std::collections::HashSet::new();
    for pat in patterns {
        let mut found: Vec<PathBuf> = Vec::new();
        let mut errors: Vec<(PathBuf, String)> = Vec::new();
        if has_glob_meta(pat) {
            let full = if Path::new(pat).is_absolute() {
                pat.clone()
            } else {
                let base = glob::Pattern::escape(&base_dir.to_string_lossy());
                format!("{}/{}", base.trim_end_matches('/'), pat)
            };
            match glob::glob(&full) {
                Ok(paths) => {
                    let mut matched = Vec::new();
                    for p in paths {
                        match p {
                            Ok(p) => matched.push(p),
                            Err(e) => errors.push((e.path().to_owned(), e.error().to_string())),
                        }
                    }
                    matched.sort();
                    for p in matched {
                        if p.is_dir() {
                            walk(&p, &mut found, &mut errors);
                        } else if p.is_file() {
                            found.push(p);
                        }
                    }
                }
                Err(e) => {
                    res.unmatched
                        .push(format!("{pat} (invalid glob pattern: {e})"));
                    continue;
                }
            }
        } else {
            let full = base_dir.join(pat);
            if full.is_dir() {
                walk(&full, &mut found, &mut errors);
            } else if full.is_file() {
                found.push(full);
            }
        }
        for (p, d) in errors {
            res.errors.push((rel_name(base_dir, &p), d));
        }
        if found.is_empty() {
            res.unmatched.push(pat.clone());
        }
        for p in found {
            // De-duplicate on the canonical path, not the spelling: `lic/../lic/a.csv`, an
            // absolute path or a symlink to a listed file would otherwise be read (and counted)
            // twice. The first spelling stays the file's identity. If canonicalisation fails
            // the open will fail too and report it; the raw path is the best key until then.
            let key = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
            if seen.insert(key) {
                let rel = rel_name(base_dir, &p);
                res.files.push(ResolvedFile { path: p, rel });
            }
        }
    }
    res
}

// ---------------------------------------------------------------------------------------------
// Format and compression detection

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Gzip,
    Zstd,
}

fn ext_compression(name: &str) -> (Option<Compression>, &str) {
    let lower = name.to_ascii_lowercase();
    for (ext, c) in [
        (".gz", Compression::Gzip),
        (".gzip", Compression::Gzip),
        (".zst", Compression::Zstd),
        (".zstd", Compression::Zstd),
    ] {
        if lower.ends_with(ext) {
            return (Some(c), &name[..name.len() - ext.len()]);
        }
    }
    (None, name)
}

/// The format of a file: the override, or from its extension (after `.gz` / `.zst`).
pub fn detect_format(file: &str, override_format: Option<Format>) -> Result<Format, String> {
    if let Some(f) = override_format {
        return Ok(f);
    }
    let (_, stem) = ext_compression(file);
    let ext = Path::new(stem)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jsonl" | "ndjson" => Ok(Format::Jsonl),
        "txt" | "text" => Ok(Format::Txt),
        "csv" => Ok(Format::Csv),
        "tsv" | "tab" => Ok(Format::Tsv),
        "parquet" | "pq" => Ok(Format::Parquet),
        _ => Err(format!(
            "cannot tell the format of `{file}` from its extension (known: .jsonl .ndjson .txt .csv .tsv .parquet, optionally + .gz/.zst): set `format` on the source"
        )),
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

// ---------------------------------------------------------------------------------------------
// Hashing of the raw bytes as they are read

struct HashedFile {
    file: File,
    hasher: Sha256,
    bytes: u64,
}

/// The raw file, hashing every byte read from it, shared so that the hash can be completed
/// after the (boxed) decoder stack is done with it.
#[derive(Clone)]
struct SharedFile(Arc<Mutex<HashedFile>>);

impl SharedFile {
    fn new(file: File) -> Self {
        SharedFile(Arc::new(Mutex::new(HashedFile {
            file,
            hasher: Sha256::new(),
            bytes: 0,
        })))
    }

    /// Hashes the rest of the file (whatever the decoder did not read) and returns the digest.
    fn finish(&self) -> io::Result<(String, u64)> {
        let mut g = self
            .0
            .lock()
            .map_err(|_| io::Error::other("hash state poisoned"))?;
        let g = &mut *g;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match g.file.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            g.hasher.update(&buf[..n]);
            g.bytes += n as u64;
        }
        Ok((hex::encode(g.hasher.clone().finalize()), g.bytes))
    }
}

impl Read for SharedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut g = self
            .0
            .lock()
            .map_err(|_| io::Error::other("hash state poisoned"))?;
        let g = &mut *g;
        let n = g.file.read(buf)?;
        g.hasher.update(&buf[..n]);
        g.bytes += n as u64;
        Ok(n)
    }
}

/// SHA-256 (hex) and size of a file, streamed.
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    SharedFile::new(File::open(path)?).finish()
}

/// Identity and size of an input file after reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    /// SHA-256 (hex) of the file's bytes as stored (compressed).
    pub sha256: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
    /// The error that stopped reading before the end of the file (unreadable file, unknown
    /// format, missing text column, broken or truncated stream), if any. Such a file loses
    /// every item after that point but yields one read error, so the audit judges it apart.
    pub incomplete: Option<ReadError>,
}

// ---------------------------------------------------------------------------------------------
// The reader

struct Ctx {
    source: Arc<str>,
    file: Arc<str>,
    lossy_utf8: bool,
    max_item_bytes: u64,
    compressed: bool,
}

impl Ctx {
    fn error(&self, line: Option<u64>, kind: ReadErrorKind, detail: impl Into<String>) -> Record {
        Record::Error(ReadError {
            source: self.source.clone(),
            file: self.file.clone(),
            line,
            kind,
            detail: detail.into(),
        })
    }

    fn item(&self, line: u64, text: String) -> Record {
        if text.trim().is_empty() {
            return Record::Blank { line };
        }
        Record::Item(Item {
            source: self.source.clone(),
            file: self.file.clone(),
            line,
            text,
        })
    }

    fn io_kind(&self) -> ReadErrorKind {
        if self.compressed {
            ReadErrorKind::Decompress
        } else {
            ReadErrorKind::Io
        }
    }

    /// Decodes text; on invalid UTF-8 pushes the error and, in lossy mode, the item too.
    fn decode_into(&self, line: u64, bytes: &[u8], out: &mut VecDeque<Record>) -> Option<String> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(s.to_owned()),
            Err(e) => {
                let lossy = if self.lossy_utf8 {
                    ", decoded lossily"
                } else {
                    ""
                };
                out.push_back(self.error(
                    Some(line),
                    ReadErrorKind::InvalidUtf8,
                    format!(
                        "invalid UTF-8 at byte {} of the line{lossy}",
                        e.valid_up_to()
                    ),
                ));
                self.lossy_utf8
                    .then(|| String::from_utf8_lossy(bytes).into_owned())
            }
        }
    }
}

type DynBufRead = Box<dyn BufRead + Send>;

enum LineKind {
    Txt,
    Jsonl(Vec<String>),
}

struct LineState {
    r: DynBufRead,
    kind: LineKind,
    line: u64,
    buf: Vec<u8>,
}

/// Reads one line (without the newline) into `buf`, keeping at most `max` bytes of it.
/// Returns `None` at end of input, else the full length of the line in bytes.
fn read_line_limited(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<u64>> {
    let mut total = 0u64;
    let mut any = false;
    loop {
        let (take, done) = {
            let avail = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                return Ok(any.then_some(total));
            }
            let (take, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            let content = if done { take - 1 } else { take };
            let room = max.saturating_sub(buf.len());
            buf.extend_from_slice(&avail[..content.min(room)]);
            total += content as u64;
            (take, done)
        };
        any = true;
        r.consume(take);
        if done {
            return Ok(Some(total));
        }
    }
}

/// Where the text field of a JSON line was, or why it was not there.
#[derive(Debug, PartialEq)]
enum Field {
    Text(String),
    /// No key `path[i]` in the object at `path[..i]`.
    Missing(usize),
    /// The value at `path[..i]` is a JSON value of this type, not an object.
    NotObject(usize, &'static str),
    Null,
    NotString(&'static str),
}

/// Parses one JSON line and takes the string at `path` out of it: only that value is built;
/// every other value is checked as JSON and skipped (a `serde_json::Value` of the whole line
/// cost a map and a string per key, on the reader's thread, for each line). For a key given
/// twice the last one counts, as in a parsed object.
fn extract_json(line: &str, path: &[String]) -> Result<String, (ReadErrorKind, String)> {
    let mut de = serde_json::Deserializer::from_str(line);
    let found = serde::de::DeserializeSeed::deserialize(FieldSeed { path, i: 0 }, &mut de)
        .and_then(|f| de.end().map(|()| f))
        .map_err(|e| (ReadErrorKind::InvalidJson, format!("invalid JSON: {e}")))?;
    let name = || path.join(".");
    match found {
        Field::Text(t) => Ok(t),
        Field::Missing(i) => Err((
            ReadErrorKind::MissingField,
            format!("no field `{}`", path.get(..=i).unwrap_or(path).join(".")),
        )),
        Field::NotObject(i, ty) => {
            let here = if i == 0 {
                "the line".to_owned()
            } else {
                format!("`{}`", path.get(..i).unwrap_or(path).join("."))
            };
            let seg = path.get(i).map_or("", String::as_str);
            Err((
                ReadErrorKind::MissingField,
                format!("{here} is a JSON {ty}, not an object with `{seg}`"),
            ))
        }
        Field::Null => Err((ReadErrorKind::MissingField, format!("`{}` is null", name()))),
        Field::NotString(ty) => Err((
            ReadErrorKind::NonStringField,
            format!("`{}` is a JSON {ty}, not a string", name()),
        )),
    }
}

/// Deserialises the value at `path[i..]` of the value it is given.
#[derive(Clone, Copy)]
struct FieldSeed<'p> {
    path: &'p [String],
    i: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = Field;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_any(self)
    }
}

impl FieldSeed<'_> {
    /// What a string gives.
    fn string(self, v: impl FnOnce() -> String) -> Field {
        if self.i < self.path.len() {
            Field::NotObject(self.i, "string")
        } else {
            Field::Text(v())
        }
    }

    /// What a value of JSON type `ty` other than an object or a string gives.
    fn other(self, ty: &'static str) -> Field {
        match (self.i < self.path.len(), ty) {
            (true, _) => Field::NotObject(self.i, ty),
            (false, "null") => Field::Null,
            (false, _) => Field::NotString(ty),
        }
    }
}

impl<'de> serde::de::Visitor<'de> for FieldSeed<'_> {
    type Value = Field;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Field, E> {
        Ok(self.other("boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Field, E> {
        Ok(self.other("number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Field, E> {
        Ok(self.other("number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Field, E> {
        Ok(self.other("number"))
    }
    fn visit_unit<E>(self) -> Result<Field, E> {
        Ok(self.other("null"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Field, E> {
        Ok(self.string(|| v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Field, E> {
        Ok(self.string(|| v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(self.other("array"))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        let Some(seg) = self.path.get(self.i) else {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            return Ok(Field::NotString("object"));
        };
        let mut found = Field::Missing(self.i);
        while let Some(is_seg) = map.next_key_seed(KeyIs(seg))? {
            if is_seg {
                found = map.next_value_seed(FieldSeed {
                    path: self.path,
                    i: self.i + 1,
                })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Deserialises an object key into whether it is the given one, without keeping it.
struct KeyIs<'s>(&'s str);

impl<'de> serde::de::DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

impl LineState {
    fn next(&mut self, ctx: &Ctx, out: &mut VecDeque<Record>) -> bool {
        self.buf.clear();
        let max = usize::try_from(ctx.max_item_bytes).unwrap_or(usize::MAX);
        let total = match read_line_limited(&mut *self.r, &mut self.buf, max) {
            Ok(None) => return false,
            Ok(Some(t)) => t,
            Err(e) => {
                self.line += 1;
                out.push_back(ctx.error(
                    Some(self.line),
                    ctx.io_kind(),
                    format!("read failed at this line, rest of file not read: {e}"),
                ));
                return false;
            }
        };
        self.line += 1;
        let line = self.line;
        if total > ctx.max_item_bytes {
            out.push_back(ctx.error(
                Some(line),
                ReadErrorKind::TooLarge,
                format!(
                    "line is {total} bytes, over the limit of {} (audit.max_item_bytes)",
                    ctx.max_item_bytes
                ),
            ));
            return true;
        }
        let mut bytes: &[u8] = &self.buf;
        if bytes.last() == Some(&b'\r') {
            bytes = &bytes[..bytes.len() - 1];
        }
        if line == 1 {
            bytes = bytes
                .strip_prefix(b"\xEF\xBB\xBF".as_slice())
                .unwrap_or(bytes);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            out.push_back(Record::Blank { line });
            return true;
        }
        let Some(text) = ctx.decode_into(line, bytes, out) else {
            return true;
        };
        match &self.kind {
            LineKind::Txt => out.push_back(ctx.item(line, text)),
            LineKind::Jsonl(path) => match extract_json(&text, path) {
                Ok(t) => out.push_back(ctx.item(line, t)),
                Err((kind, detail)) => out.push_back(ctx.error(Some(line), kind, detail)),
            },
        }
        true
    }
}

struct WholeFileState {
    r: Option<DynBufRead>,
}

impl WholeFileState {
    fn next(&mut self, ctx: &Ctx, out: &mut VecDeque<Record>) -> bool {
        let Some(r) = self.r.take() else { return false };
        let mut buf = Vec::new();
        let limit = ctx.max_item_bytes.saturating_add(1);
        if let Err(e) = r.take(limit).read_to_end(&mut buf) {
            out.push_back(ctx.error(
                Some(1),
                ctx.io_kind(),
                format!("read failed, file not read: {e}"),
            ));
            return false;
        }
        if buf.len() as u64 > ctx.max_item_bytes {
            out.push_back(ctx.error(
                Some(1),
                ReadErrorKind::TooLarge,
                format!("file is over the limit of {} bytes (audit.max_item_bytes) for txt_mode = \"file\"", ctx.max_item_bytes),
            ));
            return false;
        }
        let bytes = buf.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(&buf);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            if !bytes.is_empty() {
                out.push_back(Record::Blank { line: 1 });
            }
            return false;
        }
        if let Some(text) = ctx.decode_into(1, bytes, out) {
            out.push_back(ctx.item(1, text));
        }
        false
    }
}

/// Read-ahead buffer of the CSV readers: [`NewlineTap`] keeps the newline offsets of twice this
/// much input, which always covers the last byte of the record just returned.
const CSV_BUFFER: usize = 64 * 1024;

/// Gives CSV records the line they start on.
///
/// The `csv` crate's record position is where the *previous* record stopped, not where this one
/// starts: with CRLF line ends (Excel's and Python's default) a record stops at the `\r`, so its
/// `\n` is only counted with the next record, whose line comes out one too low; blank lines
/// before a record are likewise counted as its start. What is exact is the line count *after* a
/// record (newlines consumed so far): the record starts that many lines back, less the newlines
/// inside its fields and its terminating `\n` if it consumed one. This reader wrapper notes where
/// the newlines are so that the last question can be answered.
pub(crate) struct NewlineTap<R> {
    inner: R,
    /// Bytes read from `inner`.
    read: u64,
    /// Offsets of the newlines among the last `2 * CSV_BUFFER` bytes read, ascending.
    newlines: VecDeque<u64>,
}

impl<R: Read> NewlineTap<R> {
    /// A CSV reader over `r` (with `builder`'s settings) whose records can be given their line.
    pub(crate) fn csv_reader(builder: &mut csv::ReaderBuilder, r: R) -> csv::Reader<Self> {
        builder.buffer_capacity(CSV_BUFFER).from_reader(NewlineTap {
            inner: r,
            read: 0,
            newlines: VecDeque::new(),
        })
    }
}

impl<R> NewlineTap<R> {
    /// The 1-based line `rec` starts on; `after` is the reader's position right after it.
    pub(crate) fn record_line(&self, after: &csv::Position, rec: &csv::ByteRecord) -> u64 {
        let end = after.byte();
        let ends_with_newline = end > 0 && self.newlines.binary_search(&(end - 1)).is_ok();
        let inside = memchr::memchr_iter(b'\n', rec.as_slice()).count() as u64;
        after
            .line()
            .saturating_sub(inside + u64::from(ends_with_newline))
            .max(1)
    }
}

impl<R: Read> Read for NewlineTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = self.read;
        self.newlines.extend(
            memchr::memchr_iter(b'\n', buf.get(..n).unwrap_or_default()).map(|i| start + i as u64),
        );
        self.read += n as u64;
        // Only the last consumed byte is ever asked about, and the csv reader holds at most
        // CSV_BUFFER bytes read but not consumed.
        let keep_from = self.read.saturating_sub(2 * CSV_BUFFER as u64);
        while self.newlines.front().is_some_and(|&o| o < keep_from) {
            self.newlines.pop_front();
        }
        Ok(n)
    }
}

struct CsvState {
    rdr: csv::Reader<NewlineTap<DynBufRead>>,
    col: usize,
    rec: csv::ByteRecord,
}

impl CsvState {
    fn open(
        r: DynBufRead,
        delimiter: u8,
        field: &str,
    ) -> Result<Option<Self>, (ReadErrorKind, Option<u64>, String)> {
        let mut rdr = NewlineTap::csv_reader(
            csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .flexible(true)
                .has_headers(true),
            r,
        );
        let headers = match rdr.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                let kind = if e.is_io_error() {
                    ReadErrorKind::Io
                } else {
                    ReadErrorKind::MissingField
                };
                return Err((kind, Some(1), format!("cannot read the header row: {e}")));
            }
        };
        if headers.is_empty() {
            return Ok(None); // empty file: no rows, nothing to report
        }
        let names: Vec<String> = headers
            .iter()
            .map(|h| {
                let h = h.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(h);
                String::from_utf8_lossy(h).trim().to_owned()
            })
            .collect();
        match names.iter().position(|n| n == field) {
            Some(col) => Ok(Some(CsvState {
                rdr,
                col,
                rec: csv::ByteRecord::new(),
            })),
            None => Err((
                ReadErrorKind::MissingField,
                Some(1),
                format!(
                    "no column `{field}` in the header row (columns: {}); set `text_field`",
                    names.join(", ")
                ),
            )),
        }
    }

    fn next(&mut self, ctx: &Ctx, out: &mut VecDeque<Record>) -> bool {
        match self.rdr.read_byte_record(&mut self.rec) {
            Ok(false) => false,
            Ok(true) => {
                let line = self
                    .rdr
                    .get_ref()
                    .record_line(self.rdr.position(), &self.rec);
                match self.rec.get(self.col) {
                    None => out.push_back(ctx.error(
                        Some(line),
                        ReadErrorKind::MissingField,
                        format!(
                            "row has {} fields, the text column is number {}",
                            self.rec.len(),
                            self.col + 1
                        ),
                    )),
                    Some(b) if b.len() as u64 > ctx.max_item_bytes => out.push_back(ctx.error(
                        Some(line),
                        ReadErrorKind::TooLarge,
                        format!(
                            "field is {} bytes, over the limit of {} (audit.max_item_bytes)",
                            b.len(),
                            ctx.max_item_bytes
                        ),
                    )),
                    Some(b) => {
                        if let Some(text) = ctx.decode_into(line, b, out) {
                            out.push_back(ctx.item(line, text));
                        }
                    }
                }
                true
            }
            Err(e) => {
                let line = e.position().map(|p| p.line());
                if e.is_io_error() {
                    out.push_back(ctx.error(
                        line,
                        ctx.io_kind(),
                        format!("read failed, rest of file not read: {e}"),
                    ));
                    false
                } else {
                    out.push_back(ctx.error(
                        line,
                        ReadErrorKind::MissingField,
                        format!("malformed row: {e}"),
                    ));
                    true
                }
            }
        }
    }
}

struct ParquetBatch {
    /// The arrays from the projected root column down to the text leaf (struct nulls matter).
    chain: Vec<ArrayRef>,
    /// Dictionary keys, normalised once per batch.
    dict_keys: Option<Vec<usize>>,
    len: usize,
}

struct ParquetState {
    reader: ParquetRecordBatchReader,
    /// Struct field names below the root column.
    sub_path: Vec<String>,
    field: String,
    batch: Option<ParquetBatch>,
    pos: usize,
    row: u64,
}

enum CellValue {
    Text(String),
    Null,
    Bytes(Vec<u8>),
    WrongType(String),
}

fn cell(arr: &dyn Array, dict_keys: Option<&[usize]>, i: usize) -> CellValue {
    if arr.is_null(i) {
        return CellValue::Null;
    }
    if let (Some(d), Some(keys)) = (arr.as_any_dictionary_opt(), dict_keys) {
        return match keys.get(i) {
            Some(&k) => cell(d.values().as_ref(), None, k),
            None => CellValue::Null,
        };
    }
    match arr.data_type() {
        DataType::Utf8 => arr
            .as_string_opt::<i32>()
            .map_or(CellValue::Null, |a| CellValue::Text(a.value(i).to_owned())),
        DataType::LargeUtf8 => arr
            .as_string_opt::<i64>()
            .map_or(CellValue::Null, |a| CellValue::Text(a.value(i).to_owned())),
        DataType::Utf8View => arr
            .as_string_view_opt()
            .map_or(CellValue::Null, |a| CellValue::Text(a.value(i).to_owned())),
        DataType::Binary => arr
            .as_binary_opt::<i32>()
            .map_or(CellValue::Null, |a| CellValue::Bytes(a.value(i).to_vec())),
        DataType::LargeBinary => arr
            .as_binary_opt::<i64>()
            .map_or(CellValue::Null, |a| CellValue::Bytes(a.value(i).to_vec())),
        DataType::BinaryView => arr
            .as_binary_view_opt()
            .map_or(CellValue::Null, |a| CellValue::Bytes(a.value(i).to_vec())),
        other => CellValue::WrongType(other.to_string()),
    }
}

impl ParquetState {
    fn open(path: &Path, field: &str, batch_rows: usize) -> Result<Self, (ReadErrorKind, String)> {
        let f = File::open(path).map_err(|e| (ReadErrorKind::Open, format!("cannot open: {e}")))?;
        let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| {
            (
                ReadErrorKind::Parquet,
                format!("not a readable Parquet file (truncated or corrupt?): {e}"),
            )
        })?;
        let fields = b.schema().fields();
        let (root, sub_path) = match fields.iter().position(|f| f.name() == field) {
            Some(i) => (i, Vec::new()),
            None => {
                let mut segs = field.split('.');
                let first = segs.next().unwrap_or(field);
                match fields.iter().position(|f| f.name() == first) {
                    Some(i) if field.contains('.') => (i, segs.map(str::to_owned).collect()),
                    _ => {
                        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                        return Err((
                            ReadErrorKind::MissingField,
                            format!(
                                "no column `{field}` (columns: {}); set `text_field`",
                                names.join(", ")
                            ),
                        ));
                    }
                }
            }
        };
        let mask = ProjectionMask::roots(b.parquet_schema(), [root]);
        let reader = b
            .with_projection(mask)
            .with_batch_size(batch_rows.max(1))
            .build()
            .map_err(|e| {
                (
                    ReadErrorKind::Parquet,
                    format!("cannot read the Parquet file: {e}"),
                )
            })?;
        Ok(ParquetState {
            reader,
            sub_path,
            field: field.to_owned(),
            batch: None,
            pos: 0,
            row: 0,
        })
    }

    fn next(&mut self, ctx: &Ctx, out: &mut VecDeque<Record>) -> bool {
        loop {
            if let Some(b) = &self.batch {
                if self.pos < b.len {
                    let i = self.pos;
                    let row = self.row;
                    self.pos += 1;
                    self.row += 1;
                    let parent_null = b.chain[..b.chain.len() - 1].iter().any(|a| a.is_null(i));
                    let leaf = b.chain[b.chain.len() - 1].as_ref();
                    let value = if parent_null {
                        CellValue::Null
                    } else {
                        cell(leaf, b.dict_keys.as_deref(), i)
                    };
                    match value {
                        CellValue::Text(t) => out.push_back(ctx.item(row, t)),
                        CellValue::Null => out.push_back(ctx.error(
                            Some(row),
                            ReadErrorKind::MissingField,
                            format!("`{}` is null", self.field),
                        )),
                        CellValue::Bytes(bytes) => {
                            if let Some(t) = ctx.decode_into(row, &bytes, out) {
                                out.push_back(ctx.item(row, t));
                            }
                        }
                        CellValue::WrongType(t) => out.push_back(ctx.error(
                            Some(row),
                            ReadErrorKind::NonStringField,
                            format!("column `{}` has type {t}, not a string", self.field),
                        )),
                    }
                    return true;
                }
            }
            self.batch = None;
            match self.reader.next() {
                None => return false,
                Some(Err(e)) => {
                    out.push_back(ctx.error(
                        Some(self.row),
                        ReadErrorKind::Parquet,
                        format!("record batch starting at this row is unreadable (truncated or corrupt?), rest of file not read: {e}"),
                    ));
                    return false;
                }
                Some(Ok(rb)) => {
                    let mut chain = vec![rb.column(0).clone()];
                    for seg in &self.sub_path {
                        let next = chain
                            .last()
                            .and_then(|a| a.as_struct_opt())
                            .and_then(|s| s.column_by_name(seg))
                            .cloned();
                        match next {
                            Some(c) => chain.push(c),
                            None => {
                                out.push_back(ctx.error(
                                    None,
                                    ReadErrorKind::MissingField,
                                    format!(
                                        "no struct field `{}` on the way to `{}`",
                                        seg, self.field
                                    ),
                                ));
                                return false;
                            }
                        }
                    }
                    let leaf = chain[chain.len() - 1].clone();
                    let dict_keys = leaf.as_any_dictionary_opt().map(|d| d.normalized_keys());
                    self.batch = Some(ParquetBatch {
                        chain,
                        dict_keys,
                        len: rb.num_rows(),
                    });
                    self.pos = 0;
                }
            }
        }
    }
}

enum Inner {
    Lines(LineState),
    WholeFile(WholeFileState),
    Csv(Box<CsvState>),
    Parquet(Box<ParquetState>),
    Done,
}

/// A streaming reader over one file. Iterate it for [`Record`]s, then call
/// [`FileReader::finish`] for the file's SHA-256.
pub struct FileReader {
    ctx: Ctx,
    path: PathBuf,
    inner: Inner,
    pending: VecDeque<Record>,
    hash: Option<SharedFile>,
    /// See [`FileSummary::incomplete`].
    incomplete: Option<ReadError>,
}

impl FileReader {
    /// Opens `path` (identified as `file` in records) for source `source`. Never fails: a file
    /// that cannot be opened yields a single whole-file [`ReadError`].
    pub fn open(source: Arc<str>, file: Arc<str>, path: &Path, opts: &ReadOptions) -> FileReader {
        let mut r = FileReader {
            ctx: Ctx {
                source,
                file,
                lossy_utf8: opts.lossy_utf8,
                max_item_bytes: opts.max_item_bytes,
                compressed: false,
            },
            path: path.to_owned(),
            inner: Inner::Done,
            pending: VecDeque::new(),
            hash: None,
            incomplete: None,
        };
        if let Err((kind, line, detail)) = r.init(opts) {
            let e = r.ctx.error(line, kind, detail);
            if let Record::Error(err) = &e {
                r.incomplete = Some(err.clone());
            }
            r.pending.push_back(e);
            r.inner = Inner::Done;
        }
        r
    }

    fn init(&mut self, opts: &ReadOptions) -> Result<(), (ReadErrorKind, Option<u64>, String)> {
        let format = detect_format(&self.ctx.file, opts.format)
            .map_err(|d| (ReadErrorKind::UnknownFormat, None, d))?;
        if format == Format::Parquet {
            let st = ParquetState::open(&self.path, &opts.text_field, opts.parquet_batch_rows)
                .map_err(|(k, d)| (k, None, d))?;
            self.inner = Inner::Parquet(Box::new(st));
            return Ok(());
        }
        let f = File::open(&self.path)
            .map_err(|e| (ReadErrorKind::Open, None, format!("cannot open: {e}")))?;
        let shared = SharedFile::new(f);
        self.hash = Some(shared.clone());
        let mut raw = BufReader::with_capacity(64 * 1024, shared);
        let magic: Vec<u8> = match raw.fill_buf() {
            Ok(b) => b.iter().take(4).copied().collect(),
            Err(e) => return Err((ReadErrorKind::Io, None, format!("cannot read: {e}"))),
        };
        let by_magic = if magic.starts_with(&GZIP_MAGIC) {
            Some(Compression::Gzip)
        } else if magic.starts_with(&ZSTD_MAGIC) {
            Some(Compression::Zstd)
        } else {
            None
        };
        let (by_ext, _) = ext_compression(&self.ctx.file);
        if by_magic.is_none() && !magic.is_empty() {
            if let Some(c) = by_ext {
                let name = if c == Compression::Gzip {
                    "gzip"
                } else {
                    "zstd"
                };
                return Err((
                    ReadErrorKind::Decompress,
                    None,
                    format!("the extension says {name} but the file does not start with the {name} magic bytes"),
                ));
            }
        }
        self.ctx.compressed = by_magic.is_some();
        let decoded: DynBufRead = match by_magic {
            Some(Compression::Gzip) => Box::new(BufReader::with_capacity(
                64 * 1024,
                flate2::bufread::MultiGzDecoder::new(raw),
            )),
            Some(Compression::Zstd) => match zstd::stream::read::Decoder::with_buffer(raw) {
                Ok(d) => Box::new(BufReader::with_capacity(64 * 1024, d)),
                Err(e) => {
                    return Err((
                        ReadErrorKind::Decompress,
                        None,
                        format!("cannot start zstd decoding: {e}"),
                    ))
                }
            },
            None => Box::new(raw),
        };
        self.inner = match format {
            Format::Jsonl => Inner::Lines(LineState {
                r: decoded,
                kind: LineKind::Jsonl(opts.text_field.split('.').map(str::to_owned).collect()),
                line: 0,
                buf: Vec::new(),
            }),
            Format::Txt if opts.txt_mode == TxtMode::File => {
                Inner::WholeFile(WholeFileState { r: Some(decoded) })
            }
            Format::Txt => Inner::Lines(LineState {
                r: decoded,
                kind: LineKind::Txt,
                line: 0,
                buf: Vec::new(),
            }),
            Format::Csv | Format::Tsv => {
                let delim = if format == Format::Csv { b',' } else { b'\t' };
                match CsvState::open(decoded, delim, &opts.text_field) {
                    Ok(Some(st)) => Inner::Csv(Box::new(st)),
                    Ok(None) => Inner::Done,
                    Err((kind, line, detail)) => {
                        let kind = if kind == ReadErrorKind::Io && self.ctx.compressed {
                            ReadErrorKind::Decompress
                        } else {
                            kind
                        };
                        return Err((kind, line, detail));
                    }
                }
            }
            Format::Parquet => Inner::Done,
        };
        Ok(())
    }

    /// The file's identity (relative path).
    pub fn file(&self) -> &Arc<str> {
        &self.ctx.file
    }

    /// Completes the file's SHA-256 (hashing whatever the decoder did not read) and returns it.
    pub fn finish(mut self) -> FileSummary {
        self.inner = Inner::Done;
        let r = match &self.hash {
            Some(h) => h.finish(),
            None => sha256_file(&self.path),
        };
        match r {
            Ok((sha, bytes)) => FileSummary {
                sha256: Some(sha),
                bytes,
                incomplete: self.incomplete,
            },
            Err(_) => FileSummary {
                sha256: None,
                bytes: 0,
                incomplete: self.incomplete,
            },
        }
    }
}

/// Whether an error of this kind that ends a file means items after it were not read.
fn stops_file(kind: ReadErrorKind) -> bool {
    match kind {
        ReadErrorKind::Open
        | ReadErrorKind::UnknownFormat
        | ReadErrorKind::Decompress
        | ReadErrorKind::Io
        | ReadErrorKind::MissingField
        | ReadErrorKind::Parquet => true,
        ReadErrorKind::InvalidUtf8
        | ReadErrorKind::InvalidJson
        | ReadErrorKind::NonStringField
        | ReadErrorKind::TooLarge => false,
    }
}

impl Iterator for FileReader {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Some(r);
            }
            let more = match &mut self.inner {
                Inner::Lines(s) => s.next(&self.ctx, &mut self.pending),
                Inner::WholeFile(s) => s.next(&self.ctx, &mut self.pending),
                Inner::Csv(s) => s.next(&self.ctx, &mut self.pending),
                Inner::Parquet(s) => s.next(&self.ctx, &mut self.pending),
                Inner::Done => false,
            };
            if !more {
                // `pending` was empty before this step, so an error in it now is what stopped
                // the reader: the rest of the file is lost (a per-row error never stops it).
                // Only a whole-file item too large for `txt_mode = "file"` stops it and loses
                // nothing but that one item.
                if self.incomplete.is_none() {
                    self.incomplete = self.pending.iter().find_map(|r| match r {
                        Record::Error(e) if stops_file(e.kind) => Some(e.clone()),
                        _ => None,
                    });
                }
                self.inner = Inner::Done;
                if self.pending.is_empty() {
                    return None;
                }
            }
        }
    }
}

/// Convenience: every record of every file of a source, in order (for tools and tests; the
/// audit driver uses [`FileReader`] directly to collect file hashes). Unresolvable directory
/// entries become whole-file errors; unmatched path entries are reported by
/// [`crate::manifest::check_sources`], not here.
pub fn read_source(
    source: &Source,
    audit: &AuditConfig,
    base_dir: &Path,
) -> impl Iterator<Item = Record> {
    let resolved = resolve_paths(base_dir, &source.paths);
    let name: Arc<str> = Arc::from(source.name.as_str());
    let opts = ReadOptions::for_source(source, audit);
    let errors: Vec<Record> = resolved
        .errors
        .into_iter()
        .map(|(file, detail)| {
            Record::Error(ReadError {
                source: name.clone(),
                file: Arc::from(file),
                line: None,
                kind: ReadErrorKind::Open,
                detail,
            })
        })
        .collect();
    let files = resolved.files;
    errors
        .into_iter()
        .chain(files.into_iter().flat_map(move |f| {
            FileReader::open(name.clone(), Arc::from(f.rel.as_str()), &f.path, &opts)
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_type(v: &serde_json::Value) -> &'static str {
        match v {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "boolean",
            serde_json::Value::Number(_) => "number",
            serde_json::Value::String(_) => "string",
            serde_json::Value::Array(_) => "array",
            serde_json::Value::Object(_) => "object",
        }
    }

    /// The plain way: the whole line as a `serde_json::Value`, then walk the path.
    fn reference(line: &str, path: &[String]) -> Result<String, (ReadErrorKind, String)> {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| (ReadErrorKind::InvalidJson, format!("invalid JSON: {e}")))?;
        let mut cur = &v;
        for (i, seg) in path.iter().enumerate() {
            let here = if i == 0 {
                "the line".to_owned()
            } else {
                format!("`{}`", path[..i].join("."))
            };
            match cur {
                serde_json::Value::Object(m) => match m.get(seg) {
                    Some(x) => cur = x,
                    None => {
                        return Err((
                            ReadErrorKind::MissingField,
                            format!("no field `{}`", path[..=i].join(".")),
                        ))
                    }
                },
                other => {
                    return Err((
                        ReadErrorKind::MissingField,
                        format!(
                            "{here} is a JSON {}, not an object with `{seg}`",
                            json_type(other)
                        ),
                    ))
                }
            }
        }
        let name = path.join(".");
        match cur {
            serde_json::Value::String(s) => Ok(s.clone()),
            serde_json::Value::Null => {
                Err((ReadErrorKind::MissingField, format!("`{name}` is null")))
            }
            other => Err((
                ReadErrorKind::NonStringField,
                format!("`{name}` is a JSON {}, not a string", json_type(other)),
            )),
        }
    }

    #[test]
    fn the_field_is_taken_as_from_a_parsed_object_with_the_same_errors() {
        let lines = [
            r#"{"text": "你好"}"#,
            r#"{"id": 1, "text": "a\"b\u4e2d", "more": [1, {"x": null}]}"#,
            r#"{"te\u0078t": "escaped key"}"#,
            r#"{"text": "first", "text": "last"}"#,
            r#"{"text": 1}"#,
            r#"{"text": 1.5e3}"#,
            r#"{"text": -2}"#,
            r#"{"text": true}"#,
            r#"{"text": null}"#,
            r#"{"text": [1, 2]}"#,
            r#"{"text": {"a": 1}}"#,
            r#"{"other": "x"}"#,
            r#"{}"#,
            r#"[]"#,
            r#""just a string""#,
            r#"3"#,
            r#"null"#,
            r#"{"data": {"text": "nested"}}"#,
            r#"{"data": {"body": "x"}}"#,
            r#"{"data": "flat"}"#,
            r#"{"data": null}"#,
            r#"{"data": [{"text": "in array"}]}"#,
            r#"{"data": {"text": "a"}, "data": {"text": "b"}}"#,
            r#"{"text": "x"} trailing"#,
            r#"{"text": "x"}   "#,
            r#"{"text": "x",}"#,
            r#"{"text": "unterminated}"#,
            r#"{"other": [1, 2,], "text": "x"}"#,
            r#"{"text": "x", "other": tru}"#,
            "",
        ];
        let paths: [&[&str]; 3] = [&["text"], &["data", "text"], &["data"]];
        for line in lines {
            for p in paths {
                let path: Vec<String> = p.iter().map(|s| (*s).to_owned()).collect();
                let got = extract_json(line, &path);
                let want = reference(line, &path);
                match (&got, &want) {
                    // Skipped values are checked by serde_json's skipping code, whose wording
                    // differs for some errors ("expected value" for a trailing comma): same
                    // kind, same position.
                    (
                        Err((ReadErrorKind::InvalidJson, g)),
                        Err((ReadErrorKind::InvalidJson, w)),
                    ) => {
                        let at = |m: &str| m.rsplit_once(" at ").map(|x| x.1.to_owned());
                        assert_eq!(at(g), at(w), "{line:?} at {p:?}: {g} / {w}");
                        assert!(at(g).is_some(), "{g}");
                    }
                    _ => assert_eq!(got, want, "{line:?} at {p:?}"),
                }
            }
        }
    }

    #[test]
    fn deeply_nested_values_beside_the_field_are_skipped_without_recursion() {
        // A `Value` refuses nesting past 128; skipped values are walked without recursing, so
        // the line is read (and nothing overflows the stack).
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let path = vec!["text".to_owned()];
        let line = format!(r#"{{"junk": {deep}, "text": "kept"}}"#);
        assert_eq!(extract_json(&line, &path), Ok("kept".to_owned()));
        assert_eq!(
            extract_json(&deep, &path),
            Err((
                ReadErrorKind::MissingField,
                "the line is a JSON array, not an object with `text`".to_owned()
            ))
        );
        let unclosed = "[".repeat(100_000);
        assert!(matches!(
            extract_json(&unclosed, &path),
            Err((ReadErrorKind::InvalidJson, _))
        ));
    }
}
