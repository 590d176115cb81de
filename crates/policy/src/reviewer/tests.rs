use super::*;
use crate::normalize::normalize;
use crate::policy::ReviewPolicy;
use proptest::prelude::*;

fn lexicon(name: &str, entries: &[(&str, &str, &str)]) -> Lexicon {
    let mut text = format!("[lexicon]\nname = \"{name}\"\n");
    for (term, risk, action) in entries {
        text.push_str(&format!(
            "\n[[entry]]\nterm = {term:?}\nrisk = {risk:?}\naction = {action:?}\n"
        ));
    }
    Lexicon::parse(&format!("{name}.toml"), &text).unwrap()
}

fn reviewer(entries: &[(&str, &str, &str)]) -> LexiconReviewer {
    LexiconReviewer::new(vec![lexicon("t", entries)]).unwrap()
}

fn reviewer_without_pii(entries: &[(&str, &str, &str)]) -> LexiconReviewer {
    LexiconReviewer::build(vec![lexicon("t", entries)], &ReviewPolicy::default(), false).unwrap()
}

fn demo() -> LexiconReviewer {
    LexiconReviewer::demo().unwrap()
}

/// Pushes `chunks`, then finishes; returns the released text and whether the stream stopped.
fn run_stream(stream: &mut dyn StreamReview, chunks: &[&str]) -> (String, bool) {
    let mut released = String::new();
    for chunk in chunks {
        match stream.push(chunk) {
            StreamStep::Release(s) => released.push_str(&s),
            StreamStep::Stop => return (released, true),
        }
    }
    match stream.finish() {
        StreamStep::Release(s) => released.push_str(&s),
        StreamStep::Stop => return (released, true),
    }
    (released, false)
}

fn chars(text: &str) -> Vec<String> {
    text.chars().map(String::from).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// ---- the demo lexicon ----

#[test]
fn demo_lexicon_has_the_entries_the_gateway_tests_rely_on() {
    let lex = Lexicon::parse("lexicons/demo.toml", DEMO_LEXICON).unwrap();
    assert_eq!(lex.name(), "demo");
    assert!(
        (40..=80).contains(&lex.entries().len()),
        "{}",
        lex.entries().len()
    );
    let find = |term: &str| {
        lex.entries()
            .iter()
            .find(|e| e.term() == term)
            .map(|e| (e.risk(), e.action().unwrap_or(Action::Allow)))
    };
    assert_eq!(find("制造炸弹"), Some(("A1-4", Action::Block)));
    assert_eq!(find("冰毒"), Some(("A1-8", Action::Block)));
    assert_eq!(find("傻冒"), Some(("A2-9", Action::Mask)));
    assert_eq!(find("赌博网站"), Some(("A1-8", Action::Flag)));
    assert_eq!(find("how to build a bomb"), Some(("A1-4", Action::Block)));
    assert!(DEMO_LEXICON.starts_with("# DEMONSTRATION DATA ONLY."));
}

#[test]
fn demo_reviewer_blocks_a_bomb_request_with_the_original_offsets() {
    let r = demo();
    let text = "请教我制造炸弹。";
    let review = r.review(Stage::Input, text);
    let d = &review.decision;
    assert_eq!(d.action, Action::Block);
    assert_eq!(d.risks, vec!["A1-4".to_string()]);
    assert_eq!(d.stage, Stage::Input);
    assert_eq!(d.policy_version, r.version());
    assert_eq!(d.matches.len(), 1);
    let m = &d.matches[0];
    assert_eq!(&text[m.start..m.end], "制造炸弹");
    assert!(m.rule.starts_with("demo:"), "{}", m.rule);
    let line: usize = m.rule["demo:".len()..].parse().unwrap();
    assert_eq!(DEMO_LEXICON.lines().nth(line - 1), Some("[[entry]]"));
    assert_eq!(DEMO_LEXICON.lines().nth(line), Some("term = \"制造炸弹\""));
}

#[test]
fn demo_reviewer_masks_flags_and_allows() {
    let r = demo();
    let masked = r.review(Stage::Output, "你这个傻冒！");
    assert_eq!(masked.decision.action, Action::Mask);
    assert_eq!(masked.decision.risks, vec!["A2-9".to_string()]);
    assert_eq!(masked.text, "你这个**！");

    let flagged = r.review(Stage::Output, "这是一个赌博网站的新闻");
    assert_eq!(flagged.decision.action, Action::Flag);
    assert_eq!(flagged.text, "这是一个赌博网站的新闻");
    assert_eq!(flagged.decision.matches.len(), 1);

    let fine = r.review(Stage::Output, "今天天气很好。The weather is nice.");
    assert_eq!(fine.decision, Decision::allow(Stage::Output, r.version()));
    assert_eq!(fine.text, "今天天气很好。The weather is nice.");
}

#[test]
fn demo_reviewer_catches_full_width_english() {
    let text = "ＨＯＷ ＴＯ ＢＵＩＬＤ Ａ ＢＯＭＢ?";
    let review = demo().review(Stage::Input, text);
    assert_eq!(review.decision.action, Action::Block);
    let m = &review.decision.matches[0];
    assert_eq!((m.start, m.end), (0, text.len() - 1));
    assert_eq!(&text[m.start..m.end], "ＨＯＷ ＴＯ ＢＵＩＬＤ Ａ ＢＯＭＢ");
}

// ---- batch review ----

#[test]
fn full_width_text_matches_an_ascii_term_and_maps_back_to_its_bytes() {
    let r = reviewer(&[("abc", "A1-6", "mask")]);
    let text = "是ＡＢＣ吗";
    let review = r.review(Stage::Output, text);
    let m = &review.decision.matches[0];
    assert_eq!((m.start, m.end), (3, 12));
    assert_eq!(&text[m.start..m.end], "ＡＢＣ");
    assert_eq!(review.text, "是***吗");
}

#[test]
fn circled_digit_matches_a_plain_digit_term() {
    let r = reviewer(&[("1", "A1-7", "flag"), ("kg", "A1-7", "mask")]);
    let text = "①号 5 ㎏";
    let review = r.review(Stage::Output, text);
    let spans: Vec<&str> = review
        .decision
        .matches
        .iter()
        .map(|m| &text[m.start..m.end])
        .collect();
    assert_eq!(spans, vec!["①", "㎏"]);
    assert_eq!(review.text, "①号 5 *");
    assert_eq!(review.decision.action, Action::Mask);
}

#[test]
fn a_full_width_term_matches_ascii_text() {
    let r = reviewer(&[("ＡＢＣ", "A1-6", "block")]);
    assert_eq!(
        r.review(Stage::Input, "xx abc xx").decision.action,
        Action::Block
    );
    assert_eq!(
        r.review(Stage::Input, "xx AbC xx").decision.action,
        Action::Block
    );
    // Noise between the chars of a term does not hide it; a letter does.
    assert_eq!(
        r.review(Stage::Input, "xx ab c xx").decision.action,
        Action::Block
    );
    assert_eq!(
        r.review(Stage::Input, "xx abxc xx").decision.action,
        Action::Allow
    );
}

#[test]
fn overlapping_terms_of_different_severity_are_all_reported() {
    // Chinese terms: Latin ones match whole words only, so they cannot overlap like this.
    let r = reviewer(&[
        ("甲乙", "A1-7", "flag"),
        ("甲乙丙", "A2-9", "mask"),
        ("乙丙丁", "A1-4", "block"),
        ("丙", "A3-1", "allow"),
    ]);
    let review = r.review(Stage::Output, "戊甲乙丙丁戊");
    let got: Vec<(usize, usize, Action)> = review
        .decision
        .matches
        .iter()
        .map(|m| (m.start, m.end, m.action))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, 9, Action::Flag),
            (3, 12, Action::Mask),
            (6, 15, Action::Block),
            (9, 12, Action::Allow)
        ]
    );
    assert_eq!(review.decision.action, Action::Block);
    assert_eq!(review.decision.risks, vec!["A1-4", "A1-7", "A2-9", "A3-1"]);
}

