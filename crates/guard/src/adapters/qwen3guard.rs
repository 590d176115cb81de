//! Qwen3Guard-Gen behind an OpenAI-compatible chat endpoint.
//!
//! Format, as published in the QwenLM/Qwen3Guard README (Quick Start, "Deployment with SGLang
//! and vLLM"):
//! - Request: plain chat messages; the model's chat template builds the moderation prompt.
//!   Prompt moderation sends `[user]`; response moderation sends `[user, assistant]`.
//! - Reply: `Safety: Safe|Unsafe|Controversial` then `Categories: <labels>` (comma-separated,
//!   `None` when safe); response moderation adds `Refusal: Yes|No`. The README's reference
//!   parser searches `Safety: (Safe|Unsafe|Controversial)` and the category names; this parser
//!   reads the same keys line by line so that labels it does not know survive verbatim.
//! - Categories: Violent, Non-violent Illegal Acts, Sexual Content or Sexual Acts, PII,
//!   Suicide & Self-Harm, Unethical Acts, Politically Sensitive Topics, Copyright Violation,
//!   Jailbreak (input only), None.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{ask_chat_guard, expect_kind, keyed, label_list, ParseError, Parsed};
use crate::{
    config::{GuardConfig, GuardKind},
    error::{ConfigError, GuardError},
    http::Endpoint,
    mapping::RiskMapper,
    Guard, GuardRequest, GuardVerdict, Safety,
};

/// The chat messages for `prompt` and, at the output stage, `response`.
pub fn messages(prompt: &str, response: Option<&str>) -> Value {
    match response {
        None => json!([{"role": "user", "content": prompt}]),
        Some(r) => json!([
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": r},
        ]),
    }
}

/// Parses a Qwen3Guard-Gen reply.
pub fn parse(content: &str) -> Result<Parsed, ParseError> {
    let mut safety = None;
    let mut categories = Vec::new();
    let mut refusal = None;
    for line in content.lines().map(str::trim) {
        if let Some(v) = keyed(line, "Safety") {
            safety.get_or_insert(v);
        } else if let Some(v) = keyed(line, "Categories") {
            categories.extend(label_list(v));
        } else if let Some(v) = keyed(line, "Refusal") {
            refusal = Some(match v.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Err(ParseError(format!("`Refusal:` is `{v}`, not Yes or No"))),
            });
        }
    }
    let safety = match safety.map(str::to_ascii_lowercase).as_deref() {
        Some("safe") => Safety::Safe,
        Some("controversial") => Safety::Controversial,
        Some("unsafe") => Safety::Unsafe,
        Some(other) => {
            return Err(ParseError(format!(
                "`Safety:` is `{other}`, not Safe, Unsafe or Controversial"
            )))
        }
        None => return Err(ParseError("no `Safety:` line".into())),
    };
    categories.dedup();
    Ok(Parsed {
        refusal,
        ..Parsed::new(safety, categories)
    })
}

/// A Qwen3Guard-Gen deployment.
#[derive(Debug, Clone)]
pub struct Qwen3Guard {
    endpoint: Endpoint,
    model: String,
    max_tokens: Option<u32>,
    mapper: RiskMapper,
}

impl Qwen3Guard {
    /// The adapter for a `qwen3guard` config.
    pub fn new(cfg: &GuardConfig) -> Result<Qwen3Guard, ConfigError> {
        expect_kind(cfg, GuardKind::Qwen3Guard)?;
        Ok(Qwen3Guard {
            endpoint: Endpoint::new(cfg, "/v1/chat/completions")?,
            model: cfg.model.clone(),
            max_tokens: cfg.max_tokens.or(cfg.kind.default_max_tokens()),
            mapper: RiskMapper::new(cfg.kind, &cfg.risk_overrides),
        })
    }
}

#[async_trait]
impl Guard for Qwen3Guard {
    fn name(&self) -> &str {
        self.endpoint.guard()
    }

    async fn check(&self, req: &GuardRequest) -> Result<GuardVerdict, GuardError> {
        let response = req.require_response(self.name())?;
        ask_chat_guard(
            &self.endpoint,
            &self.model,
            self.max_tokens,
            messages(&req.prompt, response),
            parse,
            &self.mapper,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_moderation_reply_from_the_readme() {
        let p = parse("Safety: Unsafe\nCategories: Violent\n").ok();
        assert_eq!(
            p.map(|p| (p.safety, p.categories)),
            Some((Safety::Unsafe, vec!["Violent".to_owned()]))
        );
    }

    #[test]
    fn response_moderation_reply_from_the_readme() {
        let p = parse("Safety: Safe\nCategories: None\nRefusal: Yes").ok();
        assert_eq!(
            p.map(|p| (p.safety, p.categories, p.refusal)),
            Some((Safety::Safe, vec![], Some(true)))
        );
    }

    #[test]
    fn several_categories_and_unknown_labels_are_kept() {
        let p = parse("Safety: Controversial\nCategories: PII, Hidden Elder Crisis").ok();
        assert_eq!(
            p.map(|p| p.categories),
            Some(vec!["PII".to_owned(), "Hidden Elder Crisis".to_owned()])
        );
    }

    #[test]
    fn missing_or_unknown_safety_is_an_error() {
        assert!(parse("Categories: Violent").is_err());
        assert!(parse("Safety: Maybe").is_err());
        assert!(parse("").is_err());
        assert!(parse("Safety: Safe\nRefusal: Perhaps").is_err());
    }

    #[test]
    fn messages_follow_the_stage() {
        assert_eq!(messages("p", None).as_array().map(Vec::len), Some(1));
        assert_eq!(messages("p", Some("r"))[1]["role"], "assistant");
    }
}
