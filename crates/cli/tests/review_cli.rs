//! `hegui lexicon`, `hegui review` and `hegui classifier` as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const HEGUI: &str = env!("CARGO_BIN_EXE_hegui");

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(HEGUI)
        .current_dir(dir)
        .env_remove("HEGUI_CONFIG")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn lexicon_check_reports_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[lexicon]\nname = \"x\"\n[[entry]]\nterm = \"a\"\nrisk = \"A9-1\"\n[[entry]]\nterm = \"b\"\nrisk = \"A1-1\"\nseverity = \"huge\"\n",
    )
    .unwrap();
    let (ok, _, err) = run(dir.path(), &["lexicon", "check", "bad.toml"], None);
    assert!(!ok);
    assert!(err.contains("bad.toml:5: unknown risk code A9-1"), "{err}");
    assert!(
        err.contains("bad.toml:9: unknown severity \"huge\""),
        "{err}"
    );
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lexicons/demo.toml");
    let (ok, out, err) = run(
        dir.path(),
        &["lexicon", "check", good.to_str().unwrap()],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains("OK (73 entries"), "{out}");
}

#[test]
fn lexicon_stats_lists_the_gaps_against_tc260() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(dir.path(), &["lexicon", "stats", "--json"], None);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["meets_tc260"], false);
    assert_eq!(v["risks"].as_array().unwrap().len(), 31);
    assert!(v["gaps"][0].as_str().unwrap().contains("10000"), "{v}");
}

#[test]
fn review_reads_text_and_jsonl_and_prints_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(
        dir.path(),
        &["review", "--stage", "output"],
        Some("你这个傻@冒，电话13812345678"),
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["decision"]["action"], "mask");
    assert_eq!(v["text"], "你这个***，电话***********");

    let jsonl = "{\"id\": 1, \"text\": \"教我製造炸彈\"}\n\n{\"id\": 2, \"text\": \"你好\"}\n";
    let (ok, out, err) = run(dir.path(), &["review", "--format", "jsonl"], Some(jsonl));
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["decision"]["action"], "block");
    assert_eq!(lines[0]["input"]["id"], 1);
    assert_eq!(lines[1]["decision"]["action"], "allow");

    let (ok, _, err) = run(
        dir.path(),
        &["review", "--format", "jsonl"],
        Some("{\"x\": 1}\n"),
    );
    assert!(!ok);
    assert!(err.contains("line 1: no string field \"text\""), "{err}");
    let (ok, _, err) = run(dir.path(), &["review", "missing.txt"], None);
    assert!(!ok);
    assert!(err.contains("cannot open missing.txt"), "{err}");
}

#[test]
fn classifier_trains_evaluates_and_plugs_into_review() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../classifier/tests/fixtures/tiny.csv");
    let model = dir.path().join("m.hgc");
    let (ok, out, err) = run(
        dir.path(),
        &[
            "classifier",
            "train",
            "--data",
            data.to_str().unwrap(),
            "--out",
            "m.hgc",
            "--label-map",
            "0=safe,1=offensive",
            "--negative-label",
            "safe",
            "--risk",
            "offensive=A2-9",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    assert!(model.is_file());
    let (ok, out, err) = run(
        dir.path(),
        &[
            "classifier",
            "eval",
            "--model",
            "m.hgc",
            "--data",
            data.to_str().unwrap(),
            "--label-map",
            "0=safe,1=offensive",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.to_lowercase().contains("accuracy"), "{out}");

    std::fs::write(
        dir.path().join("hegui.toml"),
        "[review]\nclassifier = { model = \"m.hgc\", output = false }\n",
    )
    .unwrap();
    let (ok, out, err) = run(
        dir.path(),
        &[
            "--config",
            "hegui.toml",
            "review",
            "--text",
            "你这个傻子滚出去",
        ],
        None,
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let m = &v["decision"]["matches"][0];
    assert_eq!(m["risk"], "A2-9", "{v}");
    assert!(
        m["rule"].as_str().unwrap().starts_with("classifier:"),
        "{v}"
    );
    assert!(m["score_permille"].as_u64().unwrap() > 500, "{v}");

    std::fs::write(dir.path().join("broken.hgc"), b"not a model").unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "[review]\nclassifier = { model = \"broken.hgc\" }\n",
    )
    .unwrap();
    let (ok, _, err) = run(
        dir.path(),
        &["--config", "broken.toml", "review", "--text", "x"],
        None,
    );
    assert!(!ok);
    assert!(err.contains("broken.hgc"), "{err}");
}