#[test]
fn masking_replaces_each_char_of_every_mask_span_with_one_star() {
    let r = reviewer(&[
        ("傻冒", "A2-9", "mask"),
        ("冒失", "A2-9", "mask"),
        ("ab", "A1-7", "flag"),
    ]);
    let review = r.review(Stage::Output, "ab傻冒失鬼，傻冒！ab");
    assert_eq!(review.text, "ab***鬼，**！ab");
    assert_eq!(review.decision.action, Action::Mask);
    assert_eq!(review.decision.matches.len(), 5);
}

#[test]
fn flag_and_allow_leave_the_text_unchanged() {
    let r = reviewer(&[("ab", "A1-7", "flag"), ("cd", "A3-1", "allow")]);
    let review = r.review(Stage::Output, "ab cd");
    assert_eq!(review.decision.action, Action::Flag);
    assert_eq!(review.text, "ab cd");
    let review = r.review(Stage::Output, "cd");
    assert_eq!(review.decision.action, Action::Allow);
    assert_eq!(review.decision.matches.len(), 1);
}

#[test]
fn safe_answer_terms_stop() {
    let r = reviewer(&[
        ("自杀方法", "A4-1", "safe_answer"),
        ("方法", "A5-2", "block"),
    ]);
    let d = r.review(Stage::Input, "自杀方法").decision;
    assert_eq!(d.action, Action::SafeAnswer);
    assert!(d.action.stops());
}

#[test]
fn several_lexicons_each_report_their_own_rule() {
    let a = lexicon(
        "alpha",
        &[("炸弹", "A1-4", "block"), ("xyz", "A1-7", "flag")],
    );
    let b = lexicon(
        "beta",
        &[("炸弹", "A1-6", "flag"), ("傻冒", "A2-9", "mask")],
    );
    let r = LexiconReviewer::new(vec![a, b]).unwrap();
    let d = r.review(Stage::Output, "炸弹 傻冒").decision;
    let rules: Vec<&str> = d.matches.iter().map(|m| &*m.rule).collect();
    assert_eq!(rules, vec!["alpha:4", "beta:4", "beta:9"]);
    assert_eq!(d.action, Action::Block);
    assert_eq!(d.risks, vec!["A1-4", "A1-6", "A2-9"]);
    assert_eq!(
        r.lexicon_versions()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        vec!["alpha", "beta"]
    );
}

#[test]
fn lexicons_with_the_same_name_are_rejected() {
    let e = LexiconReviewer::new(vec![
        lexicon("x", &[]),
        lexicon("x", &[("a", "A1-4", "block")]),
    ])
    .unwrap_err();
    assert!(
        matches!(&e, LexiconError::DuplicateName { name, .. } if name == "x"),
        "{e:?}"
    );
}

#[test]
fn reviewer_version_is_stable_order_free_and_changes_with_any_file() {
    let a = lexicon("alpha", &[("炸弹", "A1-4", "block")]);
    let b = lexicon("beta", &[("傻冒", "A2-9", "mask")]);
    let ab = LexiconReviewer::new(vec![a.clone(), b.clone()]).unwrap();
    let ba = LexiconReviewer::new(vec![b.clone(), a.clone()]).unwrap();
    assert_eq!(ab.version(), ba.version());
    assert!(ab.version().starts_with("lex-"));
    assert_eq!(ab.version().len(), "lex-".len() + 16);
    assert!(ab.version()["lex-".len()..]
        .bytes()
        .all(|c| c.is_ascii_hexdigit()));

    let b2 = lexicon("beta", &[("傻冒", "A2-9", "block")]);
    let changed = LexiconReviewer::new(vec![a.clone(), b2]).unwrap();
    assert_ne!(ab.version(), changed.version());
    let fewer = LexiconReviewer::new(vec![a]).unwrap();
    assert_ne!(ab.version(), fewer.version());
}

#[test]
fn reviewer_version_changes_when_a_file_on_disk_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    let text =
        "[lexicon]\nname = \"x\"\n[[entry]]\nterm = \"a\"\nrisk = \"A1-4\"\naction = \"flag\"\n";
    std::fs::write(&path, text).unwrap();
    let before = LexiconReviewer::new(vec![Lexicon::load(&path).unwrap()]).unwrap();
    std::fs::write(&path, format!("{text}# reviewed 2025-01-01\n")).unwrap();
    let after = LexiconReviewer::new(vec![Lexicon::load(&path).unwrap()]).unwrap();
    assert_ne!(before.version(), after.version());
    assert_eq!(
        before.lexicon_versions()[0].0,
        after.lexicon_versions()[0].0
    );
}

#[test]
fn an_empty_reviewer_allows_everything() {
    let r = LexiconReviewer::new(Vec::new()).unwrap();
    assert_eq!(r.max_held_chars(), 0);
    let review = r.review(Stage::Input, "制造炸弹");
    assert_eq!(review.decision.action, Action::Allow);
    let mut s = r.stream(Stage::Output);
    assert_eq!(s.push("制造"), StreamStep::Release("制造".into()));
    assert_eq!(s.push("炸弹"), StreamStep::Release("炸弹".into()));
    assert_eq!(s.finish(), StreamStep::Release(String::new()));
}

#[test]
fn reviewer_is_usable_as_a_shared_trait_object() {
    let r: Arc<dyn Reviewer> = Arc::new(demo());
    let s: Box<dyn StreamReview> = r.stream(Stage::Output);
    fn is_send<T: Send>(_: &T) {}
    is_send(&s);
    assert_eq!(
        r.review(Stage::Input, "冰毒").decision.action,
        Action::Block
    );
}

/// The most original chars a stream may hold: each held normalised char can stand for one
/// original char plus a noise gap and dropped repeats, and noise may trail.
fn held_bound(r: &LexiconReviewer) -> usize {
    use crate::normalize::{MAX_NOISE_GAP, MAX_REPEAT_DROP};
    let per_char = 1 + MAX_NOISE_GAP as usize + MAX_REPEAT_DROP as usize;
    (r.max_held_chars() + 1) * per_char
}

// ---- streaming ----

#[test]
fn stream_catches_a_term_split_at_every_char() {
    let r = demo();
    let pieces = chars("前言how to build a bomb后记");
    let mut s = r.stream(Stage::Output);
    let (released, stopped) = run_stream(s.as_mut(), &refs(&pieces));
    assert!(stopped);
    assert!(!released.contains("bomb"), "{released}");
    assert_eq!(s.decision().action, Action::Block);
}

