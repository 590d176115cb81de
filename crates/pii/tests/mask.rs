//! Display forms and whole-text masking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use hegui_pii::{mask, Detector, MaskStyle, PiiKind};

fn detector() -> Detector {
    Detector::new(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap())
}

#[test]
fn display_forms_per_kind() {
    assert_eq!(
        mask(PiiKind::IdCard, "11010519491231002X"),
        "110***********002X"
    );
    assert_eq!(
        mask(PiiKind::IdCard, "11010519491231002x"),
        "110***********002X"
    );
    assert_eq!(mask(PiiKind::IdCard, "110105491231002"), "110********1002");
    assert_eq!(mask(PiiKind::Phone, "13812345678"), "138****5678");
    assert_eq!(mask(PiiKind::Phone, "+86-138-1234-5678"), "138****5678");
    assert_eq!(mask(PiiKind::Phone, "008613812345678"), "138****5678");
    assert_eq!(
        mask(PiiKind::Phone, "１３８１２３４５６７８"),
        "138****5678"
    );
    assert_eq!(
        mask(PiiKind::BankCard, "6228 4800 1234 5671"),
        "622848******5671"
    );
    assert_eq!(
        mask(PiiKind::BankCard, "6222021234567890128"),
        "622202*********0128"
    );
    assert_eq!(
        mask(PiiKind::Email, "zhang.san@example.com"),
        "z***@example.com"
    );
    assert_eq!(
        mask(PiiKind::Uscc, "91350100M000100Y43"),
        "91************0Y43"
    );
}

#[test]
fn short_or_malformed_values_are_fully_starred() {
    assert_eq!(mask(PiiKind::Phone, "138"), "****");
    assert_eq!(mask(PiiKind::IdCard, ""), "****");
    assert_eq!(mask(PiiKind::Email, "no-at-sign"), "**********");
    assert_eq!(mask(PiiKind::Email, "@example.com"), "***@example.com");
}

#[test]
fn mask_all_display_replaces_spans_and_returns_original_offsets() {
    let text = "身份证11010519491231002X，电话138 1234 5678。";
    let (masked, ms) = detector().mask_all(text, MaskStyle::Display);
    assert_eq!(masked, "身份证110***********002X，电话138****5678。");
    assert_eq!(ms.len(), 2);
    assert_eq!(&text[ms[0].range()], "11010519491231002X");
    assert_eq!(&text[ms[1].range()], "138 1234 5678");
}

#[test]
fn mask_all_stars_keeps_char_count() {
    let text = "电话１３８１２３４５６７８，邮箱a@b.cn";
    let (masked, ms) = detector().mask_all(text, MaskStyle::Stars);
    assert_eq!(masked, "电话***********，邮箱******");
    assert_eq!(masked.chars().count(), text.chars().count());
    assert_eq!(ms.len(), 2);
}

#[test]
fn mask_all_leaves_clean_text_alone() {
    let text = "今天天气不错，订单号 2024-0315。";
    let (masked, ms) = detector().mask_all(text, MaskStyle::Display);
    assert_eq!(masked, text);
    assert!(ms.is_empty());
}

#[test]
fn free_functions_use_todays_detector() {
    let (masked, ms) = hegui_pii::mask_all("手机13812345678");
    assert_eq!(masked, "手机138****5678");
    assert_eq!(ms.len(), 1);
    let (stars, _) = hegui_pii::mask_all_stars("手机13812345678");
    assert_eq!(stars, "手机***********");
}
