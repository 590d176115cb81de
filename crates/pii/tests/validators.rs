//! One test per accepted form and per failing rule of each validator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use hegui_pii::{
    bank_card, id_card, parse_bank_card, parse_email, parse_id_card, parse_phone, parse_uscc, uscc,
    validate, BankCardError, EmailError, IdCardError, IdCardRules, PhoneError, PiiError, PiiKind,
    Sex, UsccError,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

/// An 18-digit ID number with a correct check character for the 17 digits given.
fn id(first17: &str) -> String {
    format!("{first17}{}", id_card::check_char(first17).unwrap())
}

// ---------------------------------------------------------------- ID numbers

#[test]
fn id_standard_sample_parses_with_area_birth_and_sex() {
    let card = parse_id_card("11010519491231002X", today()).unwrap();
    assert_eq!(card.number(), "11010519491231002X");
    assert_eq!(card.area_code(), "110105");
    assert_eq!(
        card.birth_date(),
        NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
    );
    assert_eq!(card.sex(), Sex::Female);
    assert!(!card.was_upgraded());
}

#[test]
fn id_check_char_follows_iso_7064_mod_11_2() {
    assert_eq!(id_card::check_char("11010519491231002"), Some('X'));
    assert_eq!(id_card::check_char("44052418800101001"), Some('4'));
    assert_eq!(id_card::check_char("4405241880010100"), None);
    assert_eq!(id_card::check_char("4405241880010100a"), None);
}

#[test]
fn id_lower_case_x_full_width_and_separators_are_normalised() {
    for input in [
        "11010519491231002x",
        "  110105 19491231 002X ",
        "110105-19491231-002X",
        "１１０１０５１９４９１２３１００２ｘ",
    ] {
        let card = parse_id_card(input, today()).unwrap();
        assert_eq!(card.number(), "11010519491231002X", "{input}");
    }
}

#[test]
fn id_odd_sequence_digit_means_male() {
    let n = id("51010219950815003");
    assert_eq!(parse_id_card(&n, today()).unwrap().sex(), Sex::Male);
}

#[test]
fn id_leap_day_accepted_in_leap_years_including_2000() {
    parse_id_card(&id("31011519880229002"), today()).unwrap();
    parse_id_card(&id("31011520000229003"), today()).unwrap();
}

#[test]
fn id_fifteen_digit_form_is_upgraded_with_19_and_check_char() {
    let card = parse_id_card("110105491231002", today()).unwrap();
    assert_eq!(card.number(), "11010519491231002X");
    assert!(card.was_upgraded());
    assert_eq!(card.sex(), Sex::Female);
}

#[test]
fn id_residence_permit_codes_810000_to_830000_accepted() {
    for p in [
        "81000019900101002",
        "82000019900101002",
        "83000019850505004",
    ] {
        parse_id_card(&id(p), today()).unwrap();
    }
}

#[test]
fn id_wrong_length() {
    assert_eq!(
        parse_id_card("11010519491231002", today()).unwrap_err(),
        IdCardError::WrongLength { found: 17 }
    );
}

#[test]
fn id_invalid_character_reports_position_in_input() {
    assert_eq!(
        parse_id_card("1101 05A9491231002X", today()).unwrap_err(),
        IdCardError::InvalidCharacter {
            position: 8,
            found: 'A'
        }
    );
    assert_eq!(
        parse_id_card("110105194912310X2X", today()).unwrap_err(),
        IdCardError::InvalidCharacter {
            position: 16,
            found: 'X'
        }
    );
    assert_eq!(
        parse_id_card("11010519491231002中", today()).unwrap_err(),
        IdCardError::InvalidCharacter {
            position: 18,
            found: '中'
        }
    );
}

#[test]
fn id_wrong_check_char() {
    assert_eq!(
        parse_id_card("110105194912310021", today()).unwrap_err(),
        IdCardError::CheckCharMismatch {
            expected: 'X',
            found: '1'
        }
    );
}

