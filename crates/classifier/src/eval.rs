//! Evaluation: accuracy, per-label and macro precision / recall / F1, confusion matrix, and a
//! decision-threshold sweep for binary models.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::data::Example;
use crate::model::{Model, ModelKind};

/// Precision, recall and F1 of one label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    /// The label.
    pub label: String,
    /// Of the texts predicted as this label, the fraction that had it (0 if none predicted).
    pub precision: f64,
    /// Of the texts with this label, the fraction predicted as it (0 if none had it).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 if both are 0).
    pub f1: f64,
    /// Texts with this label.
    pub support: u64,
}

/// The result of scoring a model on labelled examples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Number of examples.
    pub examples: u64,
    /// Fraction predicted correctly.
    pub accuracy: f64,
    /// Mean precision over the labels that occur (as truth or prediction).
    pub macro_precision: f64,
    /// Mean recall over the same labels.
    pub macro_recall: f64,
    /// Mean F1 over the same labels.
    pub macro_f1: f64,
    /// Per label, in `labels` order.
    pub per_label: Vec<LabelMetrics>,
    /// Row/column labels of `confusion`: the model's labels, then labels only the data has.
    pub labels: Vec<String>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
}

impl Evaluation {
    /// Computes the figures from `(true, predicted)` label indices into `labels`.
    /// Out-of-range indices are ignored.
    pub fn from_pairs(
        labels: Vec<String>,
        pairs: impl IntoIterator<Item = (usize, usize)>,
    ) -> Evaluation {
        let k = labels.len();
        let mut confusion = vec![vec![0u64; k]; k];
        for (t, p) in pairs {
            if let Some(cell) = confusion.get_mut(t).and_then(|row| row.get_mut(p)) {
                *cell += 1;
            }
        }
        let total: u64 = confusion.iter().flatten().sum();
        let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
        let mut per_label = Vec::with_capacity(k);
        let (mut sp, mut sr, mut sf, mut counted) = (0.0, 0.0, 0.0, 0usize);
        for (i, label) in labels.iter().enumerate() {
            let tp = confusion[i][i];
            let support: u64 = confusion[i].iter().sum();
            let predicted: u64 = confusion.iter().map(|row| row[i]).sum();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            if support > 0 || predicted > 0 {
                sp += precision;
                sr += recall;
                sf += f1;
                counted += 1;
            }
            per_label.push(LabelMetrics {
                label: label.clone(),
                precision,
                recall,
                f1,
                support,
            });
        }
        let mean = |s: f64| if counted > 0 { s / counted as f64 } else { 0.0 };
        Evaluation {
            examples: total,
            accuracy: ratio(correct, total),
            macro_precision: mean(sp),
            macro_recall: mean(sr),
            macro_f1: mean(sf),
            per_label,
            labels,
            confusion,
        }
    }

