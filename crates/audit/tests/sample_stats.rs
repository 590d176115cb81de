#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use hegui_audit::dedup::{self, hash_item, near_clusters, normalize, DedupState};
use hegui_audit::sample::{
    self, allocate, export_csv, export_jsonl, import_annotations, import_annotations_file,
    AnnotationFormat, BottomK, SampleEntry,
};
use hegui_audit::stats::{
    majority_script, script_and_length, wilson, LengthHistogram, RateCi, Script, ScriptMix,
};
use hegui_audit::{finish, run_audit, FinishOptions, Manifest, RunOptions, Verdict};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-4
}

#[test]
fn wilson_known_values() {
    let i = wilson(0, 10);
    assert!(close(i.low, 0.0) && close(i.high, 0.2775), "{i:?}");
    let i = wilson(5, 10);
    assert!(close(i.low, 0.2366) && close(i.high, 0.7634), "{i:?}");
    let i = wilson(96, 100);
    assert!(close(i.low, 0.9016) && close(i.high, 0.9843), "{i:?}");
    let i = wilson(10, 10);
    assert!(close(i.low, 0.7225) && close(i.high, 1.0), "{i:?}");
    let i = wilson(0, 0);
    assert_eq!((i.low, i.high), (0.0, 1.0));
    let r = RateCi::new(3, 0);
    assert_eq!(r.rate, None);
    let r = RateCi::new(1, 4);
    assert_eq!(r.rate, Some(0.25));
}

#[test]
fn length_histogram_is_mergeable_and_gives_bucket_quantiles() {
    let mut all = LengthHistogram::default();
    let mut a = LengthHistogram::default();
    let mut b = LengthHistogram::default();
    for len in 0..1000u64 {
        all.add(len);
        if len % 3 == 0 {
            a.add(len)
        } else {
            b.add(len)
        }
    }
    let mut m = a.clone();
    m.merge(&b);
    assert_eq!(m, all);
    assert_eq!(all.count, 1000);
    assert_eq!(all.min, Some(0));
    assert_eq!(all.max, 999);
    let (lo, hi) = all.quantile(0.5).unwrap();
    assert!(lo <= 499 && 499 <= hi, "{lo}..{hi}");
    let (lo, hi) = all.quantile(0.99).unwrap();
    assert!(lo <= 989 && 989 <= hi, "{lo}..{hi}");
    assert_eq!(hi, 999);
    assert!(LengthHistogram::default().quantile(0.5).is_none());
}

#[test]
fn scripts() {
    assert_eq!(majority_script("中华人民共和国 PRC"), Script::Han);
    assert_eq!(majority_script("The quick brown fox 狐狸"), Script::Latin);
    assert_eq!(majority_script("Привет мир"), Script::Other);
    assert_eq!(majority_script("12345 !!! 😀"), Script::None);
    assert_eq!(majority_script("ＡＢＣ"), Script::Latin);
    for t in ["", "中华人民共和国 PRC", "Привет мир", "好😀…ß e\u{301}"] {
        assert_eq!(
            script_and_length(t),
            (majority_script(t), t.chars().count() as u64),
            "{t:?}"
        );
    }
    let mut m = ScriptMix::default();
    m.add(Script::Han);
    m.add(Script::None);
    assert_eq!(m.total(), 2);
}

