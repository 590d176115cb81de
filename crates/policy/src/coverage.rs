//! Lexicon coverage against TC260-003 (Appendix A and its keyword-library requirement): at
//! least 10,000 terms in all, at least 200 for each A.1 risk and at least 100 for each A.2
//! risk. `hegui lexicon stats` prints this report with the gaps.

use std::collections::{BTreeMap, HashSet};

use crate::taxonomy;
use crate::Lexicon;

/// Terms required in all.
pub const MIN_TOTAL: usize = 10_000;
/// Terms required for each risk of category A1.
pub const MIN_PER_A1: usize = 200;
/// Terms required for each risk of category A2.
pub const MIN_PER_A2: usize = 100;

/// One risk's count and requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskCoverage {
    /// Risk code.
    pub code: &'static str,
    /// Chinese name.
    pub zh: &'static str,
    /// Distinct terms filed under it (after normalisation, across lexicons).
    pub terms: usize,
    /// What TC260-003 asks for (0: no per-risk minimum).
    pub required: usize,
}

/// The coverage report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// Distinct terms (after normalisation) across all lexicons and risks.
    pub total: usize,
    /// Each of the 31 risks, in the standard's order.
    pub risks: Vec<RiskCoverage>,
    /// Distinct terms filed under `PII-*` types.
    pub pii: BTreeMap<String, usize>,
}

impl Coverage {
    /// Counts distinct normalised terms per risk across `lexicons`.
    pub fn of(lexicons: &[Lexicon]) -> Coverage {
        let mut all = HashSet::new();
        let mut per: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
        for lex in lexicons {
            for e in lex.entries() {
                all.insert(e.normalized_term());
                per.entry(e.risk()).or_default().insert(e.normalized_term());
            }
        }
        let risks = taxonomy::ALL
            .iter()
            .map(|r| RiskCoverage {
                code: r.code,
                zh: r.zh,
                terms: per.get(r.code).map_or(0, HashSet::len),
                required: match r.category {
                    "A1" => MIN_PER_A1,
                    "A2" => MIN_PER_A2,
                    _ => 0,
                },
            })
            .collect();
        let pii = per
            .iter()
            .filter(|(k, _)| taxonomy::is_pii_code(k))
            .map(|(k, v)| (k.to_string(), v.len()))
            .collect();
        Coverage {
            total: all.len(),
            risks,
            pii,
        }
    }

    /// Every unmet requirement, as a sentence.
    pub fn gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        if self.total < MIN_TOTAL {
            gaps.push(format!(
                "{} terms in all; TC260-003 asks for at least {MIN_TOTAL} ({} more)",
                self.total,
                MIN_TOTAL - self.total
            ));
        }
        for r in &self.risks {
            if r.terms < r.required {
                gaps.push(format!(
                    "{} {}: {} terms, at least {} required ({} more)",
                    r.code,
                    r.zh,
                    r.terms,
                    r.required,
                    r.required - r.terms
                ));
            }
        }
        gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reviewer::DEMO_LEXICON;

    #[test]
    fn the_demo_lexicon_is_far_from_tc260_coverage_and_says_so() {
        let lex = Lexicon::parse("demo.toml", DEMO_LEXICON).unwrap();
        let c = Coverage::of(&[lex]);
        assert!(c.total > 40 && c.total < MIN_TOTAL);
        assert_eq!(c.risks.len(), 31);
        let a14 = c.risks.iter().find(|r| r.code == "A1-4").unwrap();
        assert!(a14.terms > 0 && a14.required == MIN_PER_A1);
        let gaps = c.gaps();
        assert!(gaps[0].contains("at least 10000"), "{gaps:?}");
        // Every A1 and A2 risk is short of its minimum: 17 + the total.
        assert_eq!(gaps.len(), 18, "{gaps:?}");
    }

    #[test]
    fn terms_are_counted_once_across_lexicons_after_normalisation() {
        let a = Lexicon::parse(
            "a.toml",
            "[lexicon]\nname = \"a\"\n[[entry]]\nterm = \"炸弹\"\nrisk = \"A1-4\"\n",
        )
        .unwrap();
        let b = Lexicon::parse(
            "b.toml",
            "[lexicon]\nname = \"b\"\n[[entry]]\nterm = \"炸 彈\"\nrisk = \"A1-4\"\n[[entry]]\nterm = \"x@y.z\"\nrisk = \"PII-email\"\n",
        )
        .unwrap();
        let c = Coverage::of(&[a, b]);
        assert_eq!(c.total, 2);
        assert_eq!(c.risks.iter().find(|r| r.code == "A1-4").unwrap().terms, 1);
        assert_eq!(c.pii.get("PII-email"), Some(&1));
    }
}