#[test]
fn id_unknown_province() {
    assert_eq!(
        parse_id_card(&id("99010519491231002"), today()).unwrap_err(),
        IdCardError::UnknownProvince { code: 99 }
    );
}

#[test]
fn id_province_level_area_code_is_impossible() {
    let err = parse_id_card(&id("11000019900101001"), today()).unwrap_err();
    assert!(
        matches!(err, IdCardError::ImpossibleAreaCode { province: 11, .. }),
        "{err:?}"
    );
}

#[test]
fn id_county_without_city_is_impossible() {
    let err = parse_id_card(&id("11000119900101001"), today()).unwrap_err();
    assert!(
        matches!(err, IdCardError::ImpossibleAreaCode { province: 11, .. }),
        "{err:?}"
    );
}

#[test]
fn id_special_region_code_other_than_xx0000_is_impossible() {
    let err = parse_id_card(&id("81010019900101002"), today()).unwrap_err();
    assert!(
        matches!(err, IdCardError::ImpossibleAreaCode { province: 81, .. }),
        "{err:?}"
    );
}

#[test]
fn id_non_calendar_date() {
    for p in [
        "11010519490230002",
        "11010519491301002",
        "11010519490229002",
        "11010519000229002",
    ] {
        assert_eq!(
            parse_id_card(&id(p), today()).unwrap_err(),
            IdCardError::InvalidBirthDate,
            "{p}"
        );
    }
}

#[test]
fn id_birth_date_in_future_relative_to_given_today() {
    let n = id("11010520250602001");
    assert_eq!(
        parse_id_card(&n, today()).unwrap_err(),
        IdCardError::BirthDateInFuture
    );
    let later = NaiveDate::from_ymd_opt(2025, 6, 2).unwrap();
    parse_id_card(&n, later).unwrap();
}

#[test]
fn id_birth_before_1900_is_too_early_unless_rules_allow() {
    // The standard's own example is born in 1880: its check character is right, its holder
    // implausible.
    let n = "440524188001010014";
    assert!(matches!(
        parse_id_card(n, today()).unwrap_err(),
        IdCardError::BirthDateTooEarly { .. }
    ));
    let rules =
        IdCardRules::new(today()).with_earliest_birth(NaiveDate::from_ymd_opt(1850, 1, 1).unwrap());
    assert_eq!(rules.parse(n).unwrap().area_code(), "440524");
}

#[test]
fn id_debug_output_masks_the_number() {
    let card = parse_id_card("11010519491231002X", today()).unwrap();
    let dbg = format!("{card:?}");
    assert!(dbg.contains("110***********002X"), "{dbg}");
    assert!(!dbg.contains("19491231"), "{dbg}");
}

#[test]
fn id_error_messages_say_what_to_do() {
    let msg = IdCardError::CheckCharMismatch {
        expected: 'X',
        found: '1',
    }
    .to_string();
    assert!(msg.contains("mistyped"), "{msg}");
}

// ---------------------------------------------------------------- phones

#[test]
fn phone_accepts_prefixes_and_separators() {
    for input in [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86-138-1234-5678",
        "+86 13812345678",
        "＋８６ １３８１２３４５６７８",
        "008613812345678",
        "8613812345678",
        " 86 138 1234 5678 ",
    ] {
        assert_eq!(parse_phone(input).unwrap(), "13812345678", "{input}");
    }
}

#[test]
fn phone_accepts_every_carrier_range_in_legal_facts() {
    for p in [
        "134", "139", "145", "147", "149", "150", "153", "155", "157", "162", "165", "166", "167",
        "170", "171", "172", "173", "175", "176", "177", "178", "180", "189", "190", "191", "192",
        "193", "195", "196", "197", "198", "199",
    ] {
        parse_phone(&format!("{p}12345678")).unwrap();
    }
    parse_phone("17400123456").unwrap();
    parse_phone("17405123456").unwrap();
}

