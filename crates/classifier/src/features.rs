//! Text → sparse feature vector: normalisation, character n-grams, hashing, term weighting.
//!
//! Everything here is specified exactly in `MODEL_FORMAT.md` ("Features"), because a model file
//! is only meaningful together with the function that turns text into bucket indices. Changing
//! any of it (the normalisation, the hash, the weighting) needs a new `normalization` or `hash`
//! identifier so old model files are refused instead of silently scoring garbage.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Identifier of the normalisation in [`normalize_chars`], stored in every model header.
pub const NORMALIZATION_ID: &str = "nfkc-lowercase-dropzw-space1";
/// Identifier of the n-gram hash in [`ngram_bucket`], stored in every model header.
pub const HASH_ID: &str = "fnv1a64-codepoints-fmix64";
/// Longest n-gram a model may use.
pub const MAX_NGRAM: u8 = 8;
/// Smallest and largest `bucket_bits` a model may use.
pub const BUCKET_BITS_RANGE: std::ops::RangeInclusive<u8> = 8..=24;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// How the count of an n-gram in one text becomes its feature value (before L2 normalisation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermWeighting {
    /// 1 if the n-gram occurs at all.
    Binary,
    /// `1 + ln(count)`.
    Sublinear,
}

impl TermWeighting {
    fn value(self, count: u32) -> f32 {
        match self {
            TermWeighting::Binary => 1.0,
            TermWeighting::Sublinear => 1.0 + (count as f32).ln(),
        }
    }
}

/// What a model's features are: the contract between the trainer, the model file and `predict`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Normalisation identifier; must be [`NORMALIZATION_ID`].
    pub normalization: String,
    /// Hash identifier; must be [`HASH_ID`].
    pub hash: String,
    /// Shortest character n-gram (≥ 1).
    pub ngram_min: u8,
    /// Longest character n-gram (≤ [`MAX_NGRAM`]).
    pub ngram_max: u8,
    /// The hash space has `2^bucket_bits` buckets.
    pub bucket_bits: u8,
    /// Feature value of a repeated n-gram.
    pub term_weighting: TermWeighting,
}

impl FeatureSpec {
    /// A spec with this crate's normalisation and hash.
    pub fn new(ngram_min: u8, ngram_max: u8, bucket_bits: u8, tf: TermWeighting) -> FeatureSpec {
        FeatureSpec {
            normalization: NORMALIZATION_ID.to_owned(),
            hash: HASH_ID.to_owned(),
            ngram_min,
            ngram_max,
            bucket_bits,
            term_weighting: tf,
        }
    }

    /// Number of hash buckets.
    pub fn buckets(&self) -> usize {
        1usize << self.bucket_bits.min(*BUCKET_BITS_RANGE.end())
    }

    /// Why this spec cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.normalization != NORMALIZATION_ID {
            return Some(format!(
                "unknown normalisation {:?} (this build knows {NORMALIZATION_ID:?})",
                self.normalization
            ));
        }
        if self.hash != HASH_ID {
            return Some(format!(
                "unknown n-gram hash {:?} (this build knows {HASH_ID:?})",
                self.hash
            ));
        }
        if self.ngram_min == 0 || self.ngram_min > self.ngram_max || self.ngram_max > MAX_NGRAM {
            return Some(format!(
                "n-gram range {}..={} must satisfy 1 <= min <= max <= {MAX_NGRAM}",
                self.ngram_min, self.ngram_max
            ));
        }
        if !BUCKET_BITS_RANGE.contains(&self.bucket_bits) {
            return Some(format!(
                "bucket_bits {} is outside {}..={}",
                self.bucket_bits,
                BUCKET_BITS_RANGE.start(),
                BUCKET_BITS_RANGE.end()
            ));
        }
        None
    }
}

