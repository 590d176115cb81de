//! Text normalisation against evasion, shared by lexicon terms (when a lexicon is loaded) and
//! reviewed text (at review time), one original char at a time.
//!
//! Each original char goes through these steps, in order:
//!
//! 1. Unicode NFKC: full-width and half-width forms, circled, parenthesised and styled letters
//!    and digits, ligatures and compatibility ideographs become their plain forms (`Ａ①𝐁㎏` →
//!    `A1Bkg`).
//! 2. Lower case.
//! 3. Latin letters with diacritics become their base letter when their canonical
//!    decomposition is an ASCII letter followed only by combining marks (`fǎlúngōng` →
//!    `falungong`, `é` → `e`, `ñ` → `n`), as the decomposed forms already do (the combining
//!    mark is noise). Letters of other scripts are not decomposed (Hangul syllables stay).
//! 4. Traditional → simplified Chinese, char by char, with the data of the `zhconv` crate
//!    (MediaWiki and OpenCC conversion tables): `製造炸彈` → `制造炸弹`.
//! 5. Chinese numerals and their financial forms become ASCII digits (`零〇一壹二贰两三叁…`,
//!    and `幺` as read in phone numbers), and the financial forms of the units become the
//!    common ones (`拾佰仟` → `十百千`). The table is the numerals themselves, not a policy.
//!    Units stay units (no arithmetic): `十八` reads `十8`, which `18` does not match.
//! 6. Noise is dropped: every char that is not a letter or digit after the steps above
//!    (spaces, punctuation, symbols, emoji, zero-width and other format chars, combining
//!    marks), and every Unicode Default_Ignorable_Code_Point, letter or not (the Hangul
//!    fillers `\u{3164}`, `\u{ffa0}`, `\u{115f}`, `\u{1160}`, variation selectors, tag
//!    chars), so `傻@冒`, `傻 冒`, `傻\u{200b}冒` and `傻\u{3164}冒` all read `傻冒`. At most
//!    [`MAX_NOISE_GAP`] noise chars in a row are skipped; a longer run becomes one
//!    [`SEPARATOR`], which no term contains, so words far apart are not joined.
//! 7. Repeated non-ASCII chars collapse: `傻傻傻冒` reads `傻冒` (up to [`MAX_REPEAT_DROP`]
//!    repeats in a row are dropped). ASCII letters and digits are not collapsed, so English
//!    words and numbers keep their spelling.
//!
//! Steps 1–6 depend on the char alone and are looked up in a table built on first use for the
//! Basic Multilingual Plane (about 30 ms); chars beyond it are computed on the fly. Steps 6 and
//! 7 keep a little state ([`Normalizer`]), so a stream normalised chunk by chunk gives the same
//! result as the whole text.
//!
//! Every normalised char is produced by exactly one original char, which is what lets matches
//! be mapped back to original offsets for masking, explanation and streaming hold-back. A
//! [`Step::Skip`] says whether it dropped a repeat ([`Normalizer::skipped_a_repeat`]), so that
//! a match can extend over the repeats of its last char.

use std::sync::LazyLock;

use icu_properties::props::DefaultIgnorableCodePoint;
use icu_properties::CodePointSetData;
use unicode_normalization::UnicodeNormalization;

/// How many noise chars in a row may sit between two chars of a term and still match.
pub const MAX_NOISE_GAP: u32 = 4;

/// How many repeats of one non-ASCII char in a row are dropped before one is kept again.
/// Bounding it bounds how much original text one normalised char can stand for, and so how
/// much a stream holds back.
pub const MAX_REPEAT_DROP: u32 = 8;

/// Emitted for a run of more than [`MAX_NOISE_GAP`] noise chars. It is a control char, which
/// normalisation drops from terms, so no match spans it.
pub const SEPARATOR: char = '\0';

/// Table entry meaning "noise".
const NOISE: u32 = u32::MAX;
/// Table entries with this bit set index [`Table::expansions`].
const EXPANSION: u32 = 1 << 31;

/// Steps 1–6 for every char of the Basic Multilingual Plane.
struct Table {
    bmp: Box<[u32]>,
    expansions: Vec<Box<str>>,
}

static TABLE: LazyLock<Table> = LazyLock::new(build_table);

