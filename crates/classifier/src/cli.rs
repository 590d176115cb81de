//! Plain functions behind `hegui classifier …`: paths and options in, a printable report out.
//!
//! Nothing here parses a command line; the `hegui` binary maps its clap flags onto these
//! argument structs (and `examples/classifier.rs` does the same with `std::env::args`). The
//! `parse_*` helpers turn flag values into typed options so both agree on the syntax.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::data::{read_examples, DataError, ReadOptions};
use crate::eval::{evaluate, threshold_sweep, Evaluation, SweepPoint};
use crate::format::{LoadError, SaveError};
use crate::model::{LabelInfo, Model, SourceInfo, StoredMetrics};
use crate::train::{train, ClassWeights, TrainConfig, TrainError};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Reading the data file failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Loading a model failed.
    #[error("{path}: {source}")]
    Load {
        /// The model file.
        path: PathBuf,
        /// What is wrong with it.
        source: LoadError,
    },
    /// Saving the model failed.
    #[error(transparent)]
    Save(#[from] SaveError),
    /// No label of the data is given a risk code, so the model could never flag a text.
    #[error(
        "no label is mapped to a TC260 risk code, so the model would never flag anything; \
         name the risky label(s) with --risk LABEL=CODE, e.g. --risk {example}=A2-9 \
         (labels in the data: {labels:?})"
    )]
    NoRiskLabel {
        /// The labels found in the data.
        labels: Vec<String>,
        /// The label the hint suggests (the first that is not a negative label).
        example: String,
    },
    /// An option value could not be parsed.
    #[error("invalid {option} value {value:?}: {expected}")]
    Usage {
        /// The option.
        option: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// `hegui classifier train --data FILE --out MODEL`.
#[derive(Clone, Debug)]
pub struct TrainArgs {
    /// The labelled data.
    pub data: PathBuf,
    /// How to read it.
    pub read: ReadOptions,
    /// Where to write the model.
    pub out: PathBuf,
    /// Training settings.
    pub config: TrainConfig,
}

/// What `train_command` did.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// The model file written.
    pub out: PathBuf,
    /// Its size in bytes.
    pub model_bytes: u64,
    /// Examples read.
    pub examples: usize,
    /// Examples the weights were fitted on.
    pub trained_on: usize,
    /// The model's labels.
    pub labels: Vec<LabelInfo>,
    /// SHA-256 of the data file.
    pub data_sha256: String,
    /// Time to fit.
    pub train_time: Duration,
    /// Time to load the written file back (it is re-read to check it).
    pub load_time: Duration,
    /// Metrics stored in the model.
    pub metrics: Option<StoredMetrics>,
}

