//! The 31 security risks of Appendix A of TC260-003-2024 (carried into GB/T 45654-2025).
//!
//! Codes are hegui's own (`A<category>-<item>`); names follow the standard's wording. The table
//! is transcribed from `shared/design/tc260-risks.toml` and embedded so that lexicon validation
//! needs no file at run time.

/// One of the five risk categories of Appendix A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    /// Category code, e.g. `A1`.
    pub code: &'static str,
    /// Chinese name as worded in the standard.
    pub zh: &'static str,
    /// English translation of the name.
    pub en: &'static str,
}

/// One of the 31 risks of Appendix A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Risk {
    /// Risk code, e.g. `A1-4`.
    pub code: &'static str,
    /// Code of the category the risk belongs to, e.g. `A1`.
    pub category: &'static str,
    /// Chinese name as worded in the standard.
    pub zh: &'static str,
    /// English translation of the name.
    pub en: &'static str,
}

/// Prefix of the risk codes that name a type of personal information (e.g. `PII-phone`).
pub const PII_PREFIX: &str = "PII-";

/// The five categories, in the standard's order.
pub static CATEGORIES: [Category; 5] = [
    Category {
        code: "A1",
        zh: "违反社会主义核心价值观的内容",
        en: "Content violating the core socialist values",
    },
    Category {
        code: "A2",
        zh: "含有歧视性内容",
        en: "Discriminatory content",
    },
    Category {
        code: "A3",
        zh: "商业违法违规",
        en: "Commercial violations",
    },
    Category {
        code: "A4",
        zh: "侵犯他人合法权益",
        en: "Infringing the lawful rights and interests of others",
    },
    Category {
        code: "A5",
        zh: "无法满足特定服务类型的安全需求",
        en: "Unable to meet the security needs of specific service types",
    },
];

const fn risk_entry(
    code: &'static str,
    category: &'static str,
    zh: &'static str,
    en: &'static str,
) -> Risk {
    Risk {
        code,
        category,
        zh,
        en,
    }
}

/// All 31 risks, in the standard's order.
pub static ALL: [Risk; 31] = [
    risk_entry("A1-1", "A1", "煽动颠覆国家政权、推翻社会主义制度", "Inciting subversion of state power or overthrow of the socialist system"),
    risk_entry("A1-2", "A1", "危害国家安全和利益、损害国家形象", "Endangering national security and interests, damaging the national image"),
    risk_entry("A1-3", "A1", "煽动分裂国家、破坏国家统一和社会稳定", "Inciting secession, undermining national unity and social stability"),
    risk_entry("A1-4", "A1", "宣扬恐怖主义、极端主义", "Promoting terrorism or extremism"),
    risk_entry("A1-5", "A1", "宣扬民族仇恨", "Promoting ethnic hatred"),
    risk_entry("A1-6", "A1", "宣扬暴力、淫秽色情", "Promoting violence, obscenity or pornography"),
    risk_entry("A1-7", "A1", "传播虚假有害信息", "Spreading false and harmful information"),
    risk_entry("A1-8", "A1", "其他法律、行政法规禁止的内容", "Other content prohibited by laws and administrative regulations"),
    risk_entry("A2-1", "A2", "民族歧视内容", "Ethnic discrimination"),
    risk_entry("A2-2", "A2", "信仰歧视内容", "Discrimination by religious belief"),
    risk_entry("A2-3", "A2", "国别歧视内容", "Discrimination by nationality"),
    risk_entry("A2-4", "A2", "地域歧视内容", "Regional discrimination"),
    risk_entry("A2-5", "A2", "性别歧视内容", "Gender discrimination"),
    risk_entry("A2-6", "A2", "年龄歧视内容", "Age discrimination"),
    risk_entry("A2-7", "A2", "职业歧视内容", "Occupational discrimination"),
    risk_entry("A2-8", "A2", "健康歧视内容", "Health discrimination"),
    risk_entry("A2-9", "A2", "其他方面歧视内容", "Other discrimination"),
    risk_entry("A3-1", "A3", "侵犯他人知识产权", "Infringing intellectual property rights"),
    risk_entry("A3-2", "A3", "违反商业道德", "Violating business ethics"),
    risk_entry("A3-3", "A3", "泄露他人商业秘密", "Leaking trade secrets"),
    risk_entry("A3-4", "A3", "利用算法、数据、平台等优势，实施垄断和不正当竞争行为", "Monopoly or unfair competition using algorithm, data or platform advantages"),
    risk_entry("A3-5", "A3", "其他商业违法违规行为", "Other commercial violations"),
    risk_entry("A4-1", "A4", "危害他人身心健康", "Endangering others' physical or mental health"),
    risk_entry("A4-2", "A4", "侵害他人肖像权", "Infringing portrait rights"),
    risk_entry("A4-3", "A4", "侵害他人名誉权", "Infringing reputation rights"),
    risk_entry("A4-4", "A4", "侵害他人荣誉权", "Infringing honour rights"),
    risk_entry("A4-5", "A4", "侵害他人隐私权", "Infringing privacy rights"),
    risk_entry("A4-6", "A4", "侵害他人个人信息权益", "Infringing personal information rights"),
    risk_entry("A4-7", "A4", "侵犯他人其他合法权益", "Infringing other lawful rights and interests"),
    risk_entry("A5-1", "A5", "内容不准确，严重不符合科学常识或主流认知", "Inaccurate content, seriously contrary to scientific common sense or mainstream understanding"),
    risk_entry("A5-2", "A5", "内容不可靠，虽不包含严重错误但无法对使用者形成帮助", "Unreliable content that, while not seriously wrong, cannot help the user"),
];

