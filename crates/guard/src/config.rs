//! The configuration of one guard deployment, and its validation.
//!
//! ```toml
//! name = "qwen-guard"
//! kind = "qwen3guard"                 # qwen3guard | llamaguard | shieldlm | openai_moderation
//! base_url = "http://127.0.0.1:8000"  # `/v1/...` is appended; a trailing `/v1` is accepted
//! model = "Qwen/Qwen3Guard-Gen-4B"
//! timeout_ms = 3000
//! fallback = "fail_closed"            # or "fail_open"
//! stages = "both"                     # input | output | both
//! ```

use std::{collections::BTreeMap, time::Duration};

use hegui_types::{Action, Stage};
use serde::{Deserialize, Serialize};

use crate::{
    error::{ConfigError, ConfigProblem},
    mapping,
};

/// Which guard model (and so which request and reply format) a deployment talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GuardKind {
    /// Qwen3Guard-Gen behind `/v1/chat/completions`.
    #[serde(rename = "qwen3guard")]
    Qwen3Guard,
    /// Llama Guard 3 behind `/v1/chat/completions`.
    #[serde(rename = "llamaguard")]
    LlamaGuard,
    /// ShieldLM behind `/v1/chat/completions`.
    #[serde(rename = "shieldlm")]
    ShieldLm,
    /// An OpenAI-style `/v1/moderations` endpoint.
    #[serde(rename = "openai_moderation")]
    OpenAiModeration,
}

impl GuardKind {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardKind::Qwen3Guard => "qwen3guard",
            GuardKind::LlamaGuard => "llamaguard",
            GuardKind::ShieldLm => "shieldlm",
            GuardKind::OpenAiModeration => "openai_moderation",
        }
    }

    /// Default `max_tokens` of the chat request (`None` for the moderation endpoint).
    pub fn default_max_tokens(self) -> Option<u32> {
        match self {
            // "Safety: ...\nCategories: ...\nRefusal: ..." is a few dozen tokens.
            GuardKind::Qwen3Guard => Some(128),
            // "unsafe\nS1,S10".
            GuardKind::LlamaGuard => Some(32),
            // The label comes first; the analysis after it is kept for the audit trail but may
            // be cut short (the reference code allows 1024 new tokens).
            GuardKind::ShieldLm => Some(512),
            GuardKind::OpenAiModeration => None,
        }
    }
}

/// What a deployment does when its guard cannot give a verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Treat the text as unsafe (risk `GUARD-unavailable`): nothing unreviewed gets through.
    #[default]
    FailClosed,
    /// Treat the text as safe but mark the verdict degraded: availability over review.
    FailOpen,
}

impl Fallback {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::FailClosed => "fail_closed",
            Fallback::FailOpen => "fail_open",
        }
    }
}

/// Which review stages a guard runs at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stages {
    /// Prompts only.
    Input,
    /// Answers only.
    Output,
    /// Prompts and answers.
    #[default]
    Both,
}

impl Stages {
    /// True when the guard runs at `stage`.
    pub fn includes(self, stage: Stage) -> bool {
        matches!(
            (self, stage),
            (Stages::Both, _) | (Stages::Input, Stage::Input) | (Stages::Output, Stage::Output)
        )
    }
}

/// How the Llama Guard request is built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlamaGuardPrompt {
    /// Send the conversation as plain chat messages: for servers that apply the model's own
    /// chat template (vLLM, SGLang, Ollama serving the Llama Guard 3 checkpoint).
    #[default]
    Messages,
    /// Build Meta's documented task prompt (categories, conversation, instructions) and send it
    /// as one user message: for servers that only apply a generic Llama 3 chat template.
    Template,
}

/// Language of the ShieldLM prompt template.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShieldLmLang {
    /// The Chinese template (replies `[答案] 安全/不安全/有争议`).
    #[default]
    Zh,
    /// The English template (replies `[Answer] safe/unsafe/controversial`).
    En,
}

/// Score thresholds of an `openai_moderation` guard.
///
/// A category is unsafe when its score reaches its threshold (`categories[name]`, else
/// `unsafe_score`); with neither, the endpoint's own boolean for the category decides. A
/// category at or above `controversial_score` but not unsafe makes the verdict controversial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Default score (0..=1) at which a category is unsafe.
    #[serde(default)]
    pub unsafe_score: Option<f64>,
    /// Score (0..=1) at which a category is controversial; below every unsafe threshold.
    #[serde(default)]
    pub controversial_score: Option<f64>,
    /// Per-category unsafe score, e.g. `{ "sexual" = 0.3 }`.
    #[serde(default)]
    pub categories: BTreeMap<String, f64>,
}