#[test]
fn phone_empty() {
    assert_eq!(parse_phone("  ").unwrap_err(), PhoneError::Empty);
}

#[test]
fn phone_invalid_character() {
    assert_eq!(
        parse_phone("138 1234 567a").unwrap_err(),
        PhoneError::InvalidCharacter {
            position: 13,
            found: 'A'
        }
    );
    assert_eq!(
        parse_phone("138+12345678").unwrap_err(),
        PhoneError::InvalidCharacter {
            position: 4,
            found: '+'
        }
    );
}

#[test]
fn phone_foreign_country_code() {
    assert_eq!(
        parse_phone("+1 415 555 0100").unwrap_err(),
        PhoneError::ForeignCountryCode
    );
    assert_eq!(
        parse_phone("00852 9123 4567").unwrap_err(),
        PhoneError::ForeignCountryCode
    );
}

#[test]
fn phone_wrong_length() {
    assert_eq!(
        parse_phone("1381234567").unwrap_err(),
        PhoneError::WrongLength { found: 10 }
    );
    assert_eq!(
        parse_phone("+86 1381234567").unwrap_err(),
        PhoneError::WrongLength { found: 10 }
    );
}

#[test]
fn phone_not_mobile() {
    assert_eq!(
        parse_phone("01012345678").unwrap_err(),
        PhoneError::NotMobile
    );
    assert_eq!(
        parse_phone("12012345678").unwrap_err(),
        PhoneError::NotMobile
    );
}

#[test]
fn phone_unassigned_prefix() {
    for (n, p) in [
        ("14012345678", "140"),
        ("15412345678", "154"),
        ("17412345678", "17412"),
        ("17406123456", "17406"),
        ("19412345678", "194"),
        ("16012345678", "160"),
    ] {
        assert_eq!(
            parse_phone(n).unwrap_err(),
            PhoneError::UnassignedPrefix {
                prefix: p.to_owned()
            },
            "{n}"
        );
    }
}

// ---------------------------------------------------------------- bank cards

#[test]
fn bank_card_accepts_16_to_19_digits_in_groups() {
    assert_eq!(
        parse_bank_card("6228 4800 1234 5671").unwrap(),
        "6228480012345671"
    );
    assert_eq!(
        parse_bank_card("622588123456789016").unwrap(),
        "622588123456789016"
    );
    assert_eq!(
        parse_bank_card("6222 0212 3456 7890 128").unwrap(),
        "6222021234567890128"
    );
    assert_eq!(
        parse_bank_card("4111111111111111").unwrap(),
        "4111111111111111"
    );
}

#[test]
fn bank_card_luhn_helper() {
    assert!(bank_card::luhn_valid("79927398713"));
    assert!(!bank_card::luhn_valid("79927398710"));
    assert!(!bank_card::luhn_valid(""));
    assert!(!bank_card::luhn_valid("7992739871x"));
}

#[test]
fn bank_card_invalid_character() {
    assert_eq!(
        parse_bank_card("6228 4800 1234 567l").unwrap_err(),
        BankCardError::InvalidCharacter {
            position: 19,
            found: 'L'
        }
    );
}

#[test]
fn bank_card_wrong_length() {
    assert_eq!(
        parse_bank_card("622848001234567").unwrap_err(),
        BankCardError::WrongLength { found: 15 }
    );
    assert_eq!(
        parse_bank_card("62284800123456712345").unwrap_err(),
        BankCardError::WrongLength { found: 20 }
    );
}

#[test]
fn bank_card_leading_zero() {
    assert_eq!(
        parse_bank_card("0000000000000000").unwrap_err(),
        BankCardError::LeadingZero
    );
}

#[test]
fn bank_card_luhn_mismatch() {
    assert_eq!(
        parse_bank_card("6228480012345670").unwrap_err(),
        BankCardError::LuhnMismatch
    );
}

// ---------------------------------------------------------------- e-mail