/// Looks up a TC260 risk by code (`A1-4`); `None` for unknown codes and for PII types.
pub fn risk(code: &str) -> Option<&'static Risk> {
    ALL.iter().find(|r| r.code == code)
}

/// Looks up a risk category by code (`A1`).
pub fn category(code: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|c| c.code == code)
}

/// True for a PII risk code: `PII-` followed by one or more of `[a-z0-9_-]`.
pub fn is_pii_code(code: &str) -> bool {
    code.strip_prefix(PII_PREFIX).is_some_and(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    })
}

/// True when `code` may appear as a lexicon entry's `risk`: a TC260 risk or a PII type.
pub fn is_known_code(code: &str) -> bool {
    risk(code).is_some() || is_pii_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_risk_code_is_unique_and_belongs_to_a_category() {
        let mut codes: Vec<&str> = ALL.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 31);
        for r in &ALL {
            let cat = category(r.category);
            assert!(
                cat.is_some(),
                "{} has unknown category {}",
                r.code,
                r.category
            );
            assert!(
                r.code.starts_with(&format!("{}-", r.category)),
                "{}",
                r.code
            );
            assert!(!r.zh.is_empty() && !r.en.is_empty(), "{}", r.code);
        }
    }

    #[test]
    fn category_sizes_follow_the_standard() {
        let count = |cat: &str| ALL.iter().filter(|r| r.category == cat).count();
        assert_eq!(
            [
                count("A1"),
                count("A2"),
                count("A3"),
                count("A4"),
                count("A5")
            ],
            [8, 9, 5, 7, 2]
        );
    }

    #[test]
    fn lookup_finds_known_codes_only() {
        assert_eq!(risk("A1-4").map(|r| r.zh), Some("宣扬恐怖主义、极端主义"));
        assert_eq!(risk("A2-5").map(|r| r.en), Some("Gender discrimination"));
        assert_eq!(risk("A5-2").map(|r| r.category), Some("A5"));
        assert!(risk("A1-9").is_none());
        assert!(risk("A9-1").is_none());
        assert!(risk("a1-4").is_none());
        assert!(risk("PII-phone").is_none());
    }

    #[test]
    fn pii_codes_need_a_lowercase_type_name() {
        assert!(is_pii_code("PII-phone"));
        assert!(is_pii_code("PII-id_card"));
        assert!(is_known_code("PII-bank-card"));
        assert!(!is_pii_code("PII-"));
        assert!(!is_pii_code("PII-Phone"));
        assert!(!is_pii_code("pii-phone"));
        assert!(is_known_code("A3-4"));
        assert!(!is_known_code("A9-1"));
    }
}