fn build_table() -> Table {
    let mut bmp = vec![NOISE; 0x1_0000].into_boxed_slice();
    let mut expansions = Vec::new();
    let mut scratch = String::new();
    for (cp, slot) in bmp.iter_mut().enumerate() {
        let Some(c) = u32::try_from(cp).ok().and_then(char::from_u32) else {
            continue; // surrogates
        };
        scratch.clear();
        compute(c, &mut scratch);
        let mut chars = scratch.chars();
        *slot = match (chars.next(), chars.next()) {
            (None, _) => NOISE,
            (Some(one), None) => u32::from(one),
            (Some(_), Some(_)) => {
                let index = u32::try_from(expansions.len()).unwrap_or(0);
                expansions.push(scratch.clone().into_boxed_str());
                EXPANSION | index
            }
        };
    }
    Table { bmp, expansions }
}

/// Steps 1–6 for one char, appended to `out` (nothing for noise).
fn compute(c: char, out: &mut String) {
    if c.is_ascii() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        }
        return;
    }
    // Default ignorable code points render as nothing (or as blank space), so they are noise
    // whatever their general category: the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0)
    // are letters to `char::is_alphanumeric`, and NFKC maps U+3164 and U+FFA0 to U+1160, so
    // they would otherwise be kept and split a term (`冰\u{3164}毒`). The set comes from the
    // Unicode data of `icu_properties` rather than a list kept by hand.
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    if ignorable.contains(c) {
        return;
    }
    let mut buf = [0u8; 4];
    for n in std::iter::once(c).nfkc() {
        if ignorable.contains(n) {
            continue;
        }
        for l in n.to_lowercase() {
            let l = latin_base(l).unwrap_or(l);
            let s = if is_han(l) {
                let converted = zhconv::zhconv(l.encode_utf8(&mut buf), zhconv::Variant::ZhHans);
                let mut it = converted.chars();
                match (it.next(), it.next()) {
                    (Some(one), None) => one,
                    _ => l,
                }
            } else {
                l
            };
            let d = numeral(s).unwrap_or(s);
            if d.is_alphanumeric() {
                out.push(d);
            }
        }
    }
}

/// The base letter of a Latin letter with diacritics (`ǎ` → `a`, `ü` → `u`, `ñ` → `n`): when
/// the canonical decomposition of `c` is one ASCII letter followed only by combining marks.
/// Pinyin is written with and without tone marks, and a decomposed `a` + U+030C already reads
/// `a` (the mark is noise), so the precomposed form must too. Other scripts are left alone:
/// their decompositions do not start with an ASCII letter (a Hangul syllable stays a syllable).
fn latin_base(c: char) -> Option<char> {
    if c.is_ascii() {
        return None;
    }
    let mut base = None;
    let mut only_marks_after = true;
    let mut first = true;
    unicode_normalization::char::decompose_canonical(c, |d| {
        if first {
            first = false;
            base = Some(d).filter(char::is_ascii_alphabetic);
        } else if !unicode_normalization::char::is_combining_mark(d) {
            only_marks_after = false;
        }
    });
    base.filter(|_| only_marks_after)
}

/// Chars the traditional → simplified tables cover (CJK ideographs and their extensions).
fn is_han(c: char) -> bool {
    matches!(u32::from(c), 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x2_0000..=0x3_FFFF)
}

/// Chinese numerals, including the financial (大写) forms, as ASCII digits; the financial
/// forms of the units as the common ones (`拾佰仟` → `十百千`; the traditional `萬` already
/// became `万` in the step before). Units are not digits: there is no arithmetic, so `十八`
/// reads `十8`, not `18`.
fn numeral(c: char) -> Option<char> {
    Some(match c {
        '拾' => '十',
        '佰' => '百',
        '仟' => '千',
        '零' | '〇' => '0',
        '一' | '壹' | '幺' => '1',
        '二' | '贰' | '两' => '2',
        '三' | '叁' => '3',
        '四' | '肆' => '4',
        '五' | '伍' => '5',
        '六' | '陆' => '6',
        '七' | '柒' => '7',
        '八' | '捌' => '8',
        '九' | '玖' => '9',
        _ => return None,
    })
}

/// What steps 1–6 make of one char.
enum Class<'a> {
    Noise,
    One(char),
    Many(&'a str),
}

