#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema};
use common::*;
use hegui_audit::manifest::{Format, TxtMode};
use hegui_audit::read::{resolve_paths, FileReader, ReadOptions, Record};
use hegui_audit::ReadErrorKind as K;
use parquet::arrow::ArrowWriter;

fn opts() -> ReadOptions {
    ReadOptions::default()
}

#[test]
fn jsonl_fields_blank_lines_crlf_bom_and_every_malformed_kind() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.jsonl");
    let mut data = Vec::new();
    data.extend_from_slice(b"\xEF\xBB\xBF{\"text\":\"first\"}\r\n"); // 1 BOM + CRLF
    data.extend_from_slice(b"\n"); // 2 blank
    data.extend_from_slice(b"{\"text\":\"\xe4\xbd\xa0\xe5\xa5\xbd\"}\n"); // 3 Chinese
    data.extend_from_slice(b"{\"other\":1}\n"); // 4 missing
    data.extend_from_slice(b"{\"text\":42}\n"); // 5 non-string
    data.extend_from_slice(b"{\"text\": \"unterminated\n"); // 6 invalid JSON
    data.extend_from_slice(b"{\"text\":\"bad \xff utf8\"}\n"); // 7 invalid UTF-8
    data.extend_from_slice(b"[1,2]\n"); // 8 not an object
    data.extend_from_slice(b"{\"text\":null}\n"); // 9 null
    data.extend_from_slice(b"{\"text\":\"   \"}\n"); // 10 whitespace text = blank
    data.extend_from_slice(b"{\"text\":\"last, no newline\"}"); // 11
    write(&p, &data);
    let recs = read_all(&p, "a.jsonl", &opts());
    assert_eq!(
        items(&recs),
        vec![
            (1, "first".into()),
            (3, "你好".into()),
            (11, "last, no newline".into())
        ]
    );
    assert_eq!(
        errors(&recs),
        vec![
            (Some(4), K::MissingField),
            (Some(5), K::NonStringField),
            (Some(6), K::InvalidJson),
            (Some(7), K::InvalidUtf8),
            (Some(8), K::MissingField),
            (Some(9), K::MissingField),
        ]
    );
    let blanks: Vec<u64> = recs
        .iter()
        .filter_map(|r| {
            if let Record::Blank { line } = r {
                Some(*line)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(blanks, vec![2, 10]);
}

#[test]
fn jsonl_dotted_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.ndjson");
    write(
        &p,
        b"{\"data\":{\"text\":\"deep\"}}\n{\"data\":\"flat\"}\n{\"data\":{\"txt\":\"x\"}}\n{\"data\":{\"text\":[1]}}\n",
    );
    let o = ReadOptions {
        text_field: "data.text".into(),
        ..opts()
    };
    let recs = read_all(&p, "a.ndjson", &o);
    assert_eq!(items(&recs), vec![(1, "deep".into())]);
    assert_eq!(
        errors(&recs),
        vec![
            (Some(2), K::MissingField),
            (Some(3), K::MissingField),
            (Some(4), K::NonStringField)
        ]
    );
}

#[test]
fn lossy_utf8_keeps_the_item_and_counts_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.txt");
    write(&p, b"ok\nbad \xff here\n");
    let strict = read_all(&p, "a.txt", &opts());
    assert_eq!(items(&strict), vec![(1, "ok".into())]);
    assert_eq!(errors(&strict), vec![(Some(2), K::InvalidUtf8)]);
    let lossy = read_all(
        &p,
        "a.txt",
        &ReadOptions {
            lossy_utf8: true,
            ..opts()
        },
    );
    assert_eq!(
        items(&lossy),
        vec![(1, "ok".into()), (2, "bad \u{FFFD} here".into())]
    );
    assert_eq!(errors(&lossy), vec![(Some(2), K::InvalidUtf8)]);
}

