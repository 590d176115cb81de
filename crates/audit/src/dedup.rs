//! Exact and near-duplicate detection, exact under sharding.
//!
//! * **Exact duplicates**: XXH3-64 of the normalised text (trimmed, every whitespace run
//!   collapsed to one space). A source's exact-duplicate count is `items − distinct hashes`.
//! * **Near duplicates**: 64-bit **SimHash** over lower-cased character 5-gram shingles; two
//!   items are near duplicates when their SimHashes differ in at most 3 bits, and near-duplicate
//!   clusters are the connected components of that relation. A source's near-duplicate count is
//!   `items − clusters` (it includes the exact duplicates).
//!
//! Why SimHash rather than MinHash: the state has to keep a signature per item so that merged
//! shards give exactly the single-run result, and a SimHash is 8 bytes where a 128-permutation
//! MinHash signature is 512. SimHash at Hamming distance ≤ 3 finds near-verbatim copies
//! (re-posts, boilerplate, templated pages), which is what a corpus audit reports; MinHash's
//! tunable Jaccard threshold matters more for training-time deduplication than for an audit.
//!
//! Candidate pairs are found with the pigeonhole "permuted tables" index of Manku et al.: the
//! 64 bits are cut into 5 blocks (13+13+13+13+12 bits); if two hashes differ in ≤ 3 bits, at
//! least 2 blocks agree exactly, so indexing every pair of blocks (10 tables of 25–26-bit keys)
//! finds every such pair. Buckets longer than [`NEAR_WINDOW`] entries are only compared within
//! a sliding window of that many neighbours (sorted by value), which keeps adversarial inputs
//! from going quadratic; the result is still deterministic and independent of sharding.
//!
//! **Memory**: the shard state keeps 16 bytes per item (8-byte exact hash + 8-byte SimHash),
//! about 22 characters per item in the base64 state file. Analysis at report time needs a
//! further ~12 bytes per distinct SimHash. 64-bit hashes make an accidental collision among a
//! billion distinct texts possible (p ≈ 3%) but its effect on a rate is negligible.

use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh3::xxh3_64;

use base64::Engine as _;

/// Shingle length in characters.
pub const SHINGLE: usize = 5;
/// Maximum Hamming distance of near duplicates.
pub const NEAR_BITS: u32 = 3;
/// Longest bucket compared exhaustively (see the module docs).
pub const NEAR_WINDOW: usize = 1024;

/// Trims and collapses every whitespace run into one space.
pub fn normalize(text: &str) -> String {
    normalized(text).into_owned()
}

/// [`normalize`], borrowing `text` when it is already normalised (most items are: one line
/// with single ASCII spaces, if any, between words).
fn normalized(text: &str) -> std::borrow::Cow<'_, str> {
    if is_normalized(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for w in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    std::borrow::Cow::Owned(out)
}

/// Whether `normalize(text) == text`: no whitespace but single ASCII spaces, none at either end.
fn is_normalized(text: &str) -> bool {
    let mut spaces = SingleSpaces::default();
    text.chars().all(|c| spaces.accept(c)) && spaces.ends_well()
}

/// Checks, char by char, that a text is normalised: no whitespace but single ASCII spaces,
/// none at either end.
struct SingleSpaces {
    /// The previous char was a space, or there was none (a space first is leading whitespace).
    prev_space: bool,
    /// No char seen yet.
    empty: bool,
}

impl Default for SingleSpaces {
    fn default() -> Self {
        SingleSpaces {
            prev_space: true,
            empty: true,
        }
    }
}

impl SingleSpaces {
    /// Whether the text is still normalised with `c` next.
    fn accept(&mut self, c: char) -> bool {
        self.empty = false;
        if c == ' ' {
            let ok = !self.prev_space;
            self.prev_space = true;
            ok
        } else {
            self.prev_space = false;
            !c.is_whitespace()
        }
    }

