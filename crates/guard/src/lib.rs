//! A review stage that asks a remote guard model whether a prompt (input stage) or a prompt and
//! its answer (output stage) is unsafe, and turns the verdict into TC260-003 risk codes and a
//! severity.
//!
//! - [`Guard`] is the one trait; the adapters [`Qwen3Guard`], [`LlamaGuard`], [`ShieldLm`] and
//!   [`OpenAiModeration`] implement it over HTTP.
//! - [`FallbackGuard`] turns every failure into a verdict by the deployment's [`Fallback`]
//!   policy (fail closed or fail open), recording why.
//! - [`GuardStage`] is what a gateway holds: built from a [`GuardConfig`], it picks the stages,
//!   calls the guard with its fallback and turns the verdict into a [`hegui_types::Decision`].
//!   A gateway with its own review policy uses [`GuardVerdict::matches`] instead, which gives
//!   every finding a shared [`hegui_types::Severity`] and lets the policy pick the action.
//! - [`mapping`] holds the label → TC260 tables (documented in `GUARD.md`).
//! - With the `mock` feature, `mock` serves every format on loopback, with fault modes.
//!
//! Architecture invariant: this crate knows nothing about the gateway's HTTP API, storage or
//! the lexicon reviewer; it only speaks to guard servers and emits `hegui-types` values.

mod adapters;
pub mod config;
mod error;
mod fallback;
mod http;
pub mod mapping;
#[cfg(feature = "mock")]
pub mod mock;
mod stage;

use std::{collections::BTreeMap, time::Duration};

use async_trait::async_trait;
pub use hegui_types::Stage;
use hegui_types::{Action, MatchInfo, Severity};
use serde::{Deserialize, Serialize};

pub use adapters::{
    build_guard, llamaguard, openai_moderation, qwen3guard, shieldlm, LlamaGuard, OpenAiModeration,
    ParseError, Parsed, Qwen3Guard, ShieldLm,
};
pub use config::{
    Fallback, GuardConfig, GuardKind, LlamaGuardPrompt, ShieldLmLang, Stages, Thresholds,
};
pub use error::{ConfigError, ConfigProblem, GuardError};
pub use fallback::FallbackGuard;
pub use stage::{GuardOutcome, GuardStage};

/// What to review: the prompt alone (input stage) or the prompt with the model's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardRequest {
    /// Input review (the prompt) or output review (the answer, with the prompt as context).
    pub stage: Stage,
    /// The user's prompt.
    pub prompt: String,
    /// The model's answer; required at the output stage.
    pub response: Option<String>,
}

impl GuardRequest {
    /// An input-stage request for `prompt`.
    pub fn input(prompt: impl Into<String>) -> GuardRequest {
        GuardRequest {
            stage: Stage::Input,
            prompt: prompt.into(),
            response: None,
        }
    }

    /// An output-stage request for `response`, with `prompt` as its context.
    pub fn output(prompt: impl Into<String>, response: impl Into<String>) -> GuardRequest {
        GuardRequest {
            stage: Stage::Output,
            prompt: prompt.into(),
            response: Some(response.into()),
        }
    }

    /// The text under review: the prompt at the input stage, the answer at the output stage.
    pub fn reviewed_text(&self) -> &str {
        match self.stage {
            Stage::Input => &self.prompt,
            Stage::Output => self.response.as_deref().unwrap_or_default(),
        }
    }

    /// The answer of an output-stage request, or the error every adapter gives without one.
    pub(crate) fn require_response(&self, guard: &str) -> Result<Option<&str>, GuardError> {
        match (self.stage, self.response.as_deref()) {
            (Stage::Input, _) => Ok(None),
            (Stage::Output, Some(r)) => Ok(Some(r)),
            (Stage::Output, None) => Err(GuardError::InvalidRequest {
                guard: guard.to_owned(),
                detail: "an output-stage request needs the model's response; build it with \
                         GuardRequest::output"
                    .into(),
            }),
        }
    }
}

