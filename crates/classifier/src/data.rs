//! Labelled examples and the CSV / JSONL readers.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One labelled text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The text.
    pub text: String,
    /// Its label.
    pub label: String,
}

impl Example {
    /// An example from anything string-like.
    pub fn new(text: impl Into<String>, label: impl Into<String>) -> Example {
        Example {
            text: text.into(),
            label: label.into(),
        }
    }
}

/// A data file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// Comma-separated with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl DataFormat {
    /// `csv` or `jsonl` (also `json`, `ndjson`), case-insensitive.
    pub fn parse(s: &str) -> Option<DataFormat> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(DataFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(DataFormat::Jsonl),
            _ => None,
        }
    }

    /// The format a file extension implies.
    pub fn from_path(path: &Path) -> Option<DataFormat> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(DataFormat::parse)
    }
}

/// How to read examples from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// File format; `None` infers it from the extension.
    pub format: Option<DataFormat>,
    /// CSV column or JSON field holding the text.
    pub text_column: String,
    /// CSV column or JSON field holding the label.
    pub label_column: String,
    /// Renames labels after reading (e.g. `0 → safe`, `1 → offensive`); others are kept.
    pub label_map: BTreeMap<String, String>,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            format: None,
            text_column: "text".to_owned(),
            label_column: "label".to_owned(),
            label_map: BTreeMap::new(),
        }
    }
}

/// Why a data file could not be read. Messages name the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The format was not given and the extension does not say.
    #[error(
        "{path}: cannot tell the format from the extension; pass --format csv or --format jsonl"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A CSV record could not be parsed.
    #[error("{path}:{line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What the CSV parser said.
        message: String,
    },
    /// The CSV header lacks a column.
    #[error("{path}: no column {column:?} (columns: {available:?}); pass --text-column / --label-column")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The header's columns.
        available: Vec<String>,
    },
    /// A JSONL line is not valid JSON.
    #[error("{path}:{line}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A record lacks its text or label, or has the wrong type there.
    #[error("{path}:{line}: {problem}")]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        problem: String,
    },
    /// The file holds no examples.
    #[error("{path}: no examples found")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads labelled examples from a CSV or JSONL file.
