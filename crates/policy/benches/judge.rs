//! Batch review of short real texts with the demonstration lexicon and PII detectors:
//! `review` (decision and the text to deliver, masks applied) against `decide` (the decision
//! alone, what the training-data audit asks for).
//!
//! With the COLD data present (HEGUI_DATA_DIR or /work/shared/data) the texts are COLD dev's;
//! otherwise a fixed synthetic mix of Chinese, punctuation, some ASCII and a phone number, so
//! the bench always runs.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hegui_classifier::{read_examples, ReadOptions};
use hegui_policy::{LexiconReviewer, Reviewer};
use hegui_types::Stage;

/// The first 2,000 texts of COLD dev, read as the classifier reads training data.
fn cold_dev() -> Option<Vec<String>> {
    let dir = std::env::var_os("HEGUI_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/data"));
    let examples = read_examples(dir.join("cold/dev.csv"), &ReadOptions::default()).ok()?;
    Some(examples.into_iter().take(2000).map(|e| e.text).collect())
}

fn synthetic() -> Vec<String> {
    (0..2000)
        .map(|i| {
            format!(
                "第{i}条：我们今天去公园玩，天气很好！电话1381234{:04}，Hello World。",
                i % 10_000
            )
        })
        .collect()
}

/// COLD dev's texts when present, else the synthetic ones, and their size in bytes; says
/// which on stderr.
fn texts() -> (Vec<String>, usize) {
    let texts = cold_dev().unwrap_or_else(|| {
        eprintln!("COLD dev not found (set HEGUI_DATA_DIR): synthetic texts");
        synthetic()
    });
    let bytes: usize = texts.iter().map(String::len).sum();
    eprintln!("bench texts: {}, {bytes} bytes", texts.len());
    (texts, bytes)
}

fn bench(c: &mut Criterion) {
    let (texts, bytes) = texts();
    let Ok(reviewer) = LexiconReviewer::demo() else {
        eprintln!("the demonstration lexicon does not load: nothing to bench");
        return;
    };
    let mut g = c.benchmark_group("judge");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("review", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(reviewer.review(Stage::Input, black_box(t)));
            }
        })
    });
    g.bench_function("decide", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(reviewer.decide(Stage::Input, black_box(t)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
