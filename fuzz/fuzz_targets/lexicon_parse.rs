//! Arbitrary bytes as a lexicon file: parsing never panics, `parse` and `check` agree, and a
//! lexicon that parses builds a reviewer (never panicking) in which each plain entry's term,
//! reviewed as a text, matches that entry.

#![no_main]

use hegui_policy::normalize::{normalize_with_offsets, SEPARATOR};
use hegui_policy::{Lexicon, LexiconReviewer, ReviewPolicy, Reviewer, StreamStep};
use hegui_types::Stage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let checked = Lexicon::check("fuzz.toml", text);
    let parsed = Lexicon::parse("fuzz.toml", text);
    match (&checked, &parsed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(all), Err(first)) => {
            assert!(!all.is_empty());
            assert_eq!(all[0].to_string(), first.to_string());
            for e in all {
                assert!(e.to_string().starts_with("fuzz.toml"), "{e}");
            }
        }
        _ => panic!("check and parse disagree: {checked:?} vs {parsed:?}"),
    }
    let Ok(lex) = parsed else {
        return;
    };
    for e in lex.entries() {
        assert!(!e.normalized_term().is_empty(), "{e:?}");
    }

    let policy = ReviewPolicy::default();
    let Ok(r) = LexiconReviewer::build(vec![lex.clone()], &policy, false) else {
        return;
    };
    let _ = LexiconReviewer::new(vec![lex.clone()]);
    for e in lex.entries() {
        let rule = format!("{}:{}", lex.name(), e.line());
        for stage in [Stage::Input, Stage::Output] {
            let review = r.review(stage, e.term());
            // A plain term (not a combination, without a noise run long enough to separate)
            // matches itself.
            let (seps, _) = normalize_with_offsets(e.term());
            if e.combination().is_none() && !seps.contains(SEPARATOR) {
                assert!(
                    review.decision.matches.iter().any(|m| *m.rule == *rule),
                    "term {:?} of {rule} not found in itself: {:?}",
                    e.term(),
                    review.decision
                );
            }
            // The same text streamed char by char never panics and agrees on stopping.
            let mut s = r.stream(stage);
            let mut stopped = false;
            for (i, c) in e.term().char_indices() {
                if let StreamStep::Stop = s.push(&e.term()[i..i + c.len_utf8()]) {
                    stopped = true;
                    break;
                }
            }
            if !stopped {
                stopped = matches!(s.finish(), StreamStep::Stop);
            }
            assert_eq!(
                stopped,
                review.decision.action.stops(),
                "term {:?} of {rule}",
                e.term()
            );
        }
    }
});
