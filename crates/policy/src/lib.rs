//! The review engine behind hegui's input and output review.
//!
//! The gateway only sees the [`Reviewer`] and [`StreamReview`] traits; the lexicon engine
//! here is one implementation (the full engine with classifier and guard models plugs in
//! behind the same traits).
//!
//! - [`taxonomy`]: the 31 TC260-003 risks that every lexicon entry is filed under.
//! - [`Lexicon`]: one validated lexicon file (format in `LEXICON.md` and the [`Lexicon`] docs).
//! - [`normalize`]: normalisation against evasion (compatibility forms, case, traditional
//!   Chinese, numerals, noise chars, repeats), char by char, mapped back to original offsets.
//! - [`policy`]: (risk, severity, stage) → action, and safe answers per risk.
//! - [`LexiconReviewer`]: batch and streaming review against a set of lexicons.

use hegui_types::{Decision, Stage};

pub mod coverage;
pub mod engine;
pub mod lexicon;
pub mod normalize;
pub mod policy;
pub(crate) mod reviewer;
pub mod taxonomy;

pub use engine::{ClassifierLoadError, ClassifierLoadProblem, ClassifierStage, ReviewEngine};
pub use lexicon::{Combination, Entry, Lexicon, LexiconError};
pub use policy::{PolicyRule, ReviewPolicy, RiskPattern};
pub use reviewer::{LexiconReviewer, DEMO_LEXICON};

/// The result of reviewing one complete text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// What was decided, with every match and the policy version.
    pub decision: Decision,
    /// The text to deliver: the original, or with masked spans replaced by `*` (one per char).
    /// Meaningless when `decision.action.stops()`.
    pub text: String,
}

/// What a streaming review says after each chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStep {
    /// This text has passed review and may be sent to the client now (may be empty).
    Release(String),
    /// A stopping rule matched: send nothing more of the model's text.
    Stop,
}

/// Reviews text for one policy version. Implementations never panic on any input.
pub trait Reviewer: Send + Sync + 'static {
    /// Version (content hash) of the policy data in force.
    fn version(&self) -> &str;
    /// Reviews a complete text.
    fn review(&self, stage: Stage, text: &str) -> Review;
    /// The decision [`Reviewer::review`] would reach, without the text to deliver: for callers
    /// that only judge (the training-data audit), which then neither copy the text nor apply
    /// masks to it.
    fn decide(&self, stage: Stage, text: &str) -> Decision {
        self.review(stage, text).decision
    }
    /// Starts a streaming review: text is pushed chunk by chunk and released only after review.
    fn stream(&self, stage: Stage) -> Box<dyn StreamReview>;
}

/// A streaming review session. It holds back only a bounded tail of text that could still
/// become part of a match; everything it releases has passed review, masks applied.
pub trait StreamReview: Send {
    /// Feeds the next chunk of model output.
    fn push(&mut self, chunk: &str) -> StreamStep;
    /// Ends the stream: releases the held-back tail if it passes.
    fn finish(&mut self) -> StreamStep;
    /// The decision over everything pushed so far.
    fn decision(&self) -> Decision;
}
