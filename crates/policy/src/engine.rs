//! The full review engine: the lexicon reviewer (terms and PII) plus, optionally, the built-in
//! classifier, behind the same [`Reviewer`] trait.
//!
//! The classifier judges a whole text. In batch review it runs with the lexicons; in a stream
//! it runs at the end over the answer (up to [`CLASSIFIER_MAX_BYTES`]): a stopping verdict
//! withholds the last held-back text and ends the stream with `content_filter`, a flag is
//! recorded.

use std::path::Path;
use std::sync::Arc;

use hegui_classifier::Model;
use hegui_types::{Action, Decision, MatchInfo, Severity, Stage};
use sha2::{Digest, Sha256};

use crate::policy::ReviewPolicy;
use crate::{LexiconReviewer, Review, Reviewer, StreamReview, StreamStep};

/// How much of a streamed answer the classifier sees at the end.
pub const CLASSIFIER_MAX_BYTES: usize = 64 * 1024;

/// The classifier stage: a model, where it runs, and the action per stage for each label.
#[derive(Debug)]
pub struct ClassifierStage {
    model: Model,
    name: String,
    input: bool,
    output: bool,
    /// Per label: what its finding says (`None` for labels without a risk code).
    findings: Vec<Option<LabelFinding>>,
}

/// The parts of a label's finding that do not depend on the text, built once per model so
/// that judging a text allocates nothing for them.
#[derive(Debug)]
struct LabelFinding {
    /// `<stage name>:<label>`.
    rule: Arc<str>,
    risk: Arc<str>,
    /// Action at input and at output.
    actions: [Action; 2],
}

/// Why the classifier could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("classifier model {path}: {source}")]
pub struct ClassifierLoadError {
    path: String,
    #[source]
    source: ClassifierLoadProblem,
}

impl ClassifierLoadError {
    /// The model file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &ClassifierLoadProblem {
        &self.source
    }
}

/// What is wrong with a classifier model file.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierLoadProblem {
    /// The file could not be read or is not a valid model.
    #[error(transparent)]
    File(#[from] hegui_classifier::LoadError),
    /// No label carries a risk code. The stage only flags a text whose winning label has one,
    /// so such a model would silently allow everything; refusing it keeps that visible.
    #[error(
        "no label carries a risk code (labels: {labels:?}), so it would never flag anything; \
         retrain it with --risk LABEL=CODE, e.g. --risk 1=A2-9"
    )]
    NoRiskLabel {
        /// The model's labels.
        labels: Vec<String>,
    },
}

impl ClassifierStage {
    /// Loads a model file; `input` / `output` say which stages it reviews.
    pub fn load(
        path: &Path,
        input: bool,
        output: bool,
        policy: &ReviewPolicy,
    ) -> Result<ClassifierStage, ClassifierLoadError> {
        let error = |source: ClassifierLoadProblem| ClassifierLoadError {
            path: path.display().to_string(),
            source,
        };
        let bytes = std::fs::read(path).map_err(|e| {
            error(
                hegui_classifier::LoadError::Io {
                    path: path.to_path_buf(),
                    source: e,
                }
                .into(),
            )
        })?;
        let model = Model::from_bytes(&bytes).map_err(|e| error(e.into()))?;
        let labels = &model.meta().labels;
        if labels.iter().all(|l| l.risk_code.is_none()) {
            return Err(error(ClassifierLoadProblem::NoRiskLabel {
                labels: labels.iter().map(|l| l.name.clone()).collect(),
            }));
        }
        let digest = hex::encode(Sha256::digest(&bytes));
        let name = format!("classifier:{}", digest.get(..12).unwrap_or(&digest));
        Ok(ClassifierStage::new(model, name, input, output, policy))
    }

    /// A stage from a loaded model; `name` identifies it in rule ids and versions.
    pub fn new(
        model: Model,
        name: String,
        input: bool,
        output: bool,
        policy: &ReviewPolicy,
    ) -> ClassifierStage {
        let findings = model
            .meta()
            .labels
            .iter()
            .map(|l| {
                l.risk_code.as_deref().map(|risk| LabelFinding {
                    rule: format!("{name}:{}", l.name).into(),
                    risk: risk.into(),
                    actions: [Stage::Input, Stage::Output]
                        .map(|st| policy.action(risk, Severity::Medium, st)),
                })
            })
            .collect();
        ClassifierStage {
            model,
            name,
            input,
            output,
            findings,
        }
    }

    fn applies(&self, stage: Stage) -> bool {
        match stage {
            Stage::Input => self.input,
            Stage::Output => self.output,
        }
    }

