#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `cli` functions end to end on the fixtures: train → file → eval / predict / info.

use std::path::PathBuf;

use hegui_classifier::cli::{
    eval_command, info_command, parse_pairs, predict_command, train_command, CliError, EvalArgs,
    TrainArgs,
};
use hegui_classifier::{DataFormat, ReadOptions, TrainConfig};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn cold_like() -> ReadOptions {
    ReadOptions {
        format: Some(DataFormat::Csv),
        text_column: "TEXT".to_owned(),
        label_column: "label".to_owned(),
        label_map: parse_pairs("--label-map", "0=safe,1=offensive").unwrap(),
    }
}

fn config() -> TrainConfig {
    TrainConfig {
        bucket_bits: 12,
        epochs: 30,
        risk_codes: parse_pairs("--risk", "offensive=A2-9").unwrap(),
        ..TrainConfig::default()
    }
}

#[test]
fn train_writes_a_model_that_eval_predict_and_info_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cold.hgc");
    let report = train_command(&TrainArgs {
        data: fixture("tiny.csv"),
        read: cold_like(),
        out: out.clone(),
        config: config(),
    })
    .unwrap();
    assert_eq!(report.examples, 30);
    assert_eq!(report.model_bytes, std::fs::metadata(&out).unwrap().len());
    let text = report.to_string();
    assert!(text.contains("label \"offensive\" → risk A2-9"), "{text}");
    assert!(text.contains("metrics on the training set"), "{text}");

    let eval = eval_command(&EvalArgs {
        model: out.clone(),
        data: fixture("tiny.csv"),
        read: cold_like(),
        sweep: Some(vec![0.3, 0.5, 0.7]),
        threshold: None,
    })
    .unwrap();
    assert_eq!(eval.evaluation.accuracy, 1.0);
    assert_eq!(eval.sweep.as_ref().map(Vec::len), Some(3));
    assert!(eval.to_string().contains("threshold  accuracy"));

    let predicted = predict_command(&out, &["你这个废物".to_owned()]).unwrap();
    assert_eq!(predicted.lines[0].label, "offensive");
    assert!(predicted.to_string().starts_with("offensive\t"));

    let info = info_command(&out).unwrap();
    assert!(info.contains("\"data_sha256\""), "{info}");
    assert!(
        info.contains("tiny.csv"),
        "the source file is recorded: {info}"
    );
}

#[test]
fn jsonl_multiclass_eval_has_no_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("topics.hgc");
    let read = ReadOptions::default();
    train_command(&TrainArgs {
        data: fixture("topics.jsonl"),
        read: read.clone(),
        out: out.clone(),
        config: TrainConfig {
            risk_codes: parse_pairs("--risk", "weather=A1-8").unwrap(),
            ..config()
        },
    })
    .unwrap();
    let eval = eval_command(&EvalArgs {
        model: out,
        data: fixture("topics.jsonl"),
        read,
        sweep: Some(vec![0.5]),
        threshold: None,
    })
    .unwrap();
    assert_eq!(eval.evaluation.labels.len(), 3);
    assert!(eval.sweep.is_none());
}

#[test]
fn training_without_any_risk_code_fails_and_says_how_to_add_one() {
    // COLD-style 0/1 labels and no --risk: such a model could never flag a text.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.hgc");
    let err = train_command(&TrainArgs {
        data: fixture("tiny.csv"),
        read: ReadOptions {
            label_map: Default::default(),
            ..cold_like()
        },
        out: out.clone(),
        config: TrainConfig {
            risk_codes: Default::default(),
            ..config()
        },
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("--risk 1=A2-9"), "{msg}");
    assert!(!out.exists(), "no model file is written");
}

#[test]
fn errors_name_the_file_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let err = train_command(&TrainArgs {
        data: fixture("tiny.csv"),
        read: ReadOptions {
            text_column: "body".to_owned(),
            ..cold_like()
        },
        out: dir.path().join("m.hgc"),
        config: config(),
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("tiny.csv") && msg.contains("\"body\"") && msg.contains("--text-column"),
        "{msg}"
    );

    let bogus = dir.path().join("bogus.hgc");
    std::fs::write(&bogus, b"HEGUICLF\x01\0\0\0").unwrap();
    let err = eval_command(&EvalArgs {
        model: bogus.clone(),
        data: fixture("tiny.csv"),
        read: cold_like(),
        sweep: None,
        threshold: None,
    })
    .unwrap_err();
    assert!(matches!(err, CliError::Load { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("bogus.hgc") && msg.contains("truncated"),
        "{msg}"
    );
}
