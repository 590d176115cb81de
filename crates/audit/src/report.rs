//! The audit report: [`AuditReport`] (serialised as JSON by [`to_json`]; fields documented in
//! `AUDIT_FORMAT.md`) and a self-contained HTML rendering ([`to_html`]: no external assets, no
//! JavaScript, inline SVG chart). Every string that comes from data — source names, file
//! names, texts, masked values, details — is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::dedup::{self, DedupCounts};
use crate::manifest::{Finding, Origin, PiBasis, Severity};
use crate::read::{ReadError, ReadErrorKind};
use crate::sample::{self, ManualResult};
use crate::scan::{
    AuditState, FileRecord, FinishOptions, FlaggedExample, PiiTally, Settings, ShardCoverage,
};
use crate::stats::{bucket_range, LengthHistogram, RateCi, ScriptMix};

/// Format tag of the report.
pub const REPORT_FORMAT: &str = "hegui-audit-report/1";

/// Outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Meets the threshold.
    Pass,
    /// Does not.
    Fail,
    /// Cannot be judged yet (no data, or the manual assessment is not imported).
    NotEvaluated,
}

impl Verdict {
    /// `pass`, `fail` or `not_evaluated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotEvaluated => "not_evaluated",
        }
    }
}

/// Fail if anything fails, else not evaluated if anything is, else pass.
pub fn combine(vs: impl IntoIterator<Item = Verdict>) -> Verdict {
    let mut out = Verdict::Pass;
    for v in vs {
        match v {
            Verdict::Fail => return Verdict::Fail,
            Verdict::NotEvaluated => out = Verdict::NotEvaluated,
            Verdict::Pass => {}
        }
    }
    out
}

/// One threshold check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id (`harmful_rate`, `technical_pass_rate`, ...).
    pub id: String,
    /// What is checked and why.
    pub description: String,
    /// The threshold, human-readable.
    pub threshold: String,
    /// The observed value, human-readable.
    pub observed: String,
    /// Outcome.
    pub verdict: Verdict,
}

/// A length bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LengthBucket {
    /// Shortest length in the bucket.
    pub min_chars: u64,
    /// Longest length in the bucket.
    pub max_chars: u64,
    /// Items.
    pub count: u64,
}

/// Length statistics in characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthSummary {
    /// Items.
    pub count: u64,
    /// Mean length.
    pub mean: Option<f64>,
    /// Shortest.
    pub min: Option<u64>,
    /// Longest.
    pub max: u64,
    /// Bucket `[low, high]` holding the median.
    pub p50: Option<(u64, u64)>,
    /// Bucket holding the 90th percentile.
    pub p90: Option<(u64, u64)>,
    /// Bucket holding the 99th percentile.
    pub p99: Option<(u64, u64)>,
    /// Non-empty log2 buckets.
    pub histogram: Vec<LengthBucket>,
}

impl LengthSummary {
    fn from(h: &LengthHistogram) -> Self {
        LengthSummary {
            count: h.count,
            mean: h.mean(),
            min: h.min,
            max: h.max,
            p50: h.quantile(0.5),
            p90: h.quantile(0.9),
            p99: h.quantile(0.99),
            histogram: h
                .buckets
                .iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(|(b, &n)| {
                    let (lo, hi) = bucket_range(b);
                    LengthBucket {
                        min_chars: lo,
                        max_chars: hi,
                        count: n,
                    }
                })
                .collect(),
        }
    }
}

/// Read errors of a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadErrorSummary {
    /// Errors.
    pub count: u64,
    /// `count / (items + count)`.
    pub rate: Option<f64>,
    /// Per kind.
    pub by_kind: BTreeMap<ReadErrorKind, u64>,
    /// First examples by (file, line).
    pub examples: Vec<ReadError>,
    /// Files not read to the end, with the error that stopped each: any fails the check.
    #[serde(default)]
    pub incomplete_files: Vec<ReadError>,
}