/// Calls `f` with each character of the normalised text.
///
/// Normalisation: NFKC, then Unicode lowercase; zero-width and soft-hyphen characters dropped
/// (they are invisible, so inserting them is a cheap way to split a word); runs of whitespace
/// become one ASCII space, and leading and trailing whitespace is dropped.
pub fn normalize_chars(text: &str, mut f: impl FnMut(char)) {
    let mut pending_space = false;
    let mut started = false;
    let mut emit = |c: char| {
        if c.is_whitespace() {
            pending_space = started;
            return;
        }
        if is_invisible(c) {
            return;
        }
        if pending_space {
            f(' ');
            pending_space = false;
        }
        started = true;
        f(c);
    };
    // NFKC of the whole text, computed segment by segment without allocating. A segment starts
    // at each char that has a normalisation boundary before it (`is_segment_head`: ASCII, CJK
    // ideographs and punctuation, full-width ASCII forms), and UAX #15 lets a string be split
    // before any such char without changing its NFKC. A segment of one such char has a known
    // NFKC (the char itself, or for a full-width form its ASCII char), so the common case skips
    // the normaliser (and is decoded once); any other segment (a letter plus combining marks…)
    // goes through it.
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let head = is_segment_head(c);
        if head && chars.peek().is_none_or(|&(_, next)| is_segment_head(next)) {
            lower(fold_width(c), &mut emit);
            continue;
        }
        // A segment of several chars, or text before the first head: up to the next head.
        let mut end = text.len();
        while let Some(&(j, next)) = chars.peek() {
            if is_segment_head(next) {
                end = j;
                break;
            }
            chars.next();
        }
        text.get(start..end)
            .unwrap_or("")
            .nfkc()
            .for_each(|c| lower(c, &mut emit));
    }
}

/// Chars with a normalisation boundary before them whose NFKC alone is [`fold_width`] of them.
/// ASCII, CJK ideographs and the CJK punctuation listed are NFKC-stable starters (NFKC_QC=Yes,
/// ccc=0) and caseless or ASCII; a full-width ASCII form (U+FF01–U+FF5E) decomposes to one
/// ASCII starter, which no char composes with backwards. Checked char by char in the tests.
fn is_segment_head(c: char) -> bool {
    c.is_ascii()
        || is_cjk_ideograph(c)
        || matches!(c, '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}' | '\u{2018}'..='\u{201F}')
        || is_fullwidth_ascii(c)
}

fn is_fullwidth_ascii(c: char) -> bool {
    matches!(c, '\u{FF01}'..='\u{FF5E}')
}

