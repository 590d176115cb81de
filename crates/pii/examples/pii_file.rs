//! Runs the PII detector over a file, one text per line (or the `text` field of JSONL lines),
//! and prints throughput and counts per kind; with `--dump FILE` also writes every finding as
//! `{"line": N, "kind": "...", "value": "..."}` for recall checks (bench/audit.sh).
//!
//! The detection is timed over `--passes N` passes (default 5) and the fastest is reported: one
//! pass over the benchmark's 49 MB takes about 0.1 s, short enough for a scheduler hiccup on a
//! shared machine to halve a single measurement.
//!
//!     cargo run --release -p hegui-pii --example pii_file -- FILE [--jsonl] [--dump OUT] [--passes N]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .expect("usage: pii_file FILE [--jsonl] [--dump OUT] [--passes N]");
    let passes: usize = args
        .iter()
        .position(|a| a == "--passes")
        .and_then(|i| args.get(i + 1))
        .map_or(5, |n| n.parse().expect("--passes N: a number"))
        .max(1);
    let jsonl = args.iter().any(|a| a == "--jsonl");
    let dump = args
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| args.get(i + 1))
        .map(|p| BufWriter::new(std::fs::File::create(p).expect("dump file")));
    let mut dump = dump;
    // Read everything first so only detection is timed.
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("input"));
    let lines: Vec<String> = file
        .lines()
        .map(|l| {
            let l = l.expect("utf-8 line");
            if jsonl {
                serde_json::from_str::<serde_json::Value>(&l)
                    .ok()
                    .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string))
                    .unwrap_or_default()
            } else {
                l
            }
        })
        .collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    let detector = hegui_pii::Detector::new(hegui_pii::today_in_china());
    // Counted per kind in an array (a map lookup per finding would be timed too).
    let mut counts = [0u64; hegui_pii::PiiKind::ALL.len()];
    let mut found = Vec::new();
    let mut matches = Vec::new();
    let mut secs = f64::INFINITY;
    for pass in 0..passes {
        counts = [0u64; hegui_pii::PiiKind::ALL.len()];
        let started = Instant::now();
        for (i, text) in lines.iter().enumerate() {
            detector.detect_into(text, &mut matches);
            for m in &matches {
                if let Some(n) = hegui_pii::PiiKind::ALL
                    .iter()
                    .position(|&k| k == m.kind)
                    .and_then(|i| counts.get_mut(i))
                {
                    *n += 1;
                }
                if pass == 0 && dump.is_some() {
                    found.push((i + 1, m.kind.code(), m.start, m.end));
                }
            }
        }
        secs = secs.min(started.elapsed().as_secs_f64());
    }
    let counts: BTreeMap<&'static str, u64> = hegui_pii::PiiKind::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.code(), n))
        .collect();
    if let Some(d) = dump.as_mut() {
        for (line, kind, s, e) in found {
            let v = &lines[line - 1][s..e];
            writeln!(
                d,
                "{}",
                serde_json::json!({"line": line, "kind": kind, "value": v})
            )
            .unwrap();
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "engine": "hegui-pii",
            "lines": lines.len(),
            "bytes": bytes,
            "seconds": secs,
            "passes": passes,
            "mb_per_s": bytes as f64 / 1e6 / secs,
            "counts": counts,
        })
    );
}