/// Per-source results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceReport {
    /// Name.
    pub name: String,
    /// Origin.
    pub origin: Origin,
    /// PI basis.
    pub pi_basis: Option<PiBasis>,
    /// Combined verdict of `checks` (`fail` on `harmful_rate` = reject the source).
    pub verdict: Verdict,
    /// Threshold checks.
    pub checks: Vec<Check>,
    /// Items read.
    pub items: u64,
    /// Blank lines / values.
    pub blank: u64,
    /// Read errors.
    pub read_errors: ReadErrorSummary,
    /// Items scanned.
    pub scanned: u64,
    /// `scanned / items`.
    pub scan_fraction: Option<f64>,
    /// Items with at least one risk, of scanned, with Wilson 95% CI.
    pub harmful: RateCi,
    /// Items without risk, of scanned.
    pub technical_pass: RateCi,
    /// Items per risk code.
    pub risks: BTreeMap<String, u64>,
    /// Items with PII.
    pub pii_items: u64,
    /// PII hits and masked examples per kind.
    pub pii: BTreeMap<String, PiiTally>,
    /// Up to 5 flagged items (location and codes).
    pub flagged_examples: Vec<FlaggedExample>,
    /// Exact and near duplicates.
    pub dedup: DedupCounts,
    /// Lengths.
    pub length: LengthSummary,
    /// Majority scripts.
    pub scripts: ScriptMix,
    /// Items of this source in the manual sample.
    pub sample_allocated: u64,
    /// Manual pass rate of this source, when imported.
    pub manual: Option<RateCi>,
}

/// Whole-corpus figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusSummary {
    /// Items.
    pub items: u64,
    /// Blank lines / values.
    pub blank: u64,
    /// Read errors.
    pub read_errors: u64,
    /// Items scanned.
    pub scanned: u64,
    /// Harmful of scanned.
    pub harmful: RateCi,
    /// Duplicates across the whole corpus.
    pub dedup: DedupCounts,
    /// Lengths.
    pub length: LengthSummary,
    /// Scripts.
    pub scripts: ScriptMix,
    /// Size of the drawn manual sample.
    pub sample_drawn: u64,
}

/// The audit report. See `AUDIT_FORMAT.md` for every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// [`REPORT_FORMAT`].
    pub format: String,
    /// Version of this crate.
    pub tool_version: String,
    /// When the report was made (RFC 3339).
    pub generated_at: String,
    /// The audit seed.
    pub seed: u64,
    /// The command that reproduces the report (given by the caller).
    pub reproduction_command: String,
    /// Fingerprint of the manifest.
    pub manifest_sha256: String,
    /// The review policy that produced the findings ([`crate::scan::Scanner::version`]).
    pub scanner: String,
    /// Shards merged.
    pub shards: ShardCoverage,
    /// Whether all shards are merged.
    pub complete: bool,
    /// Settings and thresholds used.
    pub settings: Settings,
    /// Overall verdict: combination of `checks`.
    pub verdict: Verdict,
    /// Corpus-level checks (sample size, manual pass rate, shards, legality, sources).
    pub checks: Vec<Check>,
    /// Whole-corpus figures.
    pub corpus: CorpusSummary,
    /// Manual assessment, when imported.
    pub manual: Option<ManualResult>,
    /// Per source, in manifest order.
    pub sources: Vec<SourceReport>,
    /// Legality / provenance findings (manifest checks plus findings from the scan).
    pub findings: Vec<Finding>,
    /// Input files with SHA-256.
    pub input_files: Vec<FileRecord>,
}

/// Floating-point slack for threshold comparisons (so that 98/100 meets 0.98 exactly).
const EPS: f64 = 1e-9;

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn describe_rate(r: &RateCi) -> String {
    match (r.rate, r.ci95_low, r.ci95_high) {
        (Some(p), Some(lo), Some(hi)) => {
            format!(
                "{} ({}/{}; 95% CI {}–{})",
                pct(p),
                r.count,
                r.total,
                pct(lo),
                pct(hi)
            )
        }
        _ => format!("{}/{}", r.count, r.total),
    }
}