#[test]
fn txt_line_and_file_modes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.txt");
    write(&p, "一\n\n  \nthree\n".as_bytes());
    assert_eq!(
        items(&read_all(&p, "a.txt", &opts())),
        vec![(1, "一".into()), (4, "three".into())]
    );
    let whole = read_all(
        &p,
        "a.txt",
        &ReadOptions {
            txt_mode: TxtMode::File,
            ..opts()
        },
    );
    assert_eq!(items(&whole), vec![(1, "一\n\n  \nthree\n".into())]);
    let tiny = read_all(
        &p,
        "a.txt",
        &ReadOptions {
            txt_mode: TxtMode::File,
            max_item_bytes: 4,
            ..opts()
        },
    );
    assert_eq!(errors(&tiny), vec![(Some(1), K::TooLarge)]);
}

#[test]
fn long_lines_are_errors_and_reading_continues() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.txt");
    let mut data = "x".repeat(100);
    data.push_str("\nshort\n");
    write(&p, data.as_bytes());
    let recs = read_all(
        &p,
        "a.txt",
        &ReadOptions {
            max_item_bytes: 50,
            ..opts()
        },
    );
    assert_eq!(errors(&recs), vec![(Some(1), K::TooLarge)]);
    assert_eq!(items(&recs), vec![(2, "short".into())]);
}

#[test]
fn gzip_and_zstd_by_extension_and_by_magic() {
    let dir = tempfile::tempdir().unwrap();
    let body = b"{\"text\":\"a\"}\n{\"text\":\"b\"}\n";
    let cases = [
        ("x.jsonl.gz", gzip(body)),
        ("x.jsonl.zst", zstd_bytes(body)),
        ("gz-without-ext.jsonl", gzip(body)),
        ("zst-without-ext.jsonl", zstd_bytes(body)),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        write(&p, &bytes);
        let recs = read_all(&p, name, &opts());
        assert_eq!(
            items(&recs),
            vec![(1, "a".into()), (2, "b".into())],
            "{name}"
        );
        assert!(errors(&recs).is_empty(), "{name}");
    }
    // Two concatenated gzip members are one stream.
    let mut two = gzip(b"one\n");
    two.extend(gzip(b"two\n"));
    let p = dir.path().join("multi.txt.gz");
    write(&p, &two);
    assert_eq!(
        items(&read_all(&p, "multi.txt.gz", &opts())),
        vec![(1, "one".into()), (2, "two".into())]
    );
}

#[test]
fn broken_compressed_streams_are_errors_with_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::new();
    for i in 0..5000 {
        body.push_str(&format!("{{\"text\":\"line {i} {}\"}}\n", i * 7919 % 10007));
    }
    let gz = gzip(body.as_bytes());
    let zs = zstd_bytes(body.as_bytes());
    for (name, bytes) in [
        ("t.jsonl.gz", &gz[..gz.len() / 2]),
        ("t.jsonl.zst", &zs[..zs.len() / 2]),
    ] {
        let p = dir.path().join(name);
        write(&p, bytes);
        let recs = read_all(&p, name, &opts());
        let errs = errors(&recs);
        assert_eq!(errs.len(), 1, "{name}: {errs:?}");
        assert_eq!(errs[0].1, K::Decompress, "{name}");
        let n = items(&recs).len() as u64;
        assert!(n < 5000, "{name}");
        assert_eq!(
            errs[0].0,
            Some(n + 1),
            "{name}: the error is on the line after the last item"
        );
    }
    // Corrupt in the middle (flip bytes).
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let p = dir.path().join("c.jsonl.gz");
    write(&p, &bad);
    let recs = read_all(&p, "c.jsonl.gz", &opts());
    assert!(errors(&recs)
        .iter()
        .any(|e| e.1 == K::Decompress || e.1 == K::InvalidUtf8 || e.1 == K::InvalidJson));
    // Extension says gzip, content is not.
    let p = dir.path().join("fake.jsonl.gz");
    write(&p, b"{\"text\":\"plain\"}\n");
    assert_eq!(
        errors(&read_all(&p, "fake.jsonl.gz", &opts())),
        vec![(None, K::Decompress)]
    );
}