///
/// Labels are trimmed of surrounding whitespace and then mapped through `label_map`; texts are
/// kept as they are. A UTF-8 byte-order mark at the start of the file is ignored.
pub fn read_examples(
    path: impl AsRef<Path>,
    opts: &ReadOptions,
) -> Result<Vec<Example>, DataError> {
    let path = path.as_ref();
    let format = match opts.format.or_else(|| DataFormat::from_path(path)) {
        Some(f) => f,
        None => {
            return Err(DataError::UnknownFormat {
                path: path.to_owned(),
            })
        }
    };
    let bytes = fs::read(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    let examples = match format {
        DataFormat::Csv => parse_csv(path, &bytes, opts)?,
        DataFormat::Jsonl => parse_jsonl(path, &bytes, opts)?,
    };
    if examples.is_empty() {
        return Err(DataError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(examples)
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

fn finish_label(raw: &str, opts: &ReadOptions) -> String {
    let label = raw.trim();
    opts.label_map
        .get(label)
        .cloned()
        .unwrap_or_else(|| label.to_owned())
}

/// Finds a column: exact name, else a unique case-insensitive match, else a 0-based index.
fn find_column(header: &csv::StringRecord, want: &str) -> Option<usize> {
    if let Some(i) = header.iter().position(|h| h.trim() == want) {
        return Some(i);
    }
    let folded: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.trim().eq_ignore_ascii_case(want))
        .map(|(i, _)| i)
        .collect();
    if let [i] = folded.as_slice() {
        return Some(*i);
    }
    want.parse::<usize>().ok().filter(|&i| i < header.len())
}

/// Parses CSV bytes (with a header row) into examples.
pub fn parse_csv(path: &Path, bytes: &[u8], opts: &ReadOptions) -> Result<Vec<Example>, DataError> {
    let csv_err = |e: csv::Error| DataError::Csv {
        path: path.to_owned(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(strip_bom(bytes));
    let header = reader.headers().map_err(csv_err)?.clone();
    let column = |want: &str| {
        find_column(&header, want).ok_or_else(|| DataError::MissingColumn {
            path: path.to_owned(),
            column: want.to_owned(),
            available: header.iter().map(str::to_owned).collect(),
        })
    };
    let text_col = column(&opts.text_column)?;
    let label_col = column(&opts.label_column)?;
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize, what: &str| {
            record.get(i).ok_or_else(|| DataError::BadRecord {
                path: path.to_owned(),
                line,
                problem: format!(
                    "record has {} fields, so no {what} column (#{i})",
                    record.len()
                ),
            })
        };
        let text = field(text_col, "text")?;
        let label = finish_label(field(label_col, "label")?, opts);
        if label.is_empty() {
            return Err(DataError::BadRecord {
                path: path.to_owned(),
                line,
                problem: "empty label".to_owned(),
            });
        }
        out.push(Example {
            text: text.to_owned(),
            label,
        });
    }
    Ok(out)
}

/// Parses JSONL bytes into examples; blank lines are skipped.
pub fn parse_jsonl(
    path: &Path,
    bytes: &[u8],
    opts: &ReadOptions,
) -> Result<Vec<Example>, DataError> {
    let mut out = Vec::new();
    for (i, raw) in strip_bom(bytes).split(|&b| b == b'\n').enumerate() {
        let line = i as u64 + 1;
        let bad = |problem: String| DataError::BadRecord {
            path: path.to_owned(),
            line,
            problem,
        };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_slice(raw).map_err(|source| DataError::Json {
                path: path.to_owned(),
                line,
                source,
            })?;
        let obj = value
            .as_object()
            .ok_or_else(|| bad("expected a JSON object".to_owned()))?;
        let text = match obj.get(&opts.text_column) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(bad(format!(
                    "field {:?} must be a string, found {other}",
                    opts.text_column
                )))
            }
            None => return Err(bad(format!("missing field {:?}", opts.text_column))),
        };
        let label = match obj.get(&opts.label_column) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => v.to_string(),
            Some(other) => {
                return Err(bad(format!(
                    "field {:?} must be a string, number or boolean, found {other}",
                    opts.label_column
                )))
            }
            None => return Err(bad(format!("missing field {:?}", opts.label_column))),
        };
        let label = finish_label(&label, opts);
        if label.is_empty() {
            return Err(bad("empty label".to_owned()));
        }
        out.push(Example { text, label });
    }
    Ok(out)
}

/// Splits examples into (kept, held out) with `fraction` of each label held out, chosen by a
/// seeded shuffle; both parts keep the input order. Reproducible for a given seed.
pub fn split_stratified(
    examples: &[Example],
    fraction: f32,
    seed: u64,
) -> (Vec<Example>, Vec<Example>) {
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        by_label.entry(e.label.as_str()).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut held = vec![false; examples.len()];
    for indices in by_label.values_mut() {
        indices.shuffle(&mut rng);
        let n = (indices.len() as f32 * fraction).round() as usize;
        for &i in indices.iter().take(n) {
            held[i] = true;
        }
    }
    let mut kept_part = Vec::new();
    let mut held_part = Vec::new();
    for (e, h) in examples.iter().zip(held) {
        if h {
            held_part.push(e.clone());
        } else {
            kept_part.push(e.clone());
        }
    }
    (kept_part, held_part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ReadOptions {
        ReadOptions::default()
    }

    #[test]
    fn csv_with_bom_and_case_folded_columns() {
        let data =
            "\u{FEFF},split,topic,label,TEXT\n1,train,race,1,你好\n2,train,race, 0 ,\"a,b\"\n";
        let ex = parse_csv(Path::new("x.csv"), data.as_bytes(), &opts()).unwrap();
        assert_eq!(
            ex,
            vec![Example::new("你好", "1"), Example::new("a,b", "0")]
        );
    }

    #[test]
    fn csv_missing_column_names_the_file_and_columns() {
        let err = parse_csv(Path::new("d.csv"), b"a,b\n1,2\n", &opts()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("d.csv") && msg.contains("\"text\"") && msg.contains("\"a\""),
            "{msg}"
        );
    }

    #[test]
    fn csv_short_record_and_empty_label_name_the_line() {
        let err = parse_csv(Path::new("d.csv"), b"text,label\nok,1\nshort\n", &opts()).unwrap_err();
        assert!(err.to_string().starts_with("d.csv:3:"), "{err}");
        let err = parse_csv(Path::new("d.csv"), b"text,label\nok,1\nx,\n", &opts()).unwrap_err();
        assert!(err.to_string().starts_with("d.csv:3: empty label"), "{err}");
    }

    #[test]
    fn csv_columns_by_index_and_label_map() {
        let o = ReadOptions {
            text_column: "1".into(),
            label_column: "2".into(),
            label_map: [("1".to_owned(), "offensive".to_owned())].into(),
            ..opts()
        };
        let ex = parse_csv(Path::new("x.csv"), b"id,t,l\n7,hi,1\n8,yo,0\n", &o).unwrap();
        assert_eq!(
            ex,
            vec![Example::new("hi", "offensive"), Example::new("yo", "0")]
        );
    }

    #[test]
    fn jsonl_reads_strings_numbers_and_skips_blank_lines() {
        let data = "\u{FEFF}{\"text\":\"a\",\"label\":\"x\"}\r\n\n{\"text\":\"b\",\"label\":1}\n";
        let ex = parse_jsonl(Path::new("d.jsonl"), data.as_bytes(), &opts()).unwrap();
        assert_eq!(ex, vec![Example::new("a", "x"), Example::new("b", "1")]);
    }

    #[test]
    fn jsonl_errors_name_file_and_line() {
        let cases: [(&str, &str); 4] = [
            (
                "{\"text\":\"a\",\"label\":\"x\"}\nnot json\n",
                "d.jsonl:2: invalid JSON",
            ),
            ("{\"label\":\"x\"}\n", "d.jsonl:1: missing field \"text\""),
            (
                "{\"text\":1,\"label\":\"x\"}\n",
                "d.jsonl:1: field \"text\" must be a string",
            ),
            ("[1]\n", "d.jsonl:1: expected a JSON object"),
        ];
        for (data, want) in cases {
            let err = parse_jsonl(Path::new("d.jsonl"), data.as_bytes(), &opts()).unwrap_err();
            assert!(err.to_string().starts_with(want), "{err} / {want}");
        }
    }

    #[test]
    fn stratified_split_is_seeded_and_proportional() {
        let ex: Vec<Example> = (0..100)
            .map(|i| Example::new(format!("t{i}"), if i % 4 == 0 { "a" } else { "b" }))
            .collect();
        let (k1, h1) = split_stratified(&ex, 0.2, 7);
        let (k2, h2) = split_stratified(&ex, 0.2, 7);
        assert_eq!((&k1, &h1), (&k2, &h2));
        assert_eq!(h1.len(), 20);
        assert_eq!(h1.iter().filter(|e| e.label == "a").count(), 5);
        assert_eq!(k1.len() + h1.len(), 100);
        let (_, h3) = split_stratified(&ex, 0.2, 8);
        assert_ne!(h1, h3);
    }

    #[test]
    fn unknown_format_is_reported() {
        let err = read_examples("data.txt", &opts()).unwrap_err();
        assert!(err.to_string().contains("--format"), "{err}");
    }
}
