//! A trained model: metadata, weights, and prediction.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::eval::Evaluation;
use crate::features::{collect_buckets, weigh, FeatureScratch, FeatureSpec};
use crate::train::{sigmoid, TrainConfig};

/// One label of a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelInfo {
    /// The label as it appears in the training data (after any label map).
    pub name: String,
    /// The TC260 risk code a text with this label falls under; `None` for non-risk labels.
    pub risk_code: Option<String>,
}

/// How the labels are scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Two labels, one logistic unit giving P(`labels[1]`); `labels[0]` is the negative label.
    Binary,
    /// One logistic unit per label; the label with the highest probability wins.
    OneVsRest,
}

impl ModelKind {
    /// Number of logistic units for `labels` labels.
    pub fn units(self, labels: usize) -> usize {
        match self {
            ModelKind::Binary => 1,
            ModelKind::OneVsRest => labels,
        }
    }
}

/// Where the training data came from and when the model was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// SHA-256 (hex) of the examples given to `train` (see [`crate::examples_sha256`]).
    pub data_sha256: String,
    /// Number of examples given to `train`.
    pub examples: usize,
    /// Number of them the weights were fitted on (fewer when a holdout was kept).
    pub trained_on: usize,
    /// Examples per label.
    pub label_counts: BTreeMap<String, usize>,
    /// The data file, when trained from one (path and SHA-256 of its bytes).
    pub source: Option<SourceInfo>,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix: u64,
    /// Creation time as RFC 3339 UTC.
    pub created_utc: String,
    /// Version of hegui-classifier that trained the model.
    pub crate_version: String,
}

/// A training data file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The path as given.
    pub path: String,
    /// SHA-256 (hex) of the file's bytes.
    pub sha256: String,
}

/// Metrics measured when the model was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredMetrics {
    /// What they were measured on, in words.
    pub evaluated_on: String,
    /// The figures.
    pub evaluation: Evaluation,
}

/// A model's metadata: the JSON header of its file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Labels in unit order (binary: negative, positive).
    pub labels: Vec<LabelInfo>,
    /// Binary or one-vs-rest.
    pub kind: ModelKind,
    /// Binary models: the positive label wins at probability ≥ threshold. Unused otherwise.
    pub threshold: f32,
    /// How text becomes features; must match the weights.
    pub features: FeatureSpec,
    /// The training configuration.
    pub config: TrainConfig,
    /// Data and creation facts.
    pub training: TrainingInfo,
    /// Metrics at training time.
    pub metrics: Option<StoredMetrics>,
}

/// A trained classifier. Cheap to share across threads (`&Model` is all `predict` needs).
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    meta: ModelMeta,
    units: usize,
    biases: Vec<f32>,
    /// Bucket-major: the weight of unit `u` for bucket `j` is `weights[j * units + u]`, so one
    /// n-gram's weights for all labels share a cache line.
    weights: Vec<f32>,
}

/// A model's answer for one text.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction<'m> {
    /// The winning label.
    pub label: &'m str,
    /// Its index in [`Model::labels`].
    pub index: usize,
    /// Its probability.
    pub score: f32,
    /// Its TC260 risk code, if it carries one.
    pub risk_code: Option<&'m str>,
    /// Probability of every label, in [`Model::labels`] order. Binary: `[1 - p, p]`;
    /// one-vs-rest: each unit's own probability (they need not sum to 1).
    pub scores: Vec<f32>,
    labels: &'m [LabelInfo],
}