#[test]
fn dedup_exact_and_near() {
    assert_eq!(normalize("  a \t b\n\nc  "), "a b c");
    let base = "人工智能生成内容的标识办法于二零二五年九月一日起施行，要求服务提供者添加显式标识和隐式标识，以便公众识别。";
    assert_eq!(
        hash_item(base).exact,
        hash_item(&format!("  {base}\n")).exact
    );
    let near = base.replace("公众", "大众");
    let a = hash_item(base).simhash;
    let b = hash_item(&near).simhash;
    let other =
        hash_item("Completely different English sentence about the weather in spring.").simhash;
    assert!(
        (a ^ b).count_ones() <= 12,
        "similar texts should have close simhashes"
    );
    assert!((a ^ other).count_ones() > 3);

    // Planted: 3 near-identical values (distance 1 and 2), 1 far value.
    let x = 0x0123_4567_89ab_cdefu64;
    let mut v = vec![x, x ^ 1, x ^ (1 << 40) ^ (1 << 63), !x];
    v.sort();
    assert_eq!(near_clusters(&v), 2);
    // Chains are transitive: x ~ x^1 ~ x^1^2 ~ ... (each step 1 bit, the ends 6 apart)
    let mut chain: Vec<u64> = (0..7).map(|k| x ^ ((1u64 << k) - 1)).collect();
    chain.sort();
    assert_eq!(near_clusters(&chain), 1);
    // 4 bits apart is not near.
    let mut far = vec![x, x ^ 0b1111];
    far.sort();
    assert_eq!(near_clusters(&far), 2);

    let mut s1 = DedupState::default();
    let mut s2 = DedupState::default();
    for t in ["a", "a", "b", "shared"] {
        s1.push(hash_item(t));
    }
    for t in ["shared", "c", " c "] {
        s2.push(hash_item(t));
    }
    s1.canonicalize();
    s2.canonicalize();
    let (per, corpus) = dedup::analyze(&[&s1, &s2]);
    assert_eq!(per[0].exact_duplicates, 1);
    assert_eq!(per[0].cross_source_exact, 1);
    assert_eq!(per[1].exact_duplicates, 1);
    assert_eq!(per[1].cross_source_exact, 1);
    assert_eq!(corpus.items, 7);
    assert_eq!(corpus.exact_duplicates, 3); // a, shared, c
    assert!(corpus.near_duplicates >= 3);
    // Compact JSON round trip.
    let j = serde_json::to_string(&s1).unwrap();
    assert!(j.len() < 160, "{j}"); // 4 items: 2 × 43 base64 chars
    let back: DedupState = serde_json::from_str(&j).unwrap();
    assert_eq!(back, s1);
}

fn entry(key: u64, line: u64) -> SampleEntry {
    SampleEntry {
        key,
        file: Arc::from("f"),
        line,
        text: format!("t{line}"),
    }
}

#[test]
fn bottom_k_merge_is_exact() {
    let mut rng = XorShift(42);
    let keys: Vec<u64> = (0..5000).map(|_| rng.next() >> rng.below(8)).collect();
    let mut single = BottomK::new(100);
    for (i, &k) in keys.iter().enumerate() {
        single.offer(entry(k, i as u64));
    }
    single.canonicalize();
    for parts in 2..6u64 {
        let mut shards: Vec<BottomK> = (0..parts).map(|_| BottomK::new(100)).collect();
        for (i, &k) in keys.iter().enumerate() {
            shards[(k % parts) as usize].offer(entry(k, i as u64));
        }
        let mut it = shards.into_iter().rev();
        let mut m = it.next().unwrap();
        for s in it {
            m.merge(s);
        }
        m.canonicalize();
        assert_eq!(m, single, "parts = {parts}");
    }
    let mut sorted = keys.clone();
    sorted.sort();
    let got: Vec<u64> = single.entries().iter().map(|e| e.key).collect();
    assert_eq!(got, sorted[..100].to_vec());
}

#[test]
fn allocation_is_proportional_with_a_floor() {
    assert_eq!(allocate(&[9000, 900, 100], 4000, 100), vec![3600, 360, 100]);
    assert_eq!(allocate(&[9000, 900, 40], 4000, 100), vec![3622, 363, 40]);
    assert_eq!(allocate(&[10, 20], 4000, 100), vec![10, 20]);
    assert_eq!(allocate(&[0, 0], 4000, 100), vec![0, 0]);
    let a = allocate(&[3333, 3333, 3334], 4000, 0);
    assert!(a.iter().sum::<u64>() >= 4000);
}

fn corpus(dir: &std::path::Path, seed: u64) -> Manifest {
    let mut a = String::new();
    for i in 0..3000 {
        a.push_str(&format!("{{\"text\":\"新闻条目 {i} 关于天气\"}}\n"));
    }
    write(&dir.join("a.jsonl"), a.as_bytes());
    let mut b = String::from("text\n");
    for i in 0..1200 {
        b.push_str(&format!("forum post {i}\n"));
    }
    write(&dir.join("b.csv.gz"), &gzip(b.as_bytes()));
    let text = format!(
        "[audit]\nseed = {seed}\nsample_size = 4000\nmin_per_source = 100\n\
         [[source]]\nname = \"news\"\norigin = \"synthetic\"\npaths = [\"a.jsonl\"]\n\
         [[source]]\nname = \"forum\"\norigin = \"synthetic\"\npaths = [\"b.csv.gz\"]\n"
    );
    Manifest::from_toml_str(&text).unwrap()
}

