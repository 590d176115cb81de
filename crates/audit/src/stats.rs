//! Mergeable statistics: the Wilson score interval, a log2 length histogram with bucket
//! quantiles, and the per-item majority-script mix (Han / Latin / other).
//!
//! Every aggregate here is a sum of per-item contributions, so merging shard aggregates is
//! plain addition and gives exactly the single-run result.

use serde::{Deserialize, Serialize};

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.96;

/// A closed interval `[low, high]` of proportions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// Whether `p` lies in the interval.
    pub fn contains(&self, p: f64) -> bool {
        self.low <= p && p <= self.high
    }
}

/// Wilson score interval for `successes` out of `n` at z = 1.96 (95%).
///
/// With `n = 0` nothing is known and the interval is `[0, 1]`. Hand-written: it is three lines
/// of arithmetic, not worth a statistics dependency.
pub fn wilson(successes: u64, n: u64) -> Interval {
    wilson_z(successes, n, Z95)
}

/// Wilson score interval with an explicit z.
pub fn wilson_z(successes: u64, n: u64, z: f64) -> Interval {
    if n == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let n_f = n as f64;
    let p = (successes.min(n) as f64) / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z / denom * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// A proportion with its Wilson 95% interval, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateCi {
    /// Numerator.
    pub count: u64,
    /// Denominator.
    pub total: u64,
    /// `count / total`; `None` when `total` is 0.
    pub rate: Option<f64>,
    /// Wilson 95% lower bound (`None` when `total` is 0).
    pub ci95_low: Option<f64>,
    /// Wilson 95% upper bound (`None` when `total` is 0).
    pub ci95_high: Option<f64>,
}

impl RateCi {
    /// `count` of `total`.
    pub fn new(count: u64, total: u64) -> Self {
        if total == 0 {
            return RateCi {
                count,
                total,
                rate: None,
                ci95_low: None,
                ci95_high: None,
            };
        }
        let ci = wilson(count, total);
        RateCi {
            count,
            total,
            rate: Some(count as f64 / total as f64),
            ci95_low: Some(ci.low),
            ci95_high: Some(ci.high),
        }
    }
}

/// Text lengths in characters, in log2 buckets: bucket 0 holds length 0, bucket `b ≥ 1` holds
/// lengths in `[2^(b-1), 2^b - 1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LengthHistogram {
    /// Item counts per bucket (trailing empty buckets omitted).
    pub buckets: Vec<u64>,
    /// Number of items.
    pub count: u64,
    /// Sum of lengths.
    pub total_chars: u64,
    /// Shortest item (`None` when empty).
    pub min: Option<u64>,
    /// Longest item.
    pub max: u64,
}

/// The bucket of a length.
pub fn length_bucket(len: u64) -> usize {
    if len == 0 {
        0
    } else {
        (64 - len.leading_zeros()) as usize
    }
}

/// The inclusive length range of a bucket.
pub fn bucket_range(bucket: usize) -> (u64, u64) {
    match bucket {
        0 => (0, 0),
        b if b >= 64 => (1u64 << 63, u64::MAX),
        b => (1u64 << (b - 1), (1u64 << b) - 1),
    }
}

impl LengthHistogram {
    /// Adds one item of `len` characters.
    pub fn add(&mut self, len: u64) {
        let b = length_bucket(len);
        if self.buckets.len() <= b {
            self.buckets.resize(b + 1, 0);
        }
        self.buckets[b] += 1;
        self.count += 1;
        self.total_chars += len;
        self.min = Some(self.min.map_or(len, |m| m.min(len)));
        self.max = self.max.max(len);
    }

    /// Adds another histogram.
    pub fn merge(&mut self, other: &LengthHistogram) {
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.total_chars += other.total_chars;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = self.max.max(other.max);
    }

    /// Mean length.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.total_chars as f64 / self.count as f64)
    }

    /// The bucket range holding the `q` quantile (0 < q ≤ 1), clamped to the observed
    /// min/max. Exact to within a factor of two, and mergeable.
    pub fn quantile(&self, q: f64) -> Option<(u64, u64)> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (lo, hi) = bucket_range(b);
                let lo = lo.max(self.min.unwrap_or(0));
                return Some((lo, hi.min(self.max)));
            }
        }
        Some((self.max, self.max))
    }
}

/// The majority script of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    /// Han characters (Chinese).
    Han,
    /// Latin letters.
    Latin,
    /// Letters of any other script.
    Other,
    /// No letters at all (digits, punctuation, emoji).
    None,
}

/// Whether `c` is a Han ideograph. Hand-written ranges (no `unicode-script` dependency): the
/// CJK Unified Ideographs blocks and extensions, compatibility ideographs, and 々 〇.
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3005 | 0x3007
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2EBEF
        | 0x2F800..=0x2FA1F
        | 0x30000..=0x323AF)
}

/// Whether `c` is a Latin letter (ASCII, Latin-1 / Extended-A/B, Extended Additional,
/// full-width).
pub fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (matches!(c as u32, 0x00C0..=0x024F | 0x1E00..=0x1EFF | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A)
            && c.is_alphabetic())
}

/// CJK and full-width punctuation and digits, none of them letters: a range test that spares
/// Chinese text `is_alphabetic`'s table search for its punctuation.
fn is_cjk_punctuation(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{3004}' | '\u{3008}'..='\u{3020}' | '\u{FF01}'..='\u{FF20}')
}

/// The script most of the text's letters belong to (ties: Han, then Latin, then other).
pub fn majority_script(text: &str) -> Script {
    script_and_length(text).0
}

/// [`majority_script`] and the text's length in chars, in one pass.
pub fn script_and_length(text: &str) -> (Script, u64) {
    let (mut han, mut latin, mut other, mut chars) = (0u64, 0u64, 0u64, 0u64);
    for c in text.chars() {
        chars += 1;
        if is_han(c) {
            han += 1;
        } else if is_latin(c) {
            latin += 1;
        } else if !is_cjk_punctuation(c) && c.is_alphabetic() {
            other += 1;
        }
    }
    let script = if han == 0 && latin == 0 && other == 0 {
        Script::None
    } else if han >= latin && han >= other {
        Script::Han
    } else if latin >= other {
        Script::Latin
    } else {
        Script::Other
    };
    (script, chars)
}

/// Items per majority script.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptMix {
    /// Mostly Han.
    pub han: u64,
    /// Mostly Latin.
    pub latin: u64,
    /// Mostly another script.
    pub other: u64,
    /// No letters.
    pub none: u64,
}

impl ScriptMix {
    /// Counts one item.
    pub fn add(&mut self, s: Script) {
        match s {
            Script::Han => self.han += 1,
            Script::Latin => self.latin += 1,
            Script::Other => self.other += 1,
            Script::None => self.none += 1,
        }
    }

    /// Adds another mix.
    pub fn merge(&mut self, o: &ScriptMix) {
        self.han += o.han;
        self.latin += o.latin;
        self.other += o.other;
        self.none += o.none;
    }

    /// Total items.
    pub fn total(&self) -> u64 {
        self.han + self.latin + self.other + self.none
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_punctuation_shortcut_passes_over_no_letter() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if is_cjk_punctuation(c) {
                assert!(!c.is_alphabetic(), "{c:?} U+{:04X}", c as u32);
            }
        }
    }
}