#[inline(always)]
fn classify<'a>(table: &'static Table, c: char, slow: &'a mut String) -> Class<'a> {
    let cp = u32::from(c);
    if let Some(&entry) = table.bmp.get(cp as usize) {
        return match entry {
            NOISE => Class::Noise,
            e if e & EXPANSION != 0 => match table.expansions.get((e & !EXPANSION) as usize) {
                Some(s) => Class::Many(s),
                None => Class::Noise,
            },
            e => char::from_u32(e).map_or(Class::Noise, Class::One),
        };
    }
    slow.clear();
    compute(c, slow);
    let mut chars = slow.chars();
    match (chars.next(), chars.next()) {
        (None, _) => Class::Noise,
        (Some(one), None) => Class::One(one),
        _ => Class::Many(slow.as_str()),
    }
}

/// The normaliser's state between chars: the noise run and the last char kept (for repeats).
#[derive(Clone)]
pub struct Normalizer {
    table: &'static Table,
    noise_run: u32,
    last: Option<char>,
    repeats_dropped: u32,
    slow: String,
}

impl std::fmt::Debug for Normalizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalizer")
            .field("noise_run", &self.noise_run)
            .field("last", &self.last)
            .field("repeats_dropped", &self.repeats_dropped)
            .finish()
    }
}

impl Default for Normalizer {
    fn default() -> Normalizer {
        Normalizer {
            table: LazyLock::force(&TABLE),
            noise_run: 0,
            last: None,
            repeats_dropped: 0,
            slow: String::new(),
        }
    }
}

/// What one original char became, from [`Normalizer::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// Nothing: noise, or a dropped repeat.
    Skip,
    /// One normalised char (possibly [`SEPARATOR`]).
    One(char),
    /// Several normalised chars; pass each through [`Normalizer::accept`], which applies the
    /// repeat rule, and use those it accepts.
    Many(&'a str),
}

impl Normalizer {
    /// A normaliser at the start of a text.
    pub fn new() -> Normalizer {
        Normalizer::default()
    }

    /// Normalises the next original char without allocating (the hot path of review).
    #[inline(always)]
    pub fn step(&mut self, c: char) -> Step<'_> {
        let Normalizer {
            table,
            noise_run,
            last,
            repeats_dropped,
            slow,
        } = self;
        match classify(table, c, slow) {
            Class::Noise => {
                *noise_run += 1;
                if *noise_run == MAX_NOISE_GAP + 1 {
                    *last = None;
                    return Step::One(SEPARATOR);
                }
                Step::Skip
            }
            Class::One(n) => {
                *noise_run = 0;
                if accept(n, last, repeats_dropped) {
                    Step::One(n)
                } else {
                    Step::Skip
                }
            }
            Class::Many(s) => {
                *noise_run = 0;
                Step::Many(s)
            }
        }
    }

    /// After [`Normalizer::step`] returned [`Step::Skip`]: whether it dropped a repeat of the
    /// last kept char (rather than noise). Read from the state the step leaves (a repeat resets
    /// the noise run, noise extends it), so the hot path pays nothing for it.
    #[inline]
    pub fn skipped_a_repeat(&self) -> bool {
        self.noise_run == 0
    }

    /// The repeat rule for one char of a [`Step::Many`] expansion: false if it is dropped.
    #[inline]
    pub fn accept(&mut self, n: char) -> bool {
        accept(n, &mut self.last, &mut self.repeats_dropped)
    }

    /// Normalises the next original char, appending what it becomes to `out` (cleared first):
    /// nothing (noise or a dropped repeat), [`SEPARATOR`], or one or more normalised chars.
    #[inline]
    pub fn push(&mut self, c: char, out: &mut Vec<char>) {
        out.clear();
        match self.step(c) {
            Step::Skip => {}
            Step::One(n) => out.push(n),
            Step::Many(s) => {
                // Copied out first: `accept` needs the normaliser, which `s` still borrows.
                let expansion: Vec<char> = s.chars().collect();
                for n in expansion {
                    if self.accept(n) {
                        out.push(n);
                    }
                }
            }
        }
    }
}

/// The repeat rule: false when `n` repeats the last kept non-ASCII char (and fewer than
/// [`MAX_REPEAT_DROP`] were dropped in a row).
#[inline]
fn accept(n: char, last: &mut Option<char>, dropped: &mut u32) -> bool {
    if !n.is_ascii() && *last == Some(n) && *dropped < MAX_REPEAT_DROP {
        *dropped += 1;
        return false;
    }
    *dropped = 0;
    *last = Some(n);
    true
}

