//! Training: `TrainConfig` and logistic regression by AdaGrad over hashed n-gram features.
//!
//! The linear model is written by hand on purpose: no maintained crate does logistic regression
//! over hashed sparse n-grams with a compact, fast-loading model file (linfa and smartcore want
//! dense or CSR matrices in memory and serialise with serde, which makes a 1-4 MiB weight vector
//! a slow JSON load; fastText bindings need C++). The whole algorithm is ~100 lines below.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::{split_stratified, Example};
use crate::eval::{evaluate, Evaluation};
use crate::features::{
    sparse_features, FeatureScratch, FeatureSpec, TermWeighting, BUCKET_BITS_RANGE, MAX_NGRAM,
};
use crate::model::{LabelInfo, Model, ModelKind, ModelMeta, StoredMetrics, TrainingInfo};
use crate::risk::is_tc260_code;

/// Most labels a model may have (one-vs-rest keeps one weight vector per label).
pub const MAX_LABELS: usize = 256;
/// Most weights (buckets × units) a model may have: 2^27 f32 = 512 MiB.
pub const MAX_WEIGHTS: usize = 1 << 27;

/// Label names that are taken as the negative class of a binary model when
/// [`TrainConfig::negative_label`] is not set.
pub const NEGATIVE_LABEL_NAMES: [&str; 9] = [
    "0", "safe", "benign", "normal", "negative", "neg", "false", "ok", "none",
];

/// How training examples of each label are weighted in the loss.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeights {
    /// Every example weighs 1.
    #[default]
    Uniform,
    /// Label `l` weighs `n / (k · count(l))` (n examples, k labels), as scikit-learn's "balanced".
    Balanced,
    /// Explicit weight per label; labels not listed weigh 1.
    Manual(BTreeMap<String, f32>),
}

/// Everything that decides what `train` produces. Same config + same examples = same weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Shortest character n-gram.
    pub ngram_min: u8,
    /// Longest character n-gram.
    pub ngram_max: u8,
    /// The feature hash has `2^bucket_bits` buckets (8..=24).
    pub bucket_bits: u8,
    /// Feature value of a repeated n-gram.
    pub term_weighting: TermWeighting,
    /// Passes over the (shuffled) training data.
    pub epochs: u32,
    /// AdaGrad base learning rate.
    pub learning_rate: f32,
    /// L2 regularisation strength, applied to the weights an example touches.
    pub l2: f32,
    /// Seed of the shuffling (and of the holdout split).
    pub seed: u64,
    /// Loss weight per label.
    pub class_weights: ClassWeights,
    /// Binary models: the positive label wins when its probability is at least this.
    pub threshold: f32,
    /// Binary models: which label is the negative one (default: see [`NEGATIVE_LABEL_NAMES`]).
    pub negative_label: Option<String>,
    /// TC260 risk code per label (labels not listed carry none), e.g. `offensive → A2-9`.
    pub risk_codes: BTreeMap<String, String>,
    /// Fraction of examples (per label) held out to measure the stored metrics; 0 measures on
    /// the training set itself. The model is trained on the rest only.
    pub holdout: f32,
}

impl Default for TrainConfig {
    /// Chosen by a grid on three seeded 90/10 splits of COLD's *train* set (dev was not looked
    /// at): 1-2 grams beat 1-3 / 1-4 / 2-4 by 0.5-2.5 points, 2^18 buckets match 2^20 at a
    /// quarter of the size, 10 epochs beat 3 and 5 and tie 15 and 20; learning rate, L2,
    /// sublinear TF and class weighting moved nothing beyond noise. See `EVALUATION.md`.
    fn default() -> TrainConfig {
        TrainConfig {
            ngram_min: 1,
            ngram_max: 2,
            bucket_bits: 18,
            term_weighting: TermWeighting::Binary,
            epochs: 10,
            learning_rate: 0.2,
            l2: 1e-5,
            seed: 42,
            class_weights: ClassWeights::Uniform,
            threshold: 0.5,
            negative_label: None,
            risk_codes: BTreeMap::new(),
            holdout: 0.0,
        }
    }
}

impl TrainConfig {
    /// The feature spec this config trains with.
    pub fn feature_spec(&self) -> FeatureSpec {
        FeatureSpec::new(
            self.ngram_min,
            self.ngram_max,
            self.bucket_bits,
            self.term_weighting,
        )
    }