/// The guard's three-tier judgement, ordered from least to most harmful.
///
/// Findings carry it as the shared [`Severity`]: see [`Safety::severity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    /// Nothing wrong.
    Safe,
    /// Harmful in some contexts (Qwen3Guard `Controversial`, ShieldLM `有争议`, or a moderation
    /// score above `controversial_score`).
    Controversial,
    /// Harmful.
    Unsafe,
}

impl Safety {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Safety::Safe => "safe",
            Safety::Controversial => "controversial",
            Safety::Unsafe => "unsafe",
        }
    }

    /// The shared severity of findings at this level: controversial is `medium`, unsafe is
    /// `high`; safe has no findings.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Safety::Safe => None,
            Safety::Controversial => Some(Severity::Medium),
            Safety::Unsafe => Some(Severity::High),
        }
    }
}

/// Why a verdict was produced by the fallback policy instead of the guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Degraded {
    /// The policy that produced the verdict.
    pub policy: Fallback,
    /// [`GuardError::code`] of the failure, e.g. `timeout`.
    pub reason: String,
    /// The failure's full message.
    pub message: String,
}

/// A guard's judgement of one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardVerdict {
    /// Name of the guard deployment that judged.
    pub guard: String,
    /// Safe, controversial or unsafe.
    pub safety: Safety,
    /// Sorted distinct TC260 codes (and `GUARD-` codes); empty when safe.
    pub risks: Vec<String>,
    /// The model's own category labels, verbatim (`Violent`, `S10`, `self-harm/intent`).
    pub categories: Vec<String>,
    /// Per-category scores (moderation endpoints only).
    pub scores: BTreeMap<String, f64>,
    /// Per-risk score: the highest score of the categories mapped to the risk (moderation only).
    pub risk_scores: BTreeMap<String, f64>,
    /// Whether the answer is a refusal, when the guard says (Qwen3Guard response moderation).
    pub refusal: Option<bool>,
    /// The guard's reply text (the chat content, or the moderation JSON); empty when degraded.
    pub raw: String,
    /// Time from sending the request to having the verdict.
    #[serde(with = "duration_ms")]
    pub latency: Duration,
    /// Set when the fallback policy, not the guard, produced this verdict.
    pub degraded: Option<Degraded>,
}

impl GuardVerdict {
    /// True when the verdict is [`Safety::Unsafe`].
    pub fn is_unsafe(&self) -> bool {
        self.safety == Safety::Unsafe
    }

    /// True when the fallback policy produced this verdict.
    pub fn is_degraded(&self) -> bool {
        self.degraded.is_some()
    }

    /// The findings of this verdict on a text of `text_len` bytes, one per risk code, each
    /// spanning the whole text (a guard judges the text as a whole).
    ///
    /// Rule ids are `guard:<name>:<safety>`; severity is [`Safety::severity`]; the score is
    /// the risk's moderation score in thousandths. `action` picks each finding's action from
    /// its risk and severity (a review policy's lookup, or fixed actions).
    ///
    /// A fail-open verdict yields one `GUARD-degraded` finding of severity `low` with action
    /// `allow`, so the text passes but the record shows it went unreviewed.
    pub fn matches(
        &self,
        text_len: usize,
        mut action: impl FnMut(&str, Severity) -> Action,
    ) -> Vec<MatchInfo> {
        let Some(severity) = self.safety.severity() else {
            if !self.is_degraded() {
                return Vec::new();
            }
            let mut m = MatchInfo::new(
                format!("guard:{}:degraded", self.guard),
                mapping::DEGRADED,
                Action::Allow,
                0,
                text_len,
            );
            m.severity = Some(Severity::Low);
            return vec![m];
        };
        let rule = format!("guard:{}:{}", self.guard, self.safety.as_str());
        self.risks
            .iter()
            .map(|risk| {
                let mut m = MatchInfo::new(
                    rule.clone(),
                    risk.clone(),
                    action(risk, severity),
                    0,
                    text_len,
                );
                m.severity = Some(severity);
                m.score_permille = self.risk_scores.get(risk).map(|s| permille(*s));
                m
            })
            .collect()
    }
}