fn at_most(r: &RateCi, max: f64) -> Verdict {
    if r.total == 0 {
        Verdict::NotEvaluated
    } else if (r.count as f64) <= max * r.total as f64 + EPS * r.total as f64 {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

fn at_least(r: &RateCi, min: f64) -> Verdict {
    if r.total == 0 {
        Verdict::NotEvaluated
    } else if (r.count as f64) >= min * r.total as f64 - EPS * r.total as f64 {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

fn check(
    id: &str,
    description: &str,
    threshold: String,
    observed: String,
    verdict: Verdict,
) -> Check {
    Check {
        id: id.to_owned(),
        description: description.to_owned(),
        threshold,
        observed,
        verdict,
    }
}

/// The per-source read-error check: the per-line rate, and no file left unread. A file that
/// stops early (unreadable, missing text column, truncated stream) is one read error however
/// many items it held, so the rate alone would pass a source with most of its data unread.
fn read_errors_check(errors: &RateCi, incomplete: &[ReadError], max_rate: f64) -> Check {
    let mut observed = describe_rate(errors);
    let verdict = match incomplete.first() {
        None => at_most(errors, max_rate),
        Some(first) => {
            observed.push_str(&format!(
                "; {} file(s) not read completely, e.g. `{}` ({})",
                incomplete.len(),
                first.file,
                first.kind.as_str()
            ));
            Verdict::Fail
        }
    };
    check(
        "read_errors",
        "Share of lines that could not be read, and files not read to the end (an unread line is an unaudited line)",
        format!("≤ {} and every file read completely", pct(max_rate)),
        observed,
        verdict,
    )
}

pub(crate) fn build(
    state: &AuditState,
    findings: Vec<Finding>,
    opts: &FinishOptions,
) -> AuditReport {
    let t = &state.settings.thresholds;
    let dedups: Vec<&dedup::DedupState> = state.sources.iter().map(|s| &s.dedup).collect();
    let (per_dedup, corpus_dedup) = dedup::analyze(&dedups);
    let counts: Vec<u64> = state.sources.iter().map(|s| s.items).collect();
    let alloc = sample::allocate(
        &counts,
        state.settings.sample_size,
        state.settings.min_per_source,
    );
    let manual = opts.manual.as_ref();

    let mut sources = Vec::new();
    for ((s, d), k) in state.sources.iter().zip(per_dedup).zip(&alloc) {
        let harmful = RateCi::new(s.scan.harmful, s.scan.scanned);
        let technical_pass = RateCi::new(s.scan.scanned - s.scan.harmful, s.scan.scanned);
        let coverage = RateCi::new(s.scan.scanned, s.items);
        let errors = RateCi::new(s.read_errors.count, s.items + s.read_errors.count);
        let src_manual = manual.and_then(|m| m.per_source.get(&s.name)).copied();
        let errs: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.source == s.name && f.severity == Severity::Error)
            .collect();
        let mut checks = vec![
            check(
                "harmful_rate",
                "Illegal or harmful items found by the technical scan; a source above the limit must not be used (TC260-003)",
                format!("≤ {}", pct(t.max_harmful_rate)),
                describe_rate(&harmful),
                at_most(&harmful, t.max_harmful_rate),
            ),
            check(
                "technical_pass_rate",
                "Items passing the technical (keyword / classifier) check (TC260-003)",
                format!("≥ {}", pct(t.min_technical_pass_rate)),
                describe_rate(&technical_pass),
                at_least(&technical_pass, t.min_technical_pass_rate),
            ),
            check(
                "scan_coverage",
                "Share of the source covered by the technical check (TC260-003)",
                format!("≥ {}", pct(t.min_scan_fraction)),
                describe_rate(&coverage),
                at_least(&coverage, t.min_scan_fraction),
            ),
            read_errors_check(&errors, &s.incomplete_files, t.max_read_error_rate),
        ];
        checks.push(match (&src_manual, manual) {
            (Some(r), _) => check(
                "manual_pass_rate",
                "Items of this source passing the manual assessment (TC260-003)",
                format!("≥ {}", pct(t.min_manual_pass_rate)),
                describe_rate(r),
                at_least(r, t.min_manual_pass_rate),
            ),
            (None, m) => check(
                "manual_pass_rate",
                "Items of this source passing the manual assessment (TC260-003)",
                format!("≥ {}", pct(t.min_manual_pass_rate)),
                if m.is_some() {
                    "no annotated item of this source".into()
                } else {
                    "annotations not imported".into()
                },
                Verdict::NotEvaluated,
            ),
        });
        let codes: Vec<&str> = errs.iter().map(|f| f.rule_code.as_str()).collect();
        checks.push(check(
            "legality",
            "Provenance and legal basis (Interim Measures Art. 7): no error-level finding",
            "no error finding".into(),
            if errs.is_empty() {
                "none".into()
            } else {
                format!("{} error finding(s): {}", errs.len(), codes.join(", "))
            },
            if errs.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
        ));
        let verdict = combine(checks.iter().map(|c| c.verdict));
        sources.push(SourceReport {
            name: s.name.clone(),
            origin: s.origin,
            pi_basis: s.pi_basis,
            verdict,
            checks,
            items: s.items,
            blank: s.blank,
            read_errors: ReadErrorSummary {
                count: s.read_errors.count,
                rate: errors.rate,
                by_kind: s.read_errors.by_kind.clone(),
                examples: s.read_errors.examples.clone(),
                incomplete_files: s.incomplete_files.clone(),
            },
            scanned: s.scan.scanned,
            scan_fraction: coverage.rate,
            harmful,
            technical_pass,
            risks: s.scan.risks.clone(),
            pii_items: s.scan.pii_items,
            pii: s.scan.pii.clone(),
            flagged_examples: s.scan.flagged_examples.clone(),
            dedup: d,
            length: LengthSummary::from(&s.length),
            scripts: s.scripts,
            sample_allocated: *k,
            manual: src_manual,
        });
    }

    let mut length = LengthHistogram::default();
    let mut scripts = ScriptMix::default();
    for s in &state.sources {
        length.merge(&s.length);
        scripts.merge(&s.scripts);
    }
    let items: u64 = state.sources.iter().map(|s| s.items).sum();
    let scanned: u64 = state.sources.iter().map(|s| s.scan.scanned).sum();
    let harmful: u64 = state.sources.iter().map(|s| s.scan.harmful).sum();
    let sample_drawn: u64 = alloc.iter().sum();
    let corpus = CorpusSummary {
        items,
        blank: state.sources.iter().map(|s| s.blank).sum(),
        read_errors: state.sources.iter().map(|s| s.read_errors.count).sum(),
        scanned,
        harmful: RateCi::new(harmful, scanned),
        dedup: corpus_dedup,
        length: LengthSummary::from(&length),
        scripts,
        sample_drawn,
    };

    let mut checks = vec![check(
        "sample_size",
        "Items drawn from the whole corpus for manual assessment (TC260-003)",
        format!("≥ {}", t.min_manual_sample),
        sample_drawn.to_string(),
        if sample_drawn >= t.min_manual_sample {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
    )];
    match manual {
        Some(m) => {
            checks.push(check(
                "manual_sample_size",
                "Sampled items with a valid manual verdict (TC260-003)",
                format!("≥ {}", t.min_manual_sample),
                format!(
                    "{} of {} sampled ({} unannotated, {} bad rows)",
                    m.annotated,
                    m.sample_size,
                    m.unannotated,
                    m.bad_rows.len()
                ),
                if m.annotated >= t.min_manual_sample {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
            ));
            checks.push(check(
                "manual_pass_rate",
                "Manually assessed items that pass (TC260-003)",
                format!("≥ {}", pct(t.min_manual_pass_rate)),
                describe_rate(&m.overall),
                at_least(&m.overall, t.min_manual_pass_rate),
            ));
        }
        None => {
            for (id, desc) in [
                (
                    "manual_sample_size",
                    "Sampled items with a valid manual verdict (TC260-003)",
                ),
                (
                    "manual_pass_rate",
                    "Manually assessed items that pass (TC260-003)",
                ),
            ] {
                checks.push(check(
                    id,
                    desc,
                    "annotations required".into(),
                    "annotations not imported".into(),
                    Verdict::NotEvaluated,
                ));
            }
        }
    }
    checks.push(check(
        "shards_complete",
        "All shards of the run are merged into this report",
        format!("{} of {}", state.shards.count, state.shards.count),
        format!("{} of {}", state.shards.indices.len(), state.shards.count),
        if state.shards.complete() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
    ));
    let error_findings = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    checks.push(check(
        "legality",
        "No error-level provenance or legality finding in any source",
        "0".into(),
        error_findings.to_string(),
        if error_findings == 0 {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
    ));
    let failed: Vec<&str> = sources
        .iter()
        .filter(|s| s.verdict == Verdict::Fail)
        .map(|s| s.name.as_str())
        .collect();
    let passed = sources
        .iter()
        .filter(|s| s.verdict == Verdict::Pass)
        .count();
    checks.push(check(
        "sources",
        "Every source meets its thresholds",
        "all sources pass".into(),
        if failed.is_empty() {
            format!("{passed} of {} pass", sources.len())
        } else {
            format!(
                "{passed} of {} pass; failing: {}",
                sources.len(),
                failed.join(", ")
            )
        },
        combine(sources.iter().map(|s| s.verdict)),
    ));
    let verdict = combine(checks.iter().map(|c| c.verdict));

    AuditReport {
        format: REPORT_FORMAT.to_owned(),
        tool_version: state.tool_version.clone(),
        generated_at: opts
            .generated_at
            .clone()
            .unwrap_or_else(|| chrono::Utc::now().to_rfc3339()),
        seed: state.settings.seed,
        reproduction_command: opts.reproduction_command.clone(),
        manifest_sha256: state.manifest_sha256.clone(),
        scanner: state.scanner.clone(),
        shards: state.shards.clone(),
        complete: state.shards.complete(),
        settings: state.settings.clone(),
        verdict,
        checks,
        corpus,
        manual: opts.manual.clone(),
        sources,
        findings,
        input_files: state.files.clone(),
    }
}

/// The report as pretty-printed JSON.
pub fn to_json(report: &AuditReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

/// Escapes text for HTML element content and attribute values. Hand-written: five
/// replacements, no templating engine needed for one page.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn badge(v: Verdict) -> String {
    let (class, label) = match v {
        Verdict::Pass => ("pass", "PASS"),
        Verdict::Fail => ("fail", "FAIL"),
        Verdict::NotEvaluated => ("na", "NOT EVALUATED"),
    };
    format!("<span class=\"badge {class}\">{label}</span>")
}

fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), pct)
}

fn range(r: Option<(u64, u64)>) -> String {
    r.map_or_else(|| "–".to_owned(), |(lo, hi)| format!("{lo}–{hi}"))
}

fn line_of(l: Option<u64>) -> String {
    l.map_or_else(|| "(file)".to_owned(), |l| l.to_string())
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}h3{margin-top:1.5rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;font-weight:600;font-size:.8rem}
.pass{background:#d8f0d8;color:#145214}.fail{background:#f8d7d7;color:#7a1010}.na{background:#eee;color:#555}
.error{color:#7a1010;font-weight:600}.warning{color:#8a5a00;font-weight:600}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
code{font-size:.85rem}.muted{color:#666}";

fn chart(report: &AuditReport) -> String {
    let threshold = report.settings.thresholds.max_harmful_rate;
    let hi = report
        .sources
        .iter()
        .filter_map(|s| s.harmful.ci95_high)
        .fold(threshold * 1.5, f64::max)
        .max(0.10);
    // A round axis: the smallest "nice" step giving at most 6 ticks.
    let step = [0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25]
        .into_iter()
        .find(|st| (hi * 1.05 / st).ceil() <= 6.0)
        .unwrap_or(0.25);
    let ticks = ((hi * 1.05 / step).ceil() as u32).clamp(1, 6);
    let scale_max = (step * f64::from(ticks)).min(1.0);
    let (left, width, row) = (220.0, 460.0, 30.0);
    let height = 40.0 + row * report.sources.len() as f64 + 30.0;
    let x = |p: f64| left + width * (p / scale_max).clamp(0.0, 1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\" aria-label=\"Harmful rate per source with 95% confidence intervals\">",
        w = left + width + 60.0
    );
    let _ = write!(svg, "<style>text{{font:12px sans-serif;fill:#222}}</style>");
    for (i, s) in report.sources.iter().enumerate() {
        let y = 30.0 + row * i as f64;
        let name: String = if s.name.chars().count() > 30 {
            s.name
                .chars()
                .take(29)
                .chain(std::iter::once('…'))
                .collect()
        } else {
            s.name.clone()
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            y + 15.0,
            escape(&name)
        );
        match (s.harmful.rate, s.harmful.ci95_low, s.harmful.ci95_high) {
            (Some(p), Some(lo), Some(hi)) => {
                let color = if p > threshold + EPS {
                    "#c0392b"
                } else {
                    "#27ae60"
                };
                let _ = write!(
                    svg,
                    "<rect x=\"{left}\" y=\"{}\" width=\"{:.2}\" height=\"16\" fill=\"{color}\"><title>{}: {}</title></rect>",
                    y + 4.0,
                    (x(p) - left).max(0.5),
                    escape(&s.name),
                    escape(&describe_rate(&s.harmful))
                );
                let (xl, xh, ym) = (x(lo), x(hi), y + 12.0);
                let _ = write!(
                    svg,
                    "<line x1=\"{xl:.2}\" y1=\"{ym}\" x2=\"{xh:.2}\" y2=\"{ym}\" stroke=\"#222\" stroke-width=\"1.5\"/><line x1=\"{xl:.2}\" y1=\"{}\" x2=\"{xl:.2}\" y2=\"{}\" stroke=\"#222\"/><line x1=\"{xh:.2}\" y1=\"{}\" x2=\"{xh:.2}\" y2=\"{}\" stroke=\"#222\"/>",
                    ym - 5.0,
                    ym + 5.0,
                    ym - 5.0,
                    ym + 5.0
                );
                let _ = write!(
                    svg,
                    "<text x=\"{:.2}\" y=\"{}\">{}</text>",
                    x(hi) + 6.0,
                    y + 15.0,
                    pct(p)
                );
            }
            _ => {
                let _ = write!(
                    svg,
                    "<text x=\"{left}\" y=\"{}\" fill=\"#666\">not scanned</text>",
                    y + 15.0
                );
            }
        }
    }
    let axis_y = 30.0 + row * report.sources.len() as f64 + 4.0;
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#888\"/>",
        left + width
    );
    for k in 0..=ticks {
        let p = (step * f64::from(k)).min(1.0);
        let _ = write!(
            svg,
            "<text x=\"{:.2}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x(p),
            axis_y + 16.0,
            pct(p)
        );
    }
    let xt = x(threshold);
    let _ = write!(
        svg,
        "<line x1=\"{xt:.2}\" y1=\"20\" x2=\"{xt:.2}\" y2=\"{axis_y}\" stroke=\"#c0392b\" stroke-dasharray=\"5,4\" stroke-width=\"1.5\"/><text x=\"{xt:.2}\" y=\"14\" text-anchor=\"middle\" fill=\"#c0392b\">limit {}</text>",
        pct(threshold)
    );
    svg.push_str("</svg>");
    svg
}

/// The report as one self-contained HTML page.
pub fn to_html(report: &AuditReport) -> String {
    let e = escape;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>训练语料安全评估报告 · Training-data audit</title><style>{CSS}</style></head><body>"
    );
    let _ = write!(
        h,
        "<h1>训练语料安全评估报告 · Training-data audit report {}</h1>",
        badge(report.verdict)
    );
    let _ = write!(
        h,
        "<p class=\"muted\">Interim Measures Art. 7; TC260-003-2024 / GB/T 45654-2025 corpus thresholds. Generated {} by hegui-audit {}.</p>",
        e(&report.generated_at),
        e(&report.tool_version)
    );
    let _ = write!(
        h,
        "<table><tr><th>Seed</th><td><code>{}</code></td></tr><tr><th>Manifest SHA-256</th><td><code>{}</code></td></tr><tr><th>Review policy</th><td><code>{}</code></td></tr><tr><th>Shards</th><td>{} of {}{}</td></tr><tr><th>Items</th><td>{}</td></tr><tr><th>Scanned</th><td>{}</td></tr><tr><th>Harmful (corpus)</th><td>{}</td></tr><tr><th>Exact / near duplicates (corpus)</th><td>{} / {}</td></tr></table>",
        report.seed,
        e(&report.manifest_sha256),
        e(if report.scanner.is_empty() { "(not recorded)" } else { &report.scanner }),
        report.shards.indices.len(),
        report.shards.count,
        if report.complete { "" } else { " <span class=\"error\">(incomplete)</span>" },
        report.corpus.items,
        report.corpus.scanned,
        e(&describe_rate(&report.corpus.harmful)),
        pct(report.corpus.dedup.exact_duplicate_rate),
        pct(report.corpus.dedup.near_duplicate_rate),
    );
    h.push_str("<h3>Reproduce</h3>");
    let _ = write!(
        h,
        "<pre><code>{}</code></pre>",
        e(&report.reproduction_command)
    );

    h.push_str("<h2>Checks</h2><table><tr><th>Check</th><th>Threshold</th><th>Observed</th><th>Verdict</th></tr>");
    for c in &report.checks {
        let _ = write!(
            h,
            "<tr><td><b>{}</b><br><span class=\"muted\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&c.id),
            e(&c.description),
            e(&c.threshold),
            e(&c.observed),
            badge(c.verdict)
        );
    }
    h.push_str("</table>");

    h.push_str("<h2>Harmful rate per source</h2><p class=\"muted\">Bars: harmful share of scanned items; whiskers: Wilson 95% interval; dashed line: rejection threshold.</p>");
    h.push_str(&chart(report));

    h.push_str("<h2>Sources</h2><table><tr><th>Source</th><th>Origin</th><th>Items</th><th>Scanned</th><th>Harmful</th><th>Exact dup</th><th>Near dup</th><th>Read errors</th>");
    let check_ids: Vec<String> = report
        .sources
        .first()
        .map(|s| s.checks.iter().map(|c| c.id.clone()).collect())
        .unwrap_or_default();
    for id in &check_ids {
        let _ = write!(h, "<th>{}</th>", e(&id.replace('_', " ")));
    }
    h.push_str("<th>Verdict</th></tr>");
    for s in &report.sources {
        let _ = write!(
            h,
            "<tr><td><a href=\"#src-{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{} ({})</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            e(&anchor(&s.name)),
            e(&s.name),
            e(&s.origin.to_string()),
            s.items,
            s.scanned,
            opt_pct(s.scan_fraction),
            e(&describe_rate(&s.harmful)),
            pct(s.dedup.exact_duplicate_rate),
            pct(s.dedup.near_duplicate_rate),
            s.read_errors.count
        );
        for c in &s.checks {
            let _ = write!(
                h,
                "<td title=\"{}\">{}</td>",
                e(&c.observed),
                badge(c.verdict)
            );
        }
        let _ = write!(h, "<td>{}</td></tr>", badge(s.verdict));
    }
    h.push_str("</table>");

    for s in &report.sources {
        let _ = write!(
            h,
            "<h3 id=\"src-{}\">{} {}</h3>",
            e(&anchor(&s.name)),
            e(&s.name),
            badge(s.verdict)
        );
        h.push_str(
            "<table><tr><th>Check</th><th>Threshold</th><th>Observed</th><th>Verdict</th></tr>",
        );
        for c in &s.checks {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&c.id),
                e(&c.threshold),
                e(&c.observed),
                badge(c.verdict)
            );
        }
        h.push_str("</table>");
        let _ = write!(
            h,
            "<p>Length (chars): mean {}, min {}, max {}, p50 in {}, p90 in {}, p99 in {}. Scripts: Han {}, Latin {}, other {}, none {}. Blank: {}. Exact duplicates {} ({}), near duplicates {} ({}), shared with other sources {}. Manual sample: {} items.</p>",
            s.length.mean.map_or_else(|| "–".into(), |m| format!("{m:.1}")),
            s.length.min.map_or_else(|| "–".into(), |m| m.to_string()),
            s.length.max,
            range(s.length.p50),
            range(s.length.p90),
            range(s.length.p99),
            s.scripts.han,
            s.scripts.latin,
            s.scripts.other,
            s.scripts.none,
            s.blank,
            s.dedup.exact_duplicates,
            pct(s.dedup.exact_duplicate_rate),
            s.dedup.near_duplicates,
            pct(s.dedup.near_duplicate_rate),
            s.dedup.cross_source_exact,
            s.sample_allocated
        );
        if !s.risks.is_empty() {
            h.push_str("<table><tr><th>Risk code</th><th>Items</th></tr>");
            for (code, n) in &s.risks {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                    e(code),
                    n
                );
            }
            h.push_str("</table>");
        }
        if !s.flagged_examples.is_empty() {
            h.push_str("<table><tr><th>Flagged item (file:line)</th><th>Risk codes</th></tr>");
            for f in &s.flagged_examples {
                let _ = write!(
                    h,
                    "<tr><td><code>{}:{}</code></td><td>{}</td></tr>",
                    e(&f.file),
                    f.line,
                    e(&f.risks.join(", "))
                );
            }
            h.push_str("</table>");
        }
        if !s.pii.is_empty() {
            let _ = write!(h, "<p>Personal information in {} item(s):</p>", s.pii_items);
            h.push_str("<table><tr><th>Kind</th><th>Hits</th><th>Masked examples</th></tr>");
            for (kind, t) in &s.pii {
                let ex: Vec<String> = t
                    .examples
                    .iter()
                    .map(|x| {
                        format!(
                            "<code>{}</code> <span class=\"muted\">{}:{}</span>",
                            e(&x.masked),
                            e(&x.file),
                            x.line
                        )
                    })
                    .collect();
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    e(kind),
                    t.hits,
                    ex.join("<br>")
                );
            }
            h.push_str("</table>");
        }
        if !s.read_errors.examples.is_empty() {
            let kinds: Vec<String> = s
                .read_errors
                .by_kind
                .iter()
                .map(|(k, n)| format!("{} {}", k.as_str(), n))
                .collect();
            let _ = write!(
                h,
                "<p>Read errors: {} ({}). First examples:</p>",
                s.read_errors.count,
                e(&kinds.join(", "))
            );
            h.push_str("<table><tr><th>File</th><th>Line</th><th>Kind</th><th>Detail</th></tr>");
            for x in &s.read_errors.examples {
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                    e(&x.file),
                    line_of(x.line),
                    x.kind.as_str(),
                    e(&x.detail)
                );
            }
            h.push_str("</table>");
        }
    }

    h.push_str("<h2>Legality and provenance findings</h2>");
    if report.findings.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str("<table><tr><th>Source</th><th>Severity</th><th>Rule</th><th>Finding</th></tr>");
        for f in &report.findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"{sev}\">{sev}</td><td><code>{}</code></td><td>{}</td></tr>",
                e(&f.source),
                e(&f.rule_code),
                e(&f.message)
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2>Manual assessment</h2>");
    match &report.manual {
        None => {
            let _ = write!(
                h,
                "<p>Annotations not imported yet. Sample drawn: {} items.</p>",
                report.corpus.sample_drawn
            );
        }
        Some(m) => {
            let _ = write!(
                h,
                "<p>Annotated {} of {} sampled; pass rate {}. Unannotated: {}.</p>",
                m.annotated,
                m.sample_size,
                e(&describe_rate(&m.overall)),
                m.unannotated
            );
            h.push_str("<table><tr><th>Source</th><th>Manual pass rate</th></tr>");
            for (src, r) in &m.per_source {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    e(src),
                    e(&describe_rate(r))
                );
            }
            h.push_str("</table>");
            let problems: Vec<_> = m.bad_rows.iter().chain(&m.unknown_ids).take(100).collect();
            if !problems.is_empty() {
                h.push_str("<table><tr><th>Annotation line</th><th>Id</th><th>Problem</th></tr>");
                for p in problems {
                    let _ = write!(
                        h,
                        "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td>{}</td></tr>",
                        p.line,
                        e(p.id.as_deref().unwrap_or("")),
                        e(&p.problem)
                    );
                }
                h.push_str("</table>");
            }
        }
    }

    h.push_str("<h2>Input files</h2><table><tr><th>Source</th><th>File</th><th>Bytes</th><th>SHA-256</th></tr>");
    for f in &report.input_files {
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            e(&f.source),
            e(&f.file),
            f.bytes,
            e(f.sha256.as_deref().unwrap_or("unreadable"))
        );
    }
    h.push_str("</table></body></html>\n");
    h
}

/// An id-safe anchor for a source name (ASCII alphanumerics kept, everything else as hex).
fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("_{:x}", c as u32)
            }
        })
        .collect()
}