    /// Whether the text, ending here, is normalised (no trailing space).
    fn ends_well(&self) -> bool {
        !self.prev_space || self.empty
    }
}

/// The two hashes kept per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemHashes {
    /// XXH3-64 of the normalised text.
    pub exact: u64,
    /// SimHash of the normalised, lower-cased text.
    pub simhash: u64,
}

/// Hashes one item.
pub fn hash_item(text: &str) -> ItemHashes {
    // Most items are already normal and have nothing to lower-case: one pass checks both while
    // it hashes the shingles.
    if let Some(simhash) = shingle_votes(text, Check::NormalAndLower) {
        return ItemHashes {
            exact: xxh3_64(text.as_bytes()),
            simhash,
        };
    }
    let norm = normalized(text);
    ItemHashes {
        exact: xxh3_64(norm.as_bytes()),
        simhash: simhash_normalized(&norm),
    }
}

/// 64-bit SimHash of already normalised text, over lower-cased character 5-grams (the whole
/// text when shorter). Hand-written: a dozen lines, and the exact feature definition must be
/// pinned for reports to be reproducible across versions.
pub fn simhash_normalized(norm: &str) -> u64 {
    // Most texts have nothing to lower-case: their shingles are hashed straight from `norm`,
    // checking each char on the way; the first char that is not its own lower case sends the
    // text through `lowercase` and starts again.
    match shingle_votes(norm, Check::Lower) {
        Some(v) => v,
        None => shingle_votes(&lowercase(norm), Check::Nothing).unwrap_or(0),
    }
}

/// What [`shingle_votes`] checks of its text on the way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Nothing: the text is lower case.
    Nothing,
    /// That each char is certainly its own lower case.
    Lower,
    /// That, and that the text is normalised ([`is_normalized`]).
    NormalAndLower,
}

/// The SimHash of `lower`'s shingles; `None` when a check fails.
fn shingle_votes(lower: &str, check: Check) -> Option<u64> {
    let mut votes = BitVotes::new();
    // Each shingle is the slice from the start of a char to the start of the char SHINGLE
    // further on; the last SHINGLE + 1 char starts are kept in a ring (no per-item vector).
    let mut starts = [0usize; SHINGLE + 1];
    let mut chars = 0usize;
    let mut spaces = SingleSpaces::default();
    for (i, c) in lower.char_indices() {
        if check != Check::Nothing && !lowercase_of_itself(c) {
            return None;
        }
        if check == Check::NormalAndLower && !spaces.accept(c) {
            return None;
        }
        if chars >= SHINGLE {
            votes.add(xxh3_64(
                lower
                    .as_bytes()
                    .get(starts[(chars - SHINGLE) % (SHINGLE + 1)]..i)?,
            ));
        }
        starts[chars % (SHINGLE + 1)] = i;
        chars += 1;
    }
    if check == Check::NormalAndLower && !spaces.ends_well() {
        return None;
    }
    if chars >= SHINGLE {
        // The shingle ending at the end of the text (the whole text when it has SHINGLE chars).
        votes.add(xxh3_64(
            lower
                .as_bytes()
                .get(starts[(chars - SHINGLE) % (SHINGLE + 1)]..)?,
        ));
    } else {
        votes.add(xxh3_64(lower.as_bytes()));
    }
    Some(votes.majority())
}

/// Per-bit counts of set bits over a stream of 64-bit hashes, and their majority vote.
///
/// Eight `u64` lanes of eight byte counters (lane `k`, byte `j`: bit `8k + j`), fed through a
/// table that spreads each hash byte's bits into bytes: eight loads and adds per hash, no
/// branch; the bytes are emptied into `u32` totals every 255 hashes, before they can overflow.
struct BitVotes {
    lanes: [u64; 8],
    in_lanes: u32,
    totals: [u32; 64],
    n: u64,
}