    /// Every problem with this config, or `Ok`.
    pub fn validate(&self) -> Result<(), TrainError> {
        let mut problems = Vec::new();
        if self.ngram_min == 0 || self.ngram_min > self.ngram_max || self.ngram_max > MAX_NGRAM {
            problems.push(format!(
                "n-gram range {}..={} must satisfy 1 <= min <= max <= {MAX_NGRAM}",
                self.ngram_min, self.ngram_max
            ));
        }
        if !BUCKET_BITS_RANGE.contains(&self.bucket_bits) {
            problems.push(format!(
                "bucket_bits {} must be in {}..={}",
                self.bucket_bits,
                BUCKET_BITS_RANGE.start(),
                BUCKET_BITS_RANGE.end()
            ));
        }
        if self.epochs == 0 || self.epochs > 10_000 {
            problems.push(format!("epochs {} must be in 1..=10000", self.epochs));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            problems.push(format!(
                "learning_rate {} must be a positive number",
                self.learning_rate
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            problems.push(format!("l2 {} must be a number >= 0", self.l2));
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            problems.push(format!("threshold {} must be in (0, 1)", self.threshold));
        }
        if !(self.holdout >= 0.0 && self.holdout < 1.0) {
            problems.push(format!("holdout {} must be in [0, 1)", self.holdout));
        }
        if let ClassWeights::Manual(w) = &self.class_weights {
            for (label, weight) in w {
                if !(weight.is_finite() && *weight > 0.0) {
                    problems.push(format!(
                        "class weight {weight} of label {label:?} must be positive"
                    ));
                }
            }
        }
        for (label, code) in &self.risk_codes {
            if !is_tc260_code(code) {
                problems.push(format!(
                    "risk code {code:?} of label {label:?} is not a TC260 code (A1-1 .. A5-2)"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TrainError::InvalidConfig { problems })
        }
    }
}

/// Why training could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration has problems; all are listed.
    #[error("invalid training configuration: {}; fix these settings and train again", problems.join("; "))]
    InvalidConfig {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// No examples were given.
    #[error("no training examples; check the data file and its text/label columns")]
    NoExamples,
    /// Fewer than two distinct labels.
    #[error(
        "training needs at least two distinct labels, found {found:?}; check the label column"
    )]
    TooFewLabels {
        /// The labels that were found.
        found: Vec<String>,
    },
    /// More labels than [`MAX_LABELS`].
    #[error("{found} distinct labels is more than the {MAX_LABELS} supported; is the label column right?")]
    TooManyLabels {
        /// Number of distinct labels.
        found: usize,
    },
    /// An example has an empty label.
    #[error("example {index} has an empty label; every example needs one")]
    EmptyLabel {
        /// 0-based index of the example.
        index: usize,
    },
    /// A label named in the config does not occur in the data.
    #[error(
        "{setting} names label {label:?}, which is not in the training data (labels: {labels:?})"
    )]
    UnknownLabel {
        /// The setting that names it.
        setting: &'static str,
        /// The label.
        label: String,
        /// The labels in the data.
        labels: Vec<String>,
    },
    /// The model would be too large.
    #[error("model would have {weights} weights (more than {MAX_WEIGHTS}); lower bucket_bits or use fewer labels")]
    TooLarge {
        /// buckets × units.
        weights: usize,
    },
    /// The holdout left no training example for some label.
    #[error("holdout {holdout} leaves nothing to train on; lower it or add data")]
    HoldoutTooLarge {
        /// The configured fraction.
        holdout: f32,
    },
}

