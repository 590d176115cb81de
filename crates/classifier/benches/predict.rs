//! Predict latency per text and model load time.
//!
//! With the COLD data present (HEGUI_DATA_DIR or /work/shared/data) the model is trained on
//! COLD train with the default config and scored on COLD dev texts; otherwise on a synthetic set
//! of COLD-like texts (30-60 Chinese characters), so the bench always runs.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hegui_classifier::{read_examples, train, Example, Model, ReadOptions, TrainConfig};
use rand::{Rng, SeedableRng};

fn cold(split: &str) -> Option<Vec<Example>> {
    let dir = std::env::var_os("HEGUI_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/data"));
    read_examples(
        dir.join(format!("cold/{split}.csv")),
        &ReadOptions::default(),
    )
    .ok()
}

/// COLD-like synthetic texts: common CJK characters and some punctuation, 30-60 chars.
fn synthetic(n: usize, seed: u64) -> Vec<Example> {
    const CHARS: &str = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持音，。！？、";
    let chars: Vec<char> = CHARS.chars().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let len = rng.gen_range(30..60);
            let text: String = (0..len)
                .map(|_| chars[rng.gen_range(0..chars.len())])
                .collect();
            Example::new(text, if i % 2 == 0 { "0" } else { "1" })
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (fit, texts, source) = match (cold("train"), cold("dev")) {
        (Some(t), Some(d)) => (t, d, "COLD dev"),
        _ => (
            synthetic(5000, 1),
            synthetic(1000, 2),
            "synthetic COLD-like",
        ),
    };
    let model = match train(&fit, &TrainConfig::default()) {
        Ok(m) => m,
        Err(e) => panic!("training failed: {e}"),
    };
    let texts: Vec<String> = texts.into_iter().map(|e| e.text).take(1000).collect();
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    eprintln!(
        "bench texts: {} from {source}, mean {} chars",
        texts.len(),
        chars / texts.len().max(1)
    );

    let mut g = c.benchmark_group("predict");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("predict (1000 texts)", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(model.predict(black_box(t)));
            }
        })
    });
    g.bench_function("classify, no allocation (1000 texts)", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(model.classify(black_box(t)));
            }
        })
    });
    g.finish();

    let long = texts.concat();
    c.bench_function(
        &format!("predict one {}-char text", long.chars().count()),
        |b| b.iter(|| black_box(model.predict(black_box(&long)))),
    );

    let bytes = match model.to_bytes() {
        Ok(b) => b,
        Err(e) => panic!("encoding failed: {e}"),
    };
    eprintln!("model file: {} bytes", bytes.len());
    c.bench_function("load from bytes (checksum + parse)", |b| {
        b.iter(|| black_box(Model::from_bytes(black_box(&bytes))))
    });
    let dir = std::env::temp_dir().join(format!("hegui-classifier-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("model.hgc");
    if model.save(&path).is_ok() {
        c.bench_function("load from file", |b| {
            b.iter_batched(
                || (),
                |()| black_box(Model::load(&path)),
                BatchSize::SmallInput,
            )
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