/// `SPREAD[b]`: byte `j` is bit `j` of `b`.
const SPREAD: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut j = 0;
        while j < 8 {
            t[b] |= (((b >> j) & 1) as u64) << (8 * j);
            j += 1;
        }
        b += 1;
    }
    t
};

impl BitVotes {
    fn new() -> BitVotes {
        BitVotes {
            lanes: [0; 8],
            in_lanes: 0,
            totals: [0; 64],
            n: 0,
        }
    }

    #[inline(always)]
    fn add(&mut self, h: u64) {
        for (k, lane) in self.lanes.iter_mut().enumerate() {
            *lane += SPREAD[((h >> (8 * k)) & 0xff) as usize];
        }
        self.n += 1;
        self.in_lanes += 1;
        if self.in_lanes == 255 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for (k, lane) in self.lanes.iter_mut().enumerate() {
            for (j, byte) in lane.to_le_bytes().into_iter().enumerate() {
                self.totals[8 * k + j] += u32::from(byte);
            }
            *lane = 0;
        }
        self.in_lanes = 0;
    }

    /// Bit `b` set when more than half of the hashes have bit `b` set.
    fn majority(mut self) -> u64 {
        self.flush();
        let mut out = 0u64;
        for (bit, &ones) in self.totals.iter().enumerate() {
            if 2 * u64::from(ones) > self.n {
                out |= 1 << bit;
            }
        }
        out
    }
}

/// `str::to_lowercase`, without converting or copying text that has nothing to lower-case:
/// most of a Chinese corpus is ideographs, CJK and full-width punctuation, and ASCII, which
/// `to_lowercase` looks up char by char in its case table (7 % of a one-thread audit scan).
/// The result is exactly `to_lowercase`'s: a text is borrowed only when each of its chars is
/// its own lower case (a range test first, the case table for the rest, such as emoji), and
/// the one context rule of `to_lowercase`, the final sigma, concerns a char that is not.
fn lowercase(s: &str) -> std::borrow::Cow<'_, str> {
    let own_lower = |c: char| {
        lowercase_of_itself(c) || {
            let mut l = c.to_lowercase();
            l.len() == 1 && l.next() == Some(c)
        }
    };
    if s.chars().all(own_lower) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.to_lowercase())
    }
}

/// Chars known to be their own lower case (a fast test, not a complete one).
fn lowercase_of_itself(c: char) -> bool {
    match c {
        '\0'..='\x7f' => !c.is_ascii_uppercase(),
        '\u{3000}'..='\u{303F}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' => true,
        // Full-width forms except the letters.
        '\u{FF01}'..='\u{FF20}' | '\u{FF3B}'..='\u{FF40}' | '\u{FF5B}'..='\u{FF65}' => true,
        _ => false,
    }
}

/// Per-source dedup state: every item's exact hash and SimHash, kept sorted (canonical) so
/// that equal inputs serialise identically whatever the thread count or shard split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DedupState {
    exact: Vec<u64>,
    simhash: Vec<u64>,
}

impl DedupState {
    /// Adds one item.
    pub fn push(&mut self, h: ItemHashes) {
        self.exact.push(h.exact);
        self.simhash.push(h.simhash);
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.exact.len()
    }

    /// Whether no item was added.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// Adds another shard's items.
    pub fn merge(&mut self, other: DedupState) {
        self.exact.extend(other.exact);
        self.simhash.extend(other.simhash);
        self.canonicalize();
    }

    /// Sorts both lists (the canonical form).
    pub fn canonicalize(&mut self) {
        self.exact.par_sort_unstable();
        self.simhash.par_sort_unstable();
    }

    /// The exact hashes (sorted after [`DedupState::canonicalize`]).
    pub fn exact_hashes(&self) -> &[u64] {
        &self.exact
    }

    /// The SimHashes (sorted after [`DedupState::canonicalize`]).
    pub fn simhashes(&self) -> &[u64] {
        &self.simhash
    }
}