/// A score in 0..=1 as thousandths, clamped.
fn permille(score: f64) -> u16 {
    // The clamp keeps the cast exact: 0.0..=1000.0 fits u16.
    (score.clamp(0.0, 1.0) * 1000.0).round() as u16
}

/// A guard model behind some API: one call, one verdict.
///
/// Implementations never panic on what the server sends: every failure is a [`GuardError`].
#[async_trait]
pub trait Guard: Send + Sync {
    /// Name of the deployment (used in rule ids and errors).
    fn name(&self) -> &str;

    /// Asks the guard about `req`.
    async fn check(&self, req: &GuardRequest) -> Result<GuardVerdict, GuardError>;
}

#[async_trait]
impl<G: Guard + ?Sized> Guard for Box<G> {
    fn name(&self) -> &str {
        (**self).name()
    }

    async fn check(&self, req: &GuardRequest) -> Result<GuardVerdict, GuardError> {
        (**self).check(req).await
    }
}

#[async_trait]
impl<G: Guard + ?Sized> Guard for std::sync::Arc<G> {
    fn name(&self) -> &str {
        (**self).name()
    }

    async fn check(&self, req: &GuardRequest) -> Result<GuardVerdict, GuardError> {
        (**self).check(req).await
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safety_levels_are_ordered_and_project_onto_shared_severities() {
        assert!(Safety::Safe < Safety::Controversial);
        assert!(Safety::Controversial < Safety::Unsafe);
        assert_eq!(Safety::Safe.severity(), None);
        assert_eq!(Safety::Controversial.severity(), Some(Severity::Medium));
        assert_eq!(Safety::Unsafe.severity(), Some(Severity::High));
    }

    #[test]
    fn permille_is_clamped_and_rounded() {
        assert_eq!(permille(0.9234), 923);
        assert_eq!(permille(1.7), 1000);
        assert_eq!(permille(-1.0), 0);
    }

    fn verdict(safety: Safety, risks: &[&str]) -> GuardVerdict {
        GuardVerdict {
            guard: "g".into(),
            safety,
            risks: risks.iter().map(|r| (*r).to_owned()).collect(),
            categories: Vec::new(),
            scores: BTreeMap::new(),
            risk_scores: BTreeMap::from([("A1-6".to_owned(), 0.5)]),
            refusal: None,
            raw: String::new(),
            latency: Duration::ZERO,
            degraded: None,
        }
    }

    #[test]
    fn matches_span_the_text_and_carry_severity_score_and_chosen_action() {
        let v = verdict(Safety::Unsafe, &["A1-6", "A4-1"]);
        let m = v.matches(12, |risk, sev| {
            assert_eq!(sev, Severity::High);
            if risk == "A1-6" {
                Action::Block
            } else {
                Action::Flag
            }
        });
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].start, m[0].end, m[0].action), (0, 12, Action::Block));
        assert_eq!(&*m[0].rule, "guard:g:unsafe");
        assert_eq!(m[0].score_permille, Some(500));
        assert_eq!((m[1].action, m[1].score_permille), (Action::Flag, None));
    }

    #[test]
    fn safe_verdicts_have_no_matches_unless_degraded() {
        let mut v = verdict(Safety::Safe, &[]);
        assert!(v.matches(3, |_, _| Action::Block).is_empty());
        v.degraded = Some(Degraded {
            policy: Fallback::FailOpen,
            reason: "timeout".into(),
            message: "m".into(),
        });
        let m = v.matches(3, |_, _| Action::Block);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (&*m[0].risk, m[0].action, m[0].severity),
            (mapping::DEGRADED, Action::Allow, Some(Severity::Low))
        );
    }

    #[test]
    fn reviewed_text_follows_the_stage() {
        assert_eq!(GuardRequest::input("p").reviewed_text(), "p");
        assert_eq!(GuardRequest::output("p", "r").reviewed_text(), "r");
    }

    #[test]
    fn output_requests_need_a_response() {
        let req = GuardRequest {
            stage: Stage::Output,
            prompt: "p".into(),
            response: None,
        };
        let err = req.require_response("g").err();
        assert!(
            matches!(err, Some(GuardError::InvalidRequest { .. })),
            "{err:?}"
        );
    }
}
