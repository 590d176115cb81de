#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::NaiveDate;
use common::write;
use hegui_audit::manifest::{check_sources_at, rules, Collected, Format, Origin, PiBasis, TxtMode};
use hegui_audit::{Manifest, ManifestError, Severity};

const FULL: &str = r#"
[audit]
seed = 20240601
sample_size = 5000
scan_fraction = 0.25

[audit.thresholds]
max_harmful_rate = 0.04

[[source]]
name = "web-zh"
origin = "web_crawl"
collection_method = "hegui-crawler 1.2"
collected = "2024-01-01..2024-03-31"
robots_respected = true
technical_measures_respected = true
pi_basis = "other_lawful_basis"
paths = ["web/*.jsonl.gz"]
text_field = "data.text"

[[source]]
name = "books"
origin = "licensed"
licence = "contract:BK-2024-017"
licence_allows_commercial_training = true
authorization_evidence = ["contract:BK-2024-017", "evidence/bk.pdf"]
collected = 2024-02-15
paths = ["books"]
format = "txt"
txt_mode = "file"
"#;

#[test]
fn parses_a_full_manifest_with_defaults() {
    let m = Manifest::from_toml_str(FULL).unwrap();
    assert_eq!(m.audit.seed, 20240601);
    assert_eq!(m.audit.sample_size, 5000);
    assert_eq!(m.audit.min_per_source, 100);
    assert!((m.audit.scan_fraction - 0.25).abs() < 1e-12);
    assert!((m.audit.thresholds.max_harmful_rate - 0.04).abs() < 1e-12);
    assert!((m.audit.thresholds.min_technical_pass_rate - 0.98).abs() < 1e-12);
    assert_eq!(m.audit.thresholds.min_manual_sample, 4000);
    assert_eq!(m.sources.len(), 2);
    let w = &m.sources[0];
    assert_eq!(w.origin, Origin::WebCrawl);
    assert_eq!(w.pi_basis, Some(PiBasis::OtherLawfulBasis));
    assert_eq!(w.text_field, "data.text");
    assert_eq!(
        w.collected,
        Some(Collected::Range {
            from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap()
        })
    );
    let b = &m.sources[1];
    assert_eq!(b.text_field, "text");
    assert_eq!(b.format, Some(Format::Txt));
    assert_eq!(b.txt_mode, TxtMode::File);
    assert_eq!(
        b.collected,
        Some(Collected::On(NaiveDate::from_ymd_opt(2024, 2, 15).unwrap()))
    );
    // Formatting does not change the fingerprint; content does.
    let reformatted = FULL.replace("seed = 20240601", "seed   =   20240601   # same");
    assert_eq!(
        Manifest::from_toml_str(&reformatted).unwrap().fingerprint(),
        m.fingerprint()
    );
    let changed = FULL.replace("seed = 20240601", "seed = 7");
    assert_ne!(
        Manifest::from_toml_str(&changed).unwrap().fingerprint(),
        m.fingerprint()
    );
}

#[test]
fn collected_accepts_arrays_tables_and_slash_ranges() {
    for v in [
        "[2024-01-01, 2024-02-01]",
        "{ from = 2024-01-01, to = 2024-02-01 }",
        "\"2024-01-01/2024-02-01\"",
        "{ from = \"2024-01-01\", to = \"2024-02-01\" }",
    ] {
        let t = format!("[audit]\nseed = 1\n[[source]]\nname = \"a\"\norigin = \"synthetic\"\npaths = [\"x\"]\ncollected = {v}\n");
        let m = Manifest::from_toml_str(&t).unwrap_or_else(|e| panic!("{v}: {e}"));
        assert!(
            matches!(m.sources[0].collected, Some(Collected::Range { .. })),
            "{v}"
        );
    }
}