#[test]
fn csv_and_tsv_with_quoted_multiline_fields() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.csv");
    write(
        &p,
        "\u{feff}id,text\n1,hello\n2,\"multi\nline\"\n3\n4,\"bad \u{1}\"\n5,\"a, b\"\n".as_bytes(),
    );
    let recs = read_all(&p, "a.csv", &opts());
    assert_eq!(
        items(&recs),
        vec![
            (2, "hello".into()),
            (3, "multi\nline".into()),
            (6, "bad \u{1}".into()),
            (7, "a, b".into())
        ]
    );
    assert_eq!(errors(&recs), vec![(Some(5), K::MissingField)]);

    let p = dir.path().join("a.tsv");
    write(&p, b"content\tlabel\nx\t1\ny \xff\t2\n");
    let recs = read_all(
        &p,
        "a.tsv",
        &ReadOptions {
            text_field: "content".into(),
            ..opts()
        },
    );
    assert_eq!(items(&recs), vec![(2, "x".into())]);
    assert_eq!(errors(&recs), vec![(Some(3), K::InvalidUtf8)]);

    // Missing column: one whole-file error at the header line.
    let recs = read_all(&p, "a.tsv", &opts());
    assert_eq!(errors(&recs), vec![(Some(1), K::MissingField)]);
    // gzip CSV
    let p = dir.path().join("b.csv.gz");
    write(&p, &gzip(b"text\nz\n"));
    assert_eq!(
        items(&read_all(&p, "b.csv.gz", &opts())),
        vec![(2, "z".into())]
    );
    // empty CSV: nothing, no error
    let p = dir.path().join("empty.csv");
    write(&p, b"");
    assert!(read_all(&p, "empty.csv", &opts()).is_empty());
}

fn write_parquet(path: &std::path::Path, rows: usize) {
    let text: StringArray = (0..rows)
        .map(|i| {
            if i == 3 {
                None
            } else {
                Some(format!("row {i}"))
            }
        })
        .collect();
    let ids = Int64Array::from_iter_values(0..rows as i64);
    let body: StringArray = (0..rows).map(|i| Some(format!("body {i}"))).collect();
    let meta = StructArray::new(
        Fields::from(vec![Field::new("body", DataType::Utf8, true)]),
        vec![Arc::new(body) as ArrayRef],
        None,
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
        Field::new("meta", meta.data_type().clone(), true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(ids) as ArrayRef,
            Arc::new(text) as ArrayRef,
            Arc::new(meta) as ArrayRef,
        ],
    )
    .unwrap();
    let f = std::fs::File::create(path).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(4))
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(f, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn parquet_columns_nulls_structs_types_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.parquet");
    write_parquet(&p, 10);
    let small_batches = ReadOptions {
        parquet_batch_rows: 3,
        ..opts()
    };
    let recs = read_all(&p, "d.parquet", &small_batches);
    let got = items(&recs);
    assert_eq!(got.len(), 9);
    assert_eq!(got[0], (0, "row 0".into()));
    assert_eq!(got[8], (9, "row 9".into()));
    assert_eq!(errors(&recs), vec![(Some(3), K::MissingField)]);

    let nested = read_all(
        &p,
        "d.parquet",
        &ReadOptions {
            text_field: "meta.body".into(),
            ..opts()
        },
    );
    assert_eq!(items(&nested).len(), 10);
    assert_eq!(items(&nested)[4], (4, "body 4".into()));

    let wrong = read_all(
        &p,
        "d.parquet",
        &ReadOptions {
            text_field: "id".into(),
            ..opts()
        },
    );
    assert_eq!(errors(&wrong).len(), 10);
    assert!(errors(&wrong).iter().all(|e| e.1 == K::NonStringField));

    let missing = read_all(
        &p,
        "d.parquet",
        &ReadOptions {
            text_field: "nope".into(),
            ..opts()
        },
    );
    assert_eq!(errors(&missing), vec![(None, K::MissingField)]);

    // Truncated: the footer is gone.
    let bytes = std::fs::read(&p).unwrap();
    let t = dir.path().join("t.parquet");
    write(&t, &bytes[..bytes.len() / 2]);
    assert_eq!(
        errors(&read_all(&t, "t.parquet", &opts())),
        vec![(None, K::Parquet)]
    );
    // Corrupt data pages with an intact footer: errors, never a panic.
    let mut corrupt = bytes.clone();
    for b in &mut corrupt[8..bytes.len() / 3] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    let c = dir.path().join("c.parquet");
    write(&c, &corrupt);
    let recs = read_all(&c, "c.parquet", &opts());
    assert!(!errors(&recs).is_empty());
}