/// NFKC of a segment head on its own: a full-width ASCII form becomes its ASCII char.
fn fold_width(c: char) -> char {
    if is_fullwidth_ascii(c) {
        char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

fn is_cjk_ideograph(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

fn lower(c: char, emit: &mut impl FnMut(char)) {
    if c.is_ascii() {
        emit(c.to_ascii_lowercase());
    } else if is_cjk_ideograph(c) {
        emit(c);
    } else {
        c.to_lowercase().for_each(emit);
    }
}

/// The normalised text as a `String` (for inspection and tests; scoring never builds it).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_chars(text, |c| out.push(c));
    out
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// The bucket of one n-gram, given its code points oldest first.
///
/// FNV-1a over the code points as 64-bit units (`h = (h ^ cp) * FNV_PRIME` from the FNV offset
/// basis), then the MurmurHash3 64-bit finaliser over `h ^ n` (so "a" and "a" repeated never
/// collide by construction), keeping the top `bits` bits. FNV alone mixes the high bits poorly
/// for short inputs; the finaliser fixes that for one extra multiply pair. It is stable across
/// platforms and releases, which a model file needs and `std`'s `DefaultHasher` does not promise.
pub fn ngram_bucket(code_points: &[u32], bits: u8) -> u32 {
    let mut h = FNV_OFFSET;
    for &cp in code_points {
        h = (h ^ u64::from(cp)).wrapping_mul(FNV_PRIME);
    }
    let h = fmix64(h ^ code_points.len() as u64);
    let bits = u32::from(bits.clamp(1, 32));
    (h >> (64 - bits)) as u32
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// Sets `s.buckets` to the bucket of every n-gram occurrence of `text`: for each char in
/// order, its n-grams from `ngram_min` to `ngram_max` chars long, ending there.
///
/// Same buckets as [`ngram_bucket`] over each window, computed incrementally: the FNV state of
/// the n-gram of length `n` ending at a char is one step from that of length `n - 1` ending at
/// the char before, so each char costs `ngram_max` FNV steps rather than one per char of every
/// n-gram ending there. The text is normalised into `s.chars` first, so the hashing runs as
/// one tight loop (monomorphised per `ngram_max`, its FNV states in registers) rather than
/// as a callback per char.
pub(crate) fn collect_buckets(spec: &FeatureSpec, text: &str, s: &mut FeatureScratch) {
    s.chars.clear();
    normalize_chars(text, |c| s.chars.push(u32::from(c)));
    let min = usize::from(spec.ngram_min.max(1));
    let max = usize::from(spec.ngram_max.clamp(spec.ngram_min.max(1), MAX_NGRAM));
    let shift = 64 - u32::from(spec.bucket_bits.clamp(1, 32));
    let (cps, out) = (&s.chars, &mut s.buckets);
    out.clear();
    match max {
        1 => hash_ngrams::<1>(cps, min, shift, out),
        2 => hash_ngrams::<2>(cps, min, shift, out),
        3 => hash_ngrams::<3>(cps, min, shift, out),
        4 => hash_ngrams::<4>(cps, min, shift, out),
        5 => hash_ngrams::<5>(cps, min, shift, out),
        6 => hash_ngrams::<6>(cps, min, shift, out),
        7 => hash_ngrams::<7>(cps, min, shift, out),
        _ => hash_ngrams::<8>(cps, min, shift, out),
    }
}

/// [`collect_buckets`]'s loop for n-grams of `min..=MAX` chars.
fn hash_ngrams<const MAX: usize>(cps: &[u32], min: usize, shift: u32, out: &mut Vec<u32>) {
    out.reserve(cps.len() * (MAX + 1).saturating_sub(min));
    // `states[n - 1]`: FNV state of the last `n` chars.
    let mut states = [FNV_OFFSET; MAX];
    for (i, &cp) in cps.iter().enumerate() {
        let cp = u64::from(cp);
        for n in (1..MAX).rev() {
            states[n] = (states[n - 1] ^ cp).wrapping_mul(FNV_PRIME);
        }
        states[0] = (FNV_OFFSET ^ cp).wrapping_mul(FNV_PRIME);
        // n-grams of `min..=top` chars end here (`top` < MAX only in the first chars).
        let top = MAX.min(i + 1);
        for (n, &h) in states.iter().enumerate().take(top).skip(min - 1) {
            out.push((fmix64(h ^ (n + 1) as u64) >> shift) as u32);
        }
    }
}

/// Buffers for turning texts into features, reused from one text to the next.
#[derive(Debug, Default)]
pub(crate) struct FeatureScratch {
    /// The normalised text's code points ([`collect_buckets`]).
    chars: Vec<u32>,
    /// The bucket of every n-gram occurrence ([`collect_buckets`]).
    pub(crate) buckets: Vec<u32>,
    /// One bit per bucket, all clear between calls: which buckets a text has met so far.
    seen: Vec<u64>,
}

impl FeatureScratch {
    /// Releases the occurrence buffer if a huge text grew it past `keep` entries.
    pub(crate) fn shrink(&mut self, keep: usize) {
        if self.buckets.capacity() > keep {
            self.buckets = Vec::new();
        }
        if self.chars.capacity() > keep {
            self.chars = Vec::new();
        }
    }
}

/// Turns the bucket occurrences in `s.buckets` into (bucket, value) pairs, L2-normalised,
/// calling `f` for each, in the order each bucket first occurs. Reorders `s.buckets`. Calls
/// nothing when there are none.
pub(crate) fn weigh(s: &mut FeatureScratch, spec: &FeatureSpec, mut f: impl FnMut(u32, f32)) {
    let tf = spec.term_weighting;
    if tf == TermWeighting::Binary {
        // Every distinct bucket weighs 1/sqrt(distinct): the distinct buckets are found first
        // (a bit per bucket, in a table of 2^bucket_bits bits: 32 KB at 18 bits, so it stays in
        // the cache, where sorting the occurrences cost a tenth of an audit scan) and `f` then
        // runs in a loop with no data-dependent branch, so the loads `f` makes (a model's
        // weight rows, spread over megabytes) overlap instead of waiting one by one.
        let distinct = dedup_unsorted(&mut s.buckets, &mut s.seen, spec.buckets());
        if distinct == 0 {
            return;
        }
        let inv = 1.0 / (distinct as f32).sqrt();
        for &b in s.buckets.get(..distinct).unwrap_or_default() {
            f(b, inv);
        }
        return;
    }
    let buckets = &mut s.buckets;
    buckets.sort_unstable();
    let mut sum_sq = 0.0f32;
    for_each_run(buckets, |_, count| {
        let v = tf.value(count);
        sum_sq += v * v;
    });
    if sum_sq <= 0.0 {
        return;
    }
    let inv = 1.0 / sum_sq.sqrt();
    for_each_run(buckets, |bucket, count| f(bucket, tf.value(count) * inv));
}

/// Moves the first occurrence of each value of `v` (all below `range`) to its front, in order
/// of occurrence; returns how many. `seen` is a bitmap kept all clear between calls.
fn dedup_unsorted(v: &mut [u32], seen: &mut Vec<u64>, range: usize) -> usize {
    let words = range.div_ceil(64);
    if seen.len() != words {
        seen.clear();
        seen.resize(words, 0);
    }
    // Branch-free: whether a bucket is new is as good as random, and a mispredicted branch per
    // n-gram cost more than the unconditional store.
    let mut kept = 0;
    for i in 0..v.len() {
        let b = v[i];
        let bit = 1u64 << (b & 63);
        let new = match seen.get_mut((b >> 6) as usize) {
            Some(word) => {
                let new = *word & bit == 0;
                *word |= bit;
                new
            }
            // Out of range (never, buckets are masked): kept, without deduplication.
            None => true,
        };
        v[kept] = b;
        kept += usize::from(new);
    }
    for &b in &v[..kept] {
        if let Some(word) = seen.get_mut((b >> 6) as usize) {
            *word = 0;
        }
    }
    kept
}

fn for_each_run(sorted: &[u32], mut f: impl FnMut(u32, u32)) {
    let mut i = 0;
    while let Some(&b) = sorted.get(i) {
        let mut j = i + 1;
        while sorted.get(j) == Some(&b) {
            j += 1;
        }
        f(b, (j - i) as u32);
        i = j;
    }
}

/// The sparse, L2-normalised feature vector of `text` (used by training).
pub(crate) fn sparse_features(
    spec: &FeatureSpec,
    text: &str,
    scratch: &mut FeatureScratch,
    out: &mut Vec<(u32, f32)>,
) {
    out.clear();
    collect_buckets(spec, text, scratch);
    weigh(scratch, spec, |b, v| out.push((b, v)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FeatureSpec {
        FeatureSpec::new(1, 3, 18, TermWeighting::Binary)
    }

    #[test]
    fn normalisation_folds_width_case_and_whitespace() {
        assert_eq!(normalize("  ＡＢＣ  def\t\n中文 "), "abc def 中文");
        assert_eq!(normalize("傻\u{200B}逼"), "傻逼");
        assert_eq!(normalize("①"), "1");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" \t "), "");
    }

    /// The obvious implementation: NFKC of the whole string, then the same lowercase/space rules.
    fn reference(text: &str) -> String {
        let mut out = String::new();
        let mut pending = false;
        for c in text.nfkc().flat_map(char::to_lowercase) {
            if c.is_whitespace() {
                pending = !out.is_empty();
            } else if !is_invisible(c) {
                if pending {
                    out.push(' ');
                    pending = false;
                }
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn segmented_normalisation_equals_whole_string_nfkc() {
        use rand::{Rng, SeedableRng};
        // Chars chosen to stress segment boundaries: ASCII before combining marks, Hangul jamo
        // that compose, fullwidth and compatibility forms, ideographs, spaces, invisibles.
        let pool: Vec<char> = "aZe ～，。！？ＡＢｃ１（）：“”、「」\u{301}\u{308}\u{323}\u{1100}\u{1161}\u{11A8}\u{AC00}中文傻㐀\u{F900}\u{2F00}①ﬁÅΣσς\u{200B}\u{3000}\t\u{FF9E}ｶ\u{3099}か"
            .chars()
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20_000 {
            let len = rng.gen_range(0..12);
            let text: String = (0..len)
                .map(|_| pool[rng.gen_range(0..pool.len())])
                .collect();
            assert_eq!(normalize(&text), reference(&text), "{text:?}");
        }
    }

    #[test]
    fn segment_heads_have_a_boundary_before_and_a_known_nfkc() {
        use unicode_normalization::char::canonical_combining_class;
        use unicode_normalization::{is_nfkc_quick, IsNormalized};
        let mut heads = 0;
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if !is_segment_head(c) {
                continue;
            }
            heads += 1;
            let folded = fold_width(c);
            assert_eq!(
                c.to_string().nfkc().collect::<String>(),
                folded.to_string(),
                "{c:?}"
            );
            assert_eq!(canonical_combining_class(folded), 0, "{c:?}");
            // What the head normalises to never composes with the char before it.
            assert_eq!(
                is_nfkc_quick(std::iter::once(folded)),
                IsNormalized::Yes,
                "{c:?}"
            );
            if folded == c {
                assert_eq!(
                    is_nfkc_quick(std::iter::once(c)),
                    IsNormalized::Yes,
                    "{c:?}"
                );
                assert!(
                    c.is_ascii() || c.to_lowercase().eq(std::iter::once(c)),
                    "{c:?}"
                );
            }
            for before in ['a', 'e', '\u{1100}', '\u{AC00}', 'ｶ', '中', '\u{301}'] {
                let both: String = [before, c].iter().collect();
                let apart: String = before
                    .to_string()
                    .nfkc()
                    .chain(std::iter::once(folded))
                    .collect();
                assert_eq!(both.nfkc().collect::<String>(), apart, "{before:?} {c:?}");
            }
        }
        assert!(heads > 128 + 20_000, "{heads}");
    }

    #[test]
    fn ideograph_ranges_are_caseless_and_nfkc_stable() {
        for c in ('\u{3400}'..='\u{4DBF}').chain('\u{4E00}'..='\u{9FFF}') {
            let s = c.to_string();
            assert_eq!(s.nfkc().collect::<String>(), s, "{c}");
            assert_eq!(c.to_lowercase().collect::<String>(), s, "{c}");
        }
    }

    #[test]
    fn bucket_hash_is_pinned() {
        // Part of the model format: changing them breaks every saved model. Computed independently
        // from the MODEL_FORMAT.md description (in Python), not from this code.
        assert_eq!(ngram_bucket(&[u32::from('中')], 18), 119_521);
        assert_eq!(
            ngram_bucket(&[u32::from('中'), u32::from('文')], 18),
            234_458
        );
        assert_eq!(ngram_bucket(&[u32::from('a')], 20), 154_329);
    }

    #[test]
    fn buckets_stay_in_range() {
        for bits in [8u8, 18, 24] {
            for cp in 0..2000u32 {
                assert!(ngram_bucket(&[cp, cp + 1], bits) < (1u32 << bits));
            }
        }
    }

    /// The definition: every window of `min..=max` normalised chars, hashed whole.
    fn reference_buckets(spec: &FeatureSpec, text: &str) -> Vec<u32> {
        let chars: Vec<u32> = normalize(text).chars().map(u32::from).collect();
        let mut out = Vec::new();
        for end in 1..=chars.len() {
            for n in spec.ngram_min..=spec.ngram_max {
                let n = usize::from(n);
                if n <= end {
                    out.push(ngram_bucket(&chars[end - n..end], spec.bucket_bits));
                }
            }
        }
        out
    }

    #[test]
    fn incremental_buckets_equal_hashing_each_window() {
        let texts = [
            "",
            "a",
            "ab",
            "你好，世界！Hello  World",
            "哈哈哈哈哈哈哈哈哈哈哈",
            "ＡＢＣ①②\u{200B}傻\u{200B}逼 e\u{301}",
            "The quick brown fox jumps over the lazy dog 0123456789",
        ];
        let mut scratch = FeatureScratch::default();
        for min in 1..=MAX_NGRAM {
            for max in min..=MAX_NGRAM {
                for bits in [8u8, 18, 24] {
                    let spec = FeatureSpec::new(min, max, bits, TermWeighting::Binary);
                    for t in texts {
                        collect_buckets(&spec, t, &mut scratch);
                        let out = &scratch.buckets;
                        assert_eq!(*out, reference_buckets(&spec, t), "{min}..={max} {t:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn ngram_counts_match_the_range() {
        let mut scratch = FeatureScratch::default();
        collect_buckets(&spec(), "abcd", &mut scratch);
        // 4 unigrams + 3 bigrams + 2 trigrams.
        assert_eq!(scratch.buckets.len(), 9);
        collect_buckets(
            &FeatureSpec::new(2, 3, 18, TermWeighting::Binary),
            "a",
            &mut scratch,
        );
        assert!(scratch.buckets.is_empty());
    }

    #[test]
    fn features_are_unit_length() {
        let mut scratch = FeatureScratch::default();
        let mut out = Vec::new();
        for tf in [TermWeighting::Binary, TermWeighting::Sublinear] {
            let s = FeatureSpec::new(1, 3, 18, tf);
            sparse_features(&s, "哈哈哈哈哈，你好你好", &mut scratch, &mut out);
            let norm: f32 = out.iter().map(|(_, v)| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-5, "{norm}");
            let mut distinct: Vec<u32> = out.iter().map(|&(b, _)| b).collect();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), out.len(), "deduplicated");
        }
        sparse_features(&spec(), "", &mut scratch, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn binary_features_are_each_distinct_bucket_once_in_order_of_occurrence() {
        let texts = [
            "哈哈哈哈哈，你好你好",
            "",
            "a",
            "你好，世界！Hello  World",
            "哈哈哈哈哈，你好你好",
        ];
        let mut reused = FeatureScratch::default();
        for bits in [8u8, 18] {
            let s = FeatureSpec::new(1, 3, bits, TermWeighting::Binary);
            for t in texts {
                let mut first: Vec<u32> = Vec::new();
                for b in reference_buckets(&s, t) {
                    if !first.contains(&b) {
                        first.push(b);
                    }
                }
                let mut out = Vec::new();
                // A scratch reused after other texts and another bucket count gives what a
                // fresh one does: its bitmap is left clear.
                sparse_features(&s, t, &mut reused, &mut out);
                let buckets: Vec<u32> = out.iter().map(|&(b, _)| b).collect();
                assert_eq!(buckets, first, "{t:?} at {bits} bits");
                let inv = 1.0 / (first.len() as f32).sqrt();
                assert!(out.iter().all(|&(_, v)| v == inv), "{t:?}");
            }
        }
    }

    #[test]
    fn sublinear_weighting_rewards_repeats_less_than_linearly() {
        assert_eq!(TermWeighting::Binary.value(5), 1.0);
        let v = TermWeighting::Sublinear.value(5);
        assert!(v > 2.0 && v < 3.0, "{v}");
    }

    #[test]
    fn spec_problems_are_reported() {
        assert_eq!(spec().problem(), None);
        assert!(FeatureSpec::new(0, 3, 18, TermWeighting::Binary)
            .problem()
            .is_some());
        assert!(FeatureSpec::new(3, 2, 18, TermWeighting::Binary)
            .problem()
            .is_some());
        assert!(FeatureSpec::new(1, 9, 18, TermWeighting::Binary)
            .problem()
            .is_some());
        assert!(FeatureSpec::new(1, 3, 30, TermWeighting::Binary)
            .problem()
            .is_some());
        let mut s = spec();
        s.hash = "md5".into();
        assert!(s.problem().is_some_and(|p| p.contains("md5")));
    }
}
