//! From each guard model's own category labels to TC260-003 Appendix A risk codes.
//!
//! The tables are the single source of truth; `GUARD.md` transcribes them with the same
//! reasons. Rules that hold for every table:
//!
//! - Labels match case-insensitively after trimming. `None` (Qwen3Guard's "no category") maps
//!   to nothing.
//! - A label not in the table maps to [`UNCLASSIFIED`] (`A1-8`, "other content prohibited by
//!   laws and administrative regulations") and is kept verbatim in the verdict's categories.
//! - A verdict that is not safe but yields no risk code (no category given, as with ShieldLM,
//!   or only `None`) gets [`UNCLASSIFIED`] too, so no unsafe verdict is recorded without a code.
//! - A deployment may replace the codes of any label with `risk_overrides` in its config.

use std::collections::BTreeMap;

use crate::config::GuardKind;

/// Code for content the guard flagged without a category that maps to a TC260 risk.
pub const UNCLASSIFIED: &str = "A1-8";
/// Code for a jailbreak / prompt-injection attempt (Qwen3Guard `Jailbreak`): an attack on the
/// model rather than a content risk of Appendix A, so it gets its own code.
pub const JAILBREAK: &str = "GUARD-jailbreak";
/// Code of a fail-closed verdict: the guard could not be asked, so the text is treated as unsafe.
pub const UNAVAILABLE: &str = "GUARD-unavailable";
/// Code recorded (with action `allow`) when a fail-open verdict let a text through unreviewed.
pub const DEGRADED: &str = "GUARD-degraded";
/// Prefix of the codes this crate adds beside the TC260 ones.
pub const GUARD_PREFIX: &str = "GUARD-";

/// The 31 risk codes of TC260-003 Appendix A (see `shared/design/tc260-risks.toml`).
pub const TC260_CODES: [&str; 31] = [
    "A1-1", "A1-2", "A1-3", "A1-4", "A1-5", "A1-6", "A1-7", "A1-8", //
    "A2-1", "A2-2", "A2-3", "A2-4", "A2-5", "A2-6", "A2-7", "A2-8", "A2-9", //
    "A3-1", "A3-2", "A3-3", "A3-4", "A3-5", //
    "A4-1", "A4-2", "A4-3", "A4-4", "A4-5", "A4-6", "A4-7", //
    "A5-1", "A5-2",
];

/// True for a TC260 code or one of this crate's `GUARD-` codes.
pub fn is_known_risk_code(code: &str) -> bool {
    TC260_CODES.contains(&code) || [JAILBREAK, UNAVAILABLE, DEGRADED].contains(&code)
}

/// One row of a mapping table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryMapping {
    /// The label exactly as the model emits it (`Violent`, `S1`, `self-harm/intent`).
    pub label: &'static str,
    /// Human-readable name of the label (same as `label` when the label is already a name).
    pub name: &'static str,
    /// TC260 (or `GUARD-`) codes the label maps to; empty for "no category".
    pub risks: &'static [&'static str],
    /// Why this mapping, in one line.
    pub why: &'static str,
}

const fn row(
    label: &'static str,
    name: &'static str,
    risks: &'static [&'static str],
    why: &'static str,
) -> CategoryMapping {
    CategoryMapping {
        label,
        name,
        risks,
        why,
    }
}

/// Qwen3Guard-Gen categories (QwenLM/Qwen3Guard README, "Safety Policy").
pub static QWEN3GUARD: [CategoryMapping; 10] = [
    row("Violent", "Violent", &["A1-6"],
        "instructions for or depictions of violence, weapons included: 宣扬暴力"),
    row("Non-violent Illegal Acts", "Non-violent Illegal Acts", &["A1-8"],
        "hacking, drug production, theft: other content prohibited by law"),
    row("Sexual Content or Sexual Acts", "Sexual Content or Sexual Acts", &["A1-6"],
        "sexual imagery or descriptions: 淫秽色情"),
    row("PII", "Personally Identifiable Information", &["A4-6"],
        "unauthorised disclosure of ID numbers, addresses, phone numbers: personal information rights"),
    row("Suicide & Self-Harm", "Suicide & Self-Harm", &["A4-1"],
        "encouraging or detailing self-harm: endangering physical or mental health"),
    row("Unethical Acts", "Unethical Acts", &["A2-9"],
        "bias, discrimination, stereotype, hate speech, insults lead its definition; A2 demands refusal; \
         the label does not say which group, so the catch-all A2-9"),
    row("Politically Sensitive Topics", "Politically Sensitive Topics", &["A1-2", "A1-7"],
        "defined as deliberate false information about government actions, historical events or \
         public figures: false harmful information (A1-7) that damages the national image (A1-2); \
         it asserts no incitement, so not A1-1"),
    row("Copyright Violation", "Copyright Violation", &["A3-1"],
        "unauthorised reproduction of protected works: infringing intellectual property"),
    row("Jailbreak", "Jailbreak", &[JAILBREAK],
        "an attempt to override the model's instructions, not a content risk of Appendix A"),
    row("None", "None", &[], "no category"),
];