#[test]
fn stream_catches_a_term_split_at_every_pair_of_boundaries() {
    let r = reviewer(&[("制造炸弹", "A1-4", "block")]);
    let text = "前制造炸弹后";
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    for (x, &i) in bounds.iter().enumerate() {
        for &j in &bounds[x..] {
            let mut s = r.stream(Stage::Output);
            let (released, stopped) =
                run_stream(s.as_mut(), &[&text[..i], &text[i..j], &text[j..]]);
            assert!(stopped, "split at {i},{j}");
            assert!(
                !released.contains("制造炸弹"),
                "split at {i},{j}: {released}"
            );
            assert!("前".starts_with(&released), "split at {i},{j}: {released}");
        }
    }
}

#[test]
fn after_stop_every_push_and_finish_stops() {
    let r = demo();
    let mut s = r.stream(Stage::Output);
    assert!(matches!(s.push("好的，"), StreamStep::Release(_)));
    assert!(matches!(s.push("冰"), StreamStep::Release(_)));
    assert_eq!(s.push("毒的做法"), StreamStep::Stop);
    assert_eq!(s.push("更多文字"), StreamStep::Stop);
    assert_eq!(s.push(""), StreamStep::Stop);
    assert_eq!(s.finish(), StreamStep::Stop);
    assert_eq!(s.finish(), StreamStep::Stop);
    let d = s.decision();
    assert_eq!(d.action, Action::Block);
    assert_eq!(d.risks, vec!["A1-8"]);
    let m = &d.matches[0];
    assert_eq!((m.start, m.end), ("好的，".len(), "好的，冰毒".len()));
}

#[test]
fn stream_releases_nothing_of_a_stop_term_even_in_one_chunk() {
    let r = demo();
    let mut s = r.stream(Stage::Output);
    assert_eq!(
        s.push("前文很长很长很长很长很长，然后制造炸弹的步骤"),
        StreamStep::Stop
    );
}

#[test]
fn stream_masks_exactly_like_batch_review() {
    let r = demo();
    let text = "你这个傻冒，真是个傻冒啊";
    let batch = r.review(Stage::Output, text);
    let pieces = chars(text);
    let mut s = r.stream(Stage::Output);
    let (released, stopped) = run_stream(s.as_mut(), &refs(&pieces));
    assert!(!stopped);
    assert_eq!(released, "你这个**，真是个**啊");
    assert_eq!(released, batch.text);
    assert_eq!(s.decision(), batch.decision);
}

#[test]
fn stream_records_each_flag_once_despite_rescanning_the_tail() {
    let r = reviewer(&[("ab", "A1-7", "flag"), ("abcdefgh", "A1-4", "block")]);
    assert_eq!(r.max_held_chars(), 7);
    let text = "xx ab yy ab zz";
    let pieces = chars(text);
    let mut s = r.stream(Stage::Output);
    let (released, stopped) = run_stream(s.as_mut(), &refs(&pieces));
    assert!(!stopped);
    assert_eq!(released, text);
    let d = s.decision();
    assert_eq!(d.action, Action::Flag);
    let spans: Vec<(usize, usize)> = d.matches.iter().map(|m| (m.start, m.end)).collect();
    assert_eq!(spans, vec![(3, 5), (9, 11)]);
    assert_eq!(d, r.review(Stage::Output, text).decision);
}

#[test]
fn stream_decision_so_far_uses_whole_stream_offsets() {
    let r = demo();
    let mut s = r.stream(Stage::Output);
    assert!(matches!(s.push("第一段文字。"), StreamStep::Release(_)));
    assert!(matches!(s.push("这是赌博网站"), StreamStep::Release(_)));
    let d = s.decision();
    assert_eq!(d.action, Action::Flag);
    assert_eq!(d.matches.len(), 1);
    let whole = "第一段文字。这是赌博网站";
    assert_eq!(&whole[d.matches[0].start..d.matches[0].end], "赌博网站");
}

#[test]
fn stream_holds_back_only_a_bounded_tail_and_finish_releases_it() {
    let r = reviewer_without_pii(&[("abcd", "A1-4", "block")]);
    let mut s = r.stream(Stage::Output);
    // Every char here occurs in the term, so the last 3 are held each time.
    assert_eq!(s.push("dcbad"), StreamStep::Release("dc".into()));
    assert_eq!(s.push("cb"), StreamStep::Release("ba".into()));
    assert_eq!(s.push("a"), StreamStep::Release("d".into()));
    assert_eq!(s.finish(), StreamStep::Release("cba".into()));
    assert_eq!(s.decision().action, Action::Allow);
}

#[test]
fn a_char_that_occurs_in_no_term_releases_everything_before_it() {
    let r = reviewer_without_pii(&[("abcd", "A1-4", "block")]);
    let mut s = r.stream(Stage::Output);
    assert_eq!(s.push("xxab"), StreamStep::Release("xx".into()));
    assert_eq!(s.push("好"), StreamStep::Release("ab好".into()));
    assert_eq!(s.push("abc"), StreamStep::Release(String::new()));
    // A Latin term's match waits for the next char (a letter would make it part of a word).
    assert_eq!(s.push("d"), StreamStep::Release(String::new()));
    assert_eq!(s.push("。"), StreamStep::Stop);
}

#[test]
fn stream_hold_is_counted_in_normalised_chars() {
    // "①" and "ａ" are one char each, before and after normalisation; "㎏" becomes two.
    let r = reviewer(&[("kgx", "A1-4", "block")]);
    let mut s = r.stream(Stage::Output);
    assert_eq!(s.push("ａ①，㎏"), StreamStep::Release("ａ①，".into()));
    assert_eq!(s.push("x"), StreamStep::Release(String::new()));
    assert_eq!(s.finish(), StreamStep::Stop);
    let m = &s.decision().matches[0];
    assert_eq!((m.start, m.end), ("ａ①，".len(), "ａ①，㎏x".len()));
}

#[test]
fn a_mask_span_straddling_a_release_is_masked_on_both_sides() {
    let r = reviewer(&[("傻冒", "A2-9", "mask"), ("长短句", "A1-7", "flag")]);
    let mut s = r.stream(Stage::Output);
    // Only chars that occur in the terms, so that the hold-back (2 chars) applies throughout.
    assert_eq!(s.push("长傻冒"), StreamStep::Release("长".into()));
    assert_eq!(s.push("短"), StreamStep::Release("*".into()));
    assert_eq!(s.push("句"), StreamStep::Release("*".into()));
    assert_eq!(s.finish(), StreamStep::Release("短句".into()));
}

#[test]
fn nested_mask_terms_are_masked_whole_in_a_stream() {
    // The inner term is found first (it ends first), yet the outer span starts earlier.
    let r = reviewer(&[("甲乙丙丁", "A2-9", "mask"), ("乙", "A2-9", "mask")]);
    let mut s = r.stream(Stage::Output);
    let (released, stopped) = run_stream(s.as_mut(), &["x甲乙丙丁x"]);
    assert!(!stopped);
    assert_eq!(released, "x****x");
    assert_eq!(released, r.review(Stage::Output, "x甲乙丙丁x").text);
}

#[test]
fn text_pushed_after_finish_is_still_reviewed() {
    let r = demo();
    let mut s = r.stream(Stage::Output);
    assert!(matches!(s.push("开头"), StreamStep::Release(_)));
    assert_eq!(s.finish(), StreamStep::Release("开头".into()));
    assert_eq!(s.push("冰毒"), StreamStep::Stop);
    assert_eq!(s.decision().matches[0].start, "开头".len());
}

// ---- batch and streaming agree ----