impl Thresholds {
    /// The unsafe threshold of `category`, if one is configured.
    pub fn unsafe_for(&self, category: &str) -> Option<f64> {
        self.categories.get(category).copied().or(self.unsafe_score)
    }
}

fn default_timeout_ms() -> u64 {
    3000
}
/// The connect timeout when `connect_timeout_ms` is not set, unless `timeout_ms` is shorter.
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1000;
fn default_max_response_bytes() -> usize {
    64 * 1024
}
fn default_on_unsafe() -> Action {
    Action::Block
}
fn default_on_controversial() -> Action {
    Action::Flag
}

/// The configuration of one guard deployment (one table in the gateway's TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// Name used in rule ids, logs and errors; defaults to the kind.
    #[serde(default)]
    pub name: Option<String>,
    /// The guard model and its API format.
    pub kind: GuardKind,
    /// Server root, e.g. `http://127.0.0.1:8000`; hegui appends `/v1/chat/completions` or
    /// `/v1/moderations` (a trailing `/v1` is accepted and not doubled).
    pub base_url: String,
    /// Model id sent in the request, e.g. `Qwen/Qwen3Guard-Gen-4B`.
    pub model: String,
    /// API key; sent as `Authorization: Bearer <key>` unless `api_key_header` is set.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Header that carries the API key verbatim instead, e.g. `api-key`.
    #[serde(default)]
    pub api_key_header: Option<String>,
    /// Total time for one guard call (connect, send, whole response), in ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Time to establish the connection, in ms; at most `timeout_ms`. Unset: 1000, or
    /// `timeout_ms` when that is shorter (see [`GuardConfig::connect_timeout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_ms: Option<u64>,
    /// Largest response body accepted, in bytes.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// `max_tokens` of the chat request; defaults per kind (not for `openai_moderation`).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// What to do when the guard gives no verdict.
    #[serde(default)]
    pub fallback: Fallback,
    /// Which stages the guard reviews.
    #[serde(default)]
    pub stages: Stages,
    /// Score thresholds (`openai_moderation` only).
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
    /// How the Llama Guard request is built (`llamaguard` only).
    #[serde(default)]
    pub llamaguard_prompt: Option<LlamaGuardPrompt>,
    /// Language of the ShieldLM template (`shieldlm` only).
    #[serde(default)]
    pub shieldlm_lang: Option<ShieldLmLang>,
    /// Custom detection rules inserted into the ShieldLM template (`shieldlm` only).
    #[serde(default)]
    pub shieldlm_rules: Vec<String>,
    /// Action for an unsafe verdict.
    #[serde(default = "default_on_unsafe")]
    pub on_unsafe: Action,
    /// Action for a controversial verdict.
    #[serde(default = "default_on_controversial")]
    pub on_controversial: Action,
    /// Replaces the TC260 codes of a model label, e.g. `{ "S10" = ["A1-5", "A2-9"] }`.
    #[serde(default)]
    pub risk_overrides: BTreeMap<String, Vec<String>>,
}

impl GuardConfig {
    /// A configuration with every optional field at its default.
    pub fn new(kind: GuardKind, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        GuardConfig {
            name: None,
            kind,
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            api_key_header: None,
            timeout_ms: default_timeout_ms(),
            connect_timeout_ms: None,
            max_response_bytes: default_max_response_bytes(),
            max_tokens: None,
            fallback: Fallback::default(),
            stages: Stages::default(),
            thresholds: None,
            llamaguard_prompt: None,
            shieldlm_lang: None,
            shieldlm_rules: Vec::new(),
            on_unsafe: default_on_unsafe(),
            on_controversial: default_on_controversial(),
            risk_overrides: BTreeMap::new(),
        }
    }