/// Llama Guard 3 hazard categories (PurpleLlama Llama-Guard3 model card; MLCommons taxonomy).
pub static LLAMA_GUARD_3: [CategoryMapping; 14] = [
    row(
        "S1",
        "Violent Crimes",
        &["A1-6"],
        "terrorism, murder, assault: 宣扬暴力",
    ),
    row(
        "S2",
        "Non-Violent Crimes",
        &["A1-8"],
        "fraud, theft, drug and weapons crimes, hacking: other content prohibited by law",
    ),
    row(
        "S3",
        "Sex-Related Crimes",
        &["A1-6"],
        "sexual assault, trafficking: 淫秽色情 / violence",
    ),
    row(
        "S4",
        "Child Sexual Exploitation",
        &["A1-6"],
        "sexual content involving minors: 淫秽色情",
    ),
    row(
        "S5",
        "Defamation",
        &["A4-3"],
        "verifiably false statements injuring a person: reputation rights",
    ),
    row(
        "S6",
        "Specialized Advice",
        &["A4-1"],
        "unsafe medical, financial or legal advice, dangerous activities: endangering health",
    ),
    row(
        "S7",
        "Privacy",
        &["A4-5", "A4-6"],
        "sensitive non-public personal information: privacy and personal information rights",
    ),
    row(
        "S8",
        "Intellectual Property",
        &["A3-1"],
        "infringing intellectual property",
    ),
    row(
        "S9",
        "Indiscriminate Weapons",
        &["A1-6"],
        "chemical, biological, nuclear weapons, explosives: same code as Qwen3Guard's Violent, \
         which covers weapon-making",
    ),
    row(
        "S10",
        "Hate",
        &["A2-9"],
        "demeaning people for protected characteristics: discrimination; the group is not named, \
         so the catch-all A2-9",
    ),
    row(
        "S11",
        "Suicide & Self-Harm",
        &["A4-1"],
        "endangering physical or mental health",
    ),
    row(
        "S12",
        "Sexual Content",
        &["A1-6"],
        "erotic content: 淫秽色情",
    ),
    row(
        "S13",
        "Elections",
        &["A1-7"],
        "false information about electoral processes",
    ),
    row(
        "S14",
        "Code Interpreter Abuse",
        &["A1-8"],
        "denial of service, container escape, privilege escalation: prohibited by the \
         Cybersecurity Law",
    ),
];

/// OpenAI moderation categories (`omni-moderation-latest` response schema).
pub static OPENAI_MODERATION: [CategoryMapping; 13] = [
    row(
        "harassment",
        "harassment",
        &["A4-3"],
        "insults and harassment: reputation rights (侮辱)",
    ),
    row(
        "harassment/threatening",
        "harassment/threatening",
        &["A4-3", "A1-6"],
        "harassment with threats of violence",
    ),
    row(
        "hate",
        "hate",
        &["A2-9"],
        "hate for protected characteristics: discrimination, group unknown",
    ),
    row(
        "hate/threatening",
        "hate/threatening",
        &["A2-9", "A1-6"],
        "hate with threats of violence",
    ),
    row(
        "illicit",
        "illicit",
        &["A1-8"],
        "advice for wrongdoing: other content prohibited by law",
    ),
    row(
        "illicit/violent",
        "illicit/violent",
        &["A1-6"],
        "wrongdoing with violence or weapons",
    ),
    row(
        "self-harm",
        "self-harm",
        &["A4-1"],
        "endangering physical or mental health",
    ),
    row(
        "self-harm/intent",
        "self-harm/intent",
        &["A4-1"],
        "endangering physical or mental health",
    ),
    row(
        "self-harm/instructions",
        "self-harm/instructions",
        &["A4-1"],
        "endangering physical or mental health",
    ),
    row("sexual", "sexual", &["A1-6"], "淫秽色情"),
    row(
        "sexual/minors",
        "sexual/minors",
        &["A1-6"],
        "淫秽色情 involving minors",
    ),
    row("violence", "violence", &["A1-6"], "宣扬暴力"),
    row(
        "violence/graphic",
        "violence/graphic",
        &["A1-6"],
        "graphic violence: 宣扬暴力",
    ),
];

/// The mapping table of a guard kind (ShieldLM gives no categories, so its table is empty).
pub fn table(kind: GuardKind) -> &'static [CategoryMapping] {
    match kind {
        GuardKind::Qwen3Guard => &QWEN3GUARD,
        GuardKind::LlamaGuard => &LLAMA_GUARD_3,
        GuardKind::ShieldLm => &[],
        GuardKind::OpenAiModeration => &OPENAI_MODERATION,
    }
}

