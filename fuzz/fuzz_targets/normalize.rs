//! Normalisation of arbitrary text: the batch functions and a `Normalizer` fed char by char
//! (through `push`, and through `step` and `accept` as review does) agree, offsets are char
//! boundaries of one original char each, and a term's normal form is found in any context
//! around it.

#![no_main]

use hegui_policy::normalize::{normalize, normalize_with_offsets, Normalizer, Step, SEPARATOR};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    let plain = normalize(text);
    let (with_seps, map) = normalize_with_offsets(text);

    // Only letters and digits (and separators in the offset form).
    assert!(
        plain.chars().all(char::is_alphanumeric),
        "{text:?} -> {plain:?}"
    );
    assert!(
        with_seps
            .chars()
            .all(|c| c == SEPARATOR || c.is_alphanumeric()),
        "{text:?} -> {with_seps:?}"
    );
    // The plain form is the offset form without separators.
    assert_eq!(with_seps.replace(SEPARATOR, ""), plain, "{text:?}");

    // One range per normalised char, each exactly one original char, in order.
    assert_eq!(with_seps.chars().count(), map.len(), "{text:?}");
    let mut previous = 0;
    for r in &map {
        assert!(
            text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
            "{text:?}: {r:?}"
        );
        let original = text.get(r.clone()).unwrap_or_default();
        assert_eq!(original.chars().count(), 1, "{text:?}: {r:?}");
        assert!(r.start >= previous, "{text:?}: {r:?} before {previous}");
        previous = r.start;
    }

    // A normaliser fed char by char gives the same chars and offsets.
    let mut n = Normalizer::new();
    let mut buf = Vec::new();
    let mut streamed = String::new();
    let mut streamed_map = Vec::new();
    for (i, c) in text.char_indices() {
        n.push(c, &mut buf);
        for &d in &buf {
            streamed.push(d);
            streamed_map.push(i..i + c.len_utf8());
        }
    }
    assert_eq!(streamed, with_seps, "{text:?}");
    assert_eq!(streamed_map, map, "{text:?}");

    // The allocation-free path review uses: `step`, and `accept` for each char of an expansion.
    let mut n = Normalizer::new();
    let mut stepped = String::new();
    let mut many = Vec::new();
    for c in text.chars() {
        match n.step(c) {
            Step::Skip => {}
            Step::One(d) => stepped.push(d),
            Step::Many(s) => {
                many.clear();
                many.extend(s.chars());
                for &d in &many {
                    if n.accept(d) {
                        stepped.push(d);
                    }
                }
            }
        }
    }
    assert_eq!(stepped, with_seps, "{text:?}");

    // A piece of the text read as a lexicon term (when it has no separator of its own) is
    // found in the normalised whole text: what review relies on to match terms in context.
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let count = bounds.len() - 1;
    let (a, b) = (bounds[count / 3], bounds[2 * count / 3]);
    let term = &text[a..b];
    let (term_seps, _) = normalize_with_offsets(term);
    if !term_seps.contains(SEPARATOR) {
        let term_norm = normalize(term);
        assert!(
            with_seps.contains(&term_norm),
            "{text:?}: term {term:?} ({term_norm:?}) not in {with_seps:?}"
        );
    }
});
