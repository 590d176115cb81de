//! The per-item work of an audit scan besides the review engine: the exact and near-duplicate
//! hashes and the script statistics, over real short Chinese texts.
//!
//! With the COLD data present (HEGUI_DATA_DIR or /work/shared/data) the texts are COLD dev's;
//! otherwise a fixed synthetic mix of Chinese, punctuation and some ASCII, so the bench always runs.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hegui_audit::{dedup, stats};

fn cold_dev() -> Option<Vec<String>> {
    let dir = std::env::var_os("HEGUI_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/data"));
    let mut r = csv::Reader::from_path(dir.join("cold/dev.csv")).ok()?;
    let headers = r.headers().ok()?.clone();
    let col = headers.iter().position(|h| h == "TEXT")?;
    let texts: Vec<String> = r
        .records()
        .filter_map(Result::ok)
        .filter_map(|rec| rec.get(col).map(str::to_owned))
        .take(2000)
        .collect();
    (!texts.is_empty()).then_some(texts)
}

fn synthetic() -> Vec<String> {
    let base = "我们今天去公园玩，天气很好！Hello World 2024年的事情你还记得吗？真是太好了……";
    (0..2000)
        .map(|i| {
            let chars: Vec<char> = base.chars().collect();
            let k = i % chars.len();
            chars[k..].iter().chain(&chars[..k]).collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (texts, source) = match cold_dev() {
        Some(t) => (t, "COLD dev"),
        None => (synthetic(), "synthetic"),
    };
    let bytes: usize = texts.iter().map(String::len).sum();
    eprintln!("bench texts: {} from {source}, {bytes} bytes", texts.len());
    let mut g = c.benchmark_group("item");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("hash_item", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(dedup::hash_item(black_box(t)));
            }
        })
    });
    g.bench_function("majority_script", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(stats::majority_script(black_box(t)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
