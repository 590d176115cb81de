//! Lexicon coverage against TC260-003 (Appendix A and its keyword-library requirement): at
//! least 10,000 terms in all, at least 200 for each A.1 risk and at least 100 for each A.2
//! risk. `hegui lexicon stats` prints this report with the gaps.
//!
//! Only terms that detect an Appendix A risk count toward those minimums: whitelist entries
//! (`action = "allow"`) exempt text rather than detect it, and `PII-*` entries are not part of
//! the keyword library, so both are left out (PII is reported on its own, whitelist entries as a
//! count). A combination counts once whatever the order its parts are written in.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use hegui_types::Action;

use crate::lexicon::Entry;
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
    /// Distinct terms filed under it (after normalisation, across lexicons), whitelist entries
    /// excluded.
    pub terms: usize,
    /// What TC260-003 asks for (0: no per-risk minimum).
    pub required: usize,
}

/// The coverage report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// Distinct terms (after normalisation) across all lexicons filed under a TC260 risk,
    /// whitelist entries excluded: what the 10,000-term minimum is measured against.
    pub total: usize,
    /// Each of the 31 risks, in the standard's order.
    pub risks: Vec<RiskCoverage>,
    /// Distinct terms filed under `PII-*` types (whitelist entries excluded); they do not count
    /// toward `total`.
    pub pii: BTreeMap<String, usize>,
    /// Distinct whitelist (`action = "allow"`) terms, of any risk; they count nowhere else.
    pub allowed: usize,
}

/// The term an entry is counted as: its normalised term, except that a combination's parts
/// are sorted (and repeats dropped), so `a&b` and `b&a` are one term.
fn counted_term(e: &Entry) -> Cow<'_, str> {
    let Some(c) = e.combination() else {
        return Cow::Borrowed(e.normalized_term());
    };
    let mut key = sorted(&c.all).join("&");
    for n in sorted(&c.none) {
        key.push('~');
        key.push_str(n);
    }
    Cow::Owned(key)
}

fn sorted(parts: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = parts.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl Coverage {
    /// Counts distinct normalised terms per risk across `lexicons`.
    pub fn of(lexicons: &[Lexicon]) -> Coverage {
        let mut all = HashSet::new();
        let mut allowed = HashSet::new();
        let mut per: BTreeMap<&str, HashSet<Cow<'_, str>>> = BTreeMap::new();
        for lex in lexicons {
            for e in lex.entries() {
                let term = counted_term(e);
                if e.action() == Some(Action::Allow) {
                    allowed.insert(term);
                    continue;
                }
                if taxonomy::risk(e.risk()).is_some() {
                    all.insert(term.clone());
                }
                per.entry(e.risk()).or_default().insert(term);
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
            allowed: allowed.len(),
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
        assert_eq!(c.total, 1, "the PII entry does not count toward the total");
        assert_eq!(c.risks.iter().find(|r| r.code == "A1-4").unwrap().terms, 1);
        assert_eq!(c.pii.get("PII-email"), Some(&1));
    }

    #[test]
    fn a_combination_counts_once_whatever_the_order_of_its_parts() {
        let lex = Lexicon::parse(
            "c.toml",
            "[lexicon]\nname = \"c\"\n\
             [[entry]]\nterm = \"炸弹&制作~新闻\"\nrisk = \"A1-4\"\n\
             [[entry]]\nterm = \"制作&炸弹~新闻\"\nrisk = \"A1-4\"\n\
             [[entry]]\nterm = \"制作&炸弹~报道~新闻\"\nrisk = \"A1-4\"\n\
             [[entry]]\nterm = \"炸弹&制作~新闻~报道\"\nrisk = \"A1-4\"\n",
        )
        .unwrap();
        let c = Coverage::of(&[lex]);
        assert_eq!(c.total, 2);
        assert_eq!(c.risks.iter().find(|r| r.code == "A1-4").unwrap().terms, 2);
    }

    #[test]
    fn whitelist_and_pii_entries_do_not_count_toward_the_minimums() {
        let lex = Lexicon::parse(
            "w.toml",
            "[lexicon]\nname = \"w\"\n\
             [[entry]]\nterm = \"炸弹\"\nrisk = \"A1-4\"\n\
             [[entry]]\nterm = \"拆弹专家\"\nrisk = \"A1-4\"\naction = \"allow\"\n\
             [[entry]]\nterm = \"x@y.z\"\nrisk = \"PII-email\"\n",
        )
        .unwrap();
        let c = Coverage::of(&[lex]);
        assert_eq!(c.total, 1);
        assert_eq!(c.risks.iter().find(|r| r.code == "A1-4").unwrap().terms, 1);
        assert_eq!(c.allowed, 1);
        assert_eq!(c.pii.get("PII-email"), Some(&1));
    }
}