#[test]
fn email_accepts_practical_addresses_and_lowercases_domain() {
    assert_eq!(
        parse_email("Zhang.San@Example.COM").unwrap(),
        "Zhang.San@example.com"
    );
    parse_email("a+tag@mail.example.com.cn").unwrap();
    parse_email("user_1@163.com").unwrap();
    parse_email("x@example.xn--fiqs8s").unwrap();
}

#[test]
fn email_at_sign_count() {
    assert_eq!(
        parse_email("a.example.com").unwrap_err(),
        EmailError::AtSignCount { found: 0 }
    );
    assert_eq!(
        parse_email("a@b@c.com").unwrap_err(),
        EmailError::AtSignCount { found: 2 }
    );
}

#[test]
fn email_too_long() {
    let long = format!("a@{}.com", vec!["b".repeat(60); 5].join("."));
    assert!(matches!(
        parse_email(&long).unwrap_err(),
        EmailError::TooLong { .. }
    ));
}

#[test]
fn email_empty_local_part() {
    assert_eq!(
        parse_email("@example.com").unwrap_err(),
        EmailError::EmptyLocalPart
    );
}

#[test]
fn email_local_part_too_long() {
    let a = format!("{}@example.com", "a".repeat(65));
    assert_eq!(
        parse_email(&a).unwrap_err(),
        EmailError::LocalPartTooLong { found: 65 }
    );
    parse_email(&format!("{}@example.com", "a".repeat(64))).unwrap();
}

#[test]
fn email_invalid_local_char() {
    assert_eq!(
        parse_email("zhang san@example.com").unwrap_err(),
        EmailError::InvalidLocalChar { found: ' ' }
    );
    assert_eq!(
        parse_email("张三@example.com").unwrap_err(),
        EmailError::InvalidLocalChar { found: '张' }
    );
}

#[test]
fn email_local_dot_placement() {
    for a in [".a@example.com", "a.@example.com", "a..b@example.com"] {
        assert_eq!(
            parse_email(a).unwrap_err(),
            EmailError::LocalDotPlacement,
            "{a}"
        );
    }
}

#[test]
fn email_empty_domain_label() {
    for a in ["a@", "a@.com", "a@b..com", "a@b.com."] {
        assert_eq!(
            parse_email(a).unwrap_err(),
            EmailError::EmptyDomainLabel,
            "{a}"
        );
    }
}

#[test]
fn email_invalid_domain_char() {
    assert_eq!(
        parse_email("a@exa_mple.com").unwrap_err(),
        EmailError::InvalidDomainChar { found: '_' }
    );
}

#[test]
fn email_domain_label_too_long() {
    let a = format!("a@{}.com", "b".repeat(64));
    assert_eq!(
        parse_email(&a).unwrap_err(),
        EmailError::DomainLabelTooLong { found: 64 }
    );
}

#[test]
fn email_domain_label_hyphen() {
    assert_eq!(
        parse_email("a@-example.com").unwrap_err(),
        EmailError::DomainLabelHyphen
    );
    assert_eq!(
        parse_email("a@example-.com").unwrap_err(),
        EmailError::DomainLabelHyphen
    );
}

#[test]
fn email_missing_tld() {
    assert_eq!(
        parse_email("a@localhost").unwrap_err(),
        EmailError::MissingTld
    );
}

#[test]
fn email_invalid_tld() {
    assert_eq!(
        parse_email("a@example.c").unwrap_err(),
        EmailError::InvalidTld
    );
    assert_eq!(
        parse_email("a@192.168.1.1").unwrap_err(),
        EmailError::InvalidTld
    );
}

// ---------------------------------------------------------------- credit codes

#[test]
fn uscc_sample_parses_into_parts() {
    let code = parse_uscc("91350100M000100Y43").unwrap();
    assert_eq!(code.code(), "91350100M000100Y43");
    assert_eq!(code.authority(), '9');
    assert_eq!(code.org_type(), '1');
    assert_eq!(code.area_code(), "350100");
    assert_eq!(code.subject_id(), "M000100Y4");
    assert_eq!(uscc::check_char("91350100M000100Y4"), Some('3'));
}

