//! Detection behaviour: what is found, where, and what is deliberately not found.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use hegui_pii::{Detector, PiiKind, PiiMatch};

fn detector() -> Detector {
    Detector::new(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap())
}

/// (kind code, matched text) for each match, checking offsets are usable on the way.
fn found(text: &str) -> Vec<(&'static str, &str)> {
    detector()
        .detect(text)
        .iter()
        .map(|m| {
            (
                m.kind.code(),
                m.text(text).expect("span on char boundaries"),
            )
        })
        .collect()
}

#[test]
fn id_embedded_in_chinese_without_spaces() {
    let text = "我的身份证是11010519491231002X谢谢";
    let ms = detector().detect(text);
    assert_eq!(
        ms,
        [PiiMatch {
            kind: PiiKind::IdCard,
            start: 18,
            end: 36
        }]
    );
    assert_eq!(&text[18..36], "11010519491231002X");
}

#[test]
fn id_with_lower_case_x_and_full_width_digits() {
    assert_eq!(
        found("号码11010519491231002x。"),
        [("PII-id_card", "11010519491231002x")]
    );
    let fw = "证件：１１０１０５１９４９１２３１００２Ｘ！";
    assert_eq!(
        found(fw),
        [("PII-id_card", "１１０１０５１９４９１２３１００２Ｘ")]
    );
}

#[test]
fn id_written_in_groups() {
    assert_eq!(
        found("身份证 110105 19491231 002X 已登记"),
        [("PII-id_card", "110105 19491231 002X")]
    );
}

#[test]
fn old_fifteen_digit_id_is_found() {
    assert_eq!(
        found("旧证号110105491231002。"),
        [("PII-id_card", "110105491231002")]
    );
}

#[test]
fn id_with_wrong_check_char_is_not_an_id() {
    assert_eq!(found("证号110105194912310021"), []);
}

#[test]
fn id_followed_by_letters_is_not_an_id() {
    assert_eq!(found("11010519491231002XYZ"), []);
    assert_eq!(found("abc11010519491231002X"), []);
}

#[test]
fn phone_plain_full_width_and_separated() {
    assert_eq!(found("电话13812345678谢谢"), [("PII-phone", "13812345678")]);
    assert_eq!(
        found("电话１３８１２３４５６７８谢谢"),
        [("PII-phone", "１３８１２３４５６７８")]
    );
    assert_eq!(
        found("电话 138 1234 5678。"),
        [("PII-phone", "138 1234 5678")]
    );
    assert_eq!(
        found("电话:138-1234-5678"),
        [("PII-phone", "138-1234-5678")]
    );
}

#[test]
fn phone_country_prefix_is_part_of_the_span() {
    assert_eq!(
        found("拨打+86-138-1234-5678即可"),
        [("PII-phone", "+86-138-1234-5678")]
    );
    assert_eq!(
        found("拨打+8613812345678即可"),
        [("PII-phone", "+8613812345678")]
    );
    assert_eq!(
        found("拨打０08613812345678"),
        [("PII-phone", "０08613812345678")]
    );
}

#[test]
fn phone_inside_longer_digit_run_is_not_reported() {
    assert_eq!(found("订单1381234567890"), []);
    assert_eq!(found("订单913812345678"), []);
    assert_eq!(found("x13812345678"), []);
    assert_eq!(found("13812345678y"), []);
}

#[test]
fn digits_of_a_decimal_number_are_not_reported() {
    assert_eq!(found("比例0.13812345678"), []);
    assert_eq!(found("金额13812345678.50元"), []);
    assert_eq!(found("约为１３８１２３４５６７８．５"), []);
}

#[test]
fn phone_at_end_of_sentence_with_full_stop_is_reported() {
    assert_eq!(
        found("电话13812345678.谢谢"),
        [("PII-phone", "13812345678")]
    );
}

#[test]
fn phone_next_to_punctuation_is_reported() {
    assert_eq!(found("(13812345678)"), [("PII-phone", "13812345678")]);
    assert_eq!(found("tel:13812345678."), [("PII-phone", "13812345678")]);
}

#[test]
fn two_phones_in_one_separated_run_are_split() {
    assert_eq!(
        found("138 1234 5678 139 1234 5678"),
        [
            ("PII-phone", "138 1234 5678"),
            ("PII-phone", "139 1234 5678")
        ]
    );
}

#[test]
fn year_before_phone_does_not_hide_it() {
    assert_eq!(found("2023 13812345678"), [("PII-phone", "13812345678")]);
}

#[test]
fn single_digit_groups_are_not_joined() {
    assert_eq!(found("1 3 8 1 2 3 4 5 6 7 8"), []);
}

#[test]
fn unassigned_phone_prefix_is_not_reported() {
    assert_eq!(found("号码15412345678"), []);
}

