#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Training and prediction on the tiny fixtures that ship with the crate.

use std::path::PathBuf;

use hegui_classifier::{
    read_examples, train, ClassWeights, Example, ModelKind, ReadOptions, TrainConfig,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tiny_offensive() -> Vec<Example> {
    let opts = ReadOptions {
        label_map: [
            ("0".to_owned(), "safe".to_owned()),
            ("1".to_owned(), "offensive".to_owned()),
        ]
        .into(),
        ..ReadOptions::default()
    };
    read_examples(fixture("tiny.csv"), &opts).unwrap()
}

fn topics() -> Vec<Example> {
    read_examples(fixture("topics.jsonl"), &ReadOptions::default()).unwrap()
}

fn small() -> TrainConfig {
    TrainConfig {
        bucket_bits: 14,
        epochs: 30,
        ..TrainConfig::default()
    }
}

#[test]
fn binary_model_learns_the_fixture_and_generalises_to_shared_ngrams() {
    let data = tiny_offensive();
    assert_eq!(data.len(), 30);
    let config = TrainConfig {
        risk_codes: [("offensive".to_owned(), "A2-9".to_owned())].into(),
        ..small()
    };
    let model = train(&data, &config).unwrap();
    assert_eq!(model.meta().kind, ModelKind::Binary);
    // "safe" is a known negative name, so it comes first.
    let names: Vec<&str> = model.labels().iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["safe", "offensive"]);
    let metrics = model.meta().metrics.as_ref().unwrap();
    assert_eq!(metrics.evaluated_on, "the training set");
    assert_eq!(metrics.evaluation.accuracy, 1.0);

    let p = model.predict("你就是个废物垃圾");
    assert_eq!(p.label, "offensive");
    assert_eq!(p.risk_code, Some("A2-9"));
    assert!(p.score > 0.5);
    let q = model.predict("明天天气很好，一起去公园吧");
    assert_eq!(q.label, "safe");
    assert_eq!(q.risk_code, None);
    assert!((q.scores[0] + q.scores[1] - 1.0).abs() < 1e-6);
    let pairs: Vec<(&str, f32)> = p.label_scores().collect();
    assert_eq!(pairs[1], ("offensive", p.score));
}

#[test]
fn one_vs_rest_model_learns_three_topics() {
    let model = train(&topics(), &small()).unwrap();
    assert_eq!(model.meta().kind, ModelKind::OneVsRest);
    assert_eq!(model.labels().len(), 3);
    assert_eq!(model.predict("明天会下雨吗").label, "weather");
    assert_eq!(model.predict("我最爱吃饺子和火锅").label, "food");
    assert_eq!(model.predict("昨晚的足球比赛").label, "sport");
    let p = model.predict("烤鸭");
    assert_eq!(p.scores.len(), 3);
    assert!(p.scores.iter().all(|s| (0.0..=1.0).contains(s)));
    assert_eq!(model.score("烤鸭", "food"), Some(p.scores[p.index]));
    for e in topics() {
        let p = model.predict(&e.text);
        assert_eq!(model.classify(&e.text), (p.index, p.score), "{}", e.text);
    }
}

#[test]
fn training_is_reproducible_for_a_seed_and_varies_with_it() {
    let data = tiny_offensive();
    let a = train(&data, &small()).unwrap();
    let b = train(&data, &small()).unwrap();
    let c = train(&data, &TrainConfig { seed: 7, ..small() }).unwrap();
    let texts: Vec<&str> = data.iter().map(|e| e.text.as_str()).collect();
    let scores = |m: &hegui_classifier::Model| -> Vec<f32> {
        texts
            .iter()
            .map(|t| m.score(t, "offensive").unwrap())
            .collect()
    };
    assert_eq!(
        scores(&a),
        scores(&b),
        "same seed, same scores, bit for bit"
    );
    assert_ne!(scores(&a), scores(&c), "another seed shuffles differently");
    assert_eq!(a.meta().training.data_sha256, b.meta().training.data_sha256);
}

#[test]
fn balanced_class_weights_lift_the_rare_label() {
    // 3 positives among 30: uniform weighting leaves their scores low.
    let mut data: Vec<Example> = tiny_offensive()
        .into_iter()
        .filter(|e| e.label == "safe")
        .collect();
    data.extend(
        tiny_offensive()
            .into_iter()
            .filter(|e| e.label == "offensive")
            .take(3),
    );
    let cfg = TrainConfig {
        epochs: 3,
        ..small()
    };
    let uniform = train(&data, &cfg).unwrap();
    let balanced = train(
        &data,
        &TrainConfig {
            class_weights: ClassWeights::Balanced,
            ..cfg
        },
    )
    .unwrap();
    let text = "你这个废物";
    let (u, b) = (
        uniform.score(text, "offensive").unwrap(),
        balanced.score(text, "offensive").unwrap(),
    );
    assert!(b > u, "balanced {b} should exceed uniform {u}");
}

#[test]
fn holdout_metrics_come_from_unseen_examples() {
    let data = topics();
    let model = train(
        &data,
        &TrainConfig {
            holdout: 0.25,
            ..small()
        },
    )
    .unwrap();
    let t = &model.meta().training;
    assert_eq!(t.examples, 24);
    assert_eq!(t.trained_on, 18);
    let m = model.meta().metrics.as_ref().unwrap();
    assert!(m.evaluated_on.contains("holdout"), "{}", m.evaluated_on);
    assert_eq!(m.evaluation.examples, 6);
}

#[test]
fn odd_inputs_never_panic_and_give_probabilities() {
    let model = train(&tiny_offensive(), &small()).unwrap();
    let huge = "垃圾".repeat(500_000);
    let odd = [
        "",
        " \t\n",
        "\u{200B}\u{FEFF}",
        "\u{0}\u{1}\u{7f}",
        "a",
        "ｆｕｌｌ　ｗｉｄｔｈ",
        "e\u{301}\u{301}\u{301}\u{301}",
        huge.as_str(),
    ];
    for t in odd {
        let p = model.predict(t);
        assert!(
            p.score.is_finite() && (0.0..=1.0).contains(&p.score),
            "{t:?}"
        );
        assert!(!p.label.is_empty());
    }
    // An empty text scores the bias alone, the same as whitespace only.
    assert_eq!(model.predict("").scores, model.predict("   ").scores);
    assert_eq!(model.predict(&huge).label, "offensive");
    assert_eq!(model.score("x", "no-such-label"), None);
}

#[test]
fn threshold_moves_the_binary_decision() {
    let mut model = train(&tiny_offensive(), &small()).unwrap();
    let text = "你这个废物";
    let p = model.score(text, "offensive").unwrap();
    assert_eq!(model.predict(text).label, "offensive");
    model.set_threshold((p + 1.0) / 2.0).unwrap();
    assert_eq!(model.predict(text).label, "safe");
    assert!(model.set_threshold(1.0).is_err());
    assert!(model.set_threshold(f32::NAN).is_err());
}

#[test]
fn normalisation_makes_width_and_case_variants_score_alike() {
    let model = train(&topics(), &small()).unwrap();
    assert_eq!(
        model.predict("ABC 下雨").scores,
        model.predict("ａｂｃ  下雨").scores
    );
    assert_eq!(
        model.predict("下\u{200B}雨").scores,
        model.predict("下雨").scores
    );
}
