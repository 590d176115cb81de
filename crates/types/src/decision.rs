use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What the review engine decided to do with a piece of text.
///
/// Variants are ordered by severity: when several rules match, the most severe wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing matched, or matches only worth counting.
    Allow,
    /// Let the text through unchanged but record the match for human review.
    Flag,
    /// Let the text through with the matched spans replaced by `*`.
    Mask,
    /// Stop: refuse the prompt or end the output with `content_filter`.
    Block,
    /// Stop and answer with the configured safe answer instead.
    SafeAnswer,
}

impl Action {
    /// Parses the lower-case name used in lexicons and configuration.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "allow" => Action::Allow,
            "flag" => Action::Flag,
            "mask" => Action::Mask,
            "block" => Action::Block,
            "safe_answer" => Action::SafeAnswer,
            _ => return None,
        })
    }

    /// The lower-case name of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Mask => "mask",
            Action::Block => "block",
            Action::SafeAnswer => "safe_answer",
        }
    }

    /// True when the text must not reach the client (block or safe answer).
    pub fn stops(self) -> bool {
        matches!(self, Action::Block | Action::SafeAnswer)
    }
}

/// Which side of the model a review looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The prompt (the conversation sent to the model).
    Input,
    /// The model's answer.
    Output,
}

impl Stage {
    /// The lower-case name of the stage.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Output => "output",
        }
    }
}

/// How grave a rule's finding is; the review policy maps (risk, severity, stage) to an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth counting or flagging.
    Low,
    /// Usually masked or flagged.
    Medium,
    /// Usually blocked.
    High,
}

impl Severity {
    /// Parses the lower-case name used in lexicons and configuration.
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            _ => return None,
        })
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// One rule that matched, with where it matched in the original text.
///
/// The optional fields are left out of the serialised form when absent, so records written
/// before they existed keep their canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchInfo {
    /// Stable identifier of the rule (lexicon name and entry), never the personal data itself.
    /// Shared (`Arc<str>`): a reviewer lists up to a thousand matches per text, and each
    /// would otherwise copy its rule's strings; serialised as a plain string.
    pub rule: Arc<str>,
    /// TC260-003 risk code (e.g. `A1-4`) or PII type (e.g. `PII-phone`).
    pub risk: Arc<str>,
    /// The action the rule asks for.
    pub action: Action,
    /// Byte offset of the start of the match in the original text.
    pub start: usize,
    /// Byte offset one past the end of the match in the original text.
    pub end: usize,
    /// The rule's severity, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// A classifier's or guard model's score for this finding, in thousandths (0..=1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_permille: Option<u16>,
}

impl MatchInfo {
    /// A match with no severity or score.
    pub fn new(
        rule: impl Into<Arc<str>>,
        risk: impl Into<Arc<str>>,
        action: Action,
        start: usize,
        end: usize,
    ) -> MatchInfo {
        MatchInfo {
            rule: rule.into(),
            risk: risk.into(),
            action,
            start,
            end,
            severity: None,
            score_permille: None,
        }
    }
}

/// The outcome of one review of one text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Input or output review.
    pub stage: Stage,
    /// The most severe action among the matches (`allow` when nothing matched).
    pub action: Action,
    /// Distinct risk codes of the matches, sorted.
    pub risks: Vec<String>,
    /// Every match, in order of position — except allow and flag matches beyond the
    /// reviewer's recording limit, which are only counted in `omitted_matches` (their risks
    /// and action still count in `risks` and `action`).
    pub matches: Vec<MatchInfo>,
    /// Version (content hash) of the policy data that produced the decision.
    pub policy_version: String,
    /// Allow and flag matches found but not listed in `matches`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_matches: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Decision {
    /// A decision that lets everything through.
    pub fn allow(stage: Stage, policy_version: impl Into<String>) -> Decision {
        Decision {
            stage,
            action: Action::Allow,
            risks: Vec::new(),
            matches: Vec::new(),
            policy_version: policy_version.into(),
            omitted_matches: 0,
        }
    }

    /// Builds a decision from matches: the action is the most severe one, the risks are
    /// the sorted distinct risk codes.
    pub fn from_matches(
        stage: Stage,
        mut matches: Vec<MatchInfo>,
        policy_version: impl Into<String>,
    ) -> Decision {
        matches.sort_by_key(|m| (m.start, m.end));
        let action = matches
            .iter()
            .map(|m| m.action)
            .max()
            .unwrap_or(Action::Allow);
        let mut risks: Vec<&str> = matches.iter().map(|m| &*m.risk).collect();
        risks.sort_unstable();
        risks.dedup();
        let risks = risks.into_iter().map(str::to_string).collect();
        Decision {
            stage,
            action,
            risks,
            matches,
            policy_version: policy_version.into(),
            omitted_matches: 0,
        }
    }

    /// Adds one match, keeping the matches in position order and the action and risks true.
    pub fn add_match(&mut self, m: MatchInfo) {
        self.action = self.action.max(m.action);
        if let Err(at) = self.risks.binary_search_by(|x| x.as_str().cmp(&*m.risk)) {
            self.risks.insert(at, m.risk.to_string());
        }
        let at = self
            .matches
            .partition_point(|x| (x.start, x.end) <= (m.start, m.end));
        self.matches.insert(at, m);
    }

    /// Adds matches that were found but not listed: their count, strongest action and risks.
    pub fn with_omitted<'a>(
        mut self,
        count: u64,
        action: Action,
        risks: impl IntoIterator<Item = &'a str>,
    ) -> Decision {
        if count == 0 {
            return self;
        }
        self.omitted_matches += count;
        self.action = self.action.max(action);
        for r in risks {
            if let Err(at) = self.risks.binary_search_by(|x| x.as_str().cmp(r)) {
                self.risks.insert(at, r.to_string());
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_severe_action_wins_and_risks_are_distinct() {
        let m =
            |risk: &str, action, start| MatchInfo::new("demo:1", risk, action, start, start + 3);
        let d = Decision::from_matches(
            Stage::Output,
            vec![
                m("A1-6", Action::Mask, 9),
                m("A1-4", Action::Block, 3),
                m("A1-6", Action::Flag, 0),
            ],
            "v1",
        );
        assert_eq!(d.action, Action::Block);
        assert_eq!(d.risks, vec!["A1-4".to_string(), "A1-6".to_string()]);
        assert_eq!(d.matches[0].start, 0);
    }

    #[test]
    fn added_and_omitted_matches_keep_action_and_risks_true() {
        let mut d = Decision::from_matches(
            Stage::Input,
            vec![MatchInfo::new("a:1", "A2-9", Action::Flag, 5, 8)],
            "v",
        );
        d.add_match(MatchInfo::new("c:1", "A1-4", Action::Block, 0, 3));
        assert_eq!(d.action, Action::Block);
        assert_eq!(d.risks, vec!["A1-4", "A2-9"]);
        assert_eq!(d.matches[0].start, 0);
        let d = Decision::allow(Stage::Input, "v").with_omitted(7, Action::Flag, ["A3-1", "A1-8"]);
        assert_eq!((d.action, d.omitted_matches), (Action::Flag, 7));
        assert_eq!(d.risks, vec!["A1-8", "A3-1"]);
        let json = serde_json::to_string(&Decision::allow(Stage::Input, "v")).unwrap();
        assert!(!json.contains("omitted"), "absent when zero: {json}");
    }

    #[test]
    fn action_names_round_trip() {
        for a in [
            Action::Allow,
            Action::Flag,
            Action::Mask,
            Action::Block,
            Action::SafeAnswer,
        ] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("delete"), None);
    }
}
