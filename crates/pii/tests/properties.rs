//! Property tests: the detector never panics, reports char-aligned, ordered,
//! non-overlapping spans, and every span passes its validator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use hegui_pii::{validate, Detector, MaskStyle};
use proptest::prelude::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

/// Characters that exercise every branch of the scanner.
const ALPHABET: &[char] = &[
    '0', '1', '2', '3', '4', '5', '6', '8', '9', '１', '３', '８', '０', 'X', 'x', 'Ｘ', 'A', 'M',
    'Y', 'a', 'z', ' ', '-', '\u{3000}', '－', '\u{00A0}', '+', '＋', '@', '＠', '.', '_', '中',
    '文', '。', '，', '😀', '\u{301}', '\n',
];

/// Valid values written in the ways the detector is meant to find.
const PII: &[&str] = &[
    "11010519491231002X",
    "11010519491231002x",
    "110105 19491231 002X",
    "110105491231002",
    "13812345678",
    "138 1234 5678",
    "+86-138-1234-5678",
    "１３８１２３４５６７８",
    "008613812345678",
    "6228480012345671",
    "6222 0212 3456 7890 128",
    "zhang.san@example.com",
    "a+b@mail.example.cn",
    "91350100M000100Y43",
];

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(ALPHABET).prop_map(String::from),
        1 => prop::sample::select(PII).prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..60).prop_map(|t| t.concat())
}

fn check_invariants(text: &str) -> Result<(), TestCaseError> {
    let det = Detector::new(today());
    let ms = det.detect(text);
    let mut prev_end = 0;
    for m in &ms {
        prop_assert!(m.start < m.end && m.end <= text.len(), "{m:?}");
        prop_assert!(
            text.is_char_boundary(m.start) && text.is_char_boundary(m.end),
            "{m:?}"
        );
        prop_assert!(m.start >= prev_end, "overlap or disorder at {m:?}");
        prev_end = m.end;
        let span = &text[m.range()];
        prop_assert!(
            validate(m.kind, span, today()).is_ok(),
            "{} span {span:?} does not re-validate: {:?}",
            m.kind,
            validate(m.kind, span, today())
        );
    }
    let (stars, ms2) = det.mask_all(text, MaskStyle::Stars);
    prop_assert_eq!(&ms, &ms2);
    prop_assert_eq!(stars.chars().count(), text.chars().count());
    let (display, _) = det.mask_all(text, MaskStyle::Display);
    prop_assert!(ms.is_empty() || display != text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn spans_are_char_aligned_ordered_and_revalidate(s in text()) {
        check_invariants(&s)?;
    }

    #[test]
    fn arbitrary_unicode_never_panics(chars in prop::collection::vec(any::<char>(), 0..200)) {
        let s: String = chars.into_iter().collect();
        check_invariants(&s)?;
    }

    #[test]
    fn pii_between_chinese_characters_is_found_exactly(
        pii in prop::sample::select(PII),
        before in prop::sample::select(&["", "我的是", "。", "（"][..]),
        after in prop::sample::select(&["", "谢谢", "。", "）"][..]),
    ) {
        let text = format!("{before}{pii}{after}");
        let ms = Detector::new(today()).detect(&text);
        prop_assert_eq!(ms.len(), 1, "{:?} in {:?}", ms, text);
        prop_assert_eq!(&text[ms[0].range()], pii);
    }
}

/// Text that can neither be nor touch personal information: Chinese characters and
/// full-width punctuation other than the decimal point, plus sign and hyphen.
const FILLER: &[char] = &['中', '文', '。', '，', '：', '（', '）', '😀', '！', '好'];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The scanner skips filler without decoding it (in blocks of 16 bytes); whatever the
    /// filler's length and wherever the blocks fall, detection of the whole is detection of
    /// each side.
    #[test]
    fn filler_between_two_texts_separates_their_findings(
        a in text(),
        b in text(),
        filler in prop::collection::vec(prop::sample::select(FILLER), 1..40),
    ) {
        let filler: String = filler.into_iter().collect();
        let det = Detector::new(today());
        let whole = format!("{a}{filler}{b}");
        let offset = a.len() + filler.len();
        let mut expected = det.detect(&a);
        expected.extend(det.detect(&b).into_iter().map(|mut m| {
            m.start += offset;
            m.end += offset;
            m
        }));
        prop_assert_eq!(det.detect(&whole), expected, "{:?}", whole);
    }
}
