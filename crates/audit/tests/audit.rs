#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use hegui_audit::manifest::{check_sources_at, rules};
use hegui_audit::report::{to_html, to_json, AuditReport};
use hegui_audit::scan::ShardCoverage;
use hegui_audit::stats::wilson;
use hegui_audit::{
    finish, merge, run_audit, AuditError, AuditState, FinishOptions, Manifest, PiiHit, RunOptions,
    ScanResult, Scanner, Verdict,
};

/// A corpus exercising every reader, duplicates, near duplicates, malformed lines, PII and risks.
fn mixed_corpus(dir: &Path) -> Manifest {
    let mut rng = XorShift(7);
    let mut a = String::new();
    for i in 0..700 {
        match i % 50 {
            0 => a.push_str("{\"text\": broken json\n"),
            1 => a.push_str("{\"body\":\"no text field\"}\n"),
            2 => a.push('\n'),
            3 => a.push_str("{\"text\":\"the same boilerplate footer, all rights reserved\"}\n"),
            4 => a.push_str(&format!("{{\"text\":\"contact PHONE {i} <<BAD>>\"}}\n")),
            _ => a.push_str(&format!(
                "{{\"text\":\"网页正文 {} 第{i}段，关于城市交通与天气的报道。\"}}\n",
                rng.below(1000)
            )),
        }
    }
    write(&dir.join("web/part-0.jsonl"), a.as_bytes());
    let mut b = String::new();
    for i in 0..400 {
        if i % 40 == 0 {
            b.push_str("{\"text\":\"the same boilerplate footer, all rights reserved\"}\n");
        } else {
            b.push_str(&format!("{{\"text\":\"A long enough English paragraph number {i} about rivers, mountains and the valleys in between <<WORSE>>{}\"}}\n", if i % 30 == 0 { "" } else { "." }).replace("<<WORSE>>.", "."));
        }
    }
    write(&dir.join("web/part-1.jsonl.gz"), &gzip(b.as_bytes()));
    let mut c = String::from("id,text\n");
    for i in 0..500 {
        if i == 1 {
            c.push_str("1,\"the same boilerplate footer, all rights reserved\"\n");
        // also in "web"
        } else if i % 60 == 0 {
            c.push_str(&format!("{i}\n")); // short row
        } else if i % 7 == 0 {
            c.push_str(&format!("{i},\"quoted, multi\nline {}\"\n", i % 5)); // repeats → duplicates
        } else {
            c.push_str(&format!("{i},forum post number {i} with some words\n"));
        }
    }
    write(&dir.join("forum/posts.csv.zst"), &zstd_bytes(c.as_bytes()));
    let mut t = String::new();
    for i in 0..300 {
        t.push_str(&format!(
            "第{i}行文本 {}\n",
            if i % 10 == 0 { "<<BAD>>" } else { "" }
        ));
        if i % 33 == 0 {
            t.push('\n');
        }
    }
    t.push_str("bad utf8 \u{0}");
    let mut tb = t.into_bytes();
    tb.extend_from_slice(b"\xff\xfe\n");
    write(&dir.join("books/b.txt"), &tb);
    let texts: StringArray = (0..257)
        .map(|i| {
            if i % 50 == 49 {
                None
            } else {
                Some(format!("parquet row {i} PHONE"))
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(vec![Field::new(
        "content",
        DataType::Utf8,
        true,
    )]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(texts) as ArrayRef]).unwrap();
    let f = std::fs::File::create(dir.join("pq/data.parquet")).unwrap_or_else(|_| {
        std::fs::create_dir_all(dir.join("pq")).unwrap();
        std::fs::File::create(dir.join("pq/data.parquet")).unwrap()
    });
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let text = r#"
[audit]
seed = 99
sample_size = 60
min_per_source = 5
scan_fraction = 0.5
max_error_examples = 3

[[source]]
name = "web"
origin = "web_crawl"
robots_respected = true
technical_measures_respected = true
collection_method = "crawler"
collected = "2024-01-01..2024-02-01"
paths = ["web"]

[[source]]
name = "forum"
origin = "user_data"
pi_basis = "consent"
authorization_evidence = ["policy:ua-3"]
collection_method = "export"
collected = "2024-03-01"
paths = ["forum/*.csv.zst"]

[[source]]
name = "books"
origin = "licensed"
licence = "contract:7"
licence_allows_commercial_training = true
authorization_evidence = ["contract:7"]
collection_method = "vendor delivery"
collected = "2024-03-01"
paths = ["books/b.txt"]

[[source]]
name = "pq"
origin = "open_dataset"
licence = "CC-BY-4.0"
pi_basis = "none_present"
collection_method = "download"
collected = "2024-03-01"
paths = ["pq"]
text_field = "content"
"#;
    Manifest::from_toml_str(text).unwrap()
}

fn unsharded(mut s: AuditState) -> AuditState {
    s.shards = ShardCoverage {
        count: 1,
        indices: vec![0],
    };
    s
}

fn fixed() -> FinishOptions {
    FinishOptions {
        reproduction_command: "hegui audit run audit.toml".into(),
        manual: None,
        generated_at: Some("2025-01-01T00:00:00Z".into()),
    }
}

#[test]
fn shard_and_merge_equals_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let m = mixed_corpus(dir.path());
    let single = run_audit(&m, dir.path(), &MarkerScanner, RunOptions::default()).unwrap();
    // The corpus really exercises everything.
    let by_name = |n: &str| single.sources.iter().find(|s| s.name == n).unwrap();
    assert!(by_name("web").read_errors.count >= 28);
    assert!(by_name("web").read_errors.examples.len() == 3);
    assert!(by_name("forum").read_errors.count > 0);
    assert!(by_name("books").read_errors.count > 0);
    assert!(by_name("pq").read_errors.count == 5);
    assert!(single.sources.iter().all(|s| s.items > 100));
    assert!(single
        .sources
        .iter()
        .all(|s| s.scan.scanned > 0 && s.scan.scanned < s.items));
    assert!(single
        .sources
        .iter()
        .all(|s| s.sample.entries().len() == 60));
    let single_report = finish(&single, vec![], &fixed());
    assert!(single_report
        .sources
        .iter()
        .any(|s| s.dedup.exact_duplicates > 0));
    assert!(single_report
        .sources
        .iter()
        .any(|s| s.dedup.cross_source_exact > 0));
    assert_eq!(single.files.len(), 5);
    assert!(single
        .files
        .iter()
        .all(|f| f.sha256.as_ref().is_some_and(|h| h.len() == 64)));

    for n in 1..=4u32 {
        let shards: Vec<AuditState> = (0..n)
            .map(|i| {
                let s = run_audit(
                    &m,
                    dir.path(),
                    &MarkerScanner,
                    RunOptions {
                        shard: Some((i, n)),
                        ..Default::default()
                    },
                )
                .unwrap();
                // Through the state file format.
                AuditState::from_json(&s.to_json().unwrap()).unwrap()
            })
            .collect();
        let total: u64 = shards
            .iter()
            .map(|s| s.sources.iter().map(|x| x.items).sum::<u64>())
            .sum();
        assert_eq!(total, single.sources.iter().map(|x| x.items).sum::<u64>());
        let mut reversed = shards.clone();
        reversed.reverse();
        let merged = merge(shards).unwrap();
        assert_eq!(
            merged.shards,
            ShardCoverage {
                count: n,
                indices: (0..n).collect()
            }
        );
        let merged_rev = merge(reversed).unwrap();
        assert_eq!(merged, merged_rev, "merge order matters for n = {n}");
        let merged = unsharded(merged);
        assert_eq!(merged, single, "n = {n}");
        assert_eq!(merged.sample(), single.sample(), "n = {n}");
        let mut r = finish(&merged, vec![], &fixed());
        r.shards = single_report.shards.clone();
        assert_eq!(
            to_json(&r).unwrap(),
            to_json(&single_report).unwrap(),
            "n = {n}"
        );
    }
}

#[test]
fn merge_rejects_overlaps_and_mismatches_and_reports_incomplete_merges() {
    let dir = tempfile::tempdir().unwrap();
    let m = mixed_corpus(dir.path());
    let run = |i, n| {
        run_audit(
            &m,
            dir.path(),
            &MarkerScanner,
            RunOptions {
                shard: Some((i, n)),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let s0 = run(0, 3);
    assert!(matches!(
        merge(vec![s0.clone(), s0.clone()]),
        Err(AuditError::Merge(_))
    ));
    assert!(matches!(
        merge(vec![s0.clone(), run(1, 2)]),
        Err(AuditError::Merge(_))
    ));
    let mut other = run(1, 3);
    other.manifest_sha256 = "different".into();
    assert!(matches!(
        merge(vec![s0.clone(), other]),
        Err(AuditError::Merge(_))
    ));
    let mut tampered = run(1, 3);
    tampered.files[0].sha256 = Some("0".repeat(64));
    let e = merge(vec![s0.clone(), tampered]).unwrap_err().to_string();
    assert!(e.contains("different contents"), "{e}");
    assert!(matches!(merge(vec![]), Err(AuditError::Merge(_))));
    assert!(matches!(
        run_audit(
            &m,
            dir.path(),
            &MarkerScanner,
            RunOptions {
                shard: Some((3, 3)),
                ..Default::default()
            }
        ),
        Err(AuditError::InvalidShard { .. })
    ));
    let partial = merge(vec![s0, run(2, 3)]).unwrap();
    let r = finish(&partial, vec![], &fixed());
    assert!(!r.complete);
    assert_eq!(
        r.checks
            .iter()
            .find(|c| c.id == "shards_complete")
            .unwrap()
            .verdict,
        Verdict::Fail
    );
    assert_eq!(r.verdict, Verdict::Fail);
}

#[test]
fn thread_count_and_batch_size_do_not_change_results() {
    let dir = tempfile::tempdir().unwrap();
    let m = mixed_corpus(dir.path());
    let a = run_audit(
        &m,
        dir.path(),
        &MarkerScanner,
        RunOptions {
            threads: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let c2 = calls.clone();
    let b = run_audit(
        &m,
        dir.path(),
        &MarkerScanner,
        RunOptions {
            threads: 4,
            batch_size: 7,
            progress: Some(Box::new(move |p| {
                assert!(p.files_done <= p.files_total);
                c2.fetch_add(1, Ordering::Relaxed);
            })),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(calls.load(Ordering::Relaxed) > 100);
    assert_eq!(a.to_json().unwrap(), b.to_json().unwrap());
    let c = run_audit(
        &m,
        dir.path(),
        &MarkerScanner,
        RunOptions {
            threads: 3,
            batch_size: 100_000,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(a, c);
}

/// Texts with a planted marker at a known rate.
fn planted(dir: &Path, scan_fraction: f64, seed: u64) -> Manifest {
    let mut low = String::new();
    for i in 0..4000 {
        let bad = if i % 100 < 3 { " <<BAD>>" } else { "" };
        low.push_str(&format!("{{\"text\":\"low source item {i}{bad}\"}}\n"));
    }
    write(&dir.join("low.jsonl"), low.as_bytes());
    let mut high = String::new();
    for i in 0..3000 {
        let bad = if i % 25 < 2 {
            if i % 2 == 0 {
                " <<BAD>>"
            } else {
                " <<WORSE>>"
            }
        } else {
            ""
        };
        high.push_str(&format!("high source item {i}{bad}\n"));
    }
    write(&dir.join("high.txt.gz"), &gzip(high.as_bytes()));
    let mut clean = String::from("text\n");
    for i in 0..2000 {
        let bad = if i % 100 == 0 { " <<BAD>>" } else { "" };
        let pii = if i % 50 == 1 { " PHONE" } else { "" };
        clean.push_str(&format!("clean source item {i}{bad}{pii}\n"));
    }
    write(&dir.join("clean.csv"), clean.as_bytes());
    let text = format!(
        r#"[audit]
seed = {seed}
scan_fraction = {scan_fraction}
[[source]]
name = "low"
origin = "synthetic"
collection_method = "generator"
collected = "2024-01-01"
paths = ["low.jsonl"]
[[source]]
name = "high"
origin = "synthetic"
collection_method = "generator"
collected = "2024-01-01"
paths = ["high.txt.gz"]
[[source]]
name = "clean"
origin = "synthetic"
pi_basis = "none_present"
collection_method = "generator"
collected = "2024-01-01"
paths = ["clean.csv"]
"#
    );
    Manifest::from_toml_str(&text).unwrap()
}

fn check(r: &hegui_audit::report::SourceReport, id: &str) -> Verdict {
    r.checks.iter().find(|c| c.id == id).unwrap().verdict
}

#[test]
fn planted_rates_are_measured_and_the_8_percent_source_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let m = planted(dir.path(), 1.0, 2024);
    let findings = check_sources_at(
        &m,
        dir.path(),
        chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
    );
    assert!(findings.is_empty(), "{findings:?}");
    let state = run_audit(&m, dir.path(), &MarkerScanner, RunOptions::default()).unwrap();
    let r = finish(&state, findings, &fixed());
    let [low, high, clean] = [&r.sources[0], &r.sources[1], &r.sources[2]];
    assert_eq!((low.items, high.items, clean.items), (4000, 3000, 2000));
    assert_eq!(low.harmful.count, 120);
    assert_eq!(high.harmful.count, 240);
    assert_eq!(clean.harmful.count, 20);
    assert_eq!(low.harmful.rate, Some(0.03));
    assert_eq!(high.harmful.rate, Some(0.08));
    assert_eq!(high.risks.get("A1-01"), Some(&240));
    assert_eq!(high.risks.get("A2-03"), Some(&120));
    for (s, truth) in [(low, 0.03), (high, 0.08), (clean, 0.01)] {
        assert!(
            s.harmful.ci95_low.unwrap() < truth && truth < s.harmful.ci95_high.unwrap(),
            "{}",
            s.name
        );
        assert_eq!(s.flagged_examples.len(), 5);
        assert_eq!(s.sample_allocated, s.items.min(4000 * s.items / 9000 + 1));
    }
    // 3%: not rejected (≤ 5%) but fails the technical 98% pass rate; 8%: rejected; 1%: passes.
    assert_eq!(check(low, "harmful_rate"), Verdict::Pass);
    assert_eq!(check(low, "technical_pass_rate"), Verdict::Fail);
    assert_eq!(check(high, "harmful_rate"), Verdict::Fail);
    assert_eq!(high.verdict, Verdict::Fail);
    assert_eq!(check(clean, "harmful_rate"), Verdict::Pass);
    assert_eq!(check(clean, "technical_pass_rate"), Verdict::Pass);
    assert_eq!(check(clean, "scan_coverage"), Verdict::Pass);
    assert_eq!(check(clean, "read_errors"), Verdict::Pass);
    assert_eq!(check(clean, "manual_pass_rate"), Verdict::NotEvaluated);
    // PII in a source declared none_present: counted, masked examples kept, finding raised.
    assert_eq!(clean.pii_items, 40);
    assert_eq!(clean.pii["mobile"].hits, 40);
    assert_eq!(clean.pii["mobile"].examples.len(), 5);
    assert!(r
        .findings
        .iter()
        .any(|f| f.source == "clean" && f.rule_code == rules::PII_FOUND_NONE_DECLARED));
    assert_eq!(check(clean, "legality"), Verdict::Fail);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.corpus.sample_drawn, 4001);
    assert_eq!(
        r.checks
            .iter()
            .find(|c| c.id == "sample_size")
            .unwrap()
            .verdict,
        Verdict::Pass
    );

    // Scanning 30% estimates the same rates: over 20 seeds, the Wilson 95% intervals contain
    // the truth in (about) 95% of runs, and the scanned fraction is close to 30%.
    let mut covered = [0u32; 3];
    for seed in 0..20 {
        let m = planted(dir.path(), 0.3, seed);
        let state = run_audit(&m, dir.path(), &MarkerScanner, RunOptions::default()).unwrap();
        let r = finish(&state, vec![], &fixed());
        for (k, (s, truth)) in [
            (&r.sources[0], 0.03),
            (&r.sources[1], 0.08),
            (&r.sources[2], 0.01),
        ]
        .into_iter()
        .enumerate()
        {
            let frac = s.scan_fraction.unwrap();
            assert!((frac - 0.3).abs() < 0.03, "{}: {frac}", s.name);
            if s.harmful.ci95_low.unwrap() <= truth && truth <= s.harmful.ci95_high.unwrap() {
                covered[k] += 1;
            }
            let ci = wilson(s.harmful.count, s.harmful.total);
            assert_eq!(Some(ci.low), s.harmful.ci95_low);
            assert_eq!(check(s, "scan_coverage"), Verdict::Pass);
        }
        assert_eq!(
            check(&r.sources[1], "harmful_rate"),
            Verdict::Fail,
            "seed {seed}: {:?}",
            r.sources[1].harmful
        );
    }
    assert!(
        covered.iter().all(|&c| c >= 17),
        "CI coverage over 20 seeds: {covered:?}"
    );
}

/// A scanner whose outputs carry markup, to test escaping.
struct EvilScanner;

impl Scanner for EvilScanner {
    fn scan(&self, text: &str) -> ScanResult {
        ScanResult {
            risks: if text.contains("<script>") {
                vec!["<script>risk</script>".into()]
            } else {
                vec![]
            },
            pii: vec![PiiHit {
                kind: "<b>kind</b>".into(),
                masked: "<script>alert('x')</script>".into(),
            }],
        }
    }
}

#[test]
fn html_escapes_everything_from_data_and_json_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("a<script>.txt"),
        b"<script>alert(1)</script>\nplain & simple \"quoted\"\n",
    );
    write(&dir.path().join("bad.jsonl"), b"{\"x\":1}\n");
    let text = r#"[audit]
seed = 5
[[source]]
name = "<script>alert('name')</script>"
origin = "open_dataset"
licence = "<img src=x onerror=alert(1)> CC-BY-NC-4.0"
paths = ["*.txt", "bad.jsonl", "<missing>.txt"]
"#;
    let m = Manifest::from_toml_str(text).unwrap();
    let findings = check_sources_at(
        &m,
        dir.path(),
        chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
    );
    let state = run_audit(&m, dir.path(), &EvilScanner, RunOptions::default()).unwrap();
    let opts = FinishOptions {
        reproduction_command: "hegui audit run '<script>'.toml".into(),
        ..fixed()
    };
    let report = finish(&state, findings, &opts);
    assert_eq!(report.sources[0].harmful.count, 1);
    let html = to_html(&report);
    assert!(
        !html.to_lowercase().contains("<script"),
        "unescaped script tag in HTML"
    );
    assert!(!html.contains("<img"), "unescaped img tag in HTML");
    assert!(!html.contains("<b>kind"), "unescaped markup in HTML");
    assert!(html.contains("&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("a&lt;script&gt;.txt"));
    assert!(html.contains("<svg"));
    assert!(html.contains("limit 5.00%"));
    assert!(
        !html.contains("http://")
            || html.matches("http://").count()
                == html.matches("http://www.w3.org/2000/svg").count()
    );
    assert!(!html.contains("<link") && !html.contains("src=\""));

    let json = to_json(&report).unwrap();
    let back: AuditReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for key in [
        "format",
        "seed",
        "reproduction_command",
        "verdict",
        "checks",
        "corpus",
        "sources",
        "findings",
        "input_files",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert_eq!(
        v["sources"][0]["read_errors"]["by_kind"]["missing_field"],
        1
    );
    assert_eq!(v["sources"][0]["read_errors"]["examples"][0]["line"], 1);
    assert_eq!(v["input_files"][0]["sha256"].as_str().unwrap().len(), 64);
}

/// Two-source manifest over `lic/` (JSONL files) for the merge and read-error tests.
fn small_manifest(extra: &str) -> Manifest {
    let text = format!(
        r#"
[audit]
seed = 5
sample_size = 10
min_per_source = 1

[[source]]
name = "lic"
origin = "licensed"
licence = "contract:1"
licence_allows_commercial_training = true
authorization_evidence = ["contract:1"]
collection_method = "delivery"
collected = "2024-03-01"
{extra}
"#
    );
    Manifest::from_toml_str(&text).unwrap()
}

fn jsonl_lines(n: usize, tag: &str) -> String {
    (0..n)
        .map(|i| format!("{{\"text\":\"{tag} item number {i}\"}}\n"))
        .collect()
}

#[test]
fn merge_refuses_shards_that_saw_different_file_lists() {
    let dir = tempfile::tempdir().unwrap();
    let m = small_manifest(r#"paths = ["lic"]"#);
    write(
        &dir.path().join("lic/a.jsonl"),
        jsonl_lines(50, "a").as_bytes(),
    );
    let run = |i| {
        run_audit(
            &m,
            dir.path(),
            &MarkerScanner,
            RunOptions {
                shard: Some((i, 2)),
                ..Default::default()
            },
        )
        .unwrap()
    };
    // Shard 0 runs on a machine where b.jsonl is missing, shard 1 sees both files.
    let s0 = run(0);
    write(
        &dir.path().join("lic/b.jsonl"),
        jsonl_lines(50, "b").as_bytes(),
    );
    let s1 = run(1);
    for states in [vec![s0.clone(), s1.clone()], vec![s1.clone(), s0.clone()]] {
        match merge(states) {
            Err(AuditError::InputFileMissing(m)) => {
                assert_eq!(m.source_name, "lic");
                assert_eq!(m.file, "lic/b.jsonl");
                assert_eq!(m.present_in, vec![1]);
                assert_eq!(m.missing_in, vec![0]);
            }
            other => panic!("expected InputFileMissing, got {other:?}"),
        }
    }
    // Same file list, different contents: refused with both hashes.
    let s0 = run(0);
    write(
        &dir.path().join("lic/b.jsonl"),
        jsonl_lines(51, "b").as_bytes(),
    );
    let s1 = run(1);
    let e = merge(vec![s0, s1]).unwrap_err();
    assert!(
        matches!(&e, AuditError::InputFileDiffers(d) if d.file == "lic/b.jsonl"),
        "{e:?}"
    );
    assert!(e.to_string().contains("different contents"), "{e}");
    // The same files everywhere merge fine.
    let s0 = run(0);
    assert!(merge(vec![s0, run(1)]).is_ok());
}

/// Runs `small_manifest(paths)` over `dir` unsharded and in 2 merged shards (which must agree)
/// and returns the report of the single source.
fn lic_report(dir: &Path, paths: &str) -> (AuditState, AuditReport) {
    let m = small_manifest(paths);
    let single = run_audit(&m, dir, &MarkerScanner, RunOptions::default()).unwrap();
    let shards: Vec<AuditState> = (0..2)
        .map(|i| {
            let o = RunOptions {
                shard: Some((i, 2)),
                ..Default::default()
            };
            run_audit(&m, dir, &MarkerScanner, o).unwrap()
        })
        .collect();
    assert_eq!(unsharded(merge(shards).unwrap()), single);
    let r = finish(&single, vec![], &fixed());
    (single, r)
}

#[test]
fn a_file_lost_whole_or_cut_off_fails_the_read_error_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("ok/a.jsonl"), jsonl_lines(200, "ok").as_bytes());
    // The clean source passes.
    let (_, r) = lic_report(d, r#"paths = ["ok"]"#);
    assert_eq!(check(&r.sources[0], "read_errors"), Verdict::Pass);
    assert!(r.sources[0].read_errors.incomplete_files.is_empty());

    // A Parquet file without the configured text column: 3000 rows unread, one read error in
    // 201 (0.5%, under the 1% limit).
    write(&d.join("pq/a.jsonl"), jsonl_lines(200, "pq").as_bytes());
    let schema = Arc::new(Schema::new(vec![Field::new("body", DataType::Utf8, true)]));
    let texts = StringArray::from_iter_values((0..3000).map(|i| format!("row {i}")));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(texts) as ArrayRef]).unwrap();
    let f = std::fs::File::create(d.join("pq/b.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    // A truncated .jsonl.gz: about half of its 2000 lines lost, one decompress error.
    let gz = gzip(jsonl_lines(2000, "gz").as_bytes());
    write(&d.join("gz/a.jsonl.gz"), &gz[..gz.len() / 2]);

    for (paths, file, kind) in [
        (r#"paths = ["pq"]"#, "pq/b.parquet", "missing_field"),
        (r#"paths = ["gz"]"#, "gz/a.jsonl.gz", "decompress"),
    ] {
        let (state, r) = lic_report(d, paths);
        let s = &r.sources[0];
        assert_eq!(s.read_errors.count, 1, "{file}");
        assert!(s.read_errors.rate.unwrap() < 0.01, "{file}");
        assert_eq!(check(s, "read_errors"), Verdict::Fail, "{file}");
        assert_eq!(s.verdict, Verdict::Fail, "{file}");
        let c = s.checks.iter().find(|c| c.id == "read_errors").unwrap();
        assert!(c.observed.contains(file), "{}", c.observed);
        assert_eq!(state.sources[0].incomplete_files.len(), 1, "{file}");
        assert_eq!(&*s.read_errors.incomplete_files[0].file, file);
        assert_eq!(s.read_errors.incomplete_files[0].kind.as_str(), kind);
        let f: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.rule_code == rules::FILE_NOT_READ_COMPLETELY)
            .collect();
        assert_eq!(f.len(), 1, "{file}");
        assert!(
            f[0].message.contains(file) && f[0].message.contains(kind),
            "{}",
            f[0].message
        );
        assert_eq!(r.verdict, Verdict::Fail);
    }
}

#[test]
fn absurd_thread_counts_are_capped() {
    use hegui_audit::scan::{worker_threads, MAX_THREADS_PER_CORE};
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(worker_threads(0), cores);
    assert_eq!(worker_threads(1), 1);
    assert_eq!(worker_threads(100_000), cores * MAX_THREADS_PER_CORE);
    assert_eq!(worker_threads(usize::MAX), cores * MAX_THREADS_PER_CORE);

    // And a run asking for 100000 threads on a tiny corpus finishes with the usual result.
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("lic/a.jsonl"),
        jsonl_lines(20, "a").as_bytes(),
    );
    let m = small_manifest(r#"paths = ["lic"]"#);
    let run = |threads| {
        let o = RunOptions {
            threads,
            ..Default::default()
        };
        run_audit(&m, dir.path(), &MarkerScanner, o).unwrap()
    };
    assert_eq!(run(100_000), run(1));
}

/// The review policy that scanned is kept in the state and the report, and shards scanned
/// under different policies are not merged (their harmful rates would not add up).
#[test]
fn merge_refuses_shards_scanned_under_different_policies() {
    struct Versioned(&'static str);
    impl Scanner for Versioned {
        fn scan(&self, text: &str) -> hegui_audit::scan::ScanResult {
            MarkerScanner.scan(text)
        }
        fn version(&self) -> String {
            self.0.to_string()
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let m = small_manifest(r#"paths = ["lic"]"#);
    write(
        &dir.path().join("lic/a.jsonl"),
        jsonl_lines(50, "a").as_bytes(),
    );
    let run = |i, scanner: &Versioned| {
        run_audit(
            &m,
            dir.path(),
            scanner,
            RunOptions {
                shard: Some((i, 2)),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let s0 = run(0, &Versioned("lex-aaaa"));
    assert_eq!(s0.scanner, "lex-aaaa");
    let e = merge(vec![s0.clone(), run(1, &Versioned("lex-bbbb"))]).unwrap_err();
    assert!(
        e.to_string().contains("lex-aaaa") && e.to_string().contains("lex-bbbb"),
        "{e}"
    );
    let merged = merge(vec![s0, run(1, &Versioned("lex-aaaa"))]).unwrap();
    assert_eq!(merged.scanner, "lex-aaaa");
}
