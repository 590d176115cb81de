//! Text normalisation shared by lexicon terms (at build time) and reviewed text (at review time).
//!
//! Each original char is normalised on its own — Unicode NFKC, then lower case — so that every
//! normalised byte maps back to the byte range of exactly one original char. That is what lets
//! a match found in normalised text be reported, masked and held back in the original text, and
//! what makes normalising a stream chunk by chunk give the same result as normalising it whole.
//!
//! The price of per-char NFKC is that a base letter followed by a separate combining mark is not
//! composed (`e` + U+0301 stays two chars, unlike precomposed `é`).
//!
//! Not done yet (a later issue, to be driven by data tables rather than hand-written ones):
//! traditional → simplified Chinese, pinyin and initials, and skipping noise characters
//! inserted between the characters of a term.

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

/// Normalised text with a map from every normalised byte back to its original char.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    text: String,
    /// For each byte of `text`: start of the original char it came from.
    starts: Vec<usize>,
    /// For each byte of `text`: end of the original char it came from.
    ends: Vec<usize>,
}

impl Normalized {
    /// Normalises `original`; offsets in the map are byte offsets into `original`.
    pub fn new(original: &str) -> Normalized {
        let mut n = Normalized::default();
        n.push_str(original, 0);
        n
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The byte range of the original text that a non-empty normalised byte range came from.
    ///
    /// A range that starts or ends inside the expansion of one original char (`㎏` → `kg`)
    /// widens to cover the whole original char. Out-of-range input yields an empty range at the
    /// end of the mapped text rather than a panic.
    pub fn original_range(&self, normalized: Range<usize>) -> Range<usize> {
        let end_of_text = self.ends.last().copied().unwrap_or(0);
        let start = self
            .starts
            .get(normalized.start)
            .copied()
            .unwrap_or(end_of_text);
        let end = normalized
            .end
            .checked_sub(1)
            .and_then(|last| self.ends.get(last))
            .copied()
            .unwrap_or(start)
            .max(start);
        start..end
    }

    /// Appends the normalisation of `original`, whose first byte is at offset `base`.
    pub(crate) fn push_str(&mut self, original: &str, base: usize) {
        for (i, c) in original.char_indices() {
            let before = self.text.len();
            push_char(c, &mut self.text);
            let added = self.text.len() - before;
            let (start, end) = (base + i, base + i + c.len_utf8());
            self.starts.extend(std::iter::repeat_n(start, added));
            self.ends.extend(std::iter::repeat_n(end, added));
        }
    }

    /// Drops the normalisation of every original char that starts before `original_cut`
    /// (which must be an original char boundary) and shifts the remaining offsets down by it.
    /// Returns how many normalised bytes were dropped.
    pub(crate) fn drain_front(&mut self, original_cut: usize) -> usize {
        let cut = self.starts.partition_point(|&s| s < original_cut);
        // `cut` is a char boundary of `text`: all bytes of one normalised char share a start.
        self.text.replace_range(..cut, "");
        self.starts.drain(..cut);
        self.ends.drain(..cut);
        for s in &mut self.starts {
            *s = s.saturating_sub(original_cut);
        }
        for e in &mut self.ends {
            *e = e.saturating_sub(original_cut);
        }
        cut
    }
}

/// Normalises a string without keeping the offset map (used for lexicon terms).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_char(c, &mut out);
    }
    out
}

fn push_char(c: char, out: &mut String) {
    // ASCII is already NFKC; skipping the decomposition machinery keeps the common case cheap.
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for n in std::iter::once(c).nfkc() {
        out.extend(n.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_width_letters_become_lower_case_ascii() {
        assert_eq!(normalize("ＡＢＣ"), "abc");
        assert_eq!(normalize("ＨｅＬＬｏ，１２３"), "hello,123");
    }

    #[test]
    fn circled_and_styled_characters_become_plain() {
        assert_eq!(normalize("①②"), "12");
        assert_eq!(normalize("Ⓐ𝐁𝒄"), "abc");
        assert_eq!(normalize("㎏"), "kg");
    }

    #[test]
    fn chinese_text_is_unchanged() {
        assert_eq!(normalize("制造炸弹"), "制造炸弹");
    }

    #[test]
    fn offsets_map_back_to_the_original_full_width_bytes() {
        let original = "x：ＡＢＣ!";
        let n = Normalized::new(original);
        assert_eq!(n.as_str(), "x:abc!");
        let at = n.as_str().find("abc").map(|i| i..i + 3);
        assert_eq!(at, Some(2..5));
        let r = n.original_range(2..5);
        assert_eq!(&original[r.clone()], "ＡＢＣ");
        assert_eq!(r, 4..13);
    }

    #[test]
    fn a_match_inside_an_expansion_covers_the_whole_original_char() {
        let original = "5㎏!";
        let n = Normalized::new(original);
        assert_eq!(n.as_str(), "5kg!");
        assert_eq!(&original[n.original_range(1..2)], "㎏");
        assert_eq!(&original[n.original_range(2..4)], "㎏!");
    }

    #[test]
    fn out_of_range_mapping_does_not_panic() {
        let n = Normalized::new("ab");
        assert_eq!(n.original_range(5..9), 2..2);
        assert_eq!(n.original_range(0..0), 0..0);
        assert_eq!(Normalized::new("").original_range(0..1), 0..0);
    }

    #[test]
    fn draining_the_front_keeps_the_rest_consistent() {
        let mut n = Normalized::new("ａ①b");
        let dropped = n.drain_front("ａ".len());
        assert_eq!(dropped, 1);
        assert_eq!(n.as_str(), "1b");
        assert_eq!(n.original_range(0..2), 0.."①b".len());
    }

    proptest! {
        #[test]
        fn normalising_in_pieces_equals_normalising_whole(
            parts in proptest::collection::vec("[a-zA-Zａ-ｚＡ-Ｚ①-⑳㎏ﬁ制造炸弹 ]{0,6}", 0..6)
        ) {
            let whole: String = parts.concat();
            let mut pieces = Normalized::default();
            let mut base = 0;
            for p in &parts {
                pieces.push_str(p, base);
                base += p.len();
            }
            prop_assert_eq!(&pieces, &Normalized::new(&whole));
            prop_assert_eq!(pieces.as_str(), normalize(&whole));
            // Every normalised char maps back to a non-empty original char range.
            for (i, c) in pieces.as_str().char_indices() {
                let r = pieces.original_range(i..i + c.len_utf8());
                prop_assert!(r.start < r.end && r.end <= whole.len());
                prop_assert!(whole.is_char_boundary(r.start) && whole.is_char_boundary(r.end));
            }
        }
    }
}
