//! `hegui lexicon …`, `hegui review` and `hegui classifier …`: the review engine for operators
//! and scripts.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use hegui_classifier::cli::{
    eval_command, info_command, parse_class_weights, parse_ngrams, parse_pairs, parse_thresholds,
    predict_command, train_command, EvalArgs, TrainArgs,
};
use hegui_classifier::{DataFormat, ReadOptions, TrainConfig};
use hegui_config::Config;
use hegui_policy::coverage::Coverage;
use hegui_policy::{Lexicon, DEMO_LEXICON};
use hegui_types::Stage;

/// `hegui lexicon …`
#[derive(Subcommand, Debug)]
pub enum LexiconCommand {
    /// Check lexicon files and report every error with its file and line.
    Check {
        /// Lexicon files (TOML, see LEXICON.md).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Coverage against TC260-003 (≥ 10,000 terms; ≥ 200 per A.1 risk; ≥ 100 per A.2 risk),
    /// with the gaps. Without files: the lexicons of the configuration.
    Stats {
        /// Lexicon files; default: those the configuration loads.
        files: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Which review stage.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum StageArg {
    /// A prompt.
    Input,
    /// A model's answer.
    Output,
}

/// Input format of `hegui review`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewFormat {
    /// The whole input is one text.
    Text,
    /// One JSON object per line with a `text` field (other fields are echoed back).
    Jsonl,
}

/// Arguments of `hegui review`.
#[derive(clap::Args, Debug)]
pub struct ReviewArgs {
    /// Text to review; without it, FILE or standard input is read.
    #[arg(long)]
    text: Option<String>,
    /// File to read (`-` or absent: standard input).
    file: Option<PathBuf>,
    /// Review as a prompt (input) or as a model answer (output).
    #[arg(long, value_enum, default_value = "input")]
    stage: StageArg,
    /// How to read the input.
    #[arg(long, value_enum, default_value = "text")]
    format: ReviewFormat,
    /// Add to each match the text it matched and the lexicon term behind its rule (for
    /// operators tuning their lexicons; records never carry either).
    #[arg(long)]
    explain: bool,
}

/// `hegui classifier …`
#[derive(Subcommand, Debug)]
pub enum ClassifierCommand {
    /// Train a model from labelled data (CSV with a header, or JSONL).
    Train {
        /// Training data.
        #[arg(long)]
        data: PathBuf,
        /// Where to write the model.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
        /// Risk code per label, e.g. `1=A2-9` or `offensive=A2-9,illegal=A1-8`.
        #[arg(long)]
        risk: Option<String>,
        /// The label that means "no risk" (binary models).
        #[arg(long)]
        negative_label: Option<String>,
        /// Character n-gram range, e.g. `1-2`.
        #[arg(long)]
        ngrams: Option<String>,
        /// Hash buckets as a power of two.
        #[arg(long)]
        bits: Option<u8>,
        /// Training epochs.
        #[arg(long)]
        epochs: Option<u32>,
        /// Learning rate.
        #[arg(long)]
        lr: Option<f32>,
        /// L2 regularisation.
        #[arg(long)]
        l2: Option<f32>,
        /// Random seed (training is reproducible).
        #[arg(long)]
        seed: Option<u64>,
        /// `uniform`, `balanced` or `label=weight,…`.
        #[arg(long)]
        class_weights: Option<String>,
        /// Decision threshold of a binary model.
        #[arg(long)]
        threshold: Option<f32>,
        /// Fraction held out to report metrics in the model file.
        #[arg(long)]
        holdout: Option<f32>,
    },
    /// Evaluate a model on labelled data: accuracy, precision, recall, F1, confusion matrix.
    Eval {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Evaluation data.
        #[arg(long)]
        data: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
        /// Override the model's threshold.
        #[arg(long)]
        threshold: Option<f32>,
        /// Threshold sweep: `default`, `0.3,0.5` or `0.1:0.9:0.1`.
        #[arg(long)]
        sweep: Option<String>,
    },
    /// Classify texts.
    Predict {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Texts.
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Show a model's metadata.
    Info {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
    },
}

/// How labelled data is read.
#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// `csv` or `jsonl` (default: from the extension).
    #[arg(long)]
    format: Option<String>,
    /// Column (CSV) or field (JSONL) with the text.
    #[arg(long)]
    text_column: Option<String>,
    /// Column or field with the label.
    #[arg(long)]
    label_column: Option<String>,
    /// Rename labels, e.g. `0=safe,1=offensive`.
    #[arg(long)]
    label_map: Option<String>,
}

impl ReadArgs {
    fn options(&self) -> anyhow::Result<ReadOptions> {
        let mut read = ReadOptions::default();
        if let Some(f) = &self.format {
            read.format = Some(
                DataFormat::parse(f)
                    .with_context(|| format!("--format {f:?}: use csv or jsonl"))?,
            );
        }
        if let Some(c) = &self.text_column {
            read.text_column = c.clone();
        }
        if let Some(c) = &self.label_column {
            read.label_column = c.clone();
        }
        if let Some(m) = &self.label_map {
            read.label_map = parse_pairs("--label-map", m)?;
        }
        Ok(read)
    }
}

/// Runs `hegui lexicon …`.
pub fn lexicon(config: Option<&Path>, cmd: LexiconCommand) -> anyhow::Result<()> {
    match cmd {
        LexiconCommand::Check { files } => {
            let mut failed = 0;
            // Lexicons are loaded together by name, so two files of one name cannot be.
            let mut names: std::collections::HashMap<String, &Path> = Default::default();
            for f in &files {
                match Lexicon::load_checked(f) {
                    Ok(lex) => match names.insert(lex.name().to_string(), f) {
                        Some(first) => {
                            failed += 1;
                            eprintln!(
                                "{}: lexicon {:?} has the name of {} already: lexicons in \
                                 force together need distinct names (rename one in its \
                                 [lexicon] table)",
                                f.display(),
                                lex.name(),
                                first.display()
                            );
                        }
                        None => println!(
                            "{}: OK ({} entries, lexicon {:?}, version {})",
                            f.display(),
                            lex.entries().len(),
                            lex.name(),
                            lex.version().get(..16).unwrap_or_default()
                        ),
                    },
                    Err(errors) => {
                        failed += 1;
                        for e in errors {
                            eprintln!("{e}");
                        }
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} of {} lexicon file(s) have errors", files.len());
            }
            Ok(())
        }
        LexiconCommand::Stats { files, json } => {
            let lexicons = if files.is_empty() {
                configured_lexicons(config)?
            } else {
                files
                    .iter()
                    .map(|f| Lexicon::load(f).map_err(anyhow::Error::from))
                    .collect::<anyhow::Result<Vec<_>>>()?
            };
            let c = Coverage::of(&lexicons);
            let gaps = c.gaps();
            if json {
                let out = serde_json::json!({
                    "total": c.total,
                    "required_total": hegui_policy::coverage::MIN_TOTAL,
                    "risks": c.risks.iter().map(|r| serde_json::json!({
                        "code": r.code, "name": r.zh, "terms": r.terms, "required": r.required,
                    })).collect::<Vec<_>>(),
                    "pii": c.pii,
                    "gaps": gaps,
                    "meets_tc260": gaps.is_empty(),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            println!(
                "{} distinct terms in {} lexicon(s): {}",
                c.total,
                lexicons.len(),
                lexicons
                    .iter()
                    .map(|l| l.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("{:<6} {:>7} {:>9}  name", "risk", "terms", "required");
            for r in &c.risks {
                let mark = if r.terms < r.required { " ✗" } else { "" };
                println!(
                    "{:<6} {:>7} {:>9}  {}{mark}",
                    r.code, r.terms, r.required, r.zh
                );
            }
            for (k, v) in &c.pii {
                println!("{k:<12} {v:>7}");
            }
            if gaps.is_empty() {
                println!("meets the TC260-003 keyword-library minimums");
            } else {
                println!("gaps against TC260-003 ({}):", gaps.len());
                for g in gaps {
                    println!("  - {g}");
                }
            }
            Ok(())
        }
    }
}

fn configured_lexicons(config: Option<&Path>) -> anyhow::Result<Vec<Lexicon>> {
    let cfg = Config::load(config)?;
    let mut all = Vec::new();
    if cfg.review.demo_lexicon {
        all.push(Lexicon::parse("(built-in demo lexicon)", DEMO_LEXICON)?);
    }
    for p in &cfg.review.lexicons {
        all.push(Lexicon::load(p)?);
    }
    Ok(all)
}

/// Runs `hegui review`: decisions as JSON, one line per text.
pub fn review(config: Option<&Path>, args: ReviewArgs) -> anyhow::Result<()> {
    let cfg = Config::load(config)?;
    let (state, _) = hegui_gateway::load_review(&cfg)?;
    let reviewer = state.reviewer;
    let terms: std::collections::HashMap<String, String> = if args.explain {
        configured_lexicons(config)?
            .iter()
            .flat_map(|l| {
                l.entries()
                    .iter()
                    .map(|e| (format!("{}:{}", l.name(), e.line()), e.term().to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    } else {
        Default::default()
    };
    let stage = match args.stage {
        StageArg::Input => Stage::Input,
        StageArg::Output => Stage::Output,
    };
    // The configured guard models review after the engine, as in the gateway (a stopping
    // engine decision skips them), on one runtime for the whole command: the guards' HTTP
    // clients keep their connections on it between texts.
    let guards: Vec<_> = state
        .guards
        .iter()
        .filter(|g| g.applies_to(stage))
        .cloned()
        .collect();
    let guard_runtime = if guards.is_empty() {
        GuardRuntime(None)
    } else {
        GuardRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .context("starting the runtime that calls the guard models")?,
        ))
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut emit = |text: &str, extra: Option<serde_json::Value>| -> anyhow::Result<()> {
        let r = reviewer.review(stage, text);
        let mut v = serde_json::json!({
            "decision": r.decision,
            "text": r.text,
        });
        if !guards.is_empty() {
            // Each guard's decision, and the strictest action of them all (the gateway's).
            let mut action = r.decision.action;
            let mut decisions = Vec::new();
            for guard in &guards {
                if action.stops() {
                    break;
                }
                let req = match stage {
                    Stage::Input => hegui_guard::GuardRequest::input(text),
                    // Reviewed as an answer to an unknown prompt.
                    Stage::Output => hegui_guard::GuardRequest::output("", text),
                };
                let version = reviewer.version();
                let outcome = guard_runtime.run(guard.review(&req, version))?;
                if let Some(outcome) = outcome {
                    action = action.max(outcome.decision.action);
                    decisions.push(outcome.decision);
                }
            }
            if let Some(obj) = v.as_object_mut() {
                obj.insert("guards".into(), serde_json::to_value(&decisions)?);
                obj.insert("action".into(), serde_json::to_value(action)?);
            }
        }
        if args.explain {
            if let Some(ms) = v
                .pointer_mut("/decision/matches")
                .and_then(|m| m.as_array_mut())
            {
                for (m, info) in ms.iter_mut().zip(&r.decision.matches) {
                    if let Some(obj) = m.as_object_mut() {
                        let matched = text.get(info.start..info.end).unwrap_or_default();
                        obj.insert("matched".into(), matched.into());
                        if let Some(term) = terms.get(&*info.rule) {
                            obj.insert("term".into(), term.as_str().into());
                        }
                    }
                }
            }
        }
        if let (Some(extra), Some(obj)) = (extra, v.as_object_mut()) {
            obj.insert("input".into(), extra);
        }
        writeln!(out, "{v}")?;
        Ok(())
    };
    if let Some(t) = &args.text {
        return emit(t, None);
    }
    let reader: Box<dyn BufRead> = match args.file.as_deref() {
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
        Some(p) if p == Path::new("-") => Box::new(std::io::BufReader::new(std::io::stdin())),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
    };
    match args.format {
        ReviewFormat::Text => {
            let mut bytes = Vec::new();
            let mut reader = reader;
            reader.read_to_end(&mut bytes)?;
            let text = String::from_utf8(bytes).map_err(|e| {
                anyhow::anyhow!(
                    "input is not valid UTF-8 (first bad byte at offset {}): convert it to UTF-8",
                    e.utf8_error().valid_up_to()
                )
            })?;
            emit(&text, None)
        }
        ReviewFormat::Jsonl => {
            for (i, line) in reader.lines().enumerate() {
                let line =
                    line.with_context(|| format!("line {}: cannot read (is it UTF-8?)", i + 1))?;
                if line.trim().is_empty() {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(&line)
                    .with_context(|| format!("line {}: not JSON", i + 1))?;
                let Some(text) = v.get("text").and_then(|t| t.as_str()) else {
                    bail!("line {}: no string field \"text\"", i + 1);
                };
                let text = text.to_string();
                emit(&text, Some(v))?;
            }
            Ok(())
        }
    }
}

/// Runs `hegui classifier …`.
pub fn classifier(cmd: ClassifierCommand) -> anyhow::Result<()> {
    let report = match cmd {
        ClassifierCommand::Train {
            data,
            out,
            read,
            risk,
            negative_label,
            ngrams,
            bits,
            epochs,
            lr,
            l2,
            seed,
            class_weights,
            threshold,
            holdout,
        } => {
            let mut config = TrainConfig::default();
            if let Some(r) = risk {
                config.risk_codes = parse_pairs("--risk", &r)?;
            }
            if negative_label.is_some() {
                config.negative_label = negative_label;
            }
            if let Some(n) = ngrams {
                (config.ngram_min, config.ngram_max) = parse_ngrams(&n)?;
            }
            if let Some(b) = bits {
                config.bucket_bits = b;
            }
            if let Some(e) = epochs {
                config.epochs = e;
            }
            if let Some(v) = lr {
                config.learning_rate = v;
            }
            if let Some(v) = l2 {
                config.l2 = v;
            }
            if let Some(v) = seed {
                config.seed = v;
            }
            if let Some(w) = class_weights {
                config.class_weights = parse_class_weights(&w)?;
            }
            if let Some(t) = threshold {
                config.threshold = t;
            }
            if let Some(h) = holdout {
                config.holdout = h;
            }
            train_command(&TrainArgs {
                data,
                read: read.options()?,
                out,
                config,
            })?
            .to_string()
        }
        ClassifierCommand::Eval {
            model,
            data,
            read,
            threshold,
            sweep,
        } => eval_command(&EvalArgs {
            model,
            data,
            read: read.options()?,
            sweep: sweep.map(|s| parse_thresholds(&s)).transpose()?,
            threshold,
        })?
        .to_string(),
        ClassifierCommand::Predict { model, texts } => predict_command(&model, &texts)?.to_string(),
        ClassifierCommand::Info { model } => info_command(&model)?,
    };
    print!("{report}");
    Ok(())
}

/// The runtime that calls the guard models for `hegui review`. `hegui` runs its commands
/// inside another runtime, where this one can neither be blocked on nor dropped: calls run on
/// a scoped thread, and the drop shuts it down without waiting.
struct GuardRuntime(Option<tokio::runtime::Runtime>);

impl GuardRuntime {
    fn run<F: std::future::Future + Send>(&self, fut: F) -> anyhow::Result<F::Output>
    where
        F::Output: Send,
    {
        let rt = self
            .0
            .as_ref()
            .context("no runtime for the guard models was started")?;
        std::thread::scope(|s| s.spawn(|| rt.block_on(fut)).join())
            .map_err(|_| anyhow::anyhow!("a guard model call panicked"))
    }
}

impl Drop for GuardRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}
