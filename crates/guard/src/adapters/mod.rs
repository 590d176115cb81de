//! One module per guard format. Each has a pure request builder, a pure reply parser (tested
//! alone, never panics on any input) and an adapter that joins them over [`Endpoint`].

pub mod llamaguard;
pub mod openai_moderation;
pub mod qwen3guard;
pub mod shieldlm;

use std::{collections::BTreeMap, fmt, time::Duration};

pub use llamaguard::LlamaGuard;
pub use openai_moderation::OpenAiModeration;
pub use qwen3guard::Qwen3Guard;
pub use shieldlm::ShieldLm;

use crate::{
    config::{GuardConfig, GuardKind},
    error::{ConfigError, ConfigProblem},
    mapping::RiskMapper,
    Guard, GuardVerdict, Safety,
};

/// What a parser read from a guard's reply, before mapping to risk codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The safety.
    pub safety: Safety,
    /// The model's labels, verbatim, without `None`.
    pub categories: Vec<String>,
    /// Refusal flag, when the format has one.
    pub refusal: Option<bool>,
    /// Per-category scores, when the format has them.
    pub scores: BTreeMap<String, f64>,
}

impl Parsed {
    fn new(safety: Safety, categories: Vec<String>) -> Parsed {
        Parsed {
            safety,
            categories,
            refusal: None,
            scores: BTreeMap::new(),
        }
    }
}

/// A reply that does not follow the guard's format; says what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Builds the adapter for `cfg.kind` (without fallback; see [`crate::GuardStage`]).
pub fn build_guard(cfg: &GuardConfig) -> Result<Box<dyn Guard>, ConfigError> {
    Ok(match cfg.kind {
        GuardKind::Qwen3Guard => Box::new(Qwen3Guard::new(cfg)?),
        GuardKind::LlamaGuard => Box::new(LlamaGuard::new(cfg)?),
        GuardKind::ShieldLm => Box::new(ShieldLm::new(cfg)?),
        GuardKind::OpenAiModeration => Box::new(OpenAiModeration::new(cfg)?),
    })
}

/// Fails unless `cfg` is for `kind` (an adapter built from another kind's config would send
/// the wrong format).
fn expect_kind(cfg: &GuardConfig, kind: GuardKind) -> Result<(), ConfigError> {
    if cfg.kind == kind {
        return Ok(());
    }
    Err(ConfigError {
        guard: cfg.display_name().to_owned(),
        problems: vec![ConfigProblem {
            key: "kind".into(),
            message: format!(
                "is `{}` but this adapter speaks `{}`; use build_guard to pick the adapter",
                cfg.kind.as_str(),
                kind.as_str()
            ),
        }],
    })
}

/// One round trip to a guard model served behind an OpenAI-compatible chat endpoint: send the
/// adapter's `messages`, take the reply's content, parse it with the adapter's `parse`, map it.
/// The three chat adapters differ only in their messages and their parser.
async fn ask_chat_guard(
    endpoint: &crate::http::Endpoint,
    model: &str,
    max_tokens: Option<u32>,
    messages: serde_json::Value,
    parse: fn(&str) -> Result<Parsed, ParseError>,
    mapper: &RiskMapper,
) -> Result<GuardVerdict, crate::GuardError> {
    let body = crate::http::chat_request(model, messages, max_tokens);
    let reply = endpoint.post(&body).await?;
    let content = crate::http::chat_content(endpoint, &reply.body)?;
    let parsed = parse(&content).map_err(|e| endpoint.unexpected(e.0, &content))?;
    Ok(verdict(
        endpoint.guard(),
        parsed,
        mapper,
        content,
        reply.latency,
    ))
}

/// The verdict of a parsed reply: risks are mapped only for non-safe verdicts.
fn verdict(
    guard: &str,
    parsed: Parsed,
    mapper: &RiskMapper,
    raw: String,
    latency: Duration,
) -> GuardVerdict {
    let risks = match parsed.safety {
        Safety::Safe => Vec::new(),
        _ => mapper.risks(&parsed.categories, true),
    };
    // Each risk's score is the highest score among the categories that map to it.
    let mut risk_scores: BTreeMap<String, f64> = BTreeMap::new();
    for category in &parsed.categories {
        if let Some(score) = parsed.scores.get(category) {
            for risk in mapper.risks_of(category) {
                let entry = risk_scores.entry(risk).or_insert(*score);
                *entry = entry.max(*score);
            }
        }
    }
    GuardVerdict {
        guard: guard.to_owned(),
        safety: parsed.safety,
        risks,
        categories: parsed.categories,
        scores: parsed.scores,
        risk_scores,
        refusal: parsed.refusal,
        raw,
        latency,
        degraded: None,
    }
}

/// Splits `Key: value` when the key matches case-insensitively.
fn keyed<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let (k, v) = line.split_once(':')?;
    k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
}

/// Comma-separated labels, trimmed, without empties and `None`.
fn label_list(s: &str) -> Vec<String> {
    s.split([',', '，'])
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("none"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_matches_case_insensitively() {
        assert_eq!(keyed("safety: Unsafe", "Safety"), Some("Unsafe"));
        assert_eq!(keyed("Category: x", "Categories"), None);
        assert_eq!(keyed("no colon", "Safety"), None);
    }

    #[test]
    fn label_lists_drop_none_and_blanks() {
        assert_eq!(label_list(" Violent, ,None，PII "), vec!["Violent", "PII"]);
    }

    #[test]
    fn adapters_refuse_another_kinds_config() {
        let cfg = GuardConfig::new(GuardKind::LlamaGuard, "http://127.0.0.1:1", "m");
        let err = Qwen3Guard::new(&cfg).err();
        assert!(
            err.is_some_and(|e| e.problems[0].key == "kind"),
            "adapter accepted a llamaguard config"
        );
    }
}