#[test]
fn same_seed_same_sample_other_seed_other_sample() {
    let dir = tempfile::tempdir().unwrap();
    let m = corpus(dir.path(), 7);
    let s1 = run_audit(&m, dir.path(), &MarkerScanner, RunOptions::default())
        .unwrap()
        .sample();
    let s2 = run_audit(
        &m,
        dir.path(),
        &MarkerScanner,
        RunOptions {
            threads: 1,
            ..Default::default()
        },
    )
    .unwrap()
    .sample();
    assert_eq!(s1, s2);
    assert_eq!(s1.items.len(), 4001); // ceil(4000*3000/4200) + ceil(4000*1200/4200) = 2858 + 1143
    let m2 = corpus(dir.path(), 8);
    let s3 = run_audit(&m2, dir.path(), &MarkerScanner, RunOptions::default())
        .unwrap()
        .sample();
    assert_ne!(s1.items, s3.items);
    // Stratified: per source as allocated, ids unique.
    let news = s1.items.iter().filter(|i| i.source == "news").count();
    let forum = s1.items.iter().filter(|i| i.source == "forum").count();
    assert_eq!((news, forum), (2858, 1143));
    let mut ids: Vec<&str> = s1.items.iter().map(|i| i.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), s1.items.len());
    // Keys are reproducible from (seed, source, file, line).
    let it = &s1.items[0];
    assert_eq!(
        sample::sample_id(sample::sample_key(7, &it.source, &it.file, it.line)),
        it.id
    );
}

#[test]
fn annotation_round_trip_csv_and_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let m = corpus(dir.path(), 11);
    let state = run_audit(&m, dir.path(), &MarkerScanner, RunOptions::default()).unwrap();
    let sample = state.sample();
    let n = sample.items.len();

    // CSV: export, fill verdicts with a spreadsheet-like rewrite.
    let csv_path = dir.path().join("sample.csv");
    export_csv(&sample, std::fs::File::create(&csv_path).unwrap()).unwrap();
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(
        headers
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}'))
            .collect::<Vec<_>>(),
        vec!["id", "source", "file", "line", "text", "verdict", "note"]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), n);
    let filled = dir.path().join("filled.csv");
    let mut w = csv::Writer::from_path(&filled).unwrap();
    w.write_record(&headers).unwrap();
    let mut expected_fail = 0u64;
    let mut expected_pass = 0u64;
    for (i, r) in rows.iter().enumerate() {
        let verdict = match i {
            5 => "maybe", // bad verdict → line 7
            6 => "",      // missing verdict → line 8
            _ if i % 25 == 0 => {
                expected_fail += 1;
                if i % 2 == 0 {
                    "FAIL"
                } else {
                    "不通过"
                }
            }
            _ => {
                expected_pass += 1;
                if i % 3 == 0 {
                    "通过"
                } else {
                    " Pass "
                }
            }
        };
        let mut rec: Vec<String> = r.iter().map(str::to_owned).collect();
        rec[5] = verdict.to_owned();
        w.write_record(&rec).unwrap();
    }
    w.write_record(["ffffffffffffffff", "x", "y", "1", "z", "pass", ""])
        .unwrap(); // unknown id
    w.write_record(
        rows[10]
            .iter()
            .enumerate()
            .map(|(j, f)| if j == 5 { "fail" } else { f }),
    )
    .unwrap(); // duplicate
    w.flush().unwrap();
    drop(w);
    let res = import_annotations_file(&filled, &sample).unwrap();
    assert_eq!(res.sample_size, n as u64);
    assert_eq!(res.annotated, expected_pass + expected_fail);
    assert_eq!(res.overall.count, expected_pass);
    assert_eq!(res.unannotated, 2);
    let bad_lines: Vec<u64> = res.bad_rows.iter().map(|b| b.line).collect();
    assert_eq!(bad_lines, vec![7, 8, n as u64 + 3]);
    assert!(res.bad_rows[0].problem.contains("maybe"));
    assert!(res.bad_rows[2].problem.contains("duplicate"));
    assert_eq!(res.unknown_ids.len(), 1);
    assert_eq!(res.unknown_ids[0].line, n as u64 + 2);
    let p = expected_pass as f64 / (expected_pass + expected_fail) as f64;
    assert!((res.overall.rate.unwrap() - p).abs() < 1e-12);
    let ci = wilson(expected_pass, expected_pass + expected_fail);
    assert_eq!(res.overall.ci95_low, Some(ci.low));
    assert_eq!(res.per_source.len(), 2);
    assert_eq!(
        res.per_source.values().map(|r| r.total).sum::<u64>(),
        res.annotated
    );

    // The report uses it: 96% pass needed; here 1 in 25 fails → 96%.
    let report = finish(
        &state,
        vec![],
        &FinishOptions {
            manual: Some(res.clone()),
            ..Default::default()
        },
    );
    let c = report
        .checks
        .iter()
        .find(|c| c.id == "manual_pass_rate")
        .unwrap();
    assert_eq!(
        c.verdict,
        if res.overall.rate.unwrap() >= 0.96 {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    );
    let c = report
        .checks
        .iter()
        .find(|c| c.id == "manual_sample_size")
        .unwrap();
    // 4001 drawn, 2 left unannotated: 3999 < 4000, so the manual sample is too small.
    assert_eq!(c.verdict, Verdict::Fail, "{}", c.observed);
    assert!(c.observed.starts_with("3999 of 4001"), "{}", c.observed);

    // JSONL: export, fill every verdict.
    let mut buf = Vec::new();
    export_jsonl(&sample, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["verdict"], "");
        v["verdict"] = if i < 10 { "fail".into() } else { "pass".into() };
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out.push_str("not json\n");
    let res = import_annotations(out.as_bytes(), AnnotationFormat::Jsonl, &sample).unwrap();
    assert_eq!(res.annotated, n as u64);
    assert_eq!(res.overall.count, n as u64 - 10);
    assert_eq!(res.bad_rows.len(), 1);
    assert_eq!(res.bad_rows[0].line, n as u64 + 1);
}

