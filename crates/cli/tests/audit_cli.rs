//! `hegui audit` on a small mixed-format corpus with planted harmful content and PII.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const HEGUI: &str = env!("CARGO_BIN_EXE_hegui");

fn hegui(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(HEGUI)
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("hegui.toml"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Two sources: `clean` (JSONL, 1% harmful, phones in 2%) and `dirty` (CSV, 10% harmful),
/// plus one malformed JSONL line.
fn corpus(dir: &Path) {
    std::fs::write(
        dir.join("hegui.toml"),
        format!(
            "[storage]\ndata_dir = {:?}\n",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("data/corpus")).unwrap();
    let mut clean = String::new();
    for i in 0..1000 {
        let text = if i % 100 == 7 {
            format!("第{i}条：哪里能买到冰毒")
        } else if i % 50 == 3 {
            format!("第{i}条：请联系我 1391234{:04}", i)
        } else {
            format!("第{i}条：今天天气很好，我们去公园散步，讨论第{i}个数学问题。")
        };
        clean.push_str(&serde_json::json!({"text": text}).to_string());
        clean.push('\n');
    }
    clean.push_str("{\"text\": broken\n");
    std::fs::write(dir.join("data/corpus/clean.jsonl"), clean).unwrap();
    let mut dirty = String::from("id,content\n");
    for i in 0..500 {
        let text = if i % 10 == 0 {
            format!("样本{i} 赌博网站推荐")
        } else {
            format!("样本{i} 普通的一句话，关于烹饪第{i}道菜。")
        };
        dirty.push_str(&format!("{i},{text}\n"));
    }
    std::fs::write(dir.join("data/corpus/dirty.csv"), dirty).unwrap();
    std::fs::write(dir.join("data/corpus/contract.pdf"), b"%PDF-1.4 contract").unwrap();
    std::fs::write(
        dir.join("data/audit.toml"),
        r#"
[audit]
seed = 42
sample_size = 100
min_per_source = 10

[[source]]
name = "clean"
origin = "licensed"
licence = "contract 2026-017"
licence_allows_commercial_training = true
authorization_evidence = ["corpus/contract.pdf"]
collection_method = "vendor delivery"
collected = "2026-01-15"
pi_basis = "consent"
paths = ["corpus/clean.jsonl"]

[[source]]
name = "dirty"
origin = "web_crawl"
licence = "CC-BY-NC-4.0"
collection_method = "crawler"
collected = "2026-02-01"
pi_basis = "none_present"
paths = ["corpus/dirty.csv"]
text_field = "content"
"#,
    )
    .unwrap();
}

fn report(dir: &Path, out: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(out).join("audit.json")).unwrap())
        .unwrap()
}

#[test]
fn an_audit_finds_planted_content_and_judges_each_source() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    corpus(dir);

    // Legality: the crawl has no robots statement and a non-commercial licence.
    let (ok, out, _) = hegui(
        dir,
        &[
            "audit",
            "sources",
            "--manifest",
            "data/audit.toml",
            "--json",
        ],
    );
    assert!(!ok, "errors fail the check");
    let findings: Value = serde_json::from_str(&out).unwrap();
    let codes: Vec<(&str, &str)> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["source"].as_str().unwrap(),
                f["rule_code"].as_str().unwrap(),
            )
        })
        .collect();
    for want in [
        ("dirty", "ROBOTS_UNSTATED"),
        ("dirty", "LICENCE_NONCOMMERCIAL"),
        ("[audit]", "THRESHOLD_LAXER"),
    ] {
        assert!(codes.contains(&want), "{want:?} missing: {codes:?}");
    }
    assert!(!codes.iter().any(|(s, _)| *s == "clean"), "{codes:?}");

    let (ok, out, err) = hegui(
        dir,
        &[
            "audit",
            "run",
            "--manifest",
            "data/audit.toml",
            "--out",
            "single",
            "--quiet",
            "--record",
        ],
    );
    assert!(!ok, "the dirty source fails the audit: {out}{err}");
    assert!(err.contains("recorded in the tamper-evident log"), "{err}");
    let r = report(dir, "single");
    let src = |name: &str| {
        r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let clean = src("clean");
    assert_eq!(clean["items"], 1000);
    assert_eq!(clean["harmful"]["count"], 10, "{}", clean["harmful"]);
    assert_eq!(clean["read_errors"]["count"], 1, "{}", clean["read_errors"]);
    assert_eq!(clean["pii_items"], 20);
    let dirty = src("dirty");
    assert_eq!(dirty["items"], 500);
    assert_eq!(dirty["harmful"]["count"], 50);
    assert_eq!(dirty["verdict"], "fail");
    assert!(std::fs::read_to_string(dir.join("single/audit.html"))
        .unwrap()
        .contains("dirty"));
    // Masked examples only: no planted number appears in the report.
    let text = std::fs::read_to_string(dir.join("single/audit.json")).unwrap();
    assert!(!text.contains("13912340003"));

    // Two shards merged give the same figures as the single run.
    for i in 0..2 {
        let shard = format!("{i}/2");
        let (ok, _, err) = hegui(
            dir,
            &[
                "audit",
                "run",
                "--manifest",
                "data/audit.toml",
                "--out",
                "shards",
                "--shard",
                &shard,
                "--quiet",
            ],
        );
        assert!(ok, "{err}");
    }
    let (_, _, err) = hegui(
        dir,
        &[
            "audit",
            "merge",
            "--manifest",
            "data/audit.toml",
            "--out",
            "merged",
            "shards/audit-state-0-of-2.json",
            "shards/audit-state-1-of-2.json",
        ],
    );
    let m = report(dir, "merged");
    assert_eq!(m["sources"], r["sources"], "{err}");
    assert_eq!(m["corpus"], r["corpus"]);

    // The sample exports for annotation.
    let (ok, out, err) = hegui(
        dir,
        &[
            "audit",
            "sample",
            "--state",
            "single/audit-state.json",
            "--out",
            "sample.csv",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("sampled item"), "{out}");
    let csv = std::fs::read_to_string(dir.join("sample.csv")).unwrap();
    assert!(csv.lines().count() > 100, "{}", csv.lines().count());

    // A wrong sample file name is refused before anything is written: an existing file of
    // that name keeps its content.
    std::fs::write(dir.join("keep.json"), "precious").unwrap();
    let (ok, _, err) = hegui(
        dir,
        &[
            "audit",
            "sample",
            "--state",
            "single/audit-state.json",
            "--out",
            "keep.json",
        ],
    );
    assert!(!ok && err.contains(".csv or .jsonl"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("keep.json")).unwrap(),
        "precious"
    );

    // Merging under an edited manifest (another seed) is refused: its findings and seed
    // would not be those the shards ran with.
    let edited = std::fs::read_to_string(dir.join("data/audit.toml"))
        .unwrap()
        .replace("seed = 42", "seed = 7");
    std::fs::write(dir.join("data/edited.toml"), edited).unwrap();
    let (ok, _, err) = hegui(
        dir,
        &[
            "audit",
            "merge",
            "--manifest",
            "data/edited.toml",
            "--out",
            "merged2",
            "shards/audit-state-0-of-2.json",
            "shards/audit-state-1-of-2.json",
        ],
    );
    assert!(
        !ok && err.contains("not the manifest the shards ran with"),
        "{err}"
    );

    // Options a shard cannot honour, and an --out that is a file, fail before any scan.
    let (ok, _, err) = hegui(
        dir,
        &[
            "audit",
            "run",
            "--manifest",
            "data/audit.toml",
            "--out",
            "s2",
            "--shard",
            "0/2",
            "--json",
        ],
    );
    assert!(!ok && err.contains("hegui audit merge"), "{err}");
    let (ok, _, err) = hegui(
        dir,
        &[
            "audit",
            "run",
            "--manifest",
            "data/audit.toml",
            "--out",
            "keep.json",
            "--quiet",
        ],
    );
    assert!(!ok && err.contains("is not a folder"), "{err}");

    // Bad input: a wrong shard, a missing manifest.
    let (ok, _, err) = hegui(
        dir,
        &[
            "audit",
            "run",
            "--manifest",
            "data/audit.toml",
            "--shard",
            "2/2",
        ],
    );
    assert!(!ok && err.contains("0 <= I < N"), "{err}");
    let (ok, _, err) = hegui(dir, &["audit", "run", "--manifest", "nope.toml"]);
    assert!(!ok && err.contains("nope.toml"), "{err}");
}