/// Turns a model's category labels into sorted, distinct risk codes.
#[derive(Debug, Clone)]
pub struct RiskMapper {
    table: &'static [CategoryMapping],
    /// Lower-cased label → codes, replacing the table's row.
    overrides: BTreeMap<String, Vec<String>>,
}

impl RiskMapper {
    /// A mapper for `kind`, with the deployment's overrides (label → codes) applied on top.
    pub fn new(kind: GuardKind, overrides: &BTreeMap<String, Vec<String>>) -> RiskMapper {
        RiskMapper {
            table: table(kind),
            overrides: overrides
                .iter()
                .map(|(label, codes)| (label.trim().to_lowercase(), codes.clone()))
                .collect(),
        }
    }

    /// The codes of one label: the override, else the table's row, else [`UNCLASSIFIED`].
    pub fn risks_of(&self, label: &str) -> Vec<String> {
        let label = label.trim();
        if let Some(codes) = self.overrides.get(&label.to_lowercase()) {
            return codes.clone();
        }
        match self
            .table
            .iter()
            .find(|row| row.label.eq_ignore_ascii_case(label))
        {
            Some(row) => row.risks.iter().map(|r| (*r).to_owned()).collect(),
            None => vec![UNCLASSIFIED.to_owned()],
        }
    }

    /// Sorted distinct codes of all labels; [`UNCLASSIFIED`] when `flagged` and none resulted.
    pub fn risks(&self, labels: &[String], flagged: bool) -> Vec<String> {
        let mut risks: Vec<String> = labels.iter().flat_map(|l| self.risks_of(l)).collect();
        if flagged && risks.is_empty() {
            risks.push(UNCLASSIFIED.to_owned());
        }
        risks.sort();
        risks.dedup();
        risks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper(kind: GuardKind) -> RiskMapper {
        RiskMapper::new(kind, &BTreeMap::new())
    }

    #[test]
    fn every_table_code_is_a_known_code() {
        for table in [&QWEN3GUARD[..], &LLAMA_GUARD_3[..], &OPENAI_MODERATION[..]] {
            for row in table {
                for code in row.risks {
                    assert!(is_known_risk_code(code), "{} -> {code}", row.label);
                }
            }
        }
    }

    #[test]
    fn tc260_codes_match_the_shared_taxonomy_count() {
        // 8 + 9 + 5 + 7 + 2 risks in the five categories of Appendix A.
        assert_eq!(TC260_CODES.len(), 31);
        let mut sorted = TC260_CODES.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), 31);
    }

    #[test]
    fn qwen_labels_map_case_insensitively() {
        let m = mapper(GuardKind::Qwen3Guard);
        assert_eq!(m.risks(&["violent".into()], true), vec!["A1-6"]);
        assert_eq!(m.risks(&[" PII ".into()], true), vec!["A4-6"]);
        assert_eq!(m.risks(&["Jailbreak".into()], true), vec![JAILBREAK]);
    }

    #[test]
    fn unknown_labels_are_unclassified() {
        let m = mapper(GuardKind::LlamaGuard);
        assert_eq!(m.risks(&["S99".into()], true), vec![UNCLASSIFIED]);
    }

    #[test]
    fn flagged_without_categories_is_unclassified_and_safe_without_is_empty() {
        let m = mapper(GuardKind::Qwen3Guard);
        assert_eq!(m.risks(&["None".into()], true), vec![UNCLASSIFIED]);
        assert!(m.risks(&["None".into()], false).is_empty());
        assert_eq!(
            mapper(GuardKind::ShieldLm).risks(&[], true),
            vec![UNCLASSIFIED]
        );
    }

    #[test]
    fn risks_are_sorted_and_distinct() {
        let m = mapper(GuardKind::LlamaGuard);
        let labels = ["S12".into(), "S1".into(), "S7".into()];
        assert_eq!(m.risks(&labels, true), vec!["A1-6", "A4-5", "A4-6"]);
    }

    #[test]
    fn guard_md_lists_every_mapping_row() {
        let doc = include_str!("../GUARD.md");
        for table in [&QWEN3GUARD[..], &LLAMA_GUARD_3[..], &OPENAI_MODERATION[..]] {
            for row in table {
                let codes = if row.risks.is_empty() {
                    "–".to_owned()
                } else {
                    row.risks.join(", ")
                };
                let line = format!("| `{}` | {} | {} |", row.label, row.name, codes);
                assert!(doc.contains(&line), "GUARD.md lacks the row {line}");
            }
        }
    }

    #[test]
    fn overrides_replace_the_table_row() {
        let overrides = BTreeMap::from([("S10".to_owned(), vec!["A1-5".to_owned()])]);
        let m = RiskMapper::new(GuardKind::LlamaGuard, &overrides);
        assert_eq!(m.risks(&["s10".into()], true), vec!["A1-5"]);
    }
}