    /// The metrics of one label.
    pub fn label(&self, name: &str) -> Option<&LabelMetrics> {
        self.per_label.iter().find(|m| m.label == name)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Index of each example's label in `labels`, appending labels the model does not know.
fn true_indices(labels: &mut Vec<String>, examples: &[Example]) -> Vec<usize> {
    examples
        .iter()
        .map(|e| match labels.iter().position(|l| *l == e.label) {
            Some(i) => i,
            None => {
                labels.push(e.label.clone());
                labels.len() - 1
            }
        })
        .collect()
}

/// Scores `model` on `examples` (with its current threshold).
pub fn evaluate(model: &Model, examples: &[Example]) -> Evaluation {
    let mut labels: Vec<String> = model.labels().iter().map(|l| l.name.clone()).collect();
    let truth = true_indices(&mut labels, examples);
    let pairs: Vec<(usize, usize)> = truth
        .into_iter()
        .zip(examples)
        .map(|(t, e)| (t, model.classify(&e.text).0))
        .collect();
    Evaluation::from_pairs(labels, pairs)
}

/// Binary-model figures at one decision threshold; precision, recall and F1 are the positive
/// label's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The threshold.
    pub threshold: f32,
    /// Accuracy.
    pub accuracy: f64,
    /// Positive-label precision.
    pub precision: f64,
    /// Positive-label recall.
    pub recall: f64,
    /// Positive-label F1.
    pub f1: f64,
    /// Macro F1 over both labels.
    pub macro_f1: f64,
}

/// 0.05, 0.10, …, 0.95.
pub fn default_thresholds() -> Vec<f32> {
    (1..20).map(|i| i as f32 * 0.05).collect()
}

/// Evaluates a binary model at each threshold (scoring each text once); `None` for a
/// one-vs-rest model, where no single threshold decides.
pub fn threshold_sweep(
    model: &Model,
    examples: &[Example],
    thresholds: &[f32],
) -> Option<Vec<SweepPoint>> {
    if model.meta().kind != ModelKind::Binary {
        return None;
    }
    let mut labels: Vec<String> = model.labels().iter().map(|l| l.name.clone()).collect();
    let positive = labels.get(1).cloned().unwrap_or_default();
    let truth = true_indices(&mut labels, examples);
    let probs: Vec<f32> = examples
        .iter()
        .map(|e| model.score(&e.text, &positive).unwrap_or(0.0))
        .collect();
    Some(
        thresholds
            .iter()
            .map(|&t| {
                let pairs = truth
                    .iter()
                    .zip(&probs)
                    .map(|(&y, &p)| (y, usize::from(p >= t)));
                let e = Evaluation::from_pairs(labels.clone(), pairs);
                let pos = e.per_label.get(1);
                SweepPoint {
                    threshold: t,
                    accuracy: e.accuracy,
                    precision: pos.map_or(0.0, |m| m.precision),
                    recall: pos.map_or(0.0, |m| m.recall),
                    f1: pos.map_or(0.0, |m| m.f1),
                    macro_f1: e.macro_f1,
                }
            })
            .collect(),
    )
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "examples {}  accuracy {:.4}  macro precision {:.4}  recall {:.4}  F1 {:.4}",
            self.examples, self.accuracy, self.macro_precision, self.macro_recall, self.macro_f1
        )?;
        let width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(f, "{:width$}  precision  recall  f1      support", "label")?;
        for m in &self.per_label {
            writeln!(
                f,
                "{:width$}  {:<9.4}  {:<6.4}  {:<6.4}  {}",
                m.label, m.precision, m.recall, m.f1, m.support
            )?;
        }
        writeln!(f, "confusion (rows: true label, columns: predicted)")?;
        write!(f, "{:width$}", "")?;
        for l in &self.labels {
            write!(f, "  {l:>8}")?;
        }
        writeln!(f)?;
        for (l, row) in self.labels.iter().zip(&self.confusion) {
            write!(f, "{l:width$}")?;
            for c in row {
                write!(f, "  {c:>8}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_match_a_hand_computed_example() {
        // truth a a a b b ; predicted a a b b a
        let e = Evaluation::from_pairs(
            vec!["a".into(), "b".into()],
            [(0, 0), (0, 0), (0, 1), (1, 1), (1, 0)],
        );
        assert_eq!(e.examples, 5);
        assert!((e.accuracy - 0.6).abs() < 1e-12);
        let a = e.label("a").unwrap();
        assert!((a.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((a.recall - 2.0 / 3.0).abs() < 1e-12);
        let b = e.label("b").unwrap();
        assert!((b.precision - 0.5).abs() < 1e-12 && (b.recall - 0.5).abs() < 1e-12);
        assert!((e.macro_f1 - (2.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        assert_eq!(e.confusion, vec![vec![2, 1], vec![1, 1]]);
    }

    #[test]
    fn empty_and_absent_labels_give_zeros_not_nan() {
        let e = Evaluation::from_pairs(vec!["a".into(), "b".into(), "c".into()], [(0, 0)]);
        assert_eq!(e.accuracy, 1.0);
        // Only "a" occurs, so the macro mean is over it alone.
        assert_eq!(e.macro_f1, 1.0);
        assert_eq!(e.label("c").unwrap().f1, 0.0);
        let empty = Evaluation::from_pairs(vec![], []);
        assert_eq!((empty.accuracy, empty.macro_f1), (0.0, 0.0));
        assert!(!empty.to_string().is_empty());
    }
}