impl<'m> Prediction<'m> {
    /// `(label, probability)` for every label.
    pub fn label_scores(&self) -> impl Iterator<Item = (&'m str, f32)> + '_ {
        self.labels
            .iter()
            .map(|l| l.name.as_str())
            .zip(self.scores.iter().copied())
    }
}

/// Reused per-thread buffers, so scoring allocates nothing after the first call on a thread.
#[derive(Default)]
struct Scratch {
    features: FeatureScratch,
    logits: Vec<f32>,
}

/// A huge text grows the scratch buffer; past this many entries it is released after use.
const SCRATCH_KEEP: usize = 1 << 16;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Model {
    /// Assembles a model; callers guarantee `weights.len() == buckets * units`.
    pub(crate) fn from_parts(meta: ModelMeta, biases: Vec<f32>, weights: Vec<f32>) -> Model {
        let units = meta.kind.units(meta.labels.len());
        Model {
            meta,
            units,
            biases,
            weights,
        }
    }

    /// The metadata (header) of this model.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// The labels, in score order.
    pub fn labels(&self) -> &[LabelInfo] {
        &self.meta.labels
    }

    /// Binary decision threshold.
    pub fn threshold(&self) -> f32 {
        self.meta.threshold
    }

    /// Sets the binary decision threshold (e.g. after a threshold sweep); must be in (0, 1).
    pub fn set_threshold(&mut self, threshold: f32) -> Result<(), InvalidThreshold> {
        if threshold > 0.0 && threshold < 1.0 {
            self.meta.threshold = threshold;
            Ok(())
        } else {
            Err(InvalidThreshold(threshold))
        }
    }

    /// Replaces the stored metrics.
    pub fn set_metrics(&mut self, metrics: Option<StoredMetrics>) {
        self.meta.metrics = metrics;
    }

    /// Records the data file the model was trained from.
    pub fn set_source(&mut self, source: Option<SourceInfo>) {
        self.meta.training.source = source;
    }

    pub(crate) fn biases(&self) -> &[f32] {
        &self.biases
    }

    pub(crate) fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// Classifies `text`. Never panics; allocates only the returned score vector.
    pub fn predict(&self, text: &str) -> Prediction<'_> {
        let (scores, index) = self.with_logits(text, |logits| {
            let mut scores = Vec::with_capacity(self.meta.labels.len());
            let index = match self.meta.kind {
                ModelKind::Binary => {
                    let p = sigmoid(logits.first().copied().unwrap_or(0.0));
                    scores.push(1.0 - p);
                    scores.push(p);
                    usize::from(p >= self.meta.threshold)
                }
                ModelKind::OneVsRest => {
                    scores.extend(logits.iter().map(|&z| sigmoid(z)));
                    argmax(logits)
                }
            };
            (scores, index)
        });
        let info = self.meta.labels.get(index);
        Prediction {
            label: info.map_or("", |l| l.name.as_str()),
            index,
            score: scores.get(index).copied().unwrap_or(0.0),
            risk_code: info.and_then(|l| l.risk_code.as_deref()),
            scores,
            labels: &self.meta.labels,
        }
    }

    /// Probability of `label` for `text`, or `None` if the model has no such label.
    /// Allocates nothing.
    pub fn score(&self, text: &str, label: &str) -> Option<f32> {
        let index = self.meta.labels.iter().position(|l| l.name == label)?;
        Some(self.with_logits(text, |logits| match self.meta.kind {
            ModelKind::Binary => {
                let p = sigmoid(logits.first().copied().unwrap_or(0.0));
                if index == 1 {
                    p
                } else {
                    1.0 - p
                }
            }
            ModelKind::OneVsRest => sigmoid(logits.get(index).copied().unwrap_or(0.0)),
        }))
    }

    /// Index of the winning label (same decision as [`Model::predict`]) and its probability.
    /// Allocates nothing; what the evaluation loop uses.
    pub fn classify(&self, text: &str) -> (usize, f32) {
        self.with_logits(text, |logits| match self.meta.kind {
            ModelKind::Binary => {
                let p = sigmoid(logits.first().copied().unwrap_or(0.0));
                if p >= self.meta.threshold {
                    (1, p)
                } else {
                    (0, 1.0 - p)
                }
            }
            ModelKind::OneVsRest => {
                let i = argmax(logits);
                (i, sigmoid(logits.get(i).copied().unwrap_or(0.0)))
            }
        })
    }

