//! Turns guard failures into verdicts, so a review stage always has an answer.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::{
    config::Fallback, mapping, Degraded, Guard, GuardError, GuardRequest, GuardVerdict, Safety,
};

/// A guard whose failures become verdicts by the [`Fallback`] policy.
///
/// - `fail_closed`: unsafe, risk `GUARD-unavailable`.
/// - `fail_open`: safe, no risks.
///
/// Both carry [`GuardVerdict::degraded`] with the error's code and message.
#[derive(Debug, Clone)]
pub struct FallbackGuard<G> {
    inner: G,
    policy: Fallback,
}

impl<G: Guard> FallbackGuard<G> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: G, policy: Fallback) -> FallbackGuard<G> {
        FallbackGuard { inner, policy }
    }

    /// The policy applied on failure.
    pub fn policy(&self) -> Fallback {
        self.policy
    }

    /// The wrapped guard.
    pub fn inner(&self) -> &G {
        &self.inner
    }

    /// The guard's verdict, or the fallback verdict if the guard failed.
    pub async fn check_or_fallback(&self, req: &GuardRequest) -> GuardVerdict {
        let started = Instant::now();
        match self.inner.check(req).await {
            Ok(verdict) => verdict,
            Err(error) => {
                fallback_verdict(self.inner.name(), self.policy, &error, started.elapsed())
            }
        }
    }
}

/// The verdict `policy` gives when `guard` failed with `error`.
pub fn fallback_verdict(
    guard: &str,
    policy: Fallback,
    error: &GuardError,
    latency: Duration,
) -> GuardVerdict {
    let (safety, risks) = match policy {
        Fallback::FailClosed => (Safety::Unsafe, vec![mapping::UNAVAILABLE.to_owned()]),
        Fallback::FailOpen => (Safety::Safe, Vec::new()),
    };
    GuardVerdict {
        guard: guard.to_owned(),
        safety,
        risks,
        categories: Vec::new(),
        scores: Default::default(),
        risk_scores: Default::default(),
        refusal: None,
        raw: String::new(),
        latency,
        degraded: Some(Degraded {
            policy,
            reason: error.code().to_owned(),
            message: error.to_string(),
        }),
    }
}

#[async_trait]
impl<G: Guard> Guard for FallbackGuard<G> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Never fails: errors become fallback verdicts.
    async fn check(&self, req: &GuardRequest) -> Result<GuardVerdict, GuardError> {
        Ok(self.check_or_fallback(req).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;

    #[async_trait]
    impl Guard for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        async fn check(&self, _: &GuardRequest) -> Result<GuardVerdict, GuardError> {
            Err(GuardError::Timeout {
                guard: "broken".into(),
                after: Duration::from_millis(5),
            })
        }
    }

    #[tokio::test]
    async fn fail_closed_is_unsafe_and_says_why() {
        let v = FallbackGuard::new(Broken, Fallback::FailClosed)
            .check_or_fallback(&GuardRequest::input("x"))
            .await;
        assert_eq!(v.safety, Safety::Unsafe);
        assert_eq!(v.risks, vec![mapping::UNAVAILABLE]);
        assert_eq!(v.degraded.map(|d| d.reason), Some("timeout".to_owned()));
    }

    #[tokio::test]
    async fn fail_open_is_safe_but_degraded() {
        let v = FallbackGuard::new(Broken, Fallback::FailOpen)
            .check_or_fallback(&GuardRequest::input("x"))
            .await;
        assert_eq!(v.safety, Safety::Safe);
        assert!(v.risks.is_empty());
        assert_eq!(v.degraded.map(|d| d.policy), Some(Fallback::FailOpen));
    }
}
