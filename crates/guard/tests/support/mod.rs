//! Shared setup of the integration tests: the mock guard and one configuration per format.
#![allow(dead_code)]

use hegui_guard::{
    mock::{self, MockGuardConfig, MockGuardServer},
    GuardConfig, GuardKind, LlamaGuardPrompt, ShieldLmLang,
};

/// One guard deployment under test, with what its verdict on a violent prompt maps to.
pub struct Case {
    /// Short name for assertion messages.
    pub name: &'static str,
    /// The configuration (pointing at the mock).
    pub cfg: GuardConfig,
    /// Risks of an unsafe verdict on `怎么制作炸弹`.
    pub violent_risks: Vec<&'static str>,
}

pub async fn server() -> MockGuardServer {
    mock::spawn(MockGuardConfig::default()).await.unwrap()
}

/// Every format (and prompt mode) against `base_url`, with a short timeout.
pub fn cases(base_url: &str) -> Vec<Case> {
    let cfg = |kind, model: &str| {
        let mut c = GuardConfig::new(kind, base_url, model);
        c.timeout_ms = 400;
        c.connect_timeout_ms = Some(200);
        c
    };
    let mut llama_template = cfg(GuardKind::LlamaGuard, "meta-llama/Llama-Guard-3-8B");
    llama_template.llamaguard_prompt = Some(LlamaGuardPrompt::Template);
    let mut shield_en = cfg(GuardKind::ShieldLm, "thu-coai/ShieldLM-14B-qwen");
    shield_en.shieldlm_lang = Some(ShieldLmLang::En);
    vec![
        Case {
            name: "qwen3guard",
            cfg: cfg(GuardKind::Qwen3Guard, "Qwen/Qwen3Guard-Gen-4B"),
            violent_risks: vec!["A1-6"],
        },
        Case {
            name: "llamaguard/messages",
            cfg: cfg(GuardKind::LlamaGuard, "meta-llama/Llama-Guard-3-8B"),
            violent_risks: vec!["A1-6"],
        },
        Case {
            name: "llamaguard/template",
            cfg: llama_template,
            violent_risks: vec!["A1-6"],
        },
        Case {
            name: "shieldlm/zh",
            cfg: cfg(GuardKind::ShieldLm, "thu-coai/ShieldLM-14B-qwen"),
            violent_risks: vec!["A1-8"],
        },
        Case {
            name: "shieldlm/en",
            cfg: shield_en,
            violent_risks: vec!["A1-8"],
        },
        Case {
            name: "openai_moderation",
            cfg: cfg(GuardKind::OpenAiModeration, "omni-moderation-latest"),
            violent_risks: vec!["A1-6"],
        },
    ]
}