/// Normalises a whole string (used for lexicon terms): separators are left out, so a term's
/// normal form is its letters and digits only.
pub fn normalize(text: &str) -> String {
    let mut n = Normalizer::new();
    let mut out = String::with_capacity(text.len());
    let mut buf = Vec::new();
    for c in text.chars() {
        n.push(c, &mut buf);
        out.extend(buf.iter().filter(|&&c| c != SEPARATOR));
    }
    out
}

/// Normalises a text and returns, for each normalised char, the byte range of the original
/// char it came from (separators included). For explanations and tests; review does this
/// incrementally without materialising the whole map.
pub fn normalize_with_offsets(text: &str) -> (String, Vec<std::ops::Range<usize>>) {
    let mut n = Normalizer::new();
    let mut out = String::with_capacity(text.len());
    let mut map = Vec::new();
    let mut buf = Vec::new();
    for (i, c) in text.char_indices() {
        n.push(c, &mut buf);
        for &d in &buf {
            out.push(d);
            map.push(i..i + c.len_utf8());
        }
    }
    (out, map)
}

/// Forces the lookup table to be built now (it is otherwise built on first use).
pub fn warm_up() {
    LazyLock::force(&TABLE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_width_letters_become_lower_case_ascii() {
        assert_eq!(normalize("ＡＢＣ"), "abc");
        assert_eq!(normalize("ＨｅＬＬｏ，１２３"), "hello123");
    }

    #[test]
    fn circled_and_styled_characters_become_plain() {
        assert_eq!(normalize("①②"), "12");
        assert_eq!(normalize("Ⓐ𝐁𝒄"), "abc");
        assert_eq!(normalize("㎏"), "kg");
        assert_eq!(normalize("⑴㈠"), "11");
    }

    #[test]
    fn latin_letters_with_diacritics_become_their_base_letter() {
        assert_eq!(normalize("fǎlúngōng"), "falungong");
        assert_eq!(normalize("FǍLÚNGŌNG"), "falungong");
        assert_eq!(normalize("lǜ nǚ"), "lunu");
        assert_eq!(normalize("Éñü"), "enu");
        // The decomposed forms read the same already (the combining marks are noise).
        assert_eq!(normalize("fa\u{30c}lu\u{301}ngo\u{304}ng"), "falungong");
        // Other scripts are not decomposed; letters without a decomposition stay.
        assert_eq!(normalize("한국"), "한국");
        assert_eq!(normalize("ø"), "ø");
        assert_eq!(normalize("ё"), "ё");
    }

    #[test]
    fn traditional_chinese_becomes_simplified() {
        assert_eq!(normalize("製造炸彈"), "制造炸弹");
        assert_eq!(normalize("髮發"), "发");
        assert_eq!(normalize("冰毒"), "冰毒");
    }

    #[test]
    fn chinese_numerals_become_digits() {
        assert_eq!(normalize("一二三四五六七八九零"), "1234567890");
        assert_eq!(normalize("壹贰叁肆伍陆柒捌玖〇"), "1234567890");
        assert_eq!(normalize("陸"), "6");
    }

    #[test]
    fn financial_unit_numerals_read_as_the_common_units() {
        assert_eq!(normalize("拾捌禁"), "十8禁");
        assert_eq!(normalize("十八禁"), "十8禁");
        assert_eq!(normalize("壹佰万"), normalize("一百万"));
        assert_eq!(normalize("壹佰萬"), "1百万");
        assert_eq!(normalize("叁仟"), "3千");
        // No arithmetic: units are not digits.
        assert_ne!(normalize("十八禁"), normalize("18禁"));
    }

    #[test]
    fn noise_between_characters_is_dropped() {
        for evasion in [
            "傻@冒",
            "傻 冒",
            "傻\u{200b}冒",
            "傻😀冒",
            "傻.-*冒",
            "傻\u{0301}冒",
        ] {
            assert_eq!(normalize(evasion), "傻冒", "{evasion:?}");
        }
    }

    #[test]
    fn default_ignorable_chars_are_noise_even_when_they_are_letters() {
        // The Hangul fillers are letters (Lo) to `char::is_alphanumeric`; the others are
        // format chars, variation selectors and tags.
        for c in [
            '\u{3164}',
            '\u{ffa0}',
            '\u{115f}',
            '\u{1160}',
            '\u{00ad}',
            '\u{034f}',
            '\u{2060}',
            '\u{feff}',
            '\u{fe0f}',
            '\u{17b4}',
            '\u{180e}',
            '\u{e0020}',
            '\u{e0100}',
        ] {
            let evasion = format!("傻{c}冒");
            assert_eq!(normalize(&evasion), "傻冒", "{evasion:?}");
        }
    }

    #[test]
    fn a_long_noise_run_separates() {
        let (text, _) = normalize_with_offsets("傻    冒");
        assert_eq!(text, "傻冒");
        let (text, _) = normalize_with_offsets("傻     冒");
        assert_eq!(text, "傻\0冒");
        // A run far longer still yields one separator.
        let (text, _) = normalize_with_offsets(&format!("傻{}冒", " ".repeat(1000)));
        assert_eq!(text, "傻\0冒");
    }

    #[test]
    fn repeated_chinese_chars_collapse_but_ascii_does_not() {
        assert_eq!(normalize("傻傻傻冒冒"), "傻冒");
        assert_eq!(normalize("傻 傻冒"), "傻冒");
        assert_eq!(normalize("boob 1000"), "boob1000");
        // A very long run keeps one char per MAX_REPEAT_DROP + 1.
        let run = "傻".repeat(2 * (MAX_REPEAT_DROP as usize + 1));
        assert_eq!(normalize(&run), "傻傻");
    }

    #[test]
    fn a_skip_says_whether_it_dropped_a_repeat_or_noise() {
        let mut n = Normalizer::new();
        let mut kinds = Vec::new();
        for c in "傻冒冒 冒.".chars() {
            if n.step(c) == Step::Skip {
                kinds.push(n.skipped_a_repeat());
            }
        }
        assert_eq!(kinds, vec![true, false, true, false]);
    }

    #[test]
    fn offsets_map_back_to_original_chars() {
        let original = "x：ＡＢ傻@冒";
        let (text, map) = normalize_with_offsets(original);
        assert_eq!(text, "xab傻冒");
        let spans: Vec<&str> = map.iter().map(|r| &original[r.clone()]).collect();
        assert_eq!(spans, vec!["x", "Ａ", "Ｂ", "傻", "冒"]);
        let (text, map) = normalize_with_offsets("5㎏");
        assert_eq!(text, "5kg");
        assert_eq!(map, vec![0..1, 1..4, 1..4]);
    }

    proptest! {
        #[test]
        fn step_and_push_agree(text in "[a-zＡ-Ｚ①-⑳㎏ﬁ制造炸弹傻冒 @\u{200b}😀製彈一]{0,30}") {
            let (mut a, mut b) = (Normalizer::new(), Normalizer::new());
            let (mut pushed, mut stepped) = (String::new(), String::new());
            let mut buf = Vec::new();
            for c in text.chars() {
                a.push(c, &mut buf);
                pushed.extend(buf.iter());
                match b.step(c) {
                    Step::Skip => {}
                    Step::One(n) => stepped.push(n),
                    Step::Many(s) => {
                        let s = s.to_string();
                        for n in s.chars() {
                            if b.accept(n) {
                                stepped.push(n);
                            }
                        }
                    }
                }
            }
            prop_assert_eq!(pushed, stepped);
        }

        #[test]
        fn normalising_in_pieces_equals_normalising_whole(
            parts in proptest::collection::vec("[a-zＡ-Ｚ①-⑳㎏制造炸弹傻冒 @\u{200b}😀製彈一]{0,6}", 0..6)
        ) {
            let whole: String = parts.concat();
            let mut n = Normalizer::new();
            let mut pieces = String::new();
            let mut buf = Vec::new();
            for p in &parts {
                for c in p.chars() {
                    n.push(c, &mut buf);
                    pieces.extend(buf.iter());
                }
            }
            prop_assert_eq!(&pieces, &normalize_with_offsets(&whole).0);
            prop_assert_eq!(pieces.replace('\0', ""), normalize(&whole));
        }

        #[test]
        fn normalisation_never_panics_and_keeps_only_letters_and_digits(text in "\\PC{0,40}") {
            let once = normalize(&text);
            prop_assert!(once.chars().all(char::is_alphanumeric));
            let (with_seps, map) = normalize_with_offsets(&text);
            prop_assert_eq!(with_seps.chars().count(), map.len());
            for r in map {
                prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            }
        }
    }
}