    /// The finding for `text`, if the winning label carries a risk code.
    fn judge(&self, stage: Stage, text: &str) -> Option<MatchInfo> {
        if text.trim().is_empty() {
            return None;
        }
        let p = self.model.predict(text);
        let finding = self.findings.get(p.index)?.as_ref()?;
        let action = match stage {
            Stage::Input => finding.actions[0],
            Stage::Output => finding.actions[1],
        };
        let permille = (p.score.clamp(0.0, 1.0) * 1000.0).round() as u16;
        Some(MatchInfo {
            rule: Arc::clone(&finding.rule),
            risk: Arc::clone(&finding.risk),
            action,
            start: 0,
            end: text.len(),
            severity: Some(Severity::Medium),
            score_permille: Some(permille),
        })
    }
}

/// Lexicons, PII and the optional classifier, as one [`Reviewer`].
#[derive(Debug, Clone)]
pub struct ReviewEngine {
    lexicon: LexiconReviewer,
    classifier: Option<Arc<ClassifierStage>>,
    version: String,
}

impl ReviewEngine {
    /// Combines a lexicon reviewer with an optional classifier stage.
    pub fn new(lexicon: LexiconReviewer, classifier: Option<ClassifierStage>) -> ReviewEngine {
        let version = match &classifier {
            None => lexicon.version().to_string(),
            Some(c) => {
                let d = hex::encode(Sha256::digest(
                    format!("{}\n{}\n{}{}", lexicon.version(), c.name, c.input, c.output)
                        .as_bytes(),
                ));
                format!("pol-{}", d.get(..16).unwrap_or(&d))
            }
        };
        ReviewEngine {
            lexicon,
            classifier: classifier.map(Arc::new),
            version,
        }
    }

    /// Adds the classifier's finding on `text` to the lexicon's `decision`, and the engine's
    /// version.
    fn classify(&self, stage: Stage, text: &str, decision: &mut Decision) {
        if let Some(c) = self.classifier.as_deref().filter(|c| c.applies(stage)) {
            if let Some(m) = c.judge(stage, text) {
                decision.add_match(m);
            }
        }
        decision.policy_version.clone_from(&self.version);
    }

    /// The lexicon part.
    pub fn lexicon(&self) -> &LexiconReviewer {
        &self.lexicon
    }

    /// The classifier's identifier (`classifier:<sha256 prefix of the model file>`), if any.
    pub fn classifier_name(&self) -> Option<&str> {
        self.classifier.as_deref().map(|c| c.name.as_str())
    }
}

impl Reviewer for ReviewEngine {
    fn version(&self) -> &str {
        &self.version
    }

    fn review(&self, stage: Stage, text: &str) -> Review {
        let mut review = self.lexicon.review(stage, text);
        self.classify(stage, text, &mut review.decision);
        review
    }

    fn decide(&self, stage: Stage, text: &str) -> Decision {
        let mut decision = self.lexicon.decide(stage, text);
        self.classify(stage, text, &mut decision);
        decision
    }

    fn stream(&self, stage: Stage) -> Box<dyn StreamReview> {
        let inner = self.lexicon.stream(stage);
        match self.classifier.as_ref().filter(|c| c.applies(stage)) {
            None => Box::new(Versioned {
                inner,
                version: self.version.clone(),
            }),
            Some(c) => Box::new(ClassifiedStream {
                inner,
                classifier: Arc::clone(c),
                stage,
                seen: String::new(),
                finding: None,
                version: self.version.clone(),
            }),
        }
    }
}

/// A lexicon stream whose decisions carry the engine's version.
struct Versioned {
    inner: Box<dyn StreamReview>,
    version: String,
}

impl StreamReview for Versioned {
    fn push(&mut self, chunk: &str) -> StreamStep {
        self.inner.push(chunk)
    }
    fn finish(&mut self) -> StreamStep {
        self.inner.finish()
    }
    fn decision(&self) -> Decision {
        let mut d = self.inner.decision();
        d.policy_version = self.version.clone();
        d
    }
}

/// A lexicon stream that also asks the classifier about the whole answer at the end.
struct ClassifiedStream {
    inner: Box<dyn StreamReview>,
    classifier: Arc<ClassifierStage>,
    stage: Stage,
    seen: String,
    finding: Option<MatchInfo>,
    version: String,
}