    /// Runs `f` on the raw logits (one per unit) of `text`.
    fn with_logits<R>(&self, text: &str, f: impl FnOnce(&[f32]) -> R) -> R {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                let r = self.logits_into(text, &mut scratch, f);
                scratch.features.shrink(SCRATCH_KEEP);
                r
            }
            // Only reachable if `f` re-entered predict; fall back to fresh buffers.
            Err(_) => self.logits_into(text, &mut Scratch::default(), f),
        })
    }

    fn logits_into<R>(&self, text: &str, s: &mut Scratch, f: impl FnOnce(&[f32]) -> R) -> R {
        let Scratch { features, logits } = s;
        logits.clear();
        logits.extend_from_slice(&self.biases);
        collect_buckets(&self.meta.features, text, features);
        let units = self.units;
        let weights = &self.weights;
        if units == 1 {
            // A binary model: the one logit accumulates in a register rather than through
            // memory (a store and reload per n-gram); same operations in the same order.
            let mut z = logits.first().copied().unwrap_or(0.0);
            weigh(features, &self.meta.features, |j, v| {
                if let Some(&w) = weights.get(j as usize) {
                    z += v * w;
                }
            });
            if let Some(l) = logits.first_mut() {
                *l = z;
            }
            return f(logits);
        }
        weigh(features, &self.meta.features, |j, v| {
            let base = j as usize * units;
            if let Some(row) = weights.get(base..base + units) {
                for (z, &w) in logits.iter_mut().zip(row) {
                    *z += v * w;
                }
            }
        });
        f(logits)
    }
}

fn argmax(xs: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

/// A decision threshold outside (0, 1).
#[derive(Debug, thiserror::Error)]
#[error("threshold {0} must be strictly between 0 and 1")]
pub struct InvalidThreshold(pub f32);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::features::sparse_features;
    use crate::{train, Example, TrainConfig};

    /// The logits by the definition: the biases plus, for each (bucket, value) of the training
    /// features in their order, value × that bucket's weight row.
    fn reference_logits(m: &Model, text: &str) -> Vec<f32> {
        let (mut scratch, mut feats) = (FeatureScratch::default(), Vec::new());
        sparse_features(&m.meta.features, text, &mut scratch, &mut feats);
        let mut z = m.biases().to_vec();
        for (b, v) in feats {
            for (u, zu) in z.iter_mut().enumerate() {
                *zu += v * m.weights()[b as usize * m.units + u];
            }
        }
        z
    }

    #[test]
    fn prediction_is_bit_identical_to_the_training_features_dot_product() {
        let texts = [
            "你这个蠢货滚开",
            "今天天气很好我们去公园",
            "哈哈哈哈哈哈，你好你好你好",
            "",
            "ＡＢＣ abc ①②③ 傻\u{200B}逼",
        ];
        let mut binary = Vec::new();
        let mut multi = Vec::new();
        for i in 0..30 {
            binary.push(Example::new(format!("你这个蠢货滚开{i}"), "bad"));
            binary.push(Example::new(format!("今天天气很好{i}"), "ok"));
            for (k, l) in ["a", "b", "c"].iter().enumerate() {
                multi.push(Example::new(format!("{l}{k}{i}类别文本{l}"), *l));
            }
        }
        for (examples, tf) in [
            (&binary, crate::TermWeighting::Binary),
            (&multi, crate::TermWeighting::Binary),
            (&binary, crate::TermWeighting::Sublinear),
        ] {
            let cfg = TrainConfig {
                term_weighting: tf,
                ngram_max: 3,
                ..TrainConfig::default()
            };
            let m = train(examples, &cfg).unwrap();
            // Long texts of many distinct n-grams, where summing in another order would round
            // differently.
            let pool: Vec<char> = "你这个蠢货滚开今天天气很好我们去公园类别文本abc哈，。"
                .chars()
                .collect();
            let mut x = 0x2545_f491_4f6c_dd1du64;
            let long: Vec<String> = (0..200)
                .map(|_| {
                    (0..120)
                        .map(|_| {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            pool[(x % pool.len() as u64) as usize]
                        })
                        .collect()
                })
                .collect();
            let all = texts
                .iter()
                .map(|t| t.to_string())
                .chain(examples.iter().map(|e| e.text.clone()))
                .chain(long);
            for t in all {
                let want = reference_logits(&m, &t);
                let got = m.with_logits(&t, <[f32]>::to_vec);
                assert_eq!(
                    got.iter().map(|z| z.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|z| z.to_bits()).collect::<Vec<_>>(),
                    "{t:?} ({} units, {tf:?})",
                    m.units
                );
            }
        }
    }
}