/// Reads the data, trains, writes the model atomically, and re-loads it as a check.
///
/// Fails with [`CliError::NoRiskLabel`] when no label gets a risk code: the review stage only
/// flags a text whose winning label carries one, so such a model would silently allow
/// everything. (`train` itself still accepts it, for experiments that only measure accuracy.)
pub fn train_command(args: &TrainArgs) -> Result<TrainReport, CliError> {
    let examples = read_examples(&args.data, &args.read)?;
    // `train` rejects risk codes for labels that are not in the data, so a non-empty map
    // means at least one trained label carries a code.
    if args.config.risk_codes.is_empty() {
        let labels: Vec<String> = examples
            .iter()
            .map(|e| e.label.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(str::to_owned)
            .collect();
        // Suggest a label that is not a negative one, so the hint is right for 0/1 data.
        let negative = |l: &str| {
            args.config.negative_label.as_deref() == Some(l)
                || crate::train::NEGATIVE_LABEL_NAMES.contains(&l.to_ascii_lowercase().as_str())
        };
        let example = labels
            .iter()
            .find(|l| !negative(l))
            .or(labels.last())
            .cloned()
            .unwrap_or_else(|| "LABEL".to_owned());
        return Err(CliError::NoRiskLabel { labels, example });
    }
    let file_sha = sha256_file(&args.data)?;
    let started = Instant::now();
    let mut model = train(&examples, &args.config)?;
    let train_time = started.elapsed();
    model.set_source(Some(SourceInfo {
        path: args.data.display().to_string(),
        sha256: file_sha.clone(),
    }));
    model.save(&args.out)?;
    let (reloaded, load_time) = load_timed(&args.out)?;
    let model_bytes = fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    let meta = reloaded.meta();
    Ok(TrainReport {
        out: args.out.clone(),
        model_bytes,
        examples: meta.training.examples,
        trained_on: meta.training.trained_on,
        labels: meta.labels.clone(),
        data_sha256: file_sha,
        train_time,
        load_time,
        metrics: meta.metrics.clone(),
    })
}

/// `hegui classifier eval --model MODEL --data FILE`.
#[derive(Clone, Debug)]
pub struct EvalArgs {
    /// The model file.
    pub model: PathBuf,
    /// The labelled data.
    pub data: PathBuf,
    /// How to read it.
    pub read: ReadOptions,
    /// Binary models: also evaluate at these thresholds.
    pub sweep: Option<Vec<f32>>,
    /// Evaluate with this threshold instead of the model's.
    pub threshold: Option<f32>,
}

/// What `eval_command` measured.
#[derive(Clone, Debug)]
pub struct EvalReport {
    /// The model file.
    pub model: PathBuf,
    /// Time to load it.
    pub load_time: Duration,
    /// Threshold used (binary models).
    pub threshold: f32,
    /// The figures.
    pub evaluation: Evaluation,
    /// Threshold sweep, when asked for and the model is binary.
    pub sweep: Option<Vec<SweepPoint>>,
    /// Mean wall time per text of the evaluation pass.
    pub time_per_text: Duration,
}

/// Loads the model and scores it on the data.
pub fn eval_command(args: &EvalArgs) -> Result<EvalReport, CliError> {
    let (mut model, load_time) = load_timed(&args.model)?;
    if let Some(t) = args.threshold {
        model.set_threshold(t).map_err(|_| CliError::Usage {
            option: "--threshold",
            value: t.to_string(),
            expected: "a number strictly between 0 and 1",
        })?;
    }
    let examples = read_examples(&args.data, &args.read)?;
    let started = Instant::now();
    let evaluation = evaluate(&model, &examples);
    let time_per_text =
        started.elapsed() / u32::try_from(examples.len()).unwrap_or(u32::MAX).max(1);
    let sweep = args
        .sweep
        .as_deref()
        .and_then(|t| threshold_sweep(&model, &examples, t));
    Ok(EvalReport {
        model: args.model.clone(),
        load_time,
        threshold: model.threshold(),
        evaluation,
        sweep,
        time_per_text,
    })
}

/// One classified text.
#[derive(Clone, Debug)]
pub struct PredictLine {
    /// The text.
    pub text: String,
    /// The winning label.
    pub label: String,
    /// Its probability.
    pub score: f32,
    /// Its risk code.
    pub risk_code: Option<String>,
}

/// What `predict_command` returned.
#[derive(Clone, Debug)]
pub struct PredictReport {
    /// One line per text.
    pub lines: Vec<PredictLine>,
}

/// Classifies each text with the model at `model`.
pub fn predict_command(model: &Path, texts: &[String]) -> Result<PredictReport, CliError> {
    let (model, _) = load_timed(model)?;
    let lines = texts
        .iter()
        .map(|t| {
            let p = model.predict(t);
            PredictLine {
                text: t.clone(),
                label: p.label.to_owned(),
                score: p.score,
                risk_code: p.risk_code.map(str::to_owned),
            }
        })
        .collect();
    Ok(PredictReport { lines })
}

/// The model file's header, pretty-printed, with its size and load time.
pub fn info_command(model: &Path) -> Result<String, CliError> {
    let (m, load_time) = load_timed(model)?;
    let size = fs::metadata(model).map(|m| m.len()).unwrap_or(0);
    let header = serde_json::to_string_pretty(m.meta()).map_err(SaveError::Encode)?;
    Ok(format!(
        "{}: {size} bytes, loaded in {load_time:.2?}\n{header}\n",
        model.display()
    ))
}

fn load_timed(path: &Path) -> Result<(Model, Duration), CliError> {
    let started = Instant::now();
    let model = Model::load(path).map_err(|source| CliError::Load {
        path: path.to_owned(),
        source,
    })?;
    Ok((model, started.elapsed()))
}

fn sha256_file(path: &Path) -> Result<String, CliError> {
    let bytes = fs::read(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// Parses `a=b,c=d` (used for `--label-map 0=safe,1=offensive` and `--risk offensive=A2-9`).
pub fn parse_pairs(
    option: &'static str,
    value: &str,
) -> Result<BTreeMap<String, String>, CliError> {
    let mut map = BTreeMap::new();
    for part in value.split(',').filter(|p| !p.trim().is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                map.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            _ => {
                return Err(CliError::Usage {
                    option,
                    value: value.to_owned(),
                    expected: "comma-separated KEY=VALUE pairs, e.g. 0=safe,1=offensive",
                })
            }
        }
    }
    Ok(map)
}

/// Parses an n-gram range `1-3` (or a single `2`).
pub fn parse_ngrams(value: &str) -> Result<(u8, u8), CliError> {
    let bad = || CliError::Usage {
        option: "--ngrams",
        value: value.to_owned(),
        expected: "MIN-MAX with 1 <= MIN <= MAX <= 8, e.g. 1-3",
    };
    let (a, b) = value.split_once('-').unwrap_or((value, value));
    let a: u8 = a.trim().parse().map_err(|_| bad())?;
    let b: u8 = b.trim().parse().map_err(|_| bad())?;
    if a == 0 || a > b || b > crate::features::MAX_NGRAM {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses thresholds: `0.3,0.5,0.7` or a range `FROM:TO:STEP`; `default` gives 0.05..0.95.
pub fn parse_thresholds(value: &str) -> Result<Vec<f32>, CliError> {
    let bad = || CliError::Usage {
        option: "--sweep",
        value: value.to_owned(),
        expected: "default, comma-separated numbers in (0, 1), or FROM:TO:STEP",
    };
    if value.trim() == "default" {
        return Ok(crate::eval::default_thresholds());
    }
    let in_range = |t: f32| t > 0.0 && t < 1.0;
    let parts: Vec<&str> = value.split(':').collect();
    let out = if let [from, to, step] = parts.as_slice() {
        let (from, to, step): (f32, f32, f32) = (
            from.trim().parse().map_err(|_| bad())?,
            to.trim().parse().map_err(|_| bad())?,
            step.trim().parse().map_err(|_| bad())?,
        );
        if !(step > 0.0 && in_range(from) && in_range(to) && from <= to) {
            return Err(bad());
        }
        let n = ((to - from) / step + 1e-4).floor() as usize;
        (0..=n.min(10_000))
            .map(|i| from + step * i as f32)
            .collect()
    } else {
        value
            .split(',')
            .map(|p| p.trim().parse::<f32>().map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()?
    };
    if out.is_empty() || !out.iter().all(|&t| in_range(t)) {
        return Err(bad());
    }
    Ok(out)
}

/// Parses `--class-weights`: `uniform`, `balanced`, or `label=weight,…`.
pub fn parse_class_weights(value: &str) -> Result<ClassWeights, CliError> {
    match value.trim() {
        "uniform" => Ok(ClassWeights::Uniform),
        "balanced" => Ok(ClassWeights::Balanced),
        other => {
            let bad = || CliError::Usage {
                option: "--class-weights",
                value: value.to_owned(),
                expected: "uniform, balanced, or LABEL=WEIGHT pairs with positive weights",
            };
            let pairs = parse_pairs("--class-weights", other)?;
            let mut map = BTreeMap::new();
            for (k, v) in pairs {
                let w: f32 = v.parse().map_err(|_| bad())?;
                if !(w.is_finite() && w > 0.0) {
                    return Err(bad());
                }
                map.insert(k, w);
            }
            Ok(ClassWeights::Manual(map))
        }
    }
}

impl fmt::Display for TrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "wrote {} ({} bytes; re-loaded in {:.2?})",
            self.out.display(),
            self.model_bytes,
            self.load_time
        )?;
        writeln!(
            f,
            "trained on {} of {} examples in {:.2?}; data sha256 {}",
            self.trained_on, self.examples, self.train_time, self.data_sha256
        )?;
        for l in &self.labels {
            writeln!(
                f,
                "label {:?} → risk {}",
                l.name,
                l.risk_code.as_deref().unwrap_or("none")
            )?;
        }
        if let Some(m) = &self.metrics {
            writeln!(f, "metrics on {}:", m.evaluated_on)?;
            write!(f, "{}", m.evaluation)?;
        }
        Ok(())
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model {} loaded in {:.2?}; {:.2?} per text; threshold {}",
            self.model.display(),
            self.load_time,
            self.time_per_text,
            self.threshold
        )?;
        write!(f, "{}", self.evaluation)?;
        if let Some(sweep) = &self.sweep {
            writeln!(
                f,
                "threshold  accuracy  precision  recall  f1      macro-f1"
            )?;
            for p in sweep {
                writeln!(
                    f,
                    "{:<9.3}  {:<8.4}  {:<9.4}  {:<6.4}  {:<6.4}  {:.4}",
                    p.threshold, p.accuracy, p.precision, p.recall, p.f1, p.macro_f1
                )?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for PredictReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            writeln!(
                f,
                "{}\t{:.4}\t{}\t{}",
                l.label,
                l.score,
                l.risk_code.as_deref().unwrap_or("-"),
                l.text
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_reject_garbage() {
        let m = parse_pairs("--label-map", "0=safe, 1=offensive").unwrap();
        assert_eq!(m.get("1").map(String::as_str), Some("offensive"));
        assert!(parse_pairs("--risk", "offensive").is_err());
        assert!(parse_pairs("--risk", "=A2-9").is_err());
    }

    #[test]
    fn ngram_ranges_parse() {
        assert_eq!(parse_ngrams("1-3").unwrap(), (1, 3));
        assert_eq!(parse_ngrams("2").unwrap(), (2, 2));
        for bad in ["0-3", "3-1", "1-9", "x"] {
            assert!(parse_ngrams(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn thresholds_parse_lists_and_ranges() {
        assert_eq!(parse_thresholds("0.3,0.5").unwrap(), vec![0.3, 0.5]);
        let r = parse_thresholds("0.1:0.5:0.1").unwrap();
        assert_eq!(r.len(), 5);
        assert!((r[4] - 0.5).abs() < 1e-6);
        assert_eq!(parse_thresholds("default").unwrap().len(), 19);
        for bad in ["0", "1.5", "0.5:0.1:0.1", "a", "0.1:0.2:0"] {
            assert!(parse_thresholds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn class_weights_parse() {
        assert_eq!(
            parse_class_weights("balanced").unwrap(),
            ClassWeights::Balanced
        );
        assert_eq!(
            parse_class_weights("a=2").unwrap(),
            ClassWeights::Manual([("a".to_owned(), 2.0)].into())
        );
        assert!(parse_class_weights("a=-1").is_err());
    }
}