#[test]
fn uscc_lower_case_and_full_width_are_normalised() {
    assert_eq!(
        parse_uscc("91350100m000100y43").unwrap().code(),
        "91350100M000100Y43"
    );
    assert_eq!(
        parse_uscc("９１３５０１００Ｍ０００１００Ｙ４３")
            .unwrap()
            .code(),
        "91350100M000100Y43"
    );
}

#[test]
fn uscc_check_char_zero_when_sum_divisible() {
    // Built from the algorithm: whatever 17 characters, the check completes a multiple of 31.
    for head in [
        "91110000100000000",
        "11100000000013127",
        "N2440300MA5FWWWW0",
    ] {
        let code = format!("{head}{}", uscc::check_char(head).unwrap());
        parse_uscc(&code).unwrap();
    }
}

#[test]
fn uscc_wrong_length() {
    assert_eq!(
        parse_uscc("91350100M000100Y4").unwrap_err(),
        UsccError::WrongLength { found: 17 }
    );
}

#[test]
fn uscc_invalid_character() {
    assert_eq!(
        parse_uscc("91350100M0001O0Y43").unwrap_err(),
        UsccError::InvalidCharacter {
            position: 14,
            found: 'O'
        }
    );
    assert_eq!(
        parse_uscc("91350100M000100Y4中").unwrap_err(),
        UsccError::InvalidCharacter {
            position: 18,
            found: '中'
        }
    );
}

#[test]
fn uscc_check_char_mismatch() {
    assert_eq!(
        parse_uscc("91350100M000100Y44").unwrap_err(),
        UsccError::CheckCharMismatch {
            expected: '3',
            found: '4'
        }
    );
}

fn with_check(head: &str) -> String {
    format!("{head}{}", uscc::check_char(head).unwrap())
}

#[test]
fn uscc_unknown_authority() {
    assert_eq!(
        parse_uscc(&with_check("B1350100M000100Y4")).unwrap_err(),
        UsccError::UnknownAuthority { found: 'B' }
    );
}

#[test]
fn uscc_unknown_org_type() {
    assert_eq!(
        parse_uscc(&with_check("94350100M000100Y4")).unwrap_err(),
        UsccError::UnknownOrgType {
            authority: '9',
            found: '4'
        }
    );
}

#[test]
fn uscc_invalid_area_code() {
    assert!(matches!(
        parse_uscc(&with_check("91990100M000100Y4")).unwrap_err(),
        UsccError::InvalidAreaCode { .. }
    ));
    assert!(matches!(
        parse_uscc(&with_check("9135A100M000100Y4")).unwrap_err(),
        UsccError::InvalidAreaCode { .. }
    ));
}

// ---------------------------------------------------------------- dispatch

#[test]
fn kind_codes_are_stable_and_round_trip() {
    let codes: Vec<_> = PiiKind::ALL.iter().map(|k| k.code()).collect();
    assert_eq!(
        codes,
        [
            "PII-id_card",
            "PII-phone",
            "PII-bank_card",
            "PII-email",
            "PII-uscc"
        ]
    );
    for k in PiiKind::ALL {
        assert_eq!(PiiKind::from_code(k.code()), Some(k));
        assert_eq!(k.to_string(), k.code());
    }
    assert_eq!(PiiKind::from_code("PII-other"), None);
}

#[test]
fn validate_dispatches_and_normalises() {
    assert_eq!(
        validate(PiiKind::IdCard, "110105491231002", today()).unwrap(),
        "11010519491231002X"
    );
    assert_eq!(
        validate(PiiKind::Phone, "+86 138 1234 5678", today()).unwrap(),
        "13812345678"
    );
    assert!(matches!(
        validate(PiiKind::BankCard, "1234", today()).unwrap_err(),
        PiiError::BankCard(BankCardError::WrongLength { found: 4 })
    ));
}