#[test]
fn unknown_format_missing_file_and_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.md");
    write(&p, b"# hi\n");
    assert_eq!(
        errors(&read_all(&p, "notes.md", &opts())),
        vec![(None, K::UnknownFormat)]
    );
    let md_as_txt = read_all(
        &p,
        "notes.md",
        &ReadOptions {
            format: Some(Format::Txt),
            ..opts()
        },
    );
    assert_eq!(items(&md_as_txt), vec![(1, "# hi".into())]);
    let gone = dir.path().join("gone.txt");
    assert_eq!(
        errors(&read_all(&gone, "gone.txt", &opts())),
        vec![(None, K::Open)]
    );

    // SHA-256 covers the stored bytes even when decoding stopped early.
    let body = gzip(b"x\ny\n");
    let mut broken = body.clone();
    broken.truncate(body.len() - 6);
    broken.extend_from_slice(b"garbage-tail-garbage-tail");
    let g = dir.path().join("g.txt.gz");
    write(&g, &broken);
    let mut r = FileReader::open(Arc::from("s"), Arc::from("g.txt.gz"), &g, &opts());
    for _ in r.by_ref() {}
    let sum = r.finish();
    let (sha, bytes) = hegui_audit::read::sha256_file(&g).unwrap();
    assert_eq!(sum.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(sum.bytes, bytes);
    assert_eq!(bytes, broken.len() as u64);
}

#[test]
fn directories_globs_hidden_files_and_unmatched_entries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("data/b/2.txt"), b"b2\n");
    write(&d.join("data/a/1.txt"), b"a1\n");
    write(&d.join("data/a/.hidden.txt"), b"h\n");
    write(&d.join("data/z.jsonl"), b"{}\n");
    write(&d.join("more/x1.csv"), b"text\n1\n");
    write(&d.join("more/x2.csv"), b"text\n2\n");
    let r = resolve_paths(
        d,
        &[
            "data".into(),
            "more/*.csv".into(),
            "data/a/1.txt".into(),
            "nothing/*.txt".into(),
            "missing.txt".into(),
        ],
    );
    let rels: Vec<&str> = r.files.iter().map(|f| f.rel.as_str()).collect();
    assert_eq!(
        rels,
        vec![
            "data/a/1.txt",
            "data/b/2.txt",
            "data/z.jsonl",
            "more/x1.csv",
            "more/x2.csv"
        ]
    );
    assert_eq!(
        r.unmatched,
        vec!["nothing/*.txt".to_owned(), "missing.txt".to_owned()]
    );
}