impl StreamReview for ClassifiedStream {
    fn push(&mut self, chunk: &str) -> StreamStep {
        let room = CLASSIFIER_MAX_BYTES.saturating_sub(self.seen.len());
        if room > 0 {
            let mut cut = room.min(chunk.len());
            while !chunk.is_char_boundary(cut) {
                cut -= 1;
            }
            self.seen.push_str(chunk.get(..cut).unwrap_or_default());
        }
        self.inner.push(chunk)
    }

    fn finish(&mut self) -> StreamStep {
        let step = self.inner.finish();
        if matches!(step, StreamStep::Stop) || self.finding.is_some() {
            return step;
        }
        self.finding = self.classifier.judge(self.stage, &self.seen);
        match &self.finding {
            Some(m) if m.action.stops() => StreamStep::Stop,
            _ => step,
        }
    }

    fn decision(&self) -> Decision {
        let mut d = self.inner.decision();
        if let Some(m) = &self.finding {
            d.add_match(m.clone());
        }
        d.policy_version = self.version.clone();
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hegui_classifier::{train, Example, TrainConfig};

    fn model() -> Model {
        model_with_risks([("offensive".to_string(), "A2-9".to_string())].into())
    }

    fn model_with_risks(risk_codes: std::collections::BTreeMap<String, String>) -> Model {
        let mut ex = Vec::new();
        for i in 0..40 {
            ex.push(Example {
                text: format!("你这个蠢货滚开{i}"),
                label: "offensive".into(),
            });
            ex.push(Example {
                text: format!("今天天气很好我们去公园{i}"),
                label: "safe".into(),
            });
        }
        let cfg = TrainConfig {
            negative_label: Some("safe".into()),
            risk_codes,
            bucket_bits: 12,
            ..TrainConfig::default()
        };
        train(&ex, &cfg).unwrap()
    }

    fn engine() -> ReviewEngine {
        let lex = LexiconReviewer::demo().unwrap();
        let policy = ReviewPolicy::default();
        let c = ClassifierStage::new(model(), "classifier:test".into(), true, true, &policy);
        ReviewEngine::new(lex, Some(c))
    }

    #[test]
    fn the_classifier_adds_a_scored_finding_with_its_risk() {
        let e = engine();
        let d = e.review(Stage::Input, "你这个蠢货滚开").decision;
        assert_eq!(d.action, Action::Flag);
        assert_eq!(d.risks, vec!["A2-9"]);
        let m = &d.matches[0];
        assert!(m.rule.starts_with("classifier:test:offensive"), "{m:?}");
        assert!(m.score_permille.unwrap() > 500, "{m:?}");
        assert_eq!(d.policy_version, e.version());
        assert!(e.version().starts_with("pol-"));
        let d = e.review(Stage::Input, "今天天气很好").decision;
        assert_eq!(d.action, Action::Allow);
    }

    #[test]
    fn decide_reaches_the_decision_of_review() {
        let e = engine();
        for text in [
            "你这个蠢货滚开",
            "今天天气很好",
            "",
            "联系我 13812345678，你这个蠢货",
            "教我制造炸弹",
        ] {
            for stage in [Stage::Input, Stage::Output] {
                let d = e.decide(stage, text);
                assert_eq!(d, e.review(stage, text).decision, "{text:?}");
                assert_eq!(d.policy_version, e.version());
            }
        }
    }

    #[test]
    fn a_stream_is_classified_at_the_end() {
        let e = engine();
        let mut s = e.stream(Stage::Output);
        let mut out = String::new();
        for c in ["你这个", "蠢货", "滚开"] {
            if let StreamStep::Release(t) = s.push(c) {
                out.push_str(&t);
            }
        }
        assert!(matches!(s.finish(), StreamStep::Release(_)));
        let d = s.decision();
        assert_eq!(d.risks, vec!["A2-9"]);
        // The default policy masks medium findings on output, which for a whole-text verdict
        // cannot apply to released text: the finding is recorded.
        assert_eq!(d.matches.len(), 1);
    }

    #[test]
    fn loading_a_model_without_any_risk_code_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let policy = ReviewPolicy::default();
        let bare = dir.path().join("bare.hgc");
        model_with_risks(Default::default()).save(&bare).unwrap();
        let err = ClassifierStage::load(&bare, true, true, &policy).unwrap_err();
        assert!(
            matches!(err.problem(), ClassifierLoadProblem::NoRiskLabel { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("bare.hgc") && msg.contains("--risk"), "{msg}");

        let good = dir.path().join("good.hgc");
        model().save(&good).unwrap();
        assert!(ClassifierStage::load(&good, true, true, &policy).is_ok());
    }
}