/// Trains a model on `examples`.
///
/// Returns an error (never panics) for an invalid config, no examples, fewer than two labels,
/// or labels named in the config that are not in the data.
pub fn train(examples: &[Example], config: &TrainConfig) -> Result<Model, TrainError> {
    config.validate()?;
    if examples.is_empty() {
        return Err(TrainError::NoExamples);
    }
    if let Some(index) = examples.iter().position(|e| e.label.is_empty()) {
        return Err(TrainError::EmptyLabel { index });
    }
    let names: Vec<String> = examples
        .iter()
        .map(|e| e.label.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    if names.len() < 2 {
        return Err(TrainError::TooFewLabels { found: names });
    }
    if names.len() > MAX_LABELS {
        return Err(TrainError::TooManyLabels { found: names.len() });
    }
    let check = |setting, label: &String| {
        if names.contains(label) {
            Ok(())
        } else {
            Err(TrainError::UnknownLabel {
                setting,
                label: label.clone(),
                labels: names.clone(),
            })
        }
    };
    for label in config.risk_codes.keys() {
        check("risk_codes", label)?;
    }
    if let ClassWeights::Manual(w) = &config.class_weights {
        for label in w.keys() {
            check("class_weights", label)?;
        }
    }
    if let Some(neg) = &config.negative_label {
        check("negative_label", neg)?;
    }
    let labels = order_labels(names, config.negative_label.as_deref());
    let kind = if labels.len() == 2 {
        ModelKind::Binary
    } else {
        ModelKind::OneVsRest
    };
    let spec = config.feature_spec();
    let units = kind.units(labels.len());
    let weights_len = spec.buckets().saturating_mul(units);
    if weights_len > MAX_WEIGHTS {
        return Err(TrainError::TooLarge {
            weights: weights_len,
        });
    }

    let (fit, held, evaluated_on) = if config.holdout > 0.0 {
        let (fit, held) = split_stratified(examples, config.holdout, config.seed);
        if fit.is_empty() || held.is_empty() {
            return Err(TrainError::HoldoutTooLarge {
                holdout: config.holdout,
            });
        }
        let on = format!(
            "stratified holdout of {:.0}% ({} examples, seed {})",
            config.holdout * 100.0,
            held.len(),
            config.seed
        );
        (fit, held, on)
    } else {
        (examples.to_vec(), Vec::new(), "the training set".to_owned())
    };

    let label_index: BTreeMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut counts = vec![0usize; labels.len()];
    let mut ys = Vec::with_capacity(fit.len());
    for e in &fit {
        let y = label_index.get(e.label.as_str()).copied().unwrap_or(0);
        counts[y] += 1;
        ys.push(y);
    }
    let sample_weight = class_weights(&config.class_weights, &labels, &counts, fit.len());
    let (biases, weights) = fit_logistic(&fit, &ys, &sample_weight, units, &spec, config);

    let training = TrainingInfo {
        data_sha256: examples_sha256(examples),
        examples: examples.len(),
        trained_on: fit.len(),
        label_counts: count_labels(examples),
        source: None,
        created_unix: now_unix(),
        created_utc: String::new(),
        crate_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let meta = ModelMeta {
        labels: labels
            .iter()
            .map(|name| LabelInfo {
                name: name.clone(),
                risk_code: config.risk_codes.get(name).cloned(),
            })
            .collect(),
        kind,
        threshold: config.threshold,
        features: spec,
        config: config.clone(),
        training: TrainingInfo {
            created_utc: rfc3339_utc(training.created_unix),
            ..training
        },
        metrics: None,
    };
    let mut model = Model::from_parts(meta, biases, weights);
    let evaluation: Evaluation = evaluate(&model, if held.is_empty() { &fit } else { &held });
    model.set_metrics(Some(StoredMetrics {
        evaluated_on,
        evaluation,
    }));
    Ok(model)
}

/// Label order: sorted, except that a binary model puts its negative label first.
fn order_labels(mut names: Vec<String>, negative: Option<&str>) -> Vec<String> {
    if names.len() != 2 {
        return names;
    }
    let neg = match negative {
        Some(n) => names.iter().position(|l| l == n),
        None => {
            let known: Vec<usize> = (0..2)
                .filter(|&i| NEGATIVE_LABEL_NAMES.contains(&names[i].to_lowercase().as_str()))
                .collect();
            if known.len() == 1 {
                known.first().copied()
            } else {
                None
            }
        }
    };
    if neg == Some(1) {
        names.swap(0, 1);
    }
    names
}

fn class_weights(cw: &ClassWeights, labels: &[String], counts: &[usize], n: usize) -> Vec<f32> {
    match cw {
        ClassWeights::Uniform => vec![1.0; labels.len()],
        ClassWeights::Balanced => counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    1.0
                } else {
                    n as f32 / (labels.len() as f32 * c as f32)
                }
            })
            .collect(),
        ClassWeights::Manual(map) => labels
            .iter()
            .map(|l| map.get(l).copied().unwrap_or(1.0))
            .collect(),
    }
}

/// Examples as one flat sparse matrix: row `i` is `idx[rows[i]..rows[i+1]]`.
struct Sparse {
    rows: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f32>,
}

impl Sparse {
    fn build(examples: &[Example], spec: &FeatureSpec) -> Sparse {
        let mut m = Sparse {
            rows: vec![0],
            idx: Vec::new(),
            val: Vec::new(),
        };
        let mut scratch = FeatureScratch::default();
        let mut row = Vec::new();
        for e in examples {
            sparse_features(spec, &e.text, &mut scratch, &mut row);
            for &(i, v) in &row {
                m.idx.push(i);
                m.val.push(v);
            }
            m.rows.push(m.idx.len());
        }
        m
    }

    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (start, end) = (self.rows[i], self.rows[i + 1]);
        (&self.idx[start..end], &self.val[start..end])
    }
}