#[test]
fn csv_export_neutralises_formulas() {
    let s = sample::Sample {
        seed: 1,
        items: vec![sample::SampleItem {
            id: "00".into(),
            source: "s".into(),
            file: "f".into(),
            line: 1,
            text: "=HYPERLINK(\"x\")".into(),
        }],
    };
    let mut buf = Vec::new();
    export_csv(&s, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(text.contains("'=HYPERLINK"), "{text}");
}

/// The classic SimHash definition, one signed counter per bit, as the reference.
fn reference_simhash(norm: &str) -> u64 {
    let lower = norm.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let shingles: Vec<String> = if chars.len() <= dedup::SHINGLE {
        vec![lower.clone()]
    } else {
        chars
            .windows(dedup::SHINGLE)
            .map(|w| w.iter().collect())
            .collect()
    };
    let mut counters = [0i64; 64];
    for s in &shingles {
        let h = xxhash_rust::xxh3::xxh3_64(s.as_bytes());
        for (b, c) in counters.iter_mut().enumerate() {
            *c += if (h >> b) & 1 == 1 { 1 } else { -1 };
        }
    }
    counters
        .iter()
        .enumerate()
        .fold(0, |acc, (b, &c)| if c > 0 { acc | (1 << b) } else { acc })
}

#[test]
fn bit_sliced_simhash_matches_the_reference_definition() {
    let mut rng = XorShift(3);
    for len in [0usize, 1, 4, 5, 6, 7, 50, 300, 3000] {
        for _ in 0..5 {
            let t: String = (0..len)
                .map(|_| match rng.below(3) {
                    0 => char::from_u32(0x4e00 + rng.below(50) as u32).unwrap(),
                    1 => char::from(b'A' + rng.below(26) as u8),
                    _ => ' ',
                })
                .collect();
            let norm = normalize(&t);
            assert_eq!(
                dedup::simhash_normalized(&norm),
                reference_simhash(&norm),
                "len {len}: {norm:?}"
            );
        }
    }
}

#[test]
fn annotation_import_line_numbers_are_the_same_with_crlf_and_lf() {
    let dir = tempfile::tempdir().unwrap();
    let m = corpus(dir.path(), 11);
    let state = run_audit(&m, dir.path(), &MarkerScanner, RunOptions::default()).unwrap();
    let sample = state.sample();
    let id = |i: usize| sample.items[i].id.clone();
    // Bad verdicts on lines 3, 5 (a record spanning lines 5-6) and 8, after a blank line 4 and
    // a record on line 7.
    let lines = [
        "id,verdict,note".to_owned(),
        format!("{},pass,", id(0)),
        format!("{},maybe,", id(1)),
        String::new(),
        format!("{},maybe,\"two", id(2)),
        "line note\"".to_owned(),
        format!("{},fail,x", id(3)),
        format!("{},maybe,x", id(4)),
    ];
    for eol in ["\n", "\r\n"] {
        let text = lines.join(eol) + eol;
        let res = import_annotations(text.as_bytes(), AnnotationFormat::Csv, &sample).unwrap();
        let bad: Vec<u64> = res.bad_rows.iter().map(|b| b.line).collect();
        assert_eq!(bad, vec![3, 5, 8], "line end {eol:?}");
        assert_eq!(res.annotated, 2, "line end {eol:?}");
    }
}