fn invalid(text: &str) -> (String, Option<usize>, String) {
    match Manifest::from_toml_str(text).unwrap_err() {
        ManifestError::Invalid {
            key_path,
            line,
            message,
            ..
        } => (key_path, line, message),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn errors_name_the_key_path_and_line() {
    let base =
        "[audit]\nseed = 1\n\n[[source]]\nname = \"a\"\norigin = \"synthetic\"\npaths = [\"x\"]\n";
    let (path, line, msg) = invalid(&format!("{base}colour = \"red\"\n"));
    assert!(path.starts_with("source[0]"), "{path}");
    assert_eq!(line, Some(8)); // the unknown key's own line
    assert!(msg.contains("colour"), "{msg}");

    let (path, line, msg) = invalid(&base.replace("\"synthetic\"", "\"scraped\""));
    assert_eq!(path, "source[0].origin");
    assert_eq!(line, Some(6));
    assert!(msg.contains("web_crawl"), "{msg}");

    let (path, line, msg) =
        invalid(&base.replace("seed = 1\n", "seed = 1\nscan_fraction = 0.05\n"));
    assert_eq!(path, "audit.scan_fraction");
    assert_eq!(line, Some(3));
    assert!(msg.contains("10%"), "{msg}");

    let (path, _, msg) = invalid(&base.replace("paths = [\"x\"]", "paths = []"));
    assert_eq!(path, "source[0].paths");
    assert!(msg.contains("no paths"), "{msg}");

    let (path, _, msg) = invalid(&format!("{base}collected = \"2024-13-01\"\n"));
    assert_eq!(path, "source[0].collected");
    assert!(msg.contains("2024-13-01"), "{msg}");

    let (path, line, msg) = invalid(&format!(
        "{base}\n[[source]]\nname = \"a\"\norigin = \"synthetic\"\npaths = [\"y\"]\n"
    ));
    assert_eq!(path, "source[1].name");
    assert_eq!(line, Some(10));
    assert!(msg.contains("duplicate"), "{msg}");

    let (path, _, _) =
        invalid("[[source]]\nname = \"a\"\norigin = \"synthetic\"\npaths = [\"x\"]\n");
    assert!(
        path.is_empty() || path == "." || path.contains("audit"),
        "{path}"
    );

    let (path, _, msg) = invalid(&base.replace(
        "seed = 1",
        "seed = 1\n[audit.thresholds]\nmax_harmful_rate = 5",
    ));
    assert_eq!(path, "audit.thresholds.max_harmful_rate");
    assert!(msg.contains("between 0 and 1"), "{msg}");

    let e = Manifest::from_toml_str(&base.replace("\"synthetic\"", "\"scraped\""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("source[0].origin") && e.contains("line 6"),
        "{e}"
    );
}

#[test]
fn load_resolves_the_base_dir() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sub/audit.toml");
    write(&p, FULL.as_bytes());
    let (m, base) = Manifest::load(&p).unwrap();
    assert_eq!(m.sources.len(), 2);
    assert_eq!(base, dir.path().join("sub"));
    assert!(matches!(
        Manifest::load(&dir.path().join("none.toml")),
        Err(ManifestError::Io { .. })
    ));
}

fn codes(findings: &[hegui_audit::Finding], source: &str) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .filter(|f| f.source == source)
        .map(|f| f.rule_code.clone())
        .collect();
    v.sort();
    v
}

#[test]
fn every_legality_rule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("data/x.txt"), b"x\n");
    write(&d.join("evidence/ok.pdf"), b"%PDF");
    let common = "paths = [\"data\"]\ncollection_method = \"m\"\ncollected = \"2024-01-01\"\n";
    let text = format!(
        r#"[audit]
seed = 1
[audit.thresholds]
max_harmful_rate = 0.10
min_technical_pass_rate = 0.95

[[source]]
name = "clean-web"
origin = "web_crawl"
robots_respected = true
technical_measures_respected = true
{common}
[[source]]
name = "no-robots"
origin = "web_crawl"
{common}
[[source]]
name = "ignored-robots"
origin = "web_crawl"
robots_respected = false
technical_measures_respected = false
{common}
[[source]]
name = "nc"
origin = "open_dataset"
licence = "CC-BY-NC-SA-4.0"
{common}
[[source]]
name = "research"
origin = "open_dataset"
licence = "Research only"
{common}
[[source]]
name = "cn-nc"
origin = "open_dataset"
licence = "仅限研究使用"
{common}
[[source]]
name = "sa-ok"
origin = "open_dataset"
licence = "CC-BY-SA-4.0"
{common}
[[source]]
name = "forbidden"
origin = "licensed"
licence = "contract:42"
licence_allows_commercial_training = false
authorization_evidence = ["contract:42"]
{common}
[[source]]
name = "no-licence"
origin = "licensed"
{common}
[[source]]
name = "bad-evidence"
origin = "licensed"
licence = "contract:43"
licence_allows_commercial_training = true
authorization_evidence = ["evidence/ok.pdf", "evidence/missing.pdf", "contract:43"]
{common}
[[source]]
name = "users-no-basis"
origin = "user_data"
{common}
[[source]]
name = "users-none"
origin = "user_data"
pi_basis = "none_present"
authorization_evidence = ["policy:user-agreement-v3"]
{common}
[[source]]
name = "users-ok"
origin = "user_data"
pi_basis = "consent"
authorization_evidence = ["policy:user-agreement-v3"]
{common}
[[source]]
name = "no-files"
origin = "synthetic"
paths = ["data", "nothing/*.jsonl", "gone.txt"]
collection_method = "m"
collected = "2024-01-01"

[[source]]
name = "future"
origin = "synthetic"
paths = ["data"]
collection_method = "m"
collected = "2024-05-01..2099-01-01"

[[source]]
name = "inverted"
origin = "synthetic"
paths = ["data"]
collected = "2024-05-01..2024-01-01"

[[source]]
name = "undated"
origin = "synthetic"
paths = ["data"]
collection_method = " "
"#
    );
    let m = Manifest::from_toml_str(&text).unwrap();
    let f = check_sources_at(&m, d, NaiveDate::from_ymd_opt(2025, 6, 1).unwrap());
    use rules::*;
    assert!(
        codes(&f, "clean-web").is_empty(),
        "{:?}",
        codes(&f, "clean-web")
    );
    assert_eq!(
        codes(&f, "no-robots"),
        vec![ROBOTS_UNSTATED, TECH_MEASURES_UNSTATED]
    );
    assert_eq!(
        codes(&f, "ignored-robots"),
        vec![ROBOTS_IGNORED, TECH_MEASURES_BYPASSED]
    );
    assert_eq!(codes(&f, "nc"), vec![LICENCE_NONCOMMERCIAL]);
    assert_eq!(codes(&f, "research"), vec![LICENCE_NONCOMMERCIAL]);
    assert_eq!(codes(&f, "cn-nc"), vec![LICENCE_NONCOMMERCIAL]);
    assert!(codes(&f, "sa-ok").is_empty());
    assert_eq!(codes(&f, "forbidden"), vec![LICENCE_FORBIDS_TRAINING]);
    assert_eq!(
        codes(&f, "no-licence"),
        vec![
            EVIDENCE_MISSING,
            LICENCE_COMMERCIAL_UNSTATED,
            LICENCE_MISSING
        ]
    );
    assert_eq!(codes(&f, "bad-evidence"), vec![EVIDENCE_NOT_FOUND]);
    assert!(f
        .iter()
        .any(|x| x.source == "bad-evidence" && x.message.contains("evidence/missing.pdf")));
    assert_eq!(
        codes(&f, "users-no-basis"),
        vec![EVIDENCE_MISSING, PI_BASIS_MISSING]
    );
    assert_eq!(codes(&f, "users-none"), vec![PI_NONE_PRESENT_USER_DATA]);
    assert!(codes(&f, "users-ok").is_empty());
    assert_eq!(codes(&f, "no-files"), vec![PATH_NO_MATCH, PATH_NO_MATCH]);
    assert_eq!(codes(&f, "future"), vec![COLLECTED_IN_FUTURE]);
    assert_eq!(
        codes(&f, "inverted"),
        vec![COLLECTED_RANGE_INVERTED, COLLECTION_METHOD_MISSING]
    );
    assert_eq!(
        codes(&f, "undated"),
        vec![COLLECTED_MISSING, COLLECTION_METHOD_MISSING]
    );
    assert_eq!(codes(&f, "[audit]"), vec![THRESHOLD_LAXER, THRESHOLD_LAXER]);

    // Severities and actionable messages.
    let sev = |code: &str| f.iter().find(|x| x.rule_code == code).unwrap().severity;
    assert_eq!(sev(ROBOTS_UNSTATED), Severity::Error);
    assert_eq!(sev(TECH_MEASURES_UNSTATED), Severity::Warning);
    assert_eq!(sev(PI_NONE_PRESENT_USER_DATA), Severity::Warning);
    assert_eq!(sev(LICENCE_NONCOMMERCIAL), Severity::Error);
    assert_eq!(sev(PATH_NO_MATCH), Severity::Error);
    assert_eq!(sev(COLLECTED_IN_FUTURE), Severity::Error);
    for x in &f {
        assert!(x.message.len() > 40, "message too terse: {x:?}");
    }
    let nc = f.iter().find(|x| x.source == "nc").unwrap();
    assert!(
        nc.message.contains("CC-BY-NC-SA-4.0") && nc.message.contains("commercial licence"),
        "{}",
        nc.message
    );
}

#[test]
fn noncommercial_detection() {
    use hegui_audit::manifest::noncommercial_licence as nc;
    for l in [
        "CC-BY-NC-4.0",
        "CC BY-NC-SA 4.0",
        "cc-by-nc-nd-3.0",
        "Non-Commercial use",
        "NonCommercial",
        "for research use only",
        "学术研究，非商业用途",
        "禁止商用",
        "仅供学术研究使用",
        "仅用于学术研究",
        "禁止商业用途",
        "不得用于商业目的",
        "research purposes only",
    ] {
        assert!(nc(l).is_some(), "{l}");
    }
    for l in [
        "CC-BY-4.0",
        "CC-BY-SA-4.0",
        "Apache-2.0",
        "MIT",
        "ODC-By-1.0",
        "contract:NC-free-2024",
        "CC0-1.0",
        "free for commercial and non-commercial use",
        "可用于商业和非商业用途",
    ] {
        assert!(nc(l).is_none(), "{l}");
    }
}
