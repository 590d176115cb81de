//! The review policy: which action a finding gets, by (risk, severity, stage), and the safe
//! answer (安全代答) to give per risk.
//!
//! A lexicon entry that names its own `action` keeps it; every other finding (entries without
//! an action, PII, classifier and guard-model findings) is looked up here. Rules are tried in
//! order and the first that fits wins; when none fits, the built-in defaults apply:
//!
//! | Finding | Input | Output |
//! |---|---|---|
//! | severity `high` | block | block |
//! | severity `medium` | flag | mask |
//! | severity `low` | allow | allow |
//! | `PII-*` (any severity) | flag | mask |

use hegui_types::{Action, Severity, Stage};
use sha2::{Digest, Sha256};

use crate::taxonomy;

/// Which risks a policy rule or safe answer applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskPattern {
    /// Every risk (`*`).
    Any,
    /// A category: `A1`..`A5`, or `PII` for every personal-information type.
    Category(String),
    /// One risk code (`A1-4`, `PII-phone`).
    Code(String),
}

impl RiskPattern {
    /// Parses `*`, a category (`A1`, `PII`) or a code; the error says what is accepted.
    pub fn parse(s: &str) -> Result<RiskPattern, String> {
        if s == "*" {
            return Ok(RiskPattern::Any);
        }
        if s == "PII" || s == "GUARD" || taxonomy::CATEGORIES.iter().any(|c| c.code == s) {
            return Ok(RiskPattern::Category(s.to_string()));
        }
        if taxonomy::is_known_code(s) || is_guard_code(s) {
            return Ok(RiskPattern::Code(s.to_string()));
        }
        Err(format!(
            "unknown risk {s:?}: use *, a category (A1..A5, PII or GUARD), a risk code \
             (A1-1..A5-2), PII-<type> or GUARD-<code> (guard-model findings such as \
             GUARD-jailbreak, GUARD-unavailable)"
        ))
    }

    /// Whether `risk` falls under this pattern.
    pub fn covers(&self, risk: &str) -> bool {
        match self {
            RiskPattern::Any => true,
            RiskPattern::Code(c) => c == risk,
            RiskPattern::Category(cat) => risk
                .strip_prefix(cat.as_str())
                .is_some_and(|rest| rest.starts_with('-')),
        }
    }

    fn as_string(&self) -> String {
        match self {
            RiskPattern::Any => "*".into(),
            RiskPattern::Category(c) | RiskPattern::Code(c) => c.clone(),
        }
    }
}

/// One rule of the policy: findings that fit get `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// Risks it applies to.
    pub risk: RiskPattern,
    /// Severity it applies to; `None` for any.
    pub severity: Option<Severity>,
    /// Stage it applies to; `None` for both.
    pub stage: Option<Stage>,
    /// What to do.
    pub action: Action,
}

/// The decision policy, with its version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReviewPolicy {
    rules: Vec<PolicyRule>,
    safe_answers: Vec<(RiskPattern, String)>,
    default_safe_answer: String,
}

/// The safe answer given when nothing more specific is configured.
pub const DEFAULT_SAFE_ANSWER: &str =
    "抱歉，这个问题我无法回答。如果您有其他问题，我很乐意为您提供帮助。";

impl ReviewPolicy {
    /// A policy from ordered rules and safe answers (first fitting entry wins for both).
    pub fn new(
        rules: Vec<PolicyRule>,
        safe_answers: Vec<(RiskPattern, String)>,
        default_safe_answer: impl Into<String>,
    ) -> ReviewPolicy {
        ReviewPolicy {
            rules,
            safe_answers,
            default_safe_answer: default_safe_answer.into(),
        }
    }

    /// The action for a finding.
    pub fn action(&self, risk: &str, severity: Severity, stage: Stage) -> Action {
        for r in &self.rules {
            if r.risk.covers(risk)
                && r.severity.is_none_or(|s| s == severity)
                && r.stage.is_none_or(|s| s == stage)
            {
                return r.action;
            }
        }
        default_action(risk, severity, stage)
    }

    /// The safe answer for a decision's risks: the first configured answer covering one of
    /// them, else the default.
    pub fn safe_answer(&self, risks: &[String]) -> &str {
        for (pattern, answer) in &self.safe_answers {
            if risks.iter().any(|r| pattern.covers(r)) {
                return answer;
            }
        }
        if self.default_safe_answer.is_empty() {
            DEFAULT_SAFE_ANSWER
        } else {
            &self.default_safe_answer
        }
    }