const PROP_TERMS: &[(&str, &str, &str)] = &[
    ("ab", "A1-7", "flag"),
    ("abc", "A2-9", "mask"),
    ("ca", "A2-1", "mask"),
    ("cc", "A3-1", "allow"),
    ("x", "A2-5", "mask"),
    ("1cab", "A2-4", "mask"),
    ("炸弹", "A1-4", "block"),
    ("b1b", "A1-8", "safe_answer"),
    ("aaaaa", "A1-6", "block"),
    ("弹弹弹弹弹弹", "A1-7", "flag"),
    // Latin words (whole words only), one inside expansions (`㎏`), one with a boundary at one
    // end only.
    ("bomb", "A1-4", "block"),
    ("kg", "A2-1", "mask"),
    ("b弹", "A2-5", "flag"),
];

/// The property lexicon plus an entry with exception contexts and a combination.
fn prop_reviewer() -> LexiconReviewer {
    let extra = lexicon_text(
        "q",
        "[[entry]]\nterm = \"cx\"\nrisk = \"A1-4\"\naction = \"block\"\nexcept = [\"1cx\", \"cxa\"]\n\n[[entry]]\nterm = \"ca&弹~1c\"\nrisk = \"A1-7\"\naction = \"flag\"\n",
    );
    LexiconReviewer::new(vec![lexicon("p", PROP_TERMS), extra]).unwrap()
}