#[test]
fn bank_card_in_groups() {
    assert_eq!(
        found("卡号6222 0212 3456 7890 128，"),
        [("PII-bank_card", "6222 0212 3456 7890 128")]
    );
    assert_eq!(
        found("卡号6228480012345671"),
        [("PII-bank_card", "6228480012345671")]
    );
}

#[test]
fn bank_card_failing_luhn_is_not_reported() {
    assert_eq!(found("卡号6228480012345670"), []);
}

#[test]
fn nineteen_digit_card_is_not_an_id_or_phone() {
    // 19 digits whose first 18 are a valid ID number and whose first 11 a valid phone.
    let id17 = "13010519491231002";
    let id = format!("{id17}{}", hegui_pii::id_card::check_char(id17).unwrap());
    let card = (0..10)
        .map(|d| format!("{id}{d}"))
        .find(|c| hegui_pii::bank_card::luhn_valid(c))
        .unwrap();
    let text = format!("卡{card}号");
    assert_eq!(found(&text), [("PII-bank_card", card.as_str())]);
}

#[test]
fn id_is_preferred_over_bank_card_for_the_same_digits() {
    // An 18-digit string that is both a valid ID number and Luhn-valid.
    let id = (0..1000)
        .map(|seq| format!("11010519900101{seq:03}"))
        .map(|p| format!("{p}{}", hegui_pii::id_card::check_char(&p).unwrap()))
        .find(|n| hegui_pii::bank_card::luhn_valid(n))
        .unwrap();
    assert_eq!(found(&id), [("PII-id_card", id.as_str())]);
}

#[test]
fn id_is_preferred_over_uscc_for_the_same_characters() {
    // IDs from 511302 (Shunqing, Nanchong) read as credit codes with authority 5, type 1 and
    // area 13xxxx; one sequence number in ~31 also passes the credit-code check.
    let id = (0..1000)
        .map(|seq| format!("51130219900101{seq:03}"))
        .map(|p| format!("{p}{}", hegui_pii::id_card::check_char(&p).unwrap()))
        .find(|n| hegui_pii::parse_uscc(n).is_ok())
        .unwrap();
    assert_eq!(found(&format!("号{id}。")), [("PII-id_card", id.as_str())]);
}

#[test]
fn email_in_chinese_text() {
    assert_eq!(
        found("邮箱是zhang.san@example.com。"),
        [("PII-email", "zhang.san@example.com")]
    );
    assert_eq!(found("写信给a@b.com."), [("PII-email", "a@b.com")]);
}

#[test]
fn email_wins_over_phone_in_its_local_part() {
    assert_eq!(
        found("QQ邮箱13812345678@qq.com"),
        [("PII-email", "13812345678@qq.com")]
    );
}

#[test]
fn invalid_emails_are_not_reported() {
    assert_eq!(found("@example.com a@ a@b a@localhost a..b@x.com"), []);
}

#[test]
fn uscc_embedded_and_lower_case() {
    assert_eq!(
        found("信用代码91350100M000100Y43的公司"),
        [("PII-uscc", "91350100M000100Y43")]
    );
    assert_eq!(
        found("代码:91350100m000100y43"),
        [("PII-uscc", "91350100m000100y43")]
    );
}

#[test]
fn uscc_with_wrong_check_char_is_not_reported() {
    assert_eq!(found("代码91350100M000100Y44"), []);
}

#[test]
fn mixed_text_reports_each_kind_in_order() {
    let text = "张三，身份证11010519491231002X，手机+86 138 1234 5678，\
                邮箱zs@example.cn，卡号6228480012345671，公司91350100M000100Y43。";
    let kinds: Vec<_> = found(text).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            "PII-id_card",
            "PII-phone",
            "PII-email",
            "PII-bank_card",
            "PII-uscc"
        ]
    );
}

#[test]
fn birth_date_after_detector_today_is_not_an_id() {
    let p = "11010520250602001";
    let n = format!("{p}{}", hegui_pii::id_card::check_char(p).unwrap());
    assert_eq!(found(&n), []);
    let later = Detector::new(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    assert_eq!(later.detect(&n).len(), 1);
}

#[test]
fn empty_and_digit_free_text() {
    assert_eq!(found(""), []);
    assert_eq!(found("没有任何个人信息的一段话。"), []);
}

#[test]
fn huge_inputs_finish_in_linear_time() {
    // A quadratic scan would take minutes on these in a debug build.
    let d = detector();
    for text in [
        "1".repeat(1 << 20),
        "13 ".repeat(1 << 18),
        "１".repeat(1 << 18),
        "a.b@".repeat(1 << 18),
        "A1".repeat(1 << 19),
        "-1".repeat(1 << 19),
    ] {
        let start = std::time::Instant::now();
        assert!(d.detect(&text).is_empty());
        assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
    }
}