    /// A stable fingerprint of the policy, part of the reviewer's version.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for r in &self.rules {
            h.update(format!(
                "rule\t{}\t{}\t{}\t{}\n",
                r.risk.as_string(),
                r.severity.map_or("*", Severity::as_str),
                r.stage.map_or("*", Stage::as_str),
                r.action.as_str()
            ));
        }
        for (p, a) in &self.safe_answers {
            h.update(format!(
                "safe\t{}\t{}\n",
                p.as_string(),
                a.replace('\n', "\\n")
            ));
        }
        h.update(format!("default\t{}\n", self.default_safe_answer));
        hex::encode(h.finalize())
    }
}

/// The codes guard models add beside the TC260 risks (`GUARD-jailbreak`, `GUARD-unavailable`,
/// `GUARD-degraded`): `GUARD-` and lower-case letters, digits, `_`, `-`.
fn is_guard_code(s: &str) -> bool {
    s.strip_prefix("GUARD-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    })
}

fn default_action(risk: &str, severity: Severity, stage: Stage) -> Action {
    if risk.starts_with(taxonomy::PII_PREFIX) {
        return match stage {
            Stage::Input => Action::Flag,
            Stage::Output => Action::Mask,
        };
    }
    match (severity, stage) {
        (Severity::High, _) => Action::Block,
        (Severity::Medium, Stage::Input) => Action::Flag,
        (Severity::Medium, Stage::Output) => Action::Mask,
        (Severity::Low, _) => Action::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_cover() {
        assert!(RiskPattern::parse("*").unwrap().covers("A1-4"));
        let a1 = RiskPattern::parse("A1").unwrap();
        assert!(a1.covers("A1-4") && !a1.covers("A2-1") && !a1.covers("A10-1"));
        let pii = RiskPattern::parse("PII").unwrap();
        assert!(pii.covers("PII-phone") && !pii.covers("A4-6"));
        assert!(RiskPattern::parse("PII-phone").unwrap().covers("PII-phone"));
        let guard = RiskPattern::parse("GUARD").unwrap();
        assert!(guard.covers("GUARD-jailbreak") && !guard.covers("A1-4"));
        assert!(RiskPattern::parse("GUARD-jailbreak")
            .unwrap()
            .covers("GUARD-jailbreak"));
        assert!(RiskPattern::parse("GUARD-").is_err());
        let e = RiskPattern::parse("A9").unwrap_err();
        assert!(e.contains("A1..A5"), "{e}");
    }

    #[test]
    fn first_fitting_rule_wins_and_defaults_apply_otherwise() {
        let p = ReviewPolicy::new(
            vec![
                PolicyRule {
                    risk: RiskPattern::parse("A2").unwrap(),
                    severity: Some(Severity::Medium),
                    stage: Some(Stage::Output),
                    action: Action::Block,
                },
                PolicyRule {
                    risk: RiskPattern::parse("*").unwrap(),
                    severity: Some(Severity::Low),
                    stage: None,
                    action: Action::Flag,
                },
            ],
            vec![],
            "",
        );
        assert_eq!(
            p.action("A2-9", Severity::Medium, Stage::Output),
            Action::Block
        );
        assert_eq!(
            p.action("A2-9", Severity::Medium, Stage::Input),
            Action::Flag
        );
        assert_eq!(p.action("A3-1", Severity::Low, Stage::Input), Action::Flag);
        assert_eq!(
            p.action("A1-4", Severity::High, Stage::Input),
            Action::Block
        );
        assert_eq!(
            p.action("PII-phone", Severity::Medium, Stage::Output),
            Action::Mask
        );
        assert_eq!(
            p.action("PII-phone", Severity::High, Stage::Input),
            Action::Flag
        );
    }

    #[test]
    fn safe_answers_follow_the_risks() {
        let p = ReviewPolicy::new(
            vec![],
            vec![(
                RiskPattern::parse("A4-1").unwrap(),
                "请拨打心理援助热线。".into(),
            )],
            "",
        );
        assert_eq!(p.safe_answer(&["A4-1".into()]), "请拨打心理援助热线。");
        assert_eq!(p.safe_answer(&["A1-4".into()]), DEFAULT_SAFE_ANSWER);
        assert_ne!(p.fingerprint(), ReviewPolicy::default().fingerprint());
    }
}