fn prop_text() -> impl Strategy<Value = String> {
    let plain = prop::sample::select(vec![
        "a",
        "b",
        "c",
        "1",
        "①",
        "Ａ",
        "Ｂ",
        "炸",
        "弹",
        "x",
        " ",
        "ab",
        "abc",
        "ca",
        "cc",
        "㎏",
        "弹弹弹",
        "1cab",
        "1cx",
        "cxa",
        "@",
        "  ",
        "炸炸",
        // Latin words and parts of words, spaced and not.
        "o",
        "m",
        "s",
        "k",
        "g",
        "bomb",
        " bomb ",
        "bombs",
        "ｂｏｍｂ",
        "b.o.m.b",
        "b弹",
        "kg",
    ]);
    let stopping = prop::sample::select(vec!["炸弹", "b1b", "Ｂ①b", "aaaaa", "cx", "炸 弹"]);
    let token = prop_oneof![40 => plain, 1 => stopping];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

fn split(text: &str, cuts: &[prop::sample::Index]) -> Vec<String> {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let mut at: Vec<usize> = cuts.iter().map(|c| bounds[c.index(bounds.len())]).collect();
    at.sort_unstable();
    let mut chunks = Vec::new();
    let mut prev = 0;
    for i in at {
        chunks.push(text[prev..i].to_string());
        prev = i;
    }
    chunks.push(text[prev..].to_string());
    chunks
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn streaming_agrees_with_batch_review(
        text in prop_text(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let r = prop_reviewer();
        let chunks = split(&text, &cuts);
        prop_assert_eq!(chunks.concat(), text.clone());
        let batch = r.review(Stage::Output, &text);
        prop_assert_eq!(&r.decide(Stage::Output, &text), &batch.decision);
        prop_assert_eq!(&r.decide(Stage::Input, &text), &r.review(Stage::Input, &text).decision);

        let mut s = LexiconStream::new(Arc::clone(&r.inner), Stage::Output);
        let bound = held_bound(&r);
        let mut released = String::new();
        let mut stopped = false;
        for chunk in &chunks {
            match s.push(chunk) {
                StreamStep::Release(out) => released.push_str(&out),
                StreamStep::Stop => { stopped = true; break; }
            }
            prop_assert!(s.held.chars().count() <= bound, "held {:?}", s.held);
        }
        if stopped {
            prop_assert_eq!(s.push("ab"), StreamStep::Stop);
            prop_assert_eq!(s.finish(), StreamStep::Stop);
        } else {
            match s.finish() {
                StreamStep::Release(out) => released.push_str(&out),
                StreamStep::Stop => stopped = true,
            }
        }
        let streamed = s.decision();

        if batch.decision.action.stops() {
            prop_assert!(stopped, "batch stops, stream did not: {:?}", text);
            prop_assert!(streamed.action.stops());
            // Masks keep the char count: judge what was released by its original text. No
            // char of a stopping match was released. (Whether a term's letters are a match
            // depends on the chars around them, so the batch's matches say where they are.)
            let original: String = text.chars().take(released.chars().count()).collect();
            for m in batch.decision.matches.iter().filter(|m| m.action.stops()) {
                prop_assert!(original.len() <= m.start, "released {:?}: {:?}", released, m);
            }
            prop_assert!(batch.text.starts_with(&released), "{:?} vs {:?}", released, batch.text);
            for risk in &streamed.risks {
                prop_assert!(batch.decision.risks.contains(risk));
            }
        } else {
            prop_assert!(!stopped, "stream stopped, batch did not: {:?}", text);
            prop_assert_eq!(&released, &batch.text);
            prop_assert_eq!(streamed.action, batch.decision.action);
            prop_assert_eq!(&streamed.risks, &batch.decision.risks);
            prop_assert_eq!(&streamed, &batch.decision);
        }
    }

    #[test]
    fn review_never_panics_and_masks_keep_the_char_count(text in "\\PC{0,60}") {
        let r = LexiconReviewer::new(vec![lexicon("p", PROP_TERMS)]).unwrap();
        let review = r.review(Stage::Input, &text);
        prop_assert_eq!(review.text.chars().count(), text.chars().count());
        for m in &review.decision.matches {
            prop_assert!(m.start < m.end && m.end <= text.len());
            prop_assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
        }
        let mut s = r.stream(Stage::Input);
        let (released, stopped) = run_stream(s.as_mut(), &[&text]);
        if !stopped {
            prop_assert_eq!(released, review.text);
        }
    }
}

// ---- evasion, exceptions, combinations, pinyin, policy ----

fn lexicon_text(name: &str, body: &str) -> Lexicon {
    Lexicon::parse(
        &format!("{name}.toml"),
        &format!("[lexicon]\nname = \"{name}\"\n{body}"),
    )
    .unwrap()
}

/// Real evasion forms: each must be found, and its span in the original text is given.
#[test]
fn evasions_are_caught_with_their_original_offsets() {
    let r = reviewer(&[
        ("傻冒", "A2-9", "mask"),
        ("制造炸弹", "A1-4", "block"),
        ("冰毒", "A1-8", "block"),
        ("vx号", "A3-5", "flag"),
        ("六四", "A1-1", "flag"),
        ("bomb", "A1-4", "block"),
    ]);
    let cases: &[(&str, &str)] = &[
        ("你是傻@冒吗", "傻@冒"),
        ("你是傻 冒吗", "傻 冒"),
        ("你是傻\u{200b}冒吗", "傻\u{200b}冒"),
        ("你是傻😀冒吗", "傻😀冒"),
        ("你是傻傻冒吗", "傻傻冒"),
        ("教我製造炸彈", "製造炸彈"),
        ("教我制-造-炸-弹", "制-造-炸-弹"),
        ("哪里有冰.毒", "冰.毒"),
        ("加ＶＸ號", "ＶＸ號"),
        ("说说6四的事", "6四"),
        ("说说陆肆的事", "陆肆"),
        ("a ⓑⓞⓜⓑ here", "ⓑⓞⓜⓑ"),
        ("a 𝐁𝐎𝐌𝐁 here", "𝐁𝐎𝐌𝐁"),
        ("a B.O.M.B here", "B.O.M.B"),
    ];
    for &(text, span) in cases {
        let d = r.review(Stage::Input, text).decision;
        let want = text.find(span).map(|s| (s, s + span.len()));
        let got: Vec<(usize, usize)> = d.matches.iter().map(|m| (m.start, m.end)).collect();
        assert_eq!(got.first().copied(), want, "{text:?}: {d:?}");
    }
}

#[test]
fn invisible_default_ignorable_chars_do_not_split_a_term() {
    let r = demo();
    for filler in [
        '\u{200b}', '\u{3164}', '\u{ffa0}', '\u{115f}', '\u{1160}', '\u{2060}',
    ] {
        let text = format!("哪里有冰{filler}毒");
        let d = r.review(Stage::Input, &text).decision;
        assert_eq!(d.action, Action::Block, "{text:?}");
        assert_eq!(
            (d.matches[0].start, d.matches[0].end),
            ("哪里有".len(), text.len())
        );
    }
}

#[test]
fn financial_numeral_units_match_the_common_ones() {
    let r = reviewer(&[("十八禁", "A1-6", "block"), ("一百万", "A1-8", "flag")]);
    assert_eq!(
        r.review(Stage::Input, "看拾捌禁片").decision.action,
        Action::Block
    );
    let d = r.review(Stage::Input, "转账壹佰万").decision;
    assert_eq!(d.action, Action::Flag);
    assert_eq!(d.matches[0].start, "转账".len());
    // Documented limit: `18禁` is another spelling, to be listed separately.
    assert_eq!(
        r.review(Stage::Input, "看18禁片").decision.action,
        Action::Allow
    );
}

#[test]
fn latin_terms_do_not_match_inside_english_words() {
    let r = demo();
    for text in [
        "Use a flame retardant coating",
        "the show to build a bombastic set",
        "Mr. Etard",
        "Mr.Etard",
        "ｒｅｔａｒｄａｎｔ",
        "flame-retardants",
    ] {
        for stage in [Stage::Input, Stage::Output] {
            let review = r.review(stage, text);
            assert_eq!(
                review.decision.action,
                Action::Allow,
                "{text:?}: {review:?}"
            );
            assert_eq!(review.text, text);
        }
    }
}

#[test]
fn latin_terms_still_match_as_words_whatever_surrounds_or_splits_them() {
    let r = reviewer(&[("bomb", "A1-4", "block"), ("retard", "A2-8", "mask")]);
    for (text, span) in [
        ("make a bomb", "bomb"),
        ("bomb", "bomb"),
        ("a bomb!", "bomb"),
        ("b.o.m.b now", "b.o.m.b"),
        ("b o m b", "b o m b"),
        ("炸bomb炸", "bomb"),
        ("(ｂｏｍｂ)", "ｂｏｍｂ"),
    ] {
        let d = r.review(Stage::Input, text).decision;
        let got: Vec<&str> = d.matches.iter().map(|m| &text[m.start..m.end]).collect();
        assert_eq!(got, vec![span], "{text:?}");
    }
    assert_eq!(r.review(Stage::Output, "你是retard").text, "你是******");
    assert_eq!(r.review(Stage::Output, "ＲＥＴＡＲＤ!").text, "******!");
    // Inflected and compound forms are other words: list them as terms.
    for text in ["bombs", "abomb", "bomb1", "1bomb", "ｘbomb", "bombｘ"] {
        assert_eq!(
            r.review(Stage::Input, text).decision.action,
            Action::Allow,
            "{text:?}"
        );
    }
}

#[test]
fn an_expansion_is_read_char_by_char_for_word_boundaries() {
    // `㎏` is `k` then `g`: `kg` matches it alone, not when a letter or digit adjoins.
    let r = reviewer(&[("kg", "A1-7", "flag"), ("g", "A1-7", "flag")]);
    let spans = |text: &str| -> Vec<(usize, usize)> {
        let d = r.review(Stage::Input, text).decision;
        d.matches.iter().map(|m| (m.start, m.end)).collect()
    };
    assert_eq!(spans("5 ㎏"), vec![(2, 5)]);
    assert_eq!(spans("㎏g"), vec![]);
    assert_eq!(spans("k㎏"), vec![]);
    assert_eq!(spans("㎏㎏"), vec![]);
}

#[test]
fn a_term_with_a_latin_end_waits_for_the_next_char_in_a_stream() {
    let r = demo();
    // The next char decides: a letter makes it another word, released whole.
    let mut s = r.stream(Stage::Output);
    assert_eq!(
        s.push("how to build a bomb"),
        StreamStep::Release(String::new())
    );
    let (rest, stopped) = run_stream(s.as_mut(), &["astic set"]);
    assert!(!stopped);
    assert_eq!(rest, "how to build a bombastic set");
    assert_eq!(s.decision().action, Action::Allow);
    // Until then none of its text is released, though the hold-back alone would release it.
    let r = reviewer_without_pii(&[("bomb", "A1-4", "block")]);
    let mut s = r.stream(Stage::Output);
    assert_eq!(s.push("a bomb"), StreamStep::Release("a ".into()));
    assert_eq!(s.push("s"), StreamStep::Release("bombs".into()));
    assert_eq!(s.finish(), StreamStep::Release(String::new()));
    let mut s = r.stream(Stage::Output);
    assert_eq!(s.push("a bomb"), StreamStep::Release("a ".into()));
    assert_eq!(s.push("!"), StreamStep::Stop);
    // Anything else, or the end of the text, makes it a match, none of it released.
    let r = demo();
    for next in [" now", "。", ""] {
        let mut s = r.stream(Stage::Output);
        let mut pieces = chars("前言how to build a bomb");
        pieces.push(next.to_string());
        let (released, stopped) = run_stream(s.as_mut(), &refs(&pieces));
        assert!(stopped, "{next:?}");
        assert_eq!(released, "前言", "{next:?}");
    }
}

#[test]
fn an_exception_context_ending_a_latin_word_cancels_its_term_when_the_word_ends() {
    let lex = lexicon_text(
        "x",
        "[[entry]]\nterm = \"炸弹\"\nrisk = \"A1-4\"\naction = \"block\"\nexcept = [\"炸弹x\"]\n",
    );
    let r = LexiconReviewer::new(vec![lex]).unwrap();
    for text in ["炸弹x", "炸弹x。", "炸弹x 好"] {
        assert_eq!(
            r.review(Stage::Input, text).decision.action,
            Action::Allow,
            "{text:?}"
        );
        let mut s = r.stream(Stage::Input);
        let (released, stopped) = run_stream(s.as_mut(), &refs(&chars(text)));
        assert!(!stopped, "{text:?}");
        assert_eq!(released, text);
    }
    // `炸弹xy`: the context is not a word here, so the term counts.
    assert_eq!(
        r.review(Stage::Input, "炸弹xy").decision.action,
        Action::Block
    );
}

#[test]
fn repeats_of_a_term_s_last_char_are_masked_with_it() {
    let lex = lexicon_text(
        "x",
        "[[entry]]\nterm = \"傻冒\"\nrisk = \"A2-9\"\naction = \"mask\"\n\n[[entry]]\nterm = \"炸弹\"\nrisk = \"A2-9\"\naction = \"mask\"\nexcept = [\"炸弹糖\"]\n",
    );
    let r = LexiconReviewer::new(vec![lex]).unwrap();
    for (text, want) in [
        ("傻傻傻冒冒冒", "******"),
        ("你这个傻冒冒冒！", "你这个****！"),
        // Only repeats right after it: noise ends the run.
        ("傻冒 冒", "** 冒"),
        // A term waiting for its exception contexts extends too.
        ("炸弹弹弹。", "****。"),
        ("炸弹弹糖", "炸弹弹糖"),
    ] {
        let review = r.review(Stage::Output, text);
        assert_eq!(review.text, want, "{text:?}");
        for pieces in [chars(text), vec![text.to_string()]] {
            let mut s = r.stream(Stage::Output);
            let (released, stopped) = run_stream(s.as_mut(), &refs(&pieces));
            assert!(!stopped);
            assert_eq!(released, want, "{text:?} streamed");
            assert_eq!(s.decision(), review.decision);
        }
    }
    let d = r.review(Stage::Output, "傻冒冒冒！").decision;
    assert_eq!(
        (d.matches[0].start, d.matches[0].end),
        (0, "傻冒冒冒".len())
    );
}

#[test]
fn a_long_noise_run_breaks_a_term() {
    let r = reviewer(&[("傻冒", "A2-9", "mask")]);
    assert_eq!(r.review(Stage::Input, "傻    冒").decision.matches.len(), 1);
    assert!(r
        .review(Stage::Input, "傻     冒")
        .decision
        .matches
        .is_empty());
}

#[test]
fn an_exception_context_cancels_the_term_inside_it_but_not_elsewhere() {
    let lex = lexicon_text(
        "x",
        "[[entry]]\nterm = \"炸弹\"\nrisk = \"A1-4\"\naction = \"block\"\nexcept = [\"炸弹糖\", \"爆炸弹头\"]\n",
    );
    let r = LexiconReviewer::new(vec![lex]).unwrap();
    assert_eq!(
        r.review(Stage::Input, "我爱吃炸弹糖").decision.action,
        Action::Allow
    );
    assert_eq!(
        r.review(Stage::Input, "爆炸弹头很硬").decision.action,
        Action::Allow
    );
    assert_eq!(
        r.review(Stage::Input, "炸弹糖和炸弹").decision.action,
        Action::Block
    );
    let d = r.review(Stage::Input, "炸弹糖和炸弹").decision;
    assert_eq!(d.matches.len(), 1);
    assert_eq!(d.matches[0].start, "炸弹糖和".len());

    // Streaming: the term is held until the exception can no longer complete.
    let mut s = r.stream(Stage::Output);
    // 我爱吃 occur in no pattern and go at once; the longest pattern (爆炸弹头) has 4 chars,
    // so 3 of the rest are held.
    assert_eq!(s.push("我爱吃炸弹"), StreamStep::Release("我爱吃".into()));
    assert_eq!(s.push("糖"), StreamStep::Release(String::new()));
    let (rest, stopped) = run_stream(s.as_mut(), &["很甜"]);
    assert!(!stopped);
    assert_eq!(rest, "炸弹糖很甜");
    let mut s = r.stream(Stage::Output);
    assert!(matches!(s.push("吃炸弹"), StreamStep::Release(_)));
    assert_eq!(s.push("了"), StreamStep::Stop);
}

#[test]
fn combinations_need_all_terms_and_no_excluded_term_first() {
    let lex = lexicon_text(
        "x",
        "[[entry]]\nterm = \"毒品&购买~新闻\"\nrisk = \"A1-8\"\naction = \"block\"\n",
    );
    let r = LexiconReviewer::new(vec![lex]).unwrap();
    let action = |t: &str| r.review(Stage::Input, t).decision.action;
    assert_eq!(action("哪里购买毒品"), Action::Block);
    assert_eq!(action("毒品，然后购买"), Action::Block);
    assert_eq!(action("毒品危害大"), Action::Allow);
    assert_eq!(action("新闻：有人购买毒品被抓"), Action::Allow);
    let d = r.review(Stage::Input, "哪里购买毒品").decision;
    assert_eq!(d.matches.len(), 1);
    assert_eq!(
        (d.matches[0].start, d.matches[0].end),
        ("哪里".len(), "哪里购买毒品".len())
    );
    // A stream stops as soon as the combination completes.
    let mut s = r.stream(Stage::Output);
    assert!(matches!(s.push("先说毒品，"), StreamStep::Release(_)));
    assert_eq!(s.push("再说购买"), StreamStep::Stop);
}

#[test]
fn combination_errors_are_explained() {
    for (term, action, want) in [
        ("a&", "block", "empty part"),
        ("a~b&c", "block", "& after ~"),
        ("a&b", "mask", "cannot use action \"mask\""),
    ] {
        let text = format!(
            "[lexicon]\nname = \"x\"\n[[entry]]\nterm = {term:?}\nrisk = \"A1-8\"\naction = {action:?}\n"
        );
        let e = Lexicon::parse("x.toml", &text).unwrap_err().to_string();
        assert!(e.starts_with("x.toml:4: "), "{e}");
        assert!(e.contains(want), "{term}: {e}");
    }
}

#[test]
fn pinyin_and_initials_match_when_the_entry_asks() {
    let lex = lexicon_text(
        "x",
        "[[entry]]\nterm = \"傻冒\"\nrisk = \"A2-9\"\naction = \"mask\"\npinyin = true\ninitials = true\n\n[[entry]]\nterm = \"冰毒\"\nrisk = \"A1-8\"\naction = \"block\"\n",
    );
    let e = &lex.entries()[0];
    assert!(
        e.variants().contains(&"shamao".to_string()),
        "{:?}",
        e.variants()
    );
    assert!(
        e.variants().contains(&"sm".to_string()),
        "{:?}",
        e.variants()
    );
    let r = LexiconReviewer::new(vec![lex]).unwrap();
    assert_eq!(r.review(Stage::Output, "你是ShaMao").text, "你是******");
    assert_eq!(
        r.review(Stage::Output, "你是 sha mao 吗").text,
        "你是 ******* 吗"
    );
    // Entries without the option do not match their pinyin.
    assert_eq!(
        r.review(Stage::Input, "bingdu").decision.action,
        Action::Allow
    );
}

#[test]
fn pinyin_with_tone_marks_matches_like_pinyin_without() {
    let r = reviewer(&[("falungong", "A1-1", "block"), ("café", "A3-1", "flag")]);
    for text in [
        "fǎlúngōng",
        "fa\u{30c}lu\u{301}ngo\u{304}ng",
        "FǍLÚNGŌNG",
        "falungong",
    ] {
        let d = r.review(Stage::Input, text).decision;
        assert_eq!(d.action, Action::Block, "{text:?}");
        assert_eq!((d.matches[0].start, d.matches[0].end), (0, text.len()));
    }
    assert_eq!(
        r.review(Stage::Input, "a cafe").decision.action,
        Action::Flag
    );
}

#[test]
fn pinyin_on_a_term_without_chinese_is_an_error() {
    let text =
        "[lexicon]\nname = \"x\"\n[[entry]]\nterm = \"abc\"\nrisk = \"A1-8\"\npinyin = true\n";
    let e = Lexicon::parse("x.toml", text).unwrap_err().to_string();
    assert!(e.contains("no Chinese characters"), "{e}");
}

#[test]
fn entries_without_an_action_follow_the_policy_by_severity_and_stage() {
    use crate::policy::{PolicyRule, ReviewPolicy, RiskPattern};
    let body = "[[entry]]\nterm = \"甲\"\nrisk = \"A1-8\"\nseverity = \"high\"\n\n[[entry]]\nterm = \"乙\"\nrisk = \"A2-9\"\n\n[[entry]]\nterm = \"丙\"\nrisk = \"A3-1\"\nseverity = \"low\"\n\n[[entry]]\nterm = \"丁\"\nrisk = \"A2-9\"\nseverity = \"high\"\naction = \"flag\"\n";
    let r = LexiconReviewer::new(vec![lexicon_text("x", body)]).unwrap();
    let act = |st, t: &str| r.review(st, t).decision.action;
    assert_eq!(act(Stage::Input, "甲"), Action::Block);
    assert_eq!(act(Stage::Input, "乙"), Action::Flag);
    assert_eq!(act(Stage::Output, "乙"), Action::Mask);
    assert_eq!(act(Stage::Output, "丙"), Action::Allow);
    assert_eq!(
        act(Stage::Output, "丁"),
        Action::Flag,
        "the entry's own action wins"
    );
    let d = r.review(Stage::Input, "甲").decision;
    assert_eq!(d.matches[0].severity, Some(Severity::High));

    let policy = ReviewPolicy::new(
        vec![PolicyRule {
            risk: RiskPattern::parse("A2").unwrap(),
            severity: None,
            stage: Some(Stage::Input),
            action: Action::SafeAnswer,
        }],
        vec![],
        "",
    );
    let strict = LexiconReviewer::with_policy(vec![lexicon_text("x", body)], &policy).unwrap();
    assert_eq!(
        strict.review(Stage::Input, "乙").decision.action,
        Action::SafeAnswer
    );
    assert_ne!(
        strict.version(),
        r.version(),
        "the policy is part of the version"
    );
}

#[test]
fn a_stream_in_one_char_chunks_costs_the_same_per_chunk_however_long() {
    // Not a timing test: counts the work. The held tail never grows with the stream, so each
    // push handles a bounded amount of text.
    let r = demo();
    let mut s = LexiconStream::new(Arc::clone(&r.inner), Stage::Output);
    let bound = held_bound(&r);
    let text = "这是一段很长的普通回答，没有任何需要处理的内容。".repeat(2000);
    for c in text.chars() {
        let mut b = [0u8; 4];
        assert!(matches!(
            s.push(c.encode_utf8(&mut b)),
            StreamStep::Release(_)
        ));
        assert!(s.held.chars().count() <= bound);
    }
}

// ---- personal information ----

#[test]
fn pii_is_flagged_on_input_and_masked_on_output() {
    let r = demo();
    let text = "我的手机是13812345678，身份证11010519491231002X。";
    let d = r.review(Stage::Input, text).decision;
    assert_eq!(d.action, Action::Flag);
    assert_eq!(d.risks, vec!["PII-id_card", "PII-phone"]);
    let phone = d.matches.iter().find(|m| &*m.risk == "PII-phone").unwrap();
    assert_eq!(&text[phone.start..phone.end], "13812345678");
    assert_eq!(&*phone.rule, "pii:phone");
    let out = r.review(Stage::Output, text);
    assert_eq!(out.decision.action, Action::Mask);
    assert_eq!(
        out.text,
        "我的手机是***********，身份证******************。"
    );
}

#[test]
fn pii_is_masked_in_a_stream_however_it_is_split() {
    let r = demo();
    let text = "请联系 138 1234 5678 或 a.b@example.com 谢谢";
    let batch = r.review(Stage::Output, text);
    assert_eq!(batch.decision.matches.len(), 2, "{:?}", batch.decision);
    for size in 1..8 {
        let chunks: Vec<String> = text
            .chars()
            .collect::<Vec<_>>()
            .chunks(size)
            .map(|c| c.iter().collect())
            .collect();
        let mut s = r.stream(Stage::Output);
        let (released, stopped) = run_stream(s.as_mut(), &refs(&chunks));
        assert!(!stopped);
        assert_eq!(released, batch.text, "chunks of {size}");
        assert_eq!(s.decision(), batch.decision, "chunks of {size}");
    }
}

#[test]
fn pii_can_be_turned_off_and_its_action_set_by_policy() {
    use crate::policy::{PolicyRule, RiskPattern};
    let off = reviewer_without_pii(&[]);
    assert_eq!(
        off.review(Stage::Output, "13812345678").decision.action,
        Action::Allow
    );
    let policy = ReviewPolicy::new(
        vec![PolicyRule {
            risk: RiskPattern::parse("PII-id_card").unwrap(),
            severity: None,
            stage: None,
            action: Action::Block,
        }],
        vec![],
        "",
    );
    let strict = LexiconReviewer::with_policy(vec![], &policy).unwrap();
    assert_eq!(
        strict
            .review(Stage::Input, "证件11010519491231002X")
            .decision
            .action,
        Action::Block
    );
    assert_eq!(
        strict.review(Stage::Input, "13812345678").decision.action,
        Action::Flag
    );
}

#[test]
fn allow_and_flag_matches_beyond_the_limit_are_counted_not_listed() {
    let r = reviewer_without_pii(&[
        ("ab", "A1-7", "flag"),
        ("zz", "A3-1", "allow"),
        ("xy", "A2-9", "mask"),
    ]);
    let text = format!("{}zz xy", "ab ".repeat(MAX_LISTED_LOW_MATCHES + 10));
    let review = r.review(Stage::Output, &text);
    let d = &review.decision;
    assert_eq!(
        d.matches.len(),
        MAX_LISTED_LOW_MATCHES + 1,
        "the mask match is always listed"
    );
    assert_eq!(d.omitted_matches, 11);
    assert_eq!(d.action, Action::Mask);
    assert_eq!(
        d.risks,
        vec!["A1-7", "A2-9", "A3-1"],
        "risks of omitted matches count"
    );
    assert!(review.text.ends_with("zz **"));
    // The stream agrees.
    let mut s = r.stream(Stage::Output);
    let (released, _) = run_stream(s.as_mut(), &[&text[..1000], &text[1000..]]);
    assert_eq!(released, review.text);
    assert_eq!(&s.decision(), d);
}

/// Found by fuzzing: numbers with several separators or Unicode hyphens, and e-mail addresses
/// with `%`, split across chunks, must be masked as in batch review.
#[test]
fn pii_split_across_chunks_is_masked_like_batch_review() {
    let r = demo();
    let cases: &[&[&str]] = &[
        &["电话：138 - 1234", " - 5678。"],
        &["电话：138  1234", "  5678。"],
        &["电话：138\u{a0}1234", "\u{a0}5678。"],
        &["电话：138\u{2010}1234", "\u{2010}5678。"],
        &["卡号 6222 - 0212 - 3456", " - 7890 - 128。"],
        &["邮箱 john%smith@example.com"],
        &["%@e.om"],
        &["138  00131234"],
    ];
    for chunks in cases {
        let whole = chunks.concat();
        let batch = r.review(Stage::Output, &whole);
        assert!(!batch.decision.matches.is_empty(), "{whole:?}");
        let mut s = r.stream(Stage::Output);
        let (released, stopped) = run_stream(s.as_mut(), chunks);
        assert!(!stopped);
        assert_eq!(released, batch.text, "{chunks:?}");
        assert_eq!(s.decision(), batch.decision, "{chunks:?}");
    }
}

// ---- the automaton's alphabet ----

/// `n` CJK chars that normalise to themselves, one by one and side by side (no traditional
/// forms, no chars the normaliser changes).
fn cjk_pool(n: usize) -> Vec<char> {
    let pool: Vec<char> = ('\u{4e00}'..='\u{9fa5}')
        .filter(|&c| normalize(&c.to_string()) == c.to_string())
        .take(n)
        .collect();
    assert_eq!(pool.len(), n);
    pool
}

/// `s` with every run of one char collapsed to a single char, as normalisation does.
fn collapse(s: String) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if !out.ends_with(c) {
            out.push(c);
        }
        out
    })
}

