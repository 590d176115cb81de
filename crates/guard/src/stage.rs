//! What a gateway holds: one configured guard with its stages, fallback and actions.

use hegui_types::{Action, Decision, Stage};

use crate::{
    adapters::build_guard,
    config::{GuardConfig, Stages},
    error::ConfigError,
    FallbackGuard, Guard, GuardRequest, GuardVerdict, Safety,
};

/// A verdict and the review decision it leads to.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardOutcome {
    /// What the guard (or the fallback) said.
    pub verdict: GuardVerdict,
    /// The decision for the reviewed text.
    pub decision: Decision,
}

/// One guard deployment as a review stage.
pub struct GuardStage {
    guard: FallbackGuard<Box<dyn Guard>>,
    stages: Stages,
    on_unsafe: Action,
    on_controversial: Action,
}

impl std::fmt::Debug for GuardStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardStage")
            .field("guard", &self.guard.name())
            .field("fallback", &self.guard.policy())
            .field("stages", &self.stages)
            .finish()
    }
}

impl GuardStage {
    /// Validates `cfg` and builds its adapter, wrapped in its fallback policy.
    pub fn from_config(cfg: &GuardConfig) -> Result<GuardStage, ConfigError> {
        Ok(GuardStage::new(
            build_guard(cfg)?,
            cfg.fallback,
            cfg.stages,
            cfg.on_unsafe,
            cfg.on_controversial,
        ))
    }

    /// A stage over any guard (e.g. a test double).
    pub fn new(
        guard: Box<dyn Guard>,
        fallback: crate::Fallback,
        stages: Stages,
        on_unsafe: Action,
        on_controversial: Action,
    ) -> GuardStage {
        GuardStage {
            guard: FallbackGuard::new(guard, fallback),
            stages,
            on_unsafe,
            on_controversial,
        }
    }

    /// Name of the guard deployment.
    pub fn name(&self) -> &str {
        self.guard.name()
    }

    /// True when this guard reviews `stage`.
    pub fn applies_to(&self, stage: Stage) -> bool {
        self.stages.includes(stage)
    }

    /// Reviews `req`: `None` when the guard does not run at `req.stage`; otherwise always a
    /// verdict (the fallback's if the guard failed) and its decision.
    pub async fn review(&self, req: &GuardRequest, policy_version: &str) -> Option<GuardOutcome> {
        if !self.applies_to(req.stage) {
            return None;
        }
        let verdict = self.guard.check_or_fallback(req).await;
        let decision = self.decision(
            &verdict,
            req.stage,
            req.reviewed_text().len(),
            policy_version,
        );
        Some(GuardOutcome { verdict, decision })
    }

    /// The decision for a verdict on a text of `text_len` bytes, with this deployment's
    /// `on_unsafe` / `on_controversial` actions (see [`GuardVerdict::matches`]).
    pub fn decision(
        &self,
        verdict: &GuardVerdict,
        stage: Stage,
        text_len: usize,
        policy_version: &str,
    ) -> Decision {
        let matches = verdict.matches(text_len, |_, _| match verdict.safety {
            Safety::Safe => Action::Allow,
            Safety::Controversial => self.on_controversial,
            Safety::Unsafe => self.on_unsafe,
        });
        Decision::from_matches(stage, matches, policy_version)
    }
}