fn encode_u64s(v: &[u64]) -> String {
    let mut sorted;
    let v = if v.is_sorted() {
        v
    } else {
        sorted = v.to_vec();
        sorted.sort_unstable();
        &sorted
    };
    let mut bytes = Vec::with_capacity(v.len() * 8);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

fn decode_u64s(s: &str, items: u64) -> Result<Vec<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s)
        .map_err(|e| format!("invalid base64 hash list: {e}"))?;
    if bytes.len() as u64 != items.saturating_mul(8) {
        return Err(format!(
            "hash list holds {} bytes, expected {} for {items} items",
            bytes.len(),
            items * 8
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            u64::from_le_bytes(a)
        })
        .collect())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DedupWire {
    items: u64,
    exact: String,
    simhash: String,
}

impl Serialize for DedupState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DedupWire {
            items: self.exact.len() as u64,
            exact: encode_u64s(&self.exact),
            simhash: encode_u64s(&self.simhash),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for DedupState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = DedupWire::deserialize(d)?;
        let exact = decode_u64s(&w.exact, w.items).map_err(serde::de::Error::custom)?;
        let simhash = decode_u64s(&w.simhash, w.items).map_err(serde::de::Error::custom)?;
        Ok(DedupState { exact, simhash })
    }
}

/// Duplicate counts of one source or of the whole corpus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DedupCounts {
    /// Items.
    pub items: u64,
    /// Items that repeat an earlier identical (normalised) text: `items − distinct`.
    pub exact_duplicates: u64,
    /// Items beyond the first of each near-duplicate cluster: `items − clusters`.
    pub near_duplicates: u64,
    /// Items whose normalised text also occurs in another source (0 for the corpus).
    pub cross_source_exact: u64,
    /// `exact_duplicates / items` (0 when empty).
    pub exact_duplicate_rate: f64,
    /// `near_duplicates / items` (0 when empty).
    pub near_duplicate_rate: f64,
}

impl DedupCounts {
    fn new(
        items: u64,
        exact_duplicates: u64,
        near_duplicates: u64,
        cross_source_exact: u64,
    ) -> Self {
        let rate = |x: u64| {
            if items == 0 {
                0.0
            } else {
                x as f64 / items as f64
            }
        };
        DedupCounts {
            items,
            exact_duplicates,
            near_duplicates,
            cross_source_exact,
            exact_duplicate_rate: rate(exact_duplicates),
            near_duplicate_rate: rate(near_duplicates),
        }
    }
}

fn sorted_distinct(v: &[u64]) -> Vec<u64> {
    let mut d = v.to_vec();
    if !d.is_sorted() {
        d.par_sort_unstable();
    }
    d.dedup();
    d
}

struct UnionFind(Vec<u64>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] as usize != x {
            let grand = self.0[self.0[x] as usize];
            self.0[x] = grand;
            x = grand as usize;
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo as u64;
        }
    }
}

const BLOCKS: [(u32, u32); 5] = [(0, 13), (13, 13), (26, 13), (39, 13), (52, 12)];
const IDX_BITS: u32 = 38;

/// Number of near-duplicate clusters (Hamming ≤ [`NEAR_BITS`]) among distinct, sorted SimHashes.
pub fn near_clusters(distinct_sorted: &[u64]) -> u64 {
    let vals = distinct_sorted;
    let n = vals.len();
    if n <= 1 || n as u64 >= (1 << IDX_BITS) {
        return n as u64;
    }
    let mut uf = UnionFind((0..n as u64).collect());
    let mut keyed: Vec<u64> = Vec::with_capacity(n);
    let idx_mask = (1u64 << IDX_BITS) - 1;
    for (a, &(oa, wa)) in BLOCKS.iter().enumerate() {
        for &(ob, wb) in &BLOCKS[a + 1..] {
            keyed.clear();
            keyed.extend(vals.iter().enumerate().map(|(i, &v)| {
                let ka = (v >> oa) & ((1 << wa) - 1);
                let kb = (v >> ob) & ((1 << wb) - 1);
                (((ka << 13) | kb) << IDX_BITS) | i as u64
            }));
            keyed.par_sort_unstable();
            let mut start = 0;
            while start < n {
                let key = keyed[start] >> IDX_BITS;
                let mut end = start + 1;
                while end < n && keyed[end] >> IDX_BITS == key {
                    end += 1;
                }
                for x in start..end {
                    let i = (keyed[x] & idx_mask) as usize;
                    for &y in &keyed[x + 1..end.min(x + 1 + NEAR_WINDOW)] {
                        let j = (y & idx_mask) as usize;
                        if (vals[i] ^ vals[j]).count_ones() <= NEAR_BITS {
                            uf.union(i, j);
                        }
                    }
                }
                start = end;
            }
        }
    }
    (0..n).filter(|&i| uf.find(i) == i).count() as u64
}