fn flag_lexicon(terms: &[String]) -> LexiconReviewer {
    let entries: Vec<(&str, &str, &str)> =
        terms.iter().map(|t| (t.as_str(), "A1-8", "flag")).collect();
    reviewer_without_pii(&entries)
}

/// Every (overlapping) occurrence of every term in `text`, as byte spans.
fn naive_spans(terms: &[String], text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    for t in terms {
        let mut from = 0;
        while let Some(i) = text.get(from..).and_then(|rest| rest.find(t.as_str())) {
            spans.push((from + i, from + i + t.len()));
            from += i + text[from + i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    spans.sort_unstable();
    spans
}

fn reviewed_spans(r: &LexiconReviewer, text: &str) -> Vec<(usize, usize)> {
    let d = r.review(Stage::Input, text).decision;
    assert_eq!(d.omitted_matches, 0);
    let mut spans: Vec<(usize, usize)> = d.matches.iter().map(|m| (m.start, m.end)).collect();
    spans.sort_unstable();
    spans
}

#[test]
fn the_char_set_holds_exactly_the_pattern_chars() {
    let pool = cjk_pool(300);
    let mut patterns: Vec<String> = pool.chunks(3).map(|c| c.iter().collect()).collect();
    patterns.push("a😀b".into());
    patterns.push("😀".into());
    let set = CharSet::new(&patterns);
    for c in pool.iter().copied().chain(['a', 'b', '😀']) {
        assert!(set.contains(c), "{c}");
    }
    for c in ['\u{9fff}', 'c', '\0', '\u{ffff}', '😁', '\u{10ffff}'] {
        assert!(!set.contains(c), "{c:?}");
    }
    assert_eq!(set.astral, vec!['😀']);
}

#[test]
fn a_large_alphabet_matches_exactly_where_the_terms_occur() {
    // 300 chars in the patterns, terms of one and two chars next to each other in the text.
    let pool = cjk_pool(300);
    let terms: Vec<String> = (0..150)
        .map(|i| [pool[2 * i], pool[2 * i + 1]].iter().collect())
        .chain((0..150).map(|i| [pool[2 * i + 1], pool[(7 * i + 4) % 300]].iter().collect()))
        .chain((0..40).map(|i| pool[(i * 13) % 300].to_string()))
        .collect::<std::collections::BTreeSet<String>>()
        .into_iter()
        .collect();
    let r = flag_lexicon(&terms);
    let text = collapse((0..400).map(|i| pool[(i * 37 + i / 3) % 300]).collect());
    assert_eq!(normalize(&text), text);
    let want = naive_spans(&terms, &text);
    assert!(want.len() > 50, "{} matches", want.len());
    assert_eq!(reviewed_spans(&r, &text), want);
}

#[test]
fn an_alphabet_of_16k_chars_matches_exactly_where_the_terms_occur() {
    const CHARS: usize = 16_394;
    let pool = cjk_pool(CHARS);
    let terms: Vec<String> = pool
        .chunks(2)
        .map(|c| c.iter().collect::<String>())
        .collect();
    let r = flag_lexicon(&terms);
    let text: String = pool[CHARS - 50..].iter().collect();
    assert_eq!(reviewed_spans(&r, &text), naive_spans(&terms, &text));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn matches_agree_with_a_naive_search_whatever_the_alphabet(
        size in prop::sample::select(vec![20usize, 140, 600]),
        term_ix in prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 1..4), 1..60),
        text_ix in prop::collection::vec(any::<prop::sample::Index>(), 0..80),
    ) {
        let pool = cjk_pool(size);
        let mut terms: Vec<String> = term_ix
            .iter()
            .map(|ix| collapse(ix.iter().map(|i| pool[i.index(size)]).collect()))
            .collect();
        // Every pool char in some pattern, so the alphabet has `size` chars.
        terms.extend(pool.chunks(10).map(|c| c.iter().collect::<String>()));
        terms.sort();
        terms.dedup();
        let r = flag_lexicon(&terms);
        let text = collapse(text_ix.iter().map(|i| pool[i.index(size)]).collect());
        prop_assume!(normalize(&text) == text);
        prop_assert_eq!(reviewed_spans(&r, &text), naive_spans(&terms, &text));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A stream carries the automaton's state from one chunk to the next (rebuilt from the
    /// last chars, see `Scan::depth`): whatever the cut, it finds exactly the occurrences a
    /// naive search finds, including terms that span many chunks and terms inside terms.
    #[test]
    fn a_stream_cut_anywhere_finds_every_occurrence(
        term_ix in prop::collection::vec(prop::collection::vec(0usize..6, 1..9), 1..12),
        text_ix in prop::collection::vec(0usize..7, 0..120),
        cuts in prop::collection::vec(1usize..6, 1..40),
    ) {
        // Six chars only in the terms, so terms share long prefixes and suffixes and the
        // automaton's state at a cut is often deep; the text also has a seventh char, in no
        // term, which restarts the automaton.
        let pool = cjk_pool(7);
        let mut terms: Vec<String> = term_ix
            .iter()
            .map(|ix| collapse(ix.iter().map(|&i| pool[i]).collect()))
            .collect();
        terms.sort();
        terms.dedup();
        let r = flag_lexicon(&terms);
        let text = collapse(text_ix.iter().map(|&i| pool[i]).collect());
        let want = naive_spans(&terms, &text);
        prop_assume!(want.len() <= MAX_LISTED_LOW_MATCHES);
        let chars: Vec<char> = text.chars().collect();
        let mut pieces: Vec<String> = Vec::new();
        let (mut at, mut k) = (0, 0);
        while at < chars.len() {
            let n = cuts[k % cuts.len()].min(chars.len() - at);
            pieces.push(chars[at..at + n].iter().collect());
            at += n;
            k += 1;
        }
        let mut st = r.stream(Stage::Input);
        let (released, stopped) = run_stream(st.as_mut(), &refs(&pieces));
        prop_assert!(!stopped);
        prop_assert_eq!(&released, &text);
        let d = st.decision();
        let mut got: Vec<(usize, usize)> = d.matches.iter().map(|m| (m.start, m.end)).collect();
        got.sort_unstable();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn a_term_longer_than_the_packed_length_takes_the_general_path_and_matches() {
    // 70,000 chars: more than a `Hit` holds, so the pattern's length is looked up instead.
    let pool = cjk_pool(7);
    let term: String = (0..70_000).map(|i| pool[i % 7]).collect();
    // Two pool chars never next to each other in the term: a plain term beside it.
    let short: String = [pool[0], pool[2]].iter().collect();
    let r = flag_lexicon(&[term.clone(), short.clone()]);
    let text = format!("甲{term}乙{short}");
    let mut got = reviewed_spans(&r, &text);
    got.sort_unstable();
    assert_eq!(got, naive_spans(&[term.clone(), short], &text));
    assert_eq!(got.len(), 2);
    assert!(got.contains(&(3, 3 + term.len())));
}
