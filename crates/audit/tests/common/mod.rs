//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use hegui_audit::read::{FileReader, ReadOptions, Record};
use hegui_audit::{PiiHit, ScanResult, Scanner};

/// Flags texts containing `<<BAD>>` (risk `A1-01`) or `<<WORSE>>` (risks `A1-01`, `A2-03`),
/// and reports a mobile number PII hit for texts containing `PHONE`.
pub struct MarkerScanner;

impl Scanner for MarkerScanner {
    fn scan(&self, text: &str) -> ScanResult {
        let mut r = ScanResult::default();
        if text.contains("<<BAD>>") {
            r.risks.push("A1-01".into());
        }
        if text.contains("<<WORSE>>") {
            r.risks.push("A2-03".into());
            r.risks.push("A1-01".into());
        }
        if text.contains("PHONE") {
            r.pii.push(PiiHit {
                kind: "mobile".into(),
                masked: "138****0000".into(),
            });
        }
        r
    }
}

pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

pub fn zstd_bytes(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

pub fn read_all(path: &Path, rel: &str, opts: &ReadOptions) -> Vec<Record> {
    FileReader::open(Arc::from("src"), Arc::from(rel), path, opts).collect()
}

pub fn items(records: &[Record]) -> Vec<(u64, String)> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Item(i) => Some((i.line, i.text.clone())),
            _ => None,
        })
        .collect()
}

pub fn errors(records: &[Record]) -> Vec<(Option<u64>, hegui_audit::ReadErrorKind)> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Error(e) => Some((e.line, e.kind)),
            _ => None,
        })
        .collect()
}

/// A tiny deterministic PRNG for test data (no `rand` dependency needed).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
