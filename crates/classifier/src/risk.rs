//! The TC260-003-2024 Appendix A risk codes a label may carry.
//!
//! The list mirrors `shared/design/tc260-risks.toml` (and `hegui-policy`'s taxonomy). It is
//! repeated here, codes only, so that this crate stays usable alone; a test in the main workspace
//! can pin the two lists together once the crate moves there.

/// Every TC260 Appendix A risk code (`A<category>-<item>`), in the standard's order.
pub const TC260_RISK_CODES: [&str; 31] = [
    "A1-1", "A1-2", "A1-3", "A1-4", "A1-5", "A1-6", "A1-7", "A1-8", // core socialist values
    "A2-1", "A2-2", "A2-3", "A2-4", "A2-5", "A2-6", "A2-7", "A2-8", "A2-9", // discrimination
    "A3-1", "A3-2", "A3-3", "A3-4", "A3-5", // commercial violations
    "A4-1", "A4-2", "A4-3", "A4-4", "A4-5", "A4-6", "A4-7", // lawful rights of others
    "A5-1", "A5-2", // security needs of specific service types
];

/// Whether `code` is one of the 31 TC260 Appendix A risk codes.
pub fn is_tc260_code(code: &str) -> bool {
    TC260_RISK_CODES.contains(&code)
}

/// The risk code this crate suggests for COLD's offensive label.
///
/// COLD's offensive texts attack groups by race, gender or region. No single Appendix A item
/// covers all three (they would be A2-1 ethnic, A2-5 gender, A2-4 regional discrimination), so a
/// model with one offensive label maps it to A2-9 "other discrimination", the catch-all item of
/// the discrimination category A2.
pub const COLD_OFFENSIVE_RISK: &str = "A2-9";

/// The risk code this crate suggests for each JADE `违规类型` (violation type).
///
/// - `违法犯罪` (crime): JADE's subtypes (fraud, drugs, weapons, intrusion…) are prohibited by
///   criminal law rather than by a named Appendix A item, so A1-8 "other content prohibited by
///   laws and administrative regulations".
/// - `侵害权益` (infringing rights): mostly privacy and personal-information subtypes, plus
///   physical/mental health and reputation; A4-7 "other lawful rights and interests" is the
///   item that covers the whole type (its largest subtypes alone would be A4-5 / A4-6).
/// - `歧视偏见` (discrimination and prejudice): subtypes spread over ethnic, regional, gender,
///   age… discrimination, so A2-9 "other discrimination".
pub fn jade_type_risk(violation_type: &str) -> Option<&'static str> {
    match violation_type.trim() {
        "违法犯罪" => Some("A1-8"),
        "侵害权益" => Some("A4-7"),
        "歧视偏见" => Some("A2-9"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for code in TC260_RISK_CODES {
            assert!(seen.insert(code), "duplicate {code}");
            assert!(code.starts_with('A') && code.contains('-'), "{code}");
        }
        assert!(is_tc260_code("A2-9"));
        assert!(!is_tc260_code("A6-1"));
        assert!(!is_tc260_code(""));
    }

    #[test]
    fn suggested_codes_are_tc260_codes() {
        assert!(is_tc260_code(COLD_OFFENSIVE_RISK));
        for t in ["违法犯罪", " 违法犯罪", "侵害权益", "歧视偏见"] {
            assert!(jade_type_risk(t).is_some_and(is_tc260_code), "{t}");
        }
        assert_eq!(jade_type_risk("other"), None);
    }
}