#[test]
fn garbage_never_panics_in_any_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift(0x9e3779b97f4a7c15);
    let mut pq = Vec::new();
    let pqp = dir.path().join("ok.parquet");
    write_parquet(&pqp, 20);
    pq.extend(std::fs::read(&pqp).unwrap());
    for round in 0..40 {
        for ext in [
            "jsonl", "txt", "csv", "tsv", "parquet", "jsonl.gz", "csv.zst",
        ] {
            let len = rng.below(4000) as usize;
            let mut bytes: Vec<u8> = match ext {
                "jsonl.gz" => gzip(b"{\"text\":\"abc\"}\n{\"text\":\"def\"}\n"),
                "csv.zst" => zstd_bytes(b"text\nabc\n\"q\nq\"\n"),
                "parquet" => pq.clone(),
                _ => (0..len).map(|_| rng.next() as u8).collect(),
            };
            // Mutate a few bytes (and sometimes truncate) of the structured ones.
            if matches!(ext, "jsonl.gz" | "csv.zst" | "parquet") {
                for _ in 0..(1 + rng.below(8)) {
                    let i = rng.below(bytes.len() as u64) as usize;
                    bytes[i] = rng.next() as u8;
                }
                if rng.below(3) == 0 {
                    let cut = rng.below(bytes.len() as u64) as usize;
                    bytes.truncate(cut);
                }
            } else {
                // Sprinkle newlines, quotes and braces.
                for b in bytes.iter_mut() {
                    match *b % 16 {
                        0 => *b = b'\n',
                        1 => *b = b'"',
                        2 => *b = b'{',
                        _ => {}
                    }
                }
            }
            let name = format!("g{round}.{ext}");
            let p = dir.path().join(&name);
            write(&p, &bytes);
            let mut r = FileReader::open(Arc::from("s"), Arc::from(name.as_str()), &p, &opts());
            let n = r.by_ref().count();
            let _ = r.finish();
            assert!(n < 1_000_000);
        }
    }
}

#[test]
fn a_file_reached_by_two_spellings_is_listed_once_under_its_first_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("corpus/lic/a.csv"), b"text\n1\n2\n");
    write(&d.join("corpus/lic/b.csv"), b"text\n3\n");
    let abs = d.join("corpus/lic/a.csv").to_string_lossy().into_owned();
    let r = resolve_paths(
        d,
        &[
            "corpus/lic/a.csv".into(),
            "corpus/lic/../lic/a.csv".into(),
            abs,
            "corpus/lic/*.csv".into(),
            "corpus".into(),
        ],
    );
    let rels: Vec<&str> = r.files.iter().map(|f| f.rel.as_str()).collect();
    assert_eq!(rels, vec!["corpus/lic/a.csv", "corpus/lic/b.csv"]);
    assert!(r.unmatched.is_empty(), "{:?}", r.unmatched);
}

#[test]
fn csv_and_tsv_line_numbers_are_the_same_with_crlf_and_lf() {
    let dir = tempfile::tempdir().unwrap();
    // Items on lines 2, 4 (after a blank line 3), 5-6 (quoted newline), 8 (after a short row
    // on line 7) and 9 (last line, maybe without a line end).
    let csv_lines = [
        "\u{feff}id,text",
        "1,first",
        "",
        "2,second",
        "3,\"multi",
        "line\"",
        "4",
        "5,fifth",
        "6,last",
    ];
    let expected_items = vec![
        (2, "first".to_owned()),
        (4, "second".to_owned()),
        (5, "multi\nline".to_owned()),
        (8, "fifth".to_owned()),
        (9, "last".to_owned()),
    ];
    for eol in ["\n", "\r\n"] {
        for trailing in [true, false] {
            let mut text = csv_lines.join(eol);
            if trailing {
                text.push_str(eol);
            }
            let mut expected = expected_items.clone();
            if eol == "\r\n" {
                // A newline inside a quoted field is kept as written.
                expected[2].1 = "multi\r\nline".to_owned();
            }
            let p = dir.path().join("a.csv");
            write(&p, text.as_bytes());
            let recs = read_all(&p, "a.csv", &opts());
            let what = format!("line end {eol:?}, trailing {trailing}");
            assert_eq!(items(&recs), expected, "{what}");
            assert_eq!(errors(&recs), vec![(Some(7), K::MissingField)], "{what}");

            let tsv = text.replace(',', "\t");
            let p = dir.path().join("a.tsv.gz");
            write(&p, &gzip(tsv.as_bytes()));
            let recs = read_all(&p, "a.tsv.gz", &opts());
            assert_eq!(items(&recs), expected, "tsv, {what}");
        }
    }
}
