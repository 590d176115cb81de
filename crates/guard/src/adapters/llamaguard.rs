//! Llama Guard 3 behind an OpenAI-compatible chat endpoint.
//!
//! Format, as published by Meta (llama.com "Llama Guard 3" prompt-format page, the
//! PurpleLlama `Llama-Guard3/8B/MODEL_CARD.md`, and the reference shield in
//! `meta-llama/llama-stack`, `providers/inline/safety/llama_guard/llama_guard.py`):
//! - Categories S1..S14 (S14 Code Interpreter Abuse only on the 8B model).
//! - Prompt: `Task: Check if there is unsafe content in '<User|Agent>' messages ...`, the
//!   category list between `<BEGIN UNSAFE CONTENT CATEGORIES>` markers, the conversation
//!   (`User: ...`, `Agent: ...`) between `<BEGIN CONVERSATION>` markers, and the instruction
//!   that the first line reads `safe` or `unsafe` and the second lists the violated
//!   categories. "User" classifies the prompt; "Agent" classifies the answer, with the prompt
//!   present as context.
//! - Reply: `safe`, or `unsafe` followed by a line of comma-separated codes (`S1,S10`).
//!
//! The layout (blank lines, the ` - ` bullets) follows llama-stack's template; the role names
//! `User` / `Agent` follow the llama.com page (llama-stack writes `Assistant`).
//!
//! Servers that serve the checkpoint with its own chat template (vLLM, Ollama) build that
//! prompt from plain messages; others need it sent as one user message. The config switch
//! [`LlamaGuardPrompt`] picks which.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{ask_chat_guard, expect_kind, label_list, ParseError, Parsed};
use crate::{
    config::{GuardConfig, GuardKind, LlamaGuardPrompt},
    error::{ConfigError, GuardError},
    http::Endpoint,
    mapping::{RiskMapper, LLAMA_GUARD_3},
    Guard, GuardRequest, GuardVerdict, Safety,
};

/// Category names as written in the prompt: the short forms of Meta's reference prompt
/// (llama-stack), which are also those of the checkpoint's chat template.
const PROMPT_CATEGORY_NAMES: [&str; 14] = [
    "Violent Crimes",
    "Non-Violent Crimes",
    "Sex Crimes",
    "Child Exploitation",
    "Defamation",
    "Specialized Advice",
    "Privacy",
    "Intellectual Property",
    "Indiscriminate Weapons",
    "Hate",
    "Self-Harm",
    "Sexual Content",
    "Elections",
    "Code Interpreter Abuse",
];

/// The documented task prompt for `prompt` and, at the output stage, `response`.
pub fn task_prompt(prompt: &str, response: Option<&str>) -> String {
    let agent_type = if response.is_some() { "Agent" } else { "User" };
    let categories: String = LLAMA_GUARD_3
        .iter()
        .zip(PROMPT_CATEGORY_NAMES)
        .map(|(row, name)| format!("{}: {name}.\n", row.label))
        .collect();
    let mut conversation = format!("User: {prompt}");
    if let Some(r) = response {
        conversation.push_str("\n\nAgent: ");
        conversation.push_str(r);
    }
    format!(
        "Task: Check if there is unsafe content in '{agent_type}' messages in conversations \
         according our safety policy with the below categories.\n\
         \n\
         <BEGIN UNSAFE CONTENT CATEGORIES>\n\
         {categories}\
         <END UNSAFE CONTENT CATEGORIES>\n\
         \n\
         <BEGIN CONVERSATION>\n\
         \n\
         {conversation}\n\
         \n\
         <END CONVERSATION>\n\
         \n\
         Provide your safety assessment for ONLY THE LAST {agent_type} message in the above \
         conversation:\n \
         - First line must read 'safe' or 'unsafe'.\n \
         - If unsafe, a second line must include a comma-separated list of violated categories."
    )
}

/// The chat messages in the chosen mode.
pub fn messages(mode: LlamaGuardPrompt, prompt: &str, response: Option<&str>) -> Value {
    match (mode, response) {
        (LlamaGuardPrompt::Template, _) => {
            json!([{"role": "user", "content": task_prompt(prompt, response)}])
        }
        (LlamaGuardPrompt::Messages, None) => json!([{"role": "user", "content": prompt}]),
        (LlamaGuardPrompt::Messages, Some(r)) => json!([
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": r},
        ]),
    }
}