/// One-vs-rest logistic regression (one unit for a binary model) by per-example AdaGrad.
///
/// Loss per example and unit: `w_y · log-loss(σ(b + w·x), target)`; L2 is added to the gradient
/// of the weights the example touches (the usual sparse approximation: rare n-grams are
/// regularised less, which suits hashed features). Bias is not regularised.
fn fit_logistic(
    examples: &[Example],
    ys: &[usize],
    sample_weight: &[f32],
    units: usize,
    spec: &FeatureSpec,
    config: &TrainConfig,
) -> (Vec<f32>, Vec<f32>) {
    const EPS: f32 = 1e-6;
    let x = Sparse::build(examples, spec);
    let mut w = vec![0.0f32; spec.buckets() * units];
    let mut g2 = vec![0.0f32; w.len()];
    let mut b = vec![0.0f32; units];
    let mut bg2 = vec![0.0f32; units];
    let mut grad = vec![0.0f32; units];
    let lr = config.learning_rate;
    let l2 = config.l2;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    for _ in 0..config.epochs {
        order.shuffle(&mut rng);
        for &i in &order {
            let (idx, val) = x.row(i);
            let y = ys[i];
            let sw = sample_weight.get(y).copied().unwrap_or(1.0);
            grad.copy_from_slice(&b);
            for (&j, &v) in idx.iter().zip(val) {
                let base = j as usize * units;
                for (u, z) in grad.iter_mut().enumerate() {
                    *z += v * w[base + u];
                }
            }
            for (u, z) in grad.iter_mut().enumerate() {
                let target = if units == 1 { y == 1 } else { y == u };
                *z = sw * (sigmoid(*z) - if target { 1.0 } else { 0.0 });
            }
            for (&j, &v) in idx.iter().zip(val) {
                let base = j as usize * units;
                for (u, &g) in grad.iter().enumerate() {
                    let k = base + u;
                    let gk = g * v + l2 * w[k];
                    g2[k] += gk * gk;
                    w[k] -= lr * gk / (g2[k].sqrt() + EPS);
                }
            }
            for (u, &g) in grad.iter().enumerate() {
                bg2[u] += g * g;
                b[u] -= lr * g / (bg2[u].sqrt() + EPS);
            }
        }
    }
    (b, w)
}

/// Logistic function, stable for large |z|.
pub(crate) fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// SHA-256 (hex) of the examples, in order: for each, `u64le(len(text)) text u64le(len(label)) label`.
pub fn examples_sha256(examples: &[Example]) -> String {
    let mut h = Sha256::new();
    for e in examples {
        h.update((e.text.len() as u64).to_le_bytes());
        h.update(e.text.as_bytes());
        h.update((e.label.len() as u64).to_le_bytes());
        h.update(e.label.as_bytes());
    }
    hex::encode(h.finalize())
}

fn count_labels(examples: &[Example]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in examples {
        *counts.entry(e.label.clone()).or_insert(0) += 1;
    }
    counts
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub(crate) fn rfc3339_utc(secs: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, label: &str) -> Example {
        Example {
            text: text.into(),
            label: label.into(),
        }
    }

    #[test]
    fn dates_format_as_rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn known_negative_label_goes_first() {
        let v = |a: &str, b: &str| vec![a.to_owned(), b.to_owned()];
        assert_eq!(
            order_labels(v("offensive", "safe"), None),
            v("safe", "offensive")
        );
        assert_eq!(order_labels(v("0", "1"), None), v("0", "1"));
        assert_eq!(order_labels(v("a", "b"), Some("b")), v("b", "a"));
        assert_eq!(order_labels(v("cat", "dog"), None), v("cat", "dog"));
    }

    #[test]
    fn balanced_weights_favour_the_rare_label() {
        let labels = vec!["a".to_owned(), "b".to_owned()];
        let w = class_weights(&ClassWeights::Balanced, &labels, &[90, 10], 100);
        assert!((w[0] - 100.0 / 180.0).abs() < 1e-6);
        assert!((w[1] - 5.0).abs() < 1e-6);
    }

    #[test]
    fn invalid_config_lists_every_problem() {
        let config = TrainConfig {
            ngram_min: 0,
            epochs: 0,
            learning_rate: f32::NAN,
            risk_codes: [("x".to_owned(), "B9".to_owned())].into(),
            ..TrainConfig::default()
        };
        match config.validate() {
            Err(TrainError::InvalidConfig { problems }) => assert_eq!(problems.len(), 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn training_rejects_bad_data_without_panicking() {
        let c = TrainConfig {
            bucket_bits: 10,
            ..TrainConfig::default()
        };
        assert!(matches!(train(&[], &c), Err(TrainError::NoExamples)));
        assert!(matches!(
            train(&[ex("a", "x"), ex("b", "x")], &c),
            Err(TrainError::TooFewLabels { .. })
        ));
        assert!(matches!(
            train(&[ex("a", "x"), ex("b", "")], &c),
            Err(TrainError::EmptyLabel { index: 1 })
        ));
        let c2 = TrainConfig {
            risk_codes: [("nope".to_owned(), "A2-9".to_owned())].into(),
            ..c.clone()
        };
        assert!(matches!(
            train(&[ex("a", "x"), ex("b", "y")], &c2),
            Err(TrainError::UnknownLabel { .. })
        ));
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(1000.0) <= 1.0 && sigmoid(1000.0) > 0.99);
        assert!(sigmoid(-1000.0) >= 0.0 && sigmoid(-1000.0) < 0.01);
    }
}