    /// The deployment's name: `name`, else the kind.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.kind.as_str())
    }

    /// The server root with trailing `/` and `/v1` removed.
    pub fn root_url(&self) -> &str {
        let url = self.base_url.trim().trim_end_matches('/');
        url.strip_suffix("/v1").unwrap_or(url)
    }

    /// Total timeout of one call.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Connect timeout of one call: `connect_timeout_ms`, else the default capped at
    /// `timeout_ms`, so that a short `timeout_ms` alone is a valid configuration (a connect
    /// timeout longer than the whole call could never apply anyway).
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms_or_default())
    }

    fn connect_timeout_ms_or_default(&self) -> u64 {
        self.connect_timeout_ms
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS.min(self.timeout_ms))
    }

    /// Checks every field and lists every problem with its key and what to do.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem {
                key: key.to_owned(),
                message,
            });
        };
        let kind = self.kind;

        if let Some(name) = &self.name {
            if name.trim().is_empty() || name.contains(char::is_whitespace) {
                problem(
                    "name",
                    "must be a non-empty name without spaces (it appears in rule ids)".into(),
                );
            }
        }
        match reqwest::Url::parse(self.root_url()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            Ok(_) => problem(
                "base_url",
                format!(
                    "`{}` must be an http:// or https:// URL with a host",
                    self.base_url
                ),
            ),
            Err(e) => problem(
                "base_url",
                format!(
                    "`{}` is not a URL ({e}); write e.g. `http://127.0.0.1:8000`",
                    self.base_url
                ),
            ),
        }
        if self.model.trim().is_empty() {
            problem(
                "model",
                "must name the served model, e.g. `Qwen/Qwen3Guard-Gen-4B`".into(),
            );
        }
        if let Some(key) = &self.api_key {
            if key.is_empty() || key.chars().any(|c| c.is_control()) {
                problem(
                    "api_key",
                    "must be non-empty and contain no control characters; remove the key to \
                     send no authentication"
                        .into(),
                );
            }
        }
        if let Some(header) = &self.api_key_header {
            if self.api_key.is_none() {
                problem(
                    "api_key_header",
                    "is set but `api_key` is not; set both or neither".into(),
                );
            }
            if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                problem(
                    "api_key_header",
                    format!("`{header}` is not a valid HTTP header name"),
                );
            }
        }
        if self.timeout_ms == 0 {
            problem(
                "timeout_ms",
                "must be above 0; a guard call needs time to answer (e.g. 3000)".into(),
            );
        }
        // Only a value the operator wrote is checked: the default follows `timeout_ms`, and a
        // bad `timeout_ms` is reported under its own key.
        if let Some(connect) = self.connect_timeout_ms {
            if connect == 0 || connect > self.timeout_ms {
                problem(
                    "connect_timeout_ms",
                    format!(
                        "must be between 1 and `timeout_ms` ({}); it is {connect}",
                        self.timeout_ms
                    ),
                );
            }
        }
        if self.max_response_bytes < 1024 {
            problem(
                "max_response_bytes",
                "must be at least 1024 so that an ordinary reply fits".into(),
            );
        }
        match (kind, self.max_tokens) {
            (GuardKind::OpenAiModeration, Some(_)) => problem(
                "max_tokens",
                "applies to chat guards only; remove it for `openai_moderation`".into(),
            ),
            (_, Some(0)) => problem("max_tokens", "must be above 0".into()),
            _ => {}
        }
        if let Some(t) = &self.thresholds {
            if kind != GuardKind::OpenAiModeration {
                problem(
                    "thresholds",
                    format!(
                        "apply to `openai_moderation` only; `{}` replies with labels, not \
                         scores: remove `thresholds`",
                        kind.as_str()
                    ),
                );
            }
            let in_range = |v: f64| (0.0..=1.0).contains(&v);
            for (key, value) in [
                ("thresholds.unsafe_score", t.unsafe_score),
                ("thresholds.controversial_score", t.controversial_score),
            ] {
                if value.is_some_and(|v| !in_range(v)) {
                    problem(key, "must be between 0 and 1".into());
                }
            }
            for (category, value) in &t.categories {
                if !in_range(*value) {
                    problem(
                        &format!("thresholds.categories.{category}"),
                        "must be between 0 and 1".into(),
                    );
                }
            }
            if let Some(c) = t.controversial_score {
                let lowest_unsafe = t
                    .categories
                    .values()
                    .copied()
                    .chain(t.unsafe_score)
                    .fold(f64::INFINITY, f64::min);
                if c >= lowest_unsafe {
                    problem(
                        "thresholds.controversial_score",
                        format!("must be below every unsafe threshold (lowest is {lowest_unsafe})"),
                    );
                }
            }
        }
        if self.llamaguard_prompt.is_some() && kind != GuardKind::LlamaGuard {
            problem(
                "llamaguard_prompt",
                "applies to `llamaguard` only; remove it".into(),
            );
        }
        if self.shieldlm_lang.is_some() && kind != GuardKind::ShieldLm {
            problem(
                "shieldlm_lang",
                "applies to `shieldlm` only; remove it".into(),
            );
        }
        if !self.shieldlm_rules.is_empty() && kind != GuardKind::ShieldLm {
            problem(
                "shieldlm_rules",
                "apply to `shieldlm` only; remove them".into(),
            );
        }
        for (key, action) in [
            ("on_unsafe", self.on_unsafe),
            ("on_controversial", self.on_controversial),
        ] {
            if action == Action::Mask {
                problem(
                    key,
                    "cannot be `mask`: a guard verdict covers the whole text; use block, \
                     safe_answer, flag or allow"
                        .into(),
                );
            }
        }
        if kind == GuardKind::ShieldLm && !self.risk_overrides.is_empty() {
            problem(
                "risk_overrides",
                "ShieldLM replies with no category labels, so there is nothing to override; \
                 remove `risk_overrides`"
                    .into(),
            );
        }
        for (label, codes) in &self.risk_overrides {
            for code in codes {
                if !mapping::is_known_risk_code(code) {
                    problem(
                        &format!("risk_overrides.{label}"),
                        format!(
                            "`{code}` is not a TC260 risk code (A1-1 … A5-2) or one of \
                             GUARD-jailbreak, GUARD-unavailable, GUARD-degraded"
                        ),
                    );
                }
            }
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                guard: self.display_name().to_owned(),
                problems,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(cfg: &GuardConfig) -> Vec<String> {
        match cfg.validate() {
            Ok(()) => Vec::new(),
            Err(e) => e.problems.into_iter().map(|p| p.key).collect(),
        }
    }

    #[test]
    fn defaults_validate() {
        let cfg = GuardConfig::new(GuardKind::Qwen3Guard, "http://127.0.0.1:8000", "m");
        assert_eq!(keys(&cfg), Vec::<String>::new());
        assert_eq!(cfg.fallback, Fallback::FailClosed);
        assert_eq!(cfg.stages, Stages::Both);
    }

    #[test]
    fn a_short_timeout_alone_caps_the_default_connect_timeout() {
        let cfg: GuardConfig = toml::from_str(
            "kind = \"qwen3guard\"\nbase_url = \"http://h:1\"\nmodel = \"m\"\ntimeout_ms = 500\n",
        )
        .unwrap();
        assert_eq!(keys(&cfg), Vec::<String>::new());
        assert_eq!(cfg.connect_timeout(), Duration::from_millis(500));

        let long = GuardConfig::new(GuardKind::Qwen3Guard, "http://h:1", "m");
        assert_eq!(long.connect_timeout(), Duration::from_millis(1000));

        // A value the operator wrote is still checked against `timeout_ms`.
        let mut written = cfg.clone();
        written.connect_timeout_ms = Some(600);
        assert_eq!(keys(&written), vec!["connect_timeout_ms"]);
        written.connect_timeout_ms = Some(300);
        assert_eq!(written.connect_timeout(), Duration::from_millis(300));
    }

    #[test]
    fn root_url_accepts_a_trailing_v1() {
        let mut cfg = GuardConfig::new(GuardKind::Qwen3Guard, "http://h:1/v1/", "m");
        assert_eq!(cfg.root_url(), "http://h:1");
        cfg.base_url = "http://h:1/".into();
        assert_eq!(cfg.root_url(), "http://h:1");
    }

    #[test]
    fn every_problem_is_listed_with_its_key() {
        let mut cfg = GuardConfig::new(GuardKind::Qwen3Guard, "ftp://x", "");
        cfg.timeout_ms = 0;
        cfg.thresholds = Some(Thresholds::default());
        cfg.on_unsafe = Action::Mask;
        cfg.risk_overrides = BTreeMap::from([("Violent".into(), vec!["A9-9".into()])]);
        assert_eq!(
            keys(&cfg),
            vec![
                "base_url",
                "model",
                "timeout_ms",
                "thresholds",
                "on_unsafe",
                "risk_overrides.Violent"
            ]
        );
    }

    #[test]
    fn thresholds_must_be_ordered_and_in_range() {
        let mut cfg = GuardConfig::new(GuardKind::OpenAiModeration, "http://h", "m");
        cfg.thresholds = Some(Thresholds {
            unsafe_score: Some(0.5),
            controversial_score: Some(0.6),
            categories: BTreeMap::from([("sexual".into(), 1.5)]),
        });
        assert_eq!(
            keys(&cfg),
            vec![
                "thresholds.categories.sexual",
                "thresholds.controversial_score"
            ]
        );
    }

    #[test]
    fn kind_specific_options_are_rejected_elsewhere() {
        let mut cfg = GuardConfig::new(GuardKind::OpenAiModeration, "http://h", "m");
        cfg.llamaguard_prompt = Some(LlamaGuardPrompt::Template);
        cfg.shieldlm_lang = Some(ShieldLmLang::En);
        cfg.max_tokens = Some(10);
        assert_eq!(
            keys(&cfg),
            vec!["max_tokens", "llamaguard_prompt", "shieldlm_lang"]
        );
    }

    #[test]
    fn stages_select_review_sides() {
        assert!(Stages::Both.includes(Stage::Input));
        assert!(Stages::Output.includes(Stage::Output));
        assert!(!Stages::Input.includes(Stage::Output));
    }
}
