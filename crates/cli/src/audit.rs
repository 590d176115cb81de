//! `hegui audit …`: the training-data audit (Article 7) over `hegui-audit`, with the review
//! engine of this configuration (lexicons, classifier) and the PII detectors as the scanner.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use hegui_audit::manifest::{check_sources, Manifest, Severity};
use hegui_audit::scan::{
    finish, merge, run_audit, AuditState, FinishOptions, PiiHit, RunOptions, ScanResult, Scanner,
};
use hegui_config::Config;
use hegui_policy::Reviewer;
use hegui_types::{Action, Stage};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the sources' legality evidence in a manifest (exit 1 on any error).
    Sources {
        /// The sources manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the audit: read every source, scan (lexicons, classifier, PII), deduplicate, sample;
    /// write `audit.json`, `audit.html` and the mergeable `audit-state.json` to `--out`.
    Run {
        /// The sources manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "audit-out")]
        out: PathBuf,
        /// Process only shard I of N (`I/N`, 0-based); merge the states with `hegui audit merge`.
        #[arg(long)]
        shard: Option<String>,
        /// Worker threads (0 = one per core; at most 4 per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Annotated sample (CSV or JSONL) to include the manual pass rate.
        #[arg(long)]
        annotations: Option<PathBuf>,
        /// Record the audit's summary and input hashes in the tamper-evident log.
        #[arg(long)]
        record: bool,
        /// Print the report JSON on stdout instead of a summary.
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Merge shard states (from `run --shard`) into one report, exactly as a single run.
    Merge {
        /// The sources manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "audit-out")]
        out: PathBuf,
        /// Annotated sample (CSV or JSONL).
        #[arg(long)]
        annotations: Option<PathBuf>,
        /// Record the audit's summary and input hashes in the tamper-evident log.
        #[arg(long)]
        record: bool,
        /// Print the report JSON on stdout instead of a summary.
        #[arg(long)]
        json: bool,
        /// The shard states.
        #[arg(required = true)]
        states: Vec<PathBuf>,
    },
    /// Export the manual-assessment sample of a state for annotators (CSV or JSONL by extension).
    Sample {
        /// The audit state (`audit-state.json` from `audit run` or `audit merge`).
        #[arg(long)]
        state: PathBuf,
        /// The sample file to write (`.csv` or `.jsonl`).
        #[arg(long)]
        out: PathBuf,
    },
}

/// The review engine as the audit's scanner: a text is harmful for each non-PII risk a rule
/// acts on (anything but `allow`); PII comes from the detectors, masked.
struct EngineScanner {
    reviewer: Arc<dyn Reviewer>,
    /// The review already runs the PII detectors (`review.pii`): take PII from its matches
    /// rather than detecting twice.
    pii_in_review: bool,
}

impl Scanner for EngineScanner {
    fn scan(&self, text: &str) -> ScanResult {
        let decision = self.reviewer.decide(Stage::Input, text);
        let mut risks: Vec<String> = decision
            .matches
            .iter()
            .filter(|m| m.action != Action::Allow && !m.risk.starts_with("PII"))
            .map(|m| m.risk.to_string())
            .collect();
        risks.sort();
        risks.dedup();
        let pii = if self.pii_in_review {
            decision
                .matches
                .iter()
                .filter_map(|m| {
                    let kind = hegui_pii::PiiKind::from_code(&m.risk)?;
                    Some(PiiHit {
                        kind: m.risk.to_string(),
                        masked: hegui_pii::mask(kind, text.get(m.start..m.end)?),
                    })
                })
                .collect()
        } else {
            hegui_pii::detect(text)
                .into_iter()
                .filter_map(|m| {
                    Some(PiiHit {
                        kind: m.kind.code().to_string(),
                        masked: hegui_pii::mask(m.kind, m.text(text)?),
                    })
                })
                .collect()
        };
        ScanResult { risks, pii }
    }

    /// The review policy's version: it hashes the lexicons, the decision policy, the PII
    /// switch and the classifier (`lex-…` / `pol-…`).
    fn version(&self) -> String {
        self.reviewer.version().to_string()
    }
}

fn parse_shard(s: &str) -> anyhow::Result<(u32, u32)> {
    let (i, n) = s
        .split_once('/')
        .with_context(|| format!("--shard {s:?}: write I/N, e.g. 0/4"))?;
    let (i, n): (u32, u32) = (
        i.trim()
            .parse()
            .with_context(|| format!("--shard {s:?}: I is not a number"))?,
        n.trim()
            .parse()
            .with_context(|| format!("--shard {s:?}: N is not a number"))?,
    );
    anyhow::ensure!(n >= 1 && i < n, "--shard {s:?}: need N >= 1 and 0 <= I < N");
    Ok((i, n))
}

fn load_manifest(path: &Path) -> anyhow::Result<(Manifest, PathBuf)> {
    Manifest::load(path).with_context(|| format!("manifest {}", path.display()))
}

/// Creates the output folder (or checks the existing one is a folder).
fn prepare_out(out: &Path) -> anyhow::Result<()> {
    if out.exists() && !out.is_dir() {
        anyhow::bail!(
            "--out {} exists and is not a folder: give a folder for the state and the report",
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
}

/// Checks an annotations file can be opened (it is parsed after the scan).
fn check_readable(annotations: Option<&Path>) -> anyhow::Result<()> {
    if let Some(a) = annotations {
        std::fs::File::open(a).with_context(|| format!("annotations {}", a.display()))?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The command line that reproduces this run.
fn reproduction() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

fn progress_bar(quiet: bool) -> Option<hegui_audit::scan::ProgressFn> {
    if quiet {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} files  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(Box::new(move |p: hegui_audit::scan::Progress| {
        bar.set_length(p.files_total as u64);
        bar.set_position(p.files_done as u64);
        bar.set_message(format!(
            "{} items, {} scanned, {} read errors",
            p.items, p.scanned, p.read_errors
        ));
    }))
}

/// Writes the report (and the state), records it if asked, prints a summary; the exit code
/// says whether the corpus passed.
/// Where and how a report is written.
struct Output<'a> {
    out: &'a Path,
    annotations: Option<&'a Path>,
    /// Record the audit's summary and input hashes in the tamper-evident log.
    record: bool,
    /// Print the report JSON on stdout instead of a summary.
    json: bool,
}

async fn report(
    config: Option<&Path>,
    manifest: &Manifest,
    base: &Path,
    state: &AuditState,
    o: Output<'_>,
) -> anyhow::Result<bool> {
    let Output {
        out,
        annotations,
        record,
        json,
    } = o;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let manual = annotations
        .map(|a| {
            hegui_audit::sample::import_annotations_file(a, &state.sample())
                .with_context(|| format!("annotations {}", a.display()))
        })
        .transpose()?;
    let findings = check_sources(manifest, base);
    let report = finish(
        state,
        findings,
        &FinishOptions {
            reproduction_command: reproduction(),
            manual,
            generated_at: None,
        },
    );
    let report_json = hegui_audit::report::to_json(&report)?;
    write(&out.join("audit.json"), &report_json)?;
    write(
        &out.join("audit.html"),
        &hegui_audit::report::to_html(&report),
    )?;
    if record {
        record_audit(config, &report).await?;
    }
    if json {
        println!("{report_json}");
    } else {
        println!(
            "{:<24}  {:>10}  {:>9}  {:>22}  {:>9}  verdict",
            "source", "items", "scanned", "harmful (95% CI)", "PII items"
        );
        for s in &report.sources {
            let harmful = match (s.harmful.rate, s.harmful.ci95_low, s.harmful.ci95_high) {
                (Some(p), Some(lo), Some(hi)) => {
                    format!("{:.2}% ({:.2}–{:.2})", p * 100.0, lo * 100.0, hi * 100.0)
                }
                _ => "-".into(),
            };
            println!(
                "{:<24}  {:>10}  {:>9}  {:>22}  {:>9}  {}",
                s.name,
                s.items,
                s.scanned,
                harmful,
                s.pii_items,
                s.verdict.as_str()
            );
        }
        for f in &report.findings {
            println!(
                "{} {} [{}] {}",
                match f.severity {
                    Severity::Error => "error:  ",
                    Severity::Warning => "warning:",
                },
                f.source,
                f.rule_code,
                f.message
            );
        }
        println!(
            "overall: {}  (report: {}, {})",
            report.verdict.as_str(),
            out.join("audit.html").display(),
            out.join("audit.json").display()
        );
    }
    Ok(report.verdict.as_str() != "fail")
}

/// Appends a `training_audit` record (summary and input hashes) to the tamper-evident log.
async fn record_audit(
    config: Option<&Path>,
    report: &hegui_audit::report::AuditReport,
) -> anyhow::Result<()> {
    let c = Config::load(config)?;
    let store = hegui_store::Store::open(&c.storage.database_url, 2).await?;
    let body = serde_json::json!({
        "manifest_sha256": report.manifest_sha256,
        "review_policy": report.scanner,
        "seed": report.seed,
        "verdict": report.verdict.as_str(),
        "reproduction_command": report.reproduction_command,
        "sources": report.sources.iter().map(|s| serde_json::json!({
            "name": s.name, "items": s.items, "scanned": s.scanned,
            "harmful": s.harmful.count, "pii_items": s.pii_items, "verdict": s.verdict.as_str(),
        })).collect::<Vec<_>>(),
        "input_files": report.input_files.iter().map(|f| serde_json::json!({
            "source": f.source, "file": f.file, "sha256": f.sha256, "bytes": f.bytes,
        })).collect::<Vec<_>>(),
    });
    let entry = hegui_types::JournalEntry {
        v: hegui_types::JOURNAL_ENCODING_VERSION,
        kind: hegui_types::kinds::TRAINING_AUDIT.into(),
        id: uuid::Uuid::now_v7().to_string(),
        at_ms: chrono::Utc::now().timestamp_millis(),
        actor: crate::admin::actor(),
        body,
    };
    store.journal_append(&entry).await?;
    eprintln!("recorded in the tamper-evident log as {}", entry.id);
    Ok(())
}

/// Runs a command; `Ok(false)` means the audit ran and the corpus failed.
pub async fn audit(config: Option<&Path>, cmd: AuditCommand) -> anyhow::Result<bool> {
    match cmd {
        AuditCommand::Sources { manifest, json } => {
            let (m, base) = load_manifest(&manifest)?;
            let findings = check_sources(&m, &base);
            if json {
                println!("{}", serde_json::to_string_pretty(&findings)?);
            } else if findings.is_empty() {
                println!("{} source(s): no findings", m.sources.len());
            } else {
                for f in &findings {
                    println!(
                        "{:?} {} [{}] {}",
                        f.severity, f.source, f.rule_code, f.message
                    );
                }
            }
            Ok(!findings.iter().any(|f| f.severity == Severity::Error))
        }
        AuditCommand::Run {
            manifest,
            out,
            shard,
            threads,
            annotations,
            record,
            json,
            quiet,
        } => {
            let (m, base) = load_manifest(&manifest)?;
            let shard = shard.as_deref().map(parse_shard).transpose()?;
            if shard.is_some() && (json || record || annotations.is_some()) {
                anyhow::bail!(
                    "--json, --record and --annotations apply to the report, which a shard does \
                     not write: pass them to `hegui audit merge` instead"
                );
            }
            // Fail before a scan that may take hours, not after it.
            prepare_out(&out)?;
            check_readable(annotations.as_deref())?;
            let cfg = Config::load(config)?;
            let (state, _) = hegui_gateway::load_review(&cfg)?;
            let scanner = EngineScanner {
                reviewer: state.reviewer,
                pii_in_review: cfg.review.pii,
            };
            let opts = RunOptions {
                shard,
                threads,
                progress: progress_bar(quiet || json),
                ..RunOptions::default()
            };
            let (m2, base2) = (m.clone(), base.clone());
            let audit_state =
                tokio::task::spawn_blocking(move || run_audit(&m2, &base2, &scanner, opts))
                    .await??;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let state_name = match shard {
                Some((i, n)) => format!("audit-state-{i}-of-{n}.json"),
                None => "audit-state.json".into(),
            };
            write(&out.join(&state_name), &audit_state.to_json()?)?;
            if let Some((i, n)) = shard {
                println!(
                    "shard {i}/{n} written to {}; merge all {n} with `hegui audit merge --manifest {} --out DIR STATES…`",
                    out.join(&state_name).display(),
                    manifest.display()
                );
                return Ok(true);
            }
            let o = Output {
                out: &out,
                annotations: annotations.as_deref(),
                record,
                json,
            };
            report(config, &m, &base, &audit_state, o).await
        }
        AuditCommand::Merge {
            manifest,
            out,
            annotations,
            record,
            json,
            states,
        } => {
            let (m, base) = load_manifest(&manifest)?;
            prepare_out(&out)?;
            check_readable(annotations.as_deref())?;
            let parts = states
                .iter()
                .map(|p| {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    AuditState::from_json(&text).with_context(|| format!("state {}", p.display()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let merged = merge(parts)?;
            // The legality findings are computed from this manifest: it must be the one the
            // shards ran with, not an edited copy (its seed and sources decide the result).
            if merged.manifest_sha256 != m.fingerprint() {
                anyhow::bail!(
                    "{} is not the manifest the shards ran with (their manifest_sha256 is {}, this \
                     file's {}): merge with the same manifest file",
                    manifest.display(),
                    merged.manifest_sha256,
                    m.fingerprint()
                );
            }
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            write(&out.join("audit-state.json"), &merged.to_json()?)?;
            let o = Output {
                out: &out,
                annotations: annotations.as_deref(),
                record,
                json,
            };
            report(config, &m, &base, &merged, o).await
        }
        AuditCommand::Sample { state, out } => {
            let text = std::fs::read_to_string(&state)
                .with_context(|| format!("reading {}", state.display()))?;
            let s = AuditState::from_json(&text)?.sample();
            // Checked before the file is created, so a wrong name truncates nothing.
            let jsonl = match out.extension().and_then(|e| e.to_str()) {
                Some("jsonl") => true,
                Some("csv") => false,
                _ => anyhow::bail!("--out must end in .csv or .jsonl"),
            };
            let f = std::fs::File::create(&out)
                .with_context(|| format!("creating {}", out.display()))?;
            let w = std::io::BufWriter::new(f);
            if jsonl {
                hegui_audit::sample::export_jsonl(&s, w)?;
            } else {
                hegui_audit::sample::export_csv(&s, w)?;
            }
            println!("{} sampled item(s) written to {}; fill in `verdict` (pass/fail) and pass the file to `hegui audit run|merge --annotations`", s.items.len(), out.display());
            Ok(true)
        }
    }
}