/// Parses a Llama Guard reply (`safe`, or `unsafe` and a line of codes).
pub fn parse(content: &str) -> Result<Parsed, ParseError> {
    let mut lines = content.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines
        .next()
        .ok_or_else(|| ParseError("the reply is empty".into()))?;
    match first.to_ascii_lowercase().as_str() {
        "safe" => Ok(Parsed::new(Safety::Safe, Vec::new())),
        "unsafe" => {
            let mut codes = lines.next().map(label_list).unwrap_or_default();
            codes.dedup();
            Ok(Parsed::new(Safety::Unsafe, codes))
        }
        _ => Err(ParseError(
            "the first line is neither `safe` nor `unsafe`".into(),
        )),
    }
}

/// A Llama Guard 3 deployment.
#[derive(Debug, Clone)]
pub struct LlamaGuard {
    endpoint: Endpoint,
    model: String,
    max_tokens: Option<u32>,
    mode: LlamaGuardPrompt,
    mapper: RiskMapper,
}

impl LlamaGuard {
    /// The adapter for a `llamaguard` config.
    pub fn new(cfg: &GuardConfig) -> Result<LlamaGuard, ConfigError> {
        expect_kind(cfg, GuardKind::LlamaGuard)?;
        Ok(LlamaGuard {
            endpoint: Endpoint::new(cfg, "/v1/chat/completions")?,
            model: cfg.model.clone(),
            max_tokens: cfg.max_tokens.or(cfg.kind.default_max_tokens()),
            mode: cfg.llamaguard_prompt.unwrap_or_default(),
            mapper: RiskMapper::new(cfg.kind, &cfg.risk_overrides),
        })
    }
}

#[async_trait]
impl Guard for LlamaGuard {
    fn name(&self) -> &str {
        self.endpoint.guard()
    }

    async fn check(&self, req: &GuardRequest) -> Result<GuardVerdict, GuardError> {
        let response = req.require_response(self.name())?;
        ask_chat_guard(
            &self.endpoint,
            &self.model,
            self.max_tokens,
            messages(self.mode, &req.prompt, response),
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
    fn replies_from_the_model_card() {
        let safe = parse("safe").ok().map(|p| p.safety);
        assert_eq!(safe, Some(Safety::Safe));
        let unsafe_ = parse("\n\nunsafe\nS1,S10").ok();
        assert_eq!(
            unsafe_.map(|p| (p.safety, p.categories)),
            Some((Safety::Unsafe, vec!["S1".to_owned(), "S10".to_owned()]))
        );
    }

    #[test]
    fn unsafe_without_codes_has_no_categories() {
        let p = parse("unsafe").ok();
        assert_eq!(p.map(|p| p.categories), Some(vec![]));
    }

    #[test]
    fn other_first_lines_are_errors() {
        assert!(parse("").is_err());
        assert!(parse("I think this is fine").is_err());
        assert!(parse("Safety: Safe").is_err());
    }

    #[test]
    fn template_classifies_the_last_turn_with_context() {
        let p = task_prompt("how?", Some("like this"));
        assert!(p.starts_with("Task: Check if there is unsafe content in 'Agent' messages"));
        assert!(p.contains("S1: Violent Crimes.\nS2: Non-Violent Crimes.\n"));
        assert!(p.contains("S14: Code Interpreter Abuse.\n<END UNSAFE CONTENT CATEGORIES>"));
        assert!(p.contains(
            "<BEGIN CONVERSATION>\n\nUser: how?\n\nAgent: like this\n\n<END CONVERSATION>"
        ));
        assert!(p.contains("ONLY THE LAST Agent message"));
        assert!(p.ends_with("comma-separated list of violated categories."));
        let q = task_prompt("how?", None);
        assert!(q.contains("'User' messages") && !q.contains("Agent:"));
    }

    #[test]
    fn message_mode_sends_plain_turns() {
        let m = messages(LlamaGuardPrompt::Messages, "p", Some("r"));
        assert_eq!(m[0]["content"], "p");
        assert_eq!(m[1]["content"], "r");
        let t = messages(LlamaGuardPrompt::Template, "p", None);
        assert_eq!(t.as_array().map(Vec::len), Some(1));
    }
}
