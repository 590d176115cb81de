//! An OpenAI-style moderation endpoint.
//!
//! Format (OpenAI API reference, "Create moderation"; the same shape is served by llama-stack
//! and NeMo Guardrails): `POST {base}/v1/moderations` with `{"model": ..., "input": ...}`,
//! answered by `{"results": [{"flagged": bool, "categories": {name: bool},
//! "category_scores": {name: number}}]}`; names like `harassment/threatening`,
//! `self-harm/intent`, `illicit/violent`. `illicit` and `illicit/violent` may be `null` on older
//! models.
//!
//! The endpoint classifies text without conversation context, so the output stage sends the
//! answer alone.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{expect_kind, verdict, ParseError, Parsed};
use crate::{
    config::{GuardConfig, GuardKind, Thresholds},
    error::{ConfigError, GuardError},
    http::Endpoint,
    mapping::RiskMapper,
    Guard, GuardRequest, GuardVerdict, Safety,
};

#[derive(Deserialize)]
struct ModerationResponse {
    results: Vec<ModerationResult>,
}

#[derive(Deserialize)]
struct ModerationResult {
    #[serde(default)]
    flagged: bool,
    #[serde(default)]
    categories: BTreeMap<String, Option<bool>>,
    #[serde(default)]
    category_scores: BTreeMap<String, Option<f64>>,
}

/// The request body for `text`.
pub fn request(model: &str, text: &str) -> Value {
    json!({"model": model, "input": text})
}

/// Parses a moderation response and applies the thresholds (see [`Thresholds`]).
///
/// `Err` is returned for bodies that are not the moderation shape; the adapter reports them
/// as malformed.
pub fn parse(body: &str, thresholds: &Thresholds) -> Result<Parsed, ParseError> {
    let response: ModerationResponse = serde_json::from_str(body)
        .map_err(|e| ParseError(format!("not a moderation response ({e})")))?;
    let result = response
        .results
        .into_iter()
        .next()
        .ok_or_else(|| ParseError("`results` is empty".into()))?;
    let scores: BTreeMap<String, f64> = result
        .category_scores
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| v.is_finite()).map(|v| (k, v)))
        .collect();
    let names: BTreeSet<&String> = result.categories.keys().chain(scores.keys()).collect();

    let mut unsafe_ = Vec::new();
    let mut controversial = Vec::new();
    for name in names {
        let score = scores.get(name).copied();
        let flagged_by_api = result.categories.get(name).copied().flatten() == Some(true);
        let is_unsafe = match (thresholds.unsafe_for(name), score) {
            (Some(t), Some(s)) => s >= t,
            _ => flagged_by_api,
        };
        if is_unsafe {
            unsafe_.push(name.clone());
        } else if let (Some(c), Some(s)) = (thresholds.controversial_score, score) {
            if s >= c {
                controversial.push(name.clone());
            }
        }
    }
    let no_thresholds = thresholds.unsafe_score.is_none() && thresholds.categories.is_empty();
    let parsed = if !unsafe_.is_empty() || (no_thresholds && result.flagged) {
        Parsed::new(Safety::Unsafe, unsafe_)
    } else if !controversial.is_empty() {
        Parsed::new(Safety::Controversial, controversial)
    } else {
        Parsed::new(Safety::Safe, Vec::new())
    };
    Ok(Parsed { scores, ..parsed })
}

/// An OpenAI-style moderation deployment.
#[derive(Debug, Clone)]
pub struct OpenAiModeration {
    endpoint: Endpoint,
    model: String,
    thresholds: Thresholds,
    mapper: RiskMapper,
}

impl OpenAiModeration {
    /// The adapter for an `openai_moderation` config.
    pub fn new(cfg: &GuardConfig) -> Result<OpenAiModeration, ConfigError> {
        expect_kind(cfg, GuardKind::OpenAiModeration)?;
        Ok(OpenAiModeration {
            endpoint: Endpoint::new(cfg, "/v1/moderations")?,
            model: cfg.model.clone(),
            thresholds: cfg.thresholds.clone().unwrap_or_default(),
            mapper: RiskMapper::new(cfg.kind, &cfg.risk_overrides),
        })
    }
}

#[async_trait]
impl Guard for OpenAiModeration {
    fn name(&self) -> &str {
        self.endpoint.guard()
    }

    async fn check(&self, req: &GuardRequest) -> Result<GuardVerdict, GuardError> {
        let text = req.require_response(self.name())?.unwrap_or(&req.prompt);
        let reply = self.endpoint.post(&request(&self.model, text)).await?;
        let parsed =
            parse(&reply.body, &self.thresholds).map_err(|e| self.endpoint.malformed(e.0))?;
        Ok(verdict(
            self.name(),
            parsed,
            &self.mapper,
            reply.body,
            reply.latency,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"id":"modr-1","model":"omni-moderation-latest","results":[{
        "flagged": true,
        "categories": {"sexual": false, "violence": true, "illicit": null},
        "category_scores": {"sexual": 0.4, "violence": 0.93, "illicit": 0.01},
        "category_applied_input_types": {"violence": ["text"]}
    }]}"#;

    fn run(t: Thresholds) -> Option<(Safety, Vec<String>)> {
        parse(BODY, &t).ok().map(|p| (p.safety, p.categories))
    }

    #[test]
    fn without_thresholds_the_api_booleans_decide() {
        assert_eq!(
            run(Thresholds::default()),
            Some((Safety::Unsafe, vec!["violence".to_owned()]))
        );
    }

    #[test]
    fn per_category_thresholds_override_the_default() {
        let t = Thresholds {
            unsafe_score: Some(0.95),
            controversial_score: None,
            categories: BTreeMap::from([("sexual".to_owned(), 0.3)]),
        };
        assert_eq!(run(t), Some((Safety::Unsafe, vec!["sexual".to_owned()])));
    }

    #[test]
    fn scores_between_the_thresholds_are_controversial() {
        let t = Thresholds {
            unsafe_score: Some(0.95),
            controversial_score: Some(0.3),
            categories: BTreeMap::new(),
        };
        assert_eq!(
            run(t),
            Some((
                Safety::Controversial,
                vec!["sexual".to_owned(), "violence".to_owned()]
            ))
        );
    }

    #[test]
    fn scores_are_kept() {
        let p = parse(BODY, &Thresholds::default()).ok();
        assert_eq!(
            p.and_then(|p| p.scores.get("violence").copied()),
            Some(0.93)
        );
    }

    #[test]
    fn other_shapes_are_errors() {
        let t = Thresholds::default();
        assert!(parse("{}", &t).is_err());
        assert!(parse(r#"{"results": []}"#, &t).is_err());
        assert!(parse("not json", &t).is_err());
    }
}
