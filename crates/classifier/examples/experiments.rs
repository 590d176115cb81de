//! Reproduces the figures in EVALUATION.md.
//!
//! ```text
//! cargo run --release --example experiments -- tune [DATA_DIR]   # grid on a 90/10 split of COLD train
//! cargo run --release --example experiments -- cold [DATA_DIR]   # default config: train → dev, once
//! cargo run --release --example experiments -- jade [DATA_DIR]   # JADE risky-question figures
//! ```
//! DATA_DIR defaults to /work/shared/data (holding cold/ and jade/).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use hegui_classifier::risk::{jade_type_risk, COLD_OFFENSIVE_RISK};
use hegui_classifier::{
    evaluate, read_examples, split_stratified, threshold_sweep, train, ClassWeights, Example,
    ReadOptions, TermWeighting, TrainConfig,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn cold_opts() -> ReadOptions {
    ReadOptions {
        label_map: [
            ("0".to_owned(), "safe".to_owned()),
            ("1".to_owned(), "offensive".to_owned()),
        ]
        .into(),
        ..ReadOptions::default()
    }
}

fn cold(dir: &Path, split: &str) -> Result<Vec<Example>> {
    Ok(read_examples(
        dir.join("cold").join(format!("{split}.csv")),
        &cold_opts(),
    )?)
}

/// Mean held-out figures of `config` over the splits.
fn line(name: &str, config: &TrainConfig, splits: &[(Vec<Example>, Vec<Example>)]) -> Result<()> {
    let (mut acc, mut f1, mut macro_f1, mut secs) = (0.0, 0.0, 0.0, 0.0);
    for (fit, held) in splits {
        let t = Instant::now();
        let model = train(fit, config)?;
        secs += t.elapsed().as_secs_f64();
        let e = evaluate(&model, held);
        acc += e.accuracy;
        f1 += e.label("offensive").map_or(0.0, |m| m.f1);
        macro_f1 += e.macro_f1;
    }
    let n = splits.len() as f64;
    println!(
        "| {name} | {:.4} | {:.4} | {:.4} | {:.1} |",
        acc / n,
        f1 / n,
        macro_f1 / n,
        secs / n
    );
    Ok(())
}

/// Grid on three seeded 90/10 splits of COLD *train* (dev is never looked at here).
fn tune(dir: &Path) -> Result<()> {
    let all = cold(dir, "train")?;
    let splits: Vec<_> = [2024u64, 2025, 2026]
        .iter()
        .map(|&s| split_stratified(&all, 0.1, s))
        .collect();
    println!(
        "COLD train, three stratified 90/10 splits (seeds 2024-2026): fit {} / held {}; mean figures\n",
        splits[0].0.len(),
        splits[0].1.len()
    );
    println!("| config | accuracy | F1 (offensive) | macro F1 | train s |");
    println!("|---|---|---|---|---|");
    let base = TrainConfig::default();
    line("default", &base, &splits)?;
    for (lo, hi) in [(1u8, 2u8), (1, 3), (1, 4), (2, 4)] {
        for bits in [18u8, 20] {
            for epochs in [3u32, 5, 10] {
                let c = TrainConfig {
                    ngram_min: lo,
                    ngram_max: hi,
                    bucket_bits: bits,
                    epochs,
                    ..base.clone()
                };
                line(
                    &format!("ngrams {lo}-{hi}, 2^{bits}, {epochs} epochs"),
                    &c,
                    &splits,
                )?;
            }
        }
    }
    // Around the grid's best (1-2 grams): longer training, 1-grams alone, the smaller table.
    let best = TrainConfig {
        ngram_min: 1,
        ngram_max: 2,
        bucket_bits: 18,
        epochs: 10,
        ..base.clone()
    };
    for epochs in [15u32, 20] {
        let c = TrainConfig {
            epochs,
            ..best.clone()
        };
        line(&format!("ngrams 1-2, 2^18, {epochs} epochs"), &c, &splits)?;
    }
    for lr in [0.1f32, 0.5] {
        let c = TrainConfig {
            learning_rate: lr,
            ..best.clone()
        };
        line(
            &format!("ngrams 1-2, 2^18, 10 epochs, lr {lr}"),
            &c,
            &splits,
        )?;
    }
    let c = TrainConfig {
        term_weighting: TermWeighting::Sublinear,
        ..best.clone()
    };
    line("ngrams 1-2, 2^18, 10 epochs, sublinear tf", &c, &splits)?;
    let c = TrainConfig {
        l2: 1e-4,
        ..best.clone()
    };
    line("ngrams 1-2, 2^18, 10 epochs, l2 1e-4", &c, &splits)?;
    let c = TrainConfig {
        ngram_max: 1,
        ..best.clone()
    };
    line("ngrams 1-1, 2^18, 10 epochs", &c, &splits)?;
    for lr in [0.1f32, 0.5] {
        let c = TrainConfig {
            learning_rate: lr,
            ..base.clone()
        };
        line(&format!("default, lr {lr}"), &c, &splits)?;
    }
    for l2 in [0.0f32, 1e-4, 1e-3] {
        let c = TrainConfig { l2, ..base.clone() };
        line(&format!("default, l2 {l2}"), &c, &splits)?;
    }
    let c = TrainConfig {
        term_weighting: TermWeighting::Sublinear,
        ..base.clone()
    };
    line("default, sublinear tf", &c, &splits)?;
    let c = TrainConfig {
        class_weights: ClassWeights::Balanced,
        ..base.clone()
    };
    line("default, balanced class weights", &c, &splits)?;
    Ok(())
}

fn cold_dev(dir: &Path) -> Result<()> {
    let fit = cold(dir, "train")?;
    let dev = cold(dir, "dev")?;
    let config = TrainConfig {
        risk_codes: [("offensive".to_owned(), COLD_OFFENSIVE_RISK.to_owned())].into(),
        ..TrainConfig::default()
    };
    let t = Instant::now();
    let model = train(&fit, &config)?;
    println!(
        "trained on {} COLD train examples in {:.2?}",
        fit.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let e = evaluate(&model, &dev);
    println!(
        "COLD dev ({} examples, {:.2?}/text):\n{e}",
        dev.len(),
        t.elapsed() / dev.len() as u32
    );
    if let Some(sweep) = threshold_sweep(&model, &dev, &[0.3, 0.4, 0.5, 0.6, 0.7]) {
        println!("| threshold | accuracy | F1 (offensive) | macro F1 |\n|---|---|---|---|");
        for p in sweep {
            println!(
                "| {} | {:.4} | {:.4} | {:.4} |",
                p.threshold, p.accuracy, p.f1, p.macro_f1
            );
        }
    }
    let bytes = model.to_bytes()?;
    println!("model file {} bytes", bytes.len());
    Ok(())
}

fn jade(dir: &Path) -> Result<()> {
    let questions = read_examples(
        dir.join("jade").join("jade_benchmark_easy_zh.csv"),
        &ReadOptions {
            text_column: "问题".to_owned(),
            label_column: "违规类型".to_owned(),
            ..ReadOptions::default()
        },
    )?;
    let cold_train = cold(dir, "train")?;
    let cold_dev = cold(dir, "dev")?;
    let is_question = |t: &str| {
        let t = t.trim_end();
        t.ends_with('？') || t.ends_with('?')
    };
    let safe = |v: &[Example]| -> Vec<Example> {
        v.iter()
            .filter(|e| e.label == "safe")
            .map(|e| Example::new(e.text.clone(), "benign"))
            .collect()
    };
    let risky: Vec<Example> = questions
        .iter()
        .map(|e| Example::new(e.text.clone(), "risky"))
        .collect();

    // Negatives come from COLD *train* only, so COLD dev stays unseen for the false-positive check.
    // A: every non-offensive COLD train text ending in a question mark (real, question-shaped).
    let train_safe = safe(&cold_train);
    let neg_q: Vec<Example> = train_safe
        .iter()
        .filter(|e| is_question(&e.text))
        .cloned()
        .collect();
    // B: as many non-offensive COLD train texts of any form (a seeded stratified sample).
    let (_, neg_any) =
        split_stratified(&train_safe, neg_q.len() as f32 / train_safe.len() as f32, 7);
    let dev_safe = safe(&cold_dev);
    let dev_safe_q: Vec<Example> = dev_safe
        .iter()
        .filter(|e| is_question(&e.text))
        .cloned()
        .collect();
    println!(
        "JADE positives {} ; negatives A (COLD train safe ending in ？/?) {} ; negatives B (COLD train safe, any) {}",
        risky.len(),
        neg_q.len(),
        neg_any.len()
    );
    for (name, negs) in [
        ("A: question-shaped COLD safe", &neg_q),
        ("B: any COLD safe", &neg_any),
    ] {
        let data: Vec<Example> = risky.iter().chain(negs.iter()).cloned().collect();
        let (fit, test) = split_stratified(&data, 0.2, 42);
        let config = TrainConfig {
            negative_label: Some("benign".to_owned()),
            class_weights: ClassWeights::Balanced,
            ..TrainConfig::default()
        };
        let model = train(&fit, &config)?;
        let e = evaluate(&model, &test);
        let f1 = e.label("risky").map_or(0.0, |m| m.f1);
        println!(
            "\nbinary, negatives {name}: test {} → accuracy {:.4}, F1(risky) {:.4}, macro F1 {:.4}\n{e}",
            test.len(),
            e.accuracy,
            f1,
            e.macro_f1
        );
        // False positives on benign texts no model saw: COLD dev's non-offensive comments.
        for (what, texts) in [("all", &dev_safe), ("question-shaped", &dev_safe_q)] {
            let fp = texts
                .iter()
                .filter(|x| model.predict(&x.text).label == "risky")
                .count();
            println!(
                "  flags {fp} of {} unseen COLD dev safe texts ({what}) as risky: {:.2}%",
                texts.len(),
                100.0 * fp as f64 / texts.len().max(1) as f64
            );
        }
    }

    // Multi-class over 违规类型 (JADE only; no negatives).
    let (fit, test) = split_stratified(&questions, 0.2, 42);
    let risk_codes = questions
        .iter()
        .filter_map(|e| jade_type_risk(&e.label).map(|c| (e.label.clone(), c.to_owned())))
        .collect();
    let config = TrainConfig {
        risk_codes,
        ..TrainConfig::default()
    };
    let model = train(&fit, &config)?;
    let e = evaluate(&model, &test);
    println!(
        "\nmulti-class 违规类型 (JADE only, 80/20 seed 42): test {} → accuracy {:.4}, macro F1 {:.4}\n{e}",
        test.len(),
        e.accuracy,
        e.macro_f1
    );
    let majority = e.per_label.iter().map(|m| m.support).max().unwrap_or(0);
    println!(
        "  majority-class baseline accuracy {:.4}",
        majority as f64 / test.len() as f64
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.get(1)
            .map(String::as_str)
            .unwrap_or("/work/shared/data"),
    );
    let result = match args.first().map(String::as_str) {
        Some("tune") => tune(&dir),
        Some("cold") => cold_dev(&dir),
        Some("jade") => jade(&dir),
        _ => {
            eprintln!("usage: experiments tune|cold|jade [DATA_DIR]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