/// Duplicate counts per source (in the given order) and for the whole corpus.
pub fn analyze(sources: &[&DedupState]) -> (Vec<DedupCounts>, DedupCounts) {
    // Hashes that occur in two or more sources.
    let mut pairs: Vec<(u64, usize)> = Vec::new();
    let distinct_exact: Vec<Vec<u64>> = sources.iter().map(|s| sorted_distinct(&s.exact)).collect();
    for (si, d) in distinct_exact.iter().enumerate() {
        pairs.extend(d.iter().map(|&h| (h, si)));
    }
    pairs.par_sort_unstable();
    let mut multi: Vec<u64> = Vec::new();
    for w in pairs.windows(2) {
        if w[0].0 == w[1].0 && multi.last() != Some(&w[0].0) {
            multi.push(w[0].0);
        }
    }
    let per: Vec<DedupCounts> = sources
        .iter()
        .zip(&distinct_exact)
        .map(|(s, distinct)| {
            let items = s.exact.len() as u64;
            let cross = s
                .exact
                .iter()
                .filter(|h| multi.binary_search(h).is_ok())
                .count() as u64;
            let sims = sorted_distinct(&s.simhash);
            let clusters = near_clusters(&sims);
            DedupCounts::new(
                items,
                items - distinct.len() as u64,
                items - clusters,
                cross,
            )
        })
        .collect();
    let items: u64 = sources.iter().map(|s| s.exact.len() as u64).sum();
    let mut all_exact: Vec<u64> = distinct_exact.concat();
    all_exact.par_sort_unstable();
    all_exact.dedup();
    let mut all_sims: Vec<u64> = sources
        .iter()
        .flat_map(|s| s.simhash.iter().copied())
        .collect();
    all_sims.par_sort_unstable();
    all_sims.dedup();
    let corpus = DedupCounts::new(
        items,
        items - all_exact.len() as u64,
        items - near_clusters(&all_sims),
        0,
    );
    (per, corpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, written plainly: every char-boundary offset collected, each SHINGLE-char
    /// window (or the whole text when shorter) hashed, then the majority vote per bit.
    fn reference_simhash(norm: &str) -> u64 {
        let lower = norm.to_lowercase();
        let bounds: Vec<usize> = lower
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(lower.len()))
            .collect();
        let chars = bounds.len() - 1;
        let shingles: Vec<&str> = if chars <= SHINGLE {
            vec![&lower[..]]
        } else {
            (0..=chars - SHINGLE)
                .map(|i| &lower[bounds[i]..bounds[i + SHINGLE]])
                .collect()
        };
        let mut out = 0;
        for bit in 0..64 {
            let ones = shingles
                .iter()
                .filter(|s| xxh3_64(s.as_bytes()) >> bit & 1 == 1)
                .count();
            if 2 * ones > shingles.len() {
                out |= 1 << bit;
            }
        }
        out
    }

    #[test]
    fn simhash_equals_the_plain_definition_at_every_length() {
        let base = "中文，ＡＢ！Hello 世界 ΣΑΣ 全角：１２３ abc def";
        let chars: Vec<char> = base.chars().collect();
        for len in 0..=chars.len() {
            for start in [0, 1, 3] {
                let s: String = chars.iter().skip(start).take(len).collect();
                assert_eq!(simhash_normalized(&s), reference_simhash(&s), "{s:?}");
            }
        }
        // Long texts: the per-bit counters are emptied every 255 shingles. Varied chars (an
        // LCG over CJK ideographs and ASCII) so that the votes are not all alike.
        let mut x: u32 = 12345;
        let long: String = (0..3000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if x >> 28 == 0 {
                    char::from(b'a' + (x >> 8) as u8 % 26)
                } else {
                    char::from_u32(0x4E00 + (x >> 8) % 500).unwrap_or('中')
                }
            })
            .collect();
        let long: Vec<char> = long.chars().collect();
        for len in [254, 255, 256, 259, 260, 261, 600, 3000] {
            let s: String = long.iter().take(len).collect();
            assert_eq!(
                simhash_normalized(&s),
                reference_simhash(&s),
                "length {len}"
            );
            let upper = s.to_uppercase();
            assert_eq!(
                simhash_normalized(&upper),
                reference_simhash(&upper),
                "upper {len}"
            );
            // Every shingle alike: each set bit counts every shingle, the counters' worst case.
            let same = "哈".repeat(len);
            assert_eq!(
                simhash_normalized(&same),
                reference_simhash(&same),
                "哈 × {len}"
            );
        }
    }

    /// Texts around the normalisation rules: whitespace of every kind, at either end and
    /// doubled, upper case, repeats, and chars beyond the BMP.
    const NORMAL_FORM_CASES: &[&str] = &[
        "",
        " ",
        "a",
        " a",
        "a ",
        "a  b",
        "a b",
        "a b c",
        "a\tb",
        "a\u{b}b",
        "\n",
        "x\n",
        "中\u{3000}文",
        "中文 文本",
        "中文",
        "ABC abc",
        "Hello 世界",
        "哈哈哈哈哈哈",
        "一二三四五",
        "一二三四五六",
        "  前后  ",
        "ΣΑΣ",
        "好😀…ß",
    ];

    #[test]
    fn item_hashes_are_those_of_the_normalised_text() {
        for &s in NORMAL_FORM_CASES {
            let norm = normalize(s);
            let want = ItemHashes {
                exact: xxh3_64(norm.as_bytes()),
                simhash: reference_simhash(&norm),
            };
            assert_eq!(hash_item(s), want, "{s:?}");
        }
    }

    #[test]
    fn normalisation_borrows_only_what_is_already_normal() {
        for &s in NORMAL_FORM_CASES {
            let plain = s.split_whitespace().collect::<Vec<_>>().join(" ");
            let n = normalized(s);
            assert_eq!(n, plain, "{s:?}");
            assert_eq!(
                matches!(n, std::borrow::Cow::Borrowed(_)),
                plain == s,
                "{s:?}"
            );
        }
    }

    #[test]
    fn the_fast_lowercase_test_only_passes_chars_that_lowercase_to_themselves() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if lowercase_of_itself(c) {
                assert!(c.to_lowercase().eq(std::iter::once(c)), "{c:?}");
            }
        }
    }

    #[test]
    fn lowercase_equals_the_standard_one() {
        for s in [
            "中文，ＡＢ！",
            "abc 中文",
            "ΣΑΣ ΟΔΟΣ",
            "HELLO 世界",
            "全角：１２３",
            "",
            "好😀…ß",
            "好😀Σ",
            "İ",
            "ǅ",
        ] {
            assert_eq!(lowercase(s), s.to_lowercase(), "{s}");
        }
        for s in ["中文，abc。", "哈哈😀…—“好”", "straße"] {
            assert!(matches!(lowercase(s), std::borrow::Cow::Borrowed(_)), "{s}");
        }
    }
}
