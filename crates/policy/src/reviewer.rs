//! The lexicon reviewer: one pass of normalisation and multi-pattern matching, batch or
//! streaming.
//!
//! Every original char is normalised ([`crate::normalize`]) and the normalised chars are fed
//! into an Aho–Corasick automaton (the `aho-corasick` crate's DFA, or its contiguous NFA for
//! large lexicons), one or two bytes of a dense code per char ([`Alphabet`]; UTF-8 for
//! alphabets beyond 16,384 chars), whose state is kept between chunks, so a stream costs
//! amortised O(1) per char however it is split. A ring buffer remembers the original offset of
//! the last few normalised chars, which maps every match back to the original text.
//!
//! Batch review is the streaming scanner fed one chunk, so the two agree by construction.

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{dfa, nfa, Anchored, MatchKind};
use hegui_types::{Action, Decision, MatchInfo, Severity, Stage};
use sha2::{Digest, Sha256};

use crate::lexicon::{Lexicon, LexiconError};
use crate::normalize::{Normalizer, Step, SEPARATOR};
use crate::policy::ReviewPolicy;
use crate::{Review, Reviewer, StreamReview, StreamStep};

/// The demonstration lexicon shipped with hegui (`lexicons/demo.toml`).
pub const DEMO_LEXICON: &str = include_str!("../../../lexicons/demo.toml");

/// Above this many pattern bytes the automaton is a contiguous NFA rather than a DFA: a DFA
/// is about twice as fast per byte but its transition table grows with patterns × byte
/// classes.
const DFA_MAX_PATTERN_BYTES: usize = 400_000;

/// Allow and flag matches listed in one decision; further ones are only counted
/// ([`Decision::omitted_matches`]), so a text that matches a large lexicon everywhere does not
/// produce an unbounded record. Mask, block and safe-answer matches are always listed.
pub const MAX_LISTED_LOW_MATCHES: usize = 1000;

/// A rule's actions and risk index, packed for the scan's hot path.
#[derive(Debug, Clone, Copy)]
struct RuleFast {
    actions: [Action; 2],
    risk_ix: u16,
}

/// [`Inner::plain_rule`] for patterns that need the general path.
const NOT_PLAIN: u32 = u32::MAX;

/// What one lexicon entry asks for when it matches.
#[derive(Debug)]
struct Rule {
    id: Arc<str>,
    risk: Arc<str>,
    /// Index of `risk` in [`Inner::risk_names`].
    risk_ix: usize,
    severity: Severity,
    /// Action at input and at output review.
    actions: [Action; 2],
    /// How many normalised chars, counted from the start of a match, an exception context can
    /// still reach (0: the entry has none): the match waits that long before it counts.
    exception_chars: usize,
}

/// What a pattern found by the automaton means (one pattern may mean several things: the same
/// normalised text can be a term in two lexicons, or a term in one and an exception in another).
#[derive(Debug, Clone, Copy)]
enum Target {
    Term(u32),
    Exception(u32),
    Atom { combo: u32, bit: u8, negative: bool },
}

#[derive(Debug)]
struct Combo {
    rule: u32,
    all_mask: u32,
}

#[derive(Debug)]
enum Matcher {
    None,
    Dfa(dfa::DFA),
    Nfa(nfa::contiguous::NFA),
}

#[derive(Debug)]
struct Inner {
    version: String,
    lexicon_versions: Vec<(String, String)>,
    matcher: Matcher,
    /// Per pattern: what it means.
    targets: Vec<Vec<Target>>,
    /// Per pattern: its length in normalised chars.
    pattern_chars: Vec<u32>,
    /// Per pattern: the rule when the pattern means exactly one term without exception
    /// contexts (the fast path), else [`NOT_PLAIN`].
    plain_rule: Vec<u32>,
    rules: Vec<Rule>,
    /// Per rule, what the scan needs for every match, packed (4 bytes a rule).
    rule_fast: Vec<RuleFast>,
    /// The distinct risk codes of the rules.
    risk_names: Vec<String>,
    combos: Vec<Combo>,
    /// Longest pattern in normalised chars, minus one: how much a stream must hold back.
    hold_chars: usize,
    /// Ring buffer size − 1 (a power of two above the longest pattern).
    ring_mask: usize,
    /// The chars that occur in some pattern. Any other char sends the automaton back to its
    /// start state (no pattern can span it), which saves stepping through its bytes.
    alphabet: Alphabet,
    term_count: usize,
    /// PII detection and the action per kind at input and output, when enabled.
    pii: Option<Vec<(hegui_pii::PiiKind, [Action; 2])>>,
}

/// A [`Reviewer`] that matches lexicon terms against normalised text.
///
/// Cheap to clone: clones share one matcher.
#[derive(Debug, Clone)]
pub struct LexiconReviewer {
    inner: Arc<Inner>,
}

/// Collects the patterns while building.
#[derive(Default)]
struct Patterns {
    strings: Vec<String>,
    targets: Vec<Vec<Target>>,
    index: HashMap<String, usize>,
}

impl Patterns {
    fn add(&mut self, pattern: &str, target: Target) {
        let id = match self.index.get(pattern) {
            Some(&id) => id,
            None => {
                self.strings.push(pattern.to_string());
                self.targets.push(Vec::new());
                self.index
                    .insert(pattern.to_string(), self.strings.len() - 1);
                self.strings.len() - 1
            }
        };
        if let Some(t) = self.targets.get_mut(id) {
            t.push(target);
        }
    }
}

impl LexiconReviewer {
    /// Builds a reviewer from lexicons under the default policy; names must be distinct.
    pub fn new(lexicons: Vec<Lexicon>) -> Result<LexiconReviewer, LexiconError> {
        LexiconReviewer::with_policy(lexicons, &ReviewPolicy::default())
    }

    /// Builds a reviewer from lexicons and a decision policy; names must be distinct.
    pub fn with_policy(
        lexicons: Vec<Lexicon>,
        policy: &ReviewPolicy,
    ) -> Result<LexiconReviewer, LexiconError> {
        LexiconReviewer::build(lexicons, policy, true)
    }

    /// Builds a reviewer; `pii` turns the personal-information detectors on (see
    /// [`hegui_pii`]: resident ID numbers, mobile numbers, bank cards, e-mail addresses,
    /// unified social credit codes), whose findings the policy maps to actions like any other
    /// (by default flag on input, mask on output).
    pub fn build(
        lexicons: Vec<Lexicon>,
        policy: &ReviewPolicy,
        pii: bool,
    ) -> Result<LexiconReviewer, LexiconError> {
        let mut by_name: HashMap<&str, &Lexicon> = HashMap::new();
        for lex in &lexicons {
            if let Some(first) = by_name.insert(lex.name(), lex) {
                return Err(LexiconError::DuplicateName {
                    name: lex.name().to_string(),
                    first: first.source_name().to_string(),
                    second: lex.source_name().to_string(),
                });
            }
        }

        let mut lexicon_versions: Vec<(String, String)> = lexicons
            .iter()
            .map(|l| (l.name().to_string(), l.version().to_string()))
            .collect();
        lexicon_versions.sort();
        let mut hasher = Sha256::new();
        for (name, version) in &lexicon_versions {
            // Names are [a-z0-9_-]+ and versions hex, so '=' and '\n' cannot be ambiguous.
            hasher.update(format!("{name}={version}\n").as_bytes());
        }
        hasher.update(format!("policy={}\npii={pii}\n", policy.fingerprint()).as_bytes());
        let digest = hex::encode(hasher.finalize());
        let version = format!("lex-{}", digest.get(..16).unwrap_or(&digest));

        let mut patterns = Patterns::default();
        let mut rules: Vec<Rule> = Vec::new();
        let mut combos: Vec<Combo> = Vec::new();
        let mut risk_index: HashMap<String, usize> = HashMap::new();
        // One shared string per risk code, cloned into every match by reference count.
        let mut shared_risks: HashMap<String, Arc<str>> = HashMap::new();
        let mut term_count = 0;
        for lex in &lexicons {
            for entry in lex.entries() {
                term_count += 1;
                let risk = entry.risk().to_string();
                let severity = entry.severity();
                let actions = [Stage::Input, Stage::Output].map(|stage| {
                    entry
                        .action()
                        .unwrap_or_else(|| policy.action(&risk, severity, stage))
                });
                let rule_id = u32::try_from(rules.len()).map_err(|_| too_many())?;
                let next_ix = risk_index.len();
                let risk_ix = *risk_index.entry(risk.clone()).or_insert(next_ix);
                let risk: Arc<str> = Arc::clone(
                    shared_risks
                        .entry(risk)
                        .or_insert_with_key(|r| Arc::from(r.as_str())),
                );
                rules.push(Rule {
                    id: format!("{}:{}", lex.name(), entry.line()).into(),
                    risk,
                    risk_ix,
                    severity,
                    actions,
                    exception_chars: entry
                        .exceptions()
                        .iter()
                        .map(|e| chars_from_term(e, entry.normalized_term()))
                        .max()
                        .unwrap_or(0),
                });
                if let Some(c) = entry.combination() {
                    let combo = u32::try_from(combos.len()).map_err(|_| too_many())?;
                    let mut all_mask = 0u32;
                    for (bit, atom) in c.all.iter().enumerate() {
                        let bit = u8::try_from(bit).map_err(|_| too_many())?;
                        all_mask |= 1 << bit;
                        patterns.add(
                            atom,
                            Target::Atom {
                                combo,
                                bit,
                                negative: false,
                            },
                        );
                    }
                    for atom in &c.none {
                        patterns.add(
                            atom,
                            Target::Atom {
                                combo,
                                bit: 0,
                                negative: true,
                            },
                        );
                    }
                    combos.push(Combo {
                        rule: rule_id,
                        all_mask,
                    });
                    continue;
                }
                patterns.add(entry.normalized_term(), Target::Term(rule_id));
                for v in entry.variants() {
                    patterns.add(v, Target::Term(rule_id));
                }
                for e in entry.exceptions() {
                    patterns.add(e, Target::Exception(rule_id));
                }
            }
        }

        let pattern_chars: Vec<u32> = patterns
            .strings
            .iter()
            .map(|p| u32::try_from(p.chars().count()).unwrap_or(u32::MAX))
            .collect();
        let longest = pattern_chars.iter().copied().max().unwrap_or(0) as usize;
        let total_bytes: usize = patterns.strings.iter().map(String::len).sum();
        let alphabet = Alphabet::new(&patterns.strings);
        let encoded: Vec<Vec<u8>> = patterns
            .strings
            .iter()
            .map(|p| alphabet.encode(p))
            .collect();
        let matcher = build_matcher(&encoded, total_bytes, alphabet.dense.is_some())?;
        if risk_index.len() > usize::from(u16::MAX) {
            return Err(LexiconError::Matcher {
                message: "more than 65535 distinct risk codes".into(),
            });
        }
        let rule_fast = rules
            .iter()
            .map(|r| RuleFast {
                actions: r.actions,
                risk_ix: u16::try_from(r.risk_ix).unwrap_or(u16::MAX),
            })
            .collect();
        let plain_rule = patterns
            .targets
            .iter()
            .map(|t| match t.as_slice() {
                [Target::Term(rule)]
                    if rules
                        .get(*rule as usize)
                        .is_some_and(|r| r.exception_chars == 0) =>
                {
                    *rule
                }
                _ => NOT_PLAIN,
            })
            .collect();
        let mut risk_names = vec![String::new(); risk_index.len()];
        for (name, ix) in risk_index {
            if let Some(slot) = risk_names.get_mut(ix) {
                *slot = name;
            }
        }

        Ok(LexiconReviewer {
            inner: Arc::new(Inner {
                version,
                lexicon_versions,
                matcher,
                targets: patterns.targets,
                pattern_chars,
                plain_rule,
                rules,
                rule_fast,
                risk_names,
                combos,
                hold_chars: longest.saturating_sub(1),
                ring_mask: (longest + 1).next_power_of_two() - 1,
                alphabet,
                term_count,
                pii: pii.then(|| {
                    hegui_pii::PiiKind::ALL
                        .iter()
                        .map(|&k| {
                            let actions = [Stage::Input, Stage::Output]
                                .map(|st| policy.action(k.code(), Severity::Medium, st));
                            (k, actions)
                        })
                        .collect()
                }),
            }),
        })
    }

    /// Builds a reviewer from the embedded demonstration lexicon ([`DEMO_LEXICON`]).
    pub fn demo() -> Result<LexiconReviewer, LexiconError> {
        LexiconReviewer::new(vec![Lexicon::parse("lexicons/demo.toml", DEMO_LEXICON)?])
    }

    /// The `(name, version)` of every lexicon in force, sorted by name.
    pub fn lexicon_versions(&self) -> &[(String, String)] {
        &self.inner.lexicon_versions
    }

    /// How many chars a stream holds back at most: the longest term's length minus one.
    pub fn max_held_chars(&self) -> usize {
        self.inner.hold_chars
    }

    /// How many entries the lexicons in force have.
    pub fn term_count(&self) -> usize {
        self.inner.term_count
    }

    /// Which automaton is in use and its heap size in bytes.
    pub fn matcher_info(&self) -> (&'static str, usize) {
        match &self.inner.matcher {
            Matcher::None => ("none", 0),
            Matcher::Dfa(d) => ("dfa", d.memory_usage()),
            Matcher::Nfa(n) => ("contiguous-nfa", n.memory_usage()),
        }
    }
}

/// Chars of `exception` from the first occurrence of `term` in it to its end.
fn chars_from_term(exception: &str, term: &str) -> usize {
    let at = exception.find(term).unwrap_or(0);
    exception.get(at..).map_or(0, |rest| rest.chars().count())
}

fn too_many() -> LexiconError {
    LexiconError::Matcher {
        message: "more than 2^32 entries or combination terms".into(),
    }
}

/// The automaton over `patterns` (in the [`Alphabet`]'s code; `total_bytes` is their UTF-8
/// size). In the dense code a state near the root has up to 256 byte classes, so only the
/// start state gets a dense transition table (measured with the 100k-word jieba lexicon:
/// depth 1 scans 16-17 M chars/s with a 4.8 MB automaton, the crate's default depth 2
/// 14-16 M chars/s with 13 MB); UTF-8 keeps the default.
fn build_matcher(
    patterns: &[Vec<u8>],
    total_bytes: usize,
    dense: bool,
) -> Result<Matcher, LexiconError> {
    let dense_depth = if dense { 1 } else { 2 };
    if patterns.is_empty() {
        return Ok(Matcher::None);
    }
    let err = |e: aho_corasick::BuildError| LexiconError::Matcher {
        message: e.to_string(),
    };
    if total_bytes <= DFA_MAX_PATTERN_BYTES {
        if let Ok(d) = dfa::Builder::new()
            .match_kind(MatchKind::Standard)
            .start_kind(aho_corasick::StartKind::Unanchored)
            .byte_classes(true)
            .build(patterns)
        {
            return Ok(Matcher::Dfa(d));
        }
    }
    let n = nfa::contiguous::Builder::new()
        .match_kind(MatchKind::Standard)
        .dense_depth(dense_depth)
        .build(patterns)
        .map_err(err)?;
    Ok(Matcher::Nfa(n))
}

/// The chars that occur in some pattern, and the bytes the automaton sees for each.
///
/// Patterns and text are fed to the automaton in a dense code rather than UTF-8 when the
/// lexicons use at most [`DENSE_CODES`] distinct chars: the `k` most frequent chars in the
/// patterns (ASCII first) get one byte `0..k`, every other char two bytes, a lead `k..128`
/// and a trail `128..256`. A Han char then costs the automaton one or two steps instead of
/// UTF-8's three. Like UTF-8 the code is self-synchronising (a pattern starts with a byte below
/// 128, which in the text only ever starts a char, and ends with a single byte or a trail,
/// which only ever ends one), so a pattern matches exactly where its chars occur. Larger
/// alphabets keep UTF-8. The crate's automaton is unchanged; only its input alphabet is
/// remapped, which no automaton crate does for us.
#[derive(Debug, Default)]
struct Alphabet {
    /// Per BMP code point: 0 when no pattern contains it, else its code index + 1 (saturated
    /// at `u16::MAX` in UTF-8 mode, where only membership matters).
    bmp: Vec<u16>,
    /// Beyond the BMP, sorted by char: (char, code index + 1).
    astral: Vec<(char, u32)>,
    /// `Some(k)`: dense code with `k` one-byte codes; `None`: UTF-8.
    dense: Option<u32>,
}

/// The most distinct chars the dense code holds: 128 leads × 128 trails.
const DENSE_CODES: usize = 128 * 128;

impl Alphabet {
    fn new<'a>(patterns: impl IntoIterator<Item = &'a String>) -> Alphabet {
        let mut freq: HashMap<char, u64> = HashMap::new();
        for p in patterns {
            for c in p.chars() {
                *freq.entry(c).or_default() += 1;
            }
        }
        // ASCII first (one byte in UTF-8, kept at one byte), then the most frequent; ties by
        // char, so the code does not depend on hash order.
        let mut chars: Vec<(char, u64)> = freq.into_iter().collect();
        chars.sort_unstable_by(|a, b| {
            (!a.0.is_ascii(), std::cmp::Reverse(a.1), a.0).cmp(&(
                !b.0.is_ascii(),
                std::cmp::Reverse(b.1),
                b.0,
            ))
        });
        let n = chars.len();
        let dense = if n <= 128 {
            Some(n as u32)
        } else if n <= DENSE_CODES {
            // k single bytes and (128 - k) leads × 128 trails must hold n codes.
            Some(((DENSE_CODES - n) / 127).min(127) as u32)
        } else {
            None
        };
        let mut a = Alphabet {
            bmp: vec![0; 0x1_0000],
            astral: Vec::new(),
            dense,
        };
        for (ix, &(c, _)) in chars.iter().enumerate() {
            let code = u32::try_from(ix + 1).unwrap_or(u32::MAX);
            match a.bmp.get_mut(u32::from(c) as usize) {
                Some(slot) => *slot = u16::try_from(code).unwrap_or(u16::MAX),
                None => a.astral.push((c, code)),
            }
        }
        a.astral.sort_unstable();
        a
    }

    /// The code of `c` (its index + 1), or 0 when no pattern contains it.
    #[inline]
    fn code(&self, c: char) -> u32 {
        match self.bmp.get(u32::from(c) as usize) {
            Some(&code) => u32::from(code),
            None => self
                .astral
                .binary_search_by_key(&c, |&(a, _)| a)
                .ok()
                .and_then(|i| self.astral.get(i))
                .map_or(0, |&(_, code)| code),
        }
    }

    /// The bytes the automaton sees for `c`, whose code is `code` (not 0).
    #[inline]
    fn bytes<'b>(&self, c: char, code: u32, buf: &'b mut [u8; 4]) -> &'b [u8] {
        match self.dense {
            None => c.encode_utf8(buf).as_bytes(),
            Some(k) => {
                let ix = code.wrapping_sub(1);
                if ix < k {
                    buf[0] = ix as u8;
                    &buf[..1]
                } else {
                    let j = ix - k;
                    buf[0] = (k + j / 128) as u8;
                    buf[1] = (128 + j % 128) as u8;
                    &buf[..2]
                }
            }
        }
    }

    /// A pattern in the automaton's alphabet (every char of it has a code).
    fn encode(&self, pattern: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(pattern.len());
        let mut buf = [0u8; 4];
        for c in pattern.chars() {
            let code = self.code(c);
            out.extend_from_slice(self.bytes(c, code, &mut buf));
        }
        out
    }
}

/// A match waiting to see whether one of its rule's exception contexts covers it.
#[derive(Debug, Clone)]
struct Pending {
    rule: u32,
    start_ord: usize,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Default)]
struct ComboState {
    seen: u32,
    negative_seen: bool,
    fired: bool,
    start: usize,
    end: usize,
}

/// The scanning state of one text or stream.
struct Scan {
    inner: Arc<Inner>,
    stage: Stage,
    norm: Normalizer,
    buf: Vec<char>,
    sid: Option<StateID>,
    /// Original start offset of each of the last normalised chars, by ordinal.
    ring: Vec<usize>,
    /// Normalised chars emitted so far.
    count: usize,
    /// `count` just after the last separator (no match starts before it).
    after_sep: usize,
    /// Original bytes consumed so far.
    pos: usize,
    pending: Vec<Pending>,
    combos: HashMap<u32, ComboState>,
    hits: Vec<(usize, usize)>,
    matches: Vec<MatchInfo>,
    /// Allow and flag matches listed so far.
    low_listed: usize,
    /// Allow and flag matches found beyond [`MAX_LISTED_LOW_MATCHES`]: count, strongest
    /// action, rules (for their risks).
    omitted: u64,
    omitted_action: Action,
    /// Per distinct risk of the rules ([`Inner::risk_names`]): seen among omitted matches.
    omitted_risks: Vec<bool>,
    /// Mask spans, absolute, not yet merged.
    masks: Vec<(usize, usize)>,
    stopped: bool,
}

impl Scan {
    fn new(inner: Arc<Inner>, stage: Stage) -> Scan {
        let sid = match &inner.matcher {
            Matcher::None => None,
            Matcher::Dfa(d) => d.start_state(Anchored::No).ok(),
            Matcher::Nfa(n) => n.start_state(Anchored::No).ok(),
        };
        let ring = vec![0; inner.ring_mask + 1];
        Scan {
            inner,
            stage,
            norm: Normalizer::new(),
            buf: Vec::new(),
            sid,
            ring,
            count: 0,
            after_sep: 0,
            pos: 0,
            pending: Vec::new(),
            combos: HashMap::new(),
            hits: Vec::new(),
            matches: Vec::new(),
            low_listed: 0,
            omitted: 0,
            omitted_action: Action::Allow,
            omitted_risks: Vec::new(),
            masks: Vec::new(),
            stopped: false,
        }
    }

    fn feed(&mut self, text: &str) {
        let inner = Arc::clone(&self.inner);
        match &inner.matcher {
            Matcher::None => self.pos += text.len(),
            Matcher::Dfa(d) => self.feed_with(&inner, d, text),
            Matcher::Nfa(n) => self.feed_with(&inner, n, text),
        }
    }

    fn feed_with<A: Automaton>(&mut self, inner: &Inner, aut: &A, text: &str) {
        let Some(mut sid) = self.sid else {
            self.pos += text.len();
            return;
        };
        let Ok(start_sid) = aut.start_state(Anchored::No) else {
            return;
        };
        let mut utf8 = [0u8; 4];
        let mut many = std::mem::take(&mut self.buf);
        for (i, c) in text.char_indices() {
            let start = self.pos + i;
            let end = start + c.len_utf8();
            // The common case (one normalised char or none) takes no allocation; expansions
            // (`㎏` → `kg`) are copied out because the normaliser is borrowed until then.
            let n = match self.norm.step(c) {
                Step::Skip => continue,
                Step::One(n) => n,
                Step::Many(s) => {
                    many.clear();
                    many.extend(s.chars());
                    for k in 0..many.len() {
                        let Some(&n) = many.get(k) else { break };
                        if self.norm.accept(n) {
                            sid =
                                self.advance(inner, aut, sid, start_sid, n, start, end, &mut utf8);
                        }
                    }
                    if !self.pending.is_empty() {
                        self.confirm_due(inner, false);
                    }
                    continue;
                }
            };
            let code = inner.alphabet.code(n);
            if n == SEPARATOR || code == 0 {
                // The common case with small lexicons, kept in this loop.
                self.count += 1;
                self.after_sep = self.count;
                sid = start_sid;
            } else {
                sid = self.step(inner, aut, sid, n, code, start, end, &mut utf8);
            }
            if !self.pending.is_empty() {
                self.confirm_due(inner, false);
            }
        }
        self.buf = many;
        self.sid = Some(sid);
        self.pos += text.len();
    }

    /// Feeds one normalised char `n`, produced by the original char at `start..end`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn advance<A: Automaton>(
        &mut self,
        inner: &Inner,
        aut: &A,
        sid: StateID,
        start_sid: StateID,
        n: char,
        start: usize,
        end: usize,
        buf: &mut [u8; 4],
    ) -> StateID {
        let code = inner.alphabet.code(n);
        // A separator or a char that occurs in no pattern: no match spans it, so the automaton
        // restarts and nothing before it needs remembering.
        if n == SEPARATOR || code == 0 {
            self.count += 1;
            self.after_sep = self.count;
            return start_sid;
        }
        self.step(inner, aut, sid, n, code, start, end, buf)
    }

    /// Feeds the normalised char `n`, which some pattern contains (its code is `code`),
    /// produced by the original char at `start..end`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn step<A: Automaton>(
        &mut self,
        inner: &Inner,
        aut: &A,
        mut sid: StateID,
        n: char,
        code: u32,
        start: usize,
        end: usize,
        buf: &mut [u8; 4],
    ) -> StateID {
        self.count += 1;
        if let Some(slot) = self.ring.get_mut((self.count - 1) & inner.ring_mask) {
            *slot = start;
        }
        for &b in inner.alphabet.bytes(n, code, buf) {
            sid = aut.next_state(Anchored::No, sid, b);
        }
        if aut.is_special(sid) && aut.is_match(sid) {
            self.hits.clear();
            for k in 0..aut.match_len(sid) {
                let pid = aut.match_pattern(sid, k).as_usize();
                let chars = inner.pattern_chars.get(pid).copied().unwrap_or(1) as usize;
                let start_ord = self.count.saturating_sub(chars);
                // Most patterns are one plain term: confirm it here, without the general
                // handling of exceptions and combinations.
                match inner.plain_rule.get(pid) {
                    Some(&rule) if rule != NOT_PLAIN => {
                        let start = self.origin(start_ord);
                        self.confirm(inner, rule, start, end);
                    }
                    _ => self.hits.push((pid, start_ord)),
                }
            }
            if !self.hits.is_empty() {
                self.on_hits(inner, end);
            }
        }
        sid
    }

    fn origin(&self, ordinal: usize) -> usize {
        self.ring
            .get(ordinal & self.inner.ring_mask)
            .copied()
            .unwrap_or(self.pos)
    }

    /// Handles every pattern that ends at the current normalised char (which ends at original
    /// offset `end`): terms and combination parts first, then exceptions, so an exception
    /// ending here can cancel a term ending here.
    fn on_hits(&mut self, inner: &Inner, end: usize) {
        let hits = std::mem::take(&mut self.hits);
        for &(pid, start_ord) in &hits {
            let start = self.origin(start_ord);
            for &t in inner.targets.get(pid).into_iter().flatten() {
                match t {
                    Target::Term(rule) => {
                        let needs_wait = inner
                            .rules
                            .get(rule as usize)
                            .is_some_and(|r| r.exception_chars > 0);
                        if needs_wait {
                            self.pending.push(Pending {
                                rule,
                                start_ord,
                                start,
                                end,
                            });
                        } else {
                            self.confirm(inner, rule, start, end);
                        }
                    }
                    Target::Atom {
                        combo,
                        bit,
                        negative,
                    } => self.on_atom(inner, combo, bit, negative, start, end),
                    Target::Exception(_) => {}
                }
            }
        }
        for &(pid, start_ord) in &hits {
            for &t in inner.targets.get(pid).into_iter().flatten() {
                if let Target::Exception(rule) = t {
                    self.pending
                        .retain(|p| !(p.rule == rule && start_ord <= p.start_ord));
                }
            }
        }
        self.hits = hits;
    }

    fn on_atom(
        &mut self,
        inner: &Inner,
        combo: u32,
        bit: u8,
        negative: bool,
        start: usize,
        end: usize,
    ) {
        let Some(c) = inner.combos.get(combo as usize) else {
            return;
        };
        let (rule, all_mask) = (c.rule, c.all_mask);
        let state = self.combos.entry(combo).or_default();
        if state.fired {
            return;
        }
        if negative {
            state.negative_seen = true;
            return;
        }
        if state.seen == 0 {
            state.start = start;
        }
        state.start = state.start.min(start);
        state.seen |= 1 << bit;
        state.end = state.end.max(end);
        if state.seen == all_mask && !state.negative_seen {
            state.fired = true;
            let (s, e) = (state.start, state.end);
            self.confirm(inner, rule, s, e);
        }
    }

    /// Confirms pending matches no exception can cover any more (all of them at the end).
    fn confirm_due(&mut self, inner: &Inner, all: bool) {
        let count = self.count;
        let mut due = Vec::new();
        self.pending.retain(|p| {
            let wait = inner
                .rules
                .get(p.rule as usize)
                .map_or(0, |r| r.exception_chars);
            if all || count >= p.start_ord + wait {
                due.push(p.clone());
                false
            } else {
                true
            }
        });
        for p in due {
            self.confirm(inner, p.rule, p.start, p.end);
        }
    }

    fn confirm(&mut self, inner: &Inner, rule: u32, start: usize, end: usize) {
        // The compact per-rule facts first: with a large lexicon most matches stop here, and
        // the full rule (with its strings) is touched only for listed matches.
        let Some(fast) = inner.rule_fast.get(rule as usize) else {
            return;
        };
        let action = match self.stage {
            Stage::Input => fast.actions[0],
            Stage::Output => fast.actions[1],
        };
        if action <= Action::Flag {
            if self.low_listed >= MAX_LISTED_LOW_MATCHES {
                self.omitted += 1;
                self.omitted_action = self.omitted_action.max(action);
                if self.omitted_risks.is_empty() {
                    self.omitted_risks = vec![false; inner.risk_names.len()];
                }
                if let Some(seen) = self.omitted_risks.get_mut(usize::from(fast.risk_ix)) {
                    *seen = true;
                }
                return;
            }
            self.low_listed += 1;
        }
        let Some(r) = inner.rules.get(rule as usize) else {
            return;
        };
        self.matches.push(MatchInfo {
            rule: r.id.clone(),
            risk: r.risk.clone(),
            action,
            start,
            end,
            severity: Some(r.severity),
            score_permille: None,
        });
        if action == Action::Mask {
            self.masks.push((start, end));
        }
        if action.stops() {
            self.stopped = true;
        }
    }

    /// Original offset before which no future match can start: everything before it is final.
    fn release_point(&self) -> usize {
        let mut ord = self
            .count
            .saturating_sub(self.inner.hold_chars)
            .max(self.after_sep);
        if let Some(p) = self.pending.iter().map(|p| p.start_ord).min() {
            ord = ord.min(p);
        }
        if ord >= self.count {
            self.pos
        } else {
            self.origin(ord)
        }
    }

    fn decision(&self) -> Decision {
        self.with_omitted(Decision::from_matches(
            self.stage,
            self.matches.clone(),
            self.inner.version.clone(),
        ))
    }

    /// The decision, consuming the listed matches (batch review).
    fn take_decision(&mut self) -> Decision {
        let matches = std::mem::take(&mut self.matches);
        self.with_omitted(Decision::from_matches(
            self.stage,
            matches,
            self.inner.version.clone(),
        ))
    }

    fn with_omitted(&self, d: Decision) -> Decision {
        let inner = &self.inner;
        d.with_omitted(
            self.omitted,
            self.omitted_action,
            self.omitted_risks
                .iter()
                .zip(&inner.risk_names)
                .filter(|(seen, _)| **seen)
                .map(|(_, name)| name.as_str()),
        )
    }

    /// Runs the PII detectors over `text`, which starts at absolute offset `base` and begins
    /// and ends at PII boundaries (see [`pii_tail_start`]).
    fn scan_pii(&mut self, text: &str, base: usize) {
        let Some(kinds) = &self.inner.pii else {
            return;
        };
        if text.is_empty() {
            return;
        }
        let stage_ix = usize::from(self.stage == Stage::Output);
        let found = hegui_pii::detect(text);
        let mut confirmed = Vec::with_capacity(found.len());
        for m in found {
            let Some((_, actions)) = kinds.iter().find(|(k, _)| *k == m.kind) else {
                continue;
            };
            let action = actions.get(stage_ix).copied().unwrap_or(Action::Flag);
            confirmed.push(MatchInfo {
                rule: format!("pii:{}", m.kind.code().trim_start_matches("PII-")).into(),
                risk: m.kind.code().into(),
                action,
                start: base + m.start,
                end: base + m.end,
                severity: Some(Severity::Medium),
                score_permille: None,
            });
        }
        for m in confirmed {
            if m.action == Action::Mask {
                self.masks.push((m.start, m.end));
            }
            if m.action.stops() {
                self.stopped = true;
            }
            self.matches.push(m);
        }
    }
}

/// Longest tail the PII boundary search looks back over: no detected entity is longer than an
/// e-mail address (254 bytes). A run of PII-like chars longer than this is cut, so an e-mail
/// address inside a run of more than this many chars may escape streaming PII review.
const PII_TAIL_MAX: usize = 256;

impl Reviewer for LexiconReviewer {
    fn version(&self) -> &str {
        &self.inner.version
    }

    fn review(&self, stage: Stage, text: &str) -> Review {
        let mut scan = Scan::new(Arc::clone(&self.inner), stage);
        scan.feed(text);
        scan.confirm_due(&self.inner, true);
        scan.scan_pii(text, 0);
        let mut masks = std::mem::take(&mut scan.masks);
        merge(&mut masks);
        let decision = scan.take_decision();
        // Masks are applied even when the decision stops: should a caller deliver the text
        // anyway, the masked spans at least stay hidden.
        let text = if masks.is_empty() {
            text.to_string()
        } else {
            apply_masks(text, 0, &masks)
        };
        Review { decision, text }
    }

    fn stream(&self, stage: Stage) -> Box<dyn StreamReview> {
        Box::new(LexiconStream::new(Arc::clone(&self.inner), stage))
    }
}

fn merge(spans: &mut Vec<(usize, usize)>) {
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for &(s, e) in spans.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *spans = merged;
}

/// Replaces every char of `text` (which starts at absolute offset `base`) that lies in one of
/// the sorted, merged absolute `spans` by one `*`.
pub(crate) fn apply_masks(text: &str, base: usize, spans: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut spans = spans.iter().peekable();
    for (i, c) in text.char_indices() {
        let at = base + i;
        while spans.next_if(|&&(_, end)| end <= at).is_some() {}
        match spans.peek() {
            Some(&&(start, _)) if start <= at => out.push('*'),
            _ => out.push(c),
        }
    }
    out
}

/// A streaming review: the scanner keeps its automaton state between pushes, and text is
/// released as soon as no match can still cover it (masks applied). A stopping match ends the
/// stream before any of its text could be released.
///
/// Text pushed after `finish` is reviewed as a continuation (offsets keep counting), but a term
/// spanning the `finish` boundary cannot be caught because the tail was already released.
struct LexiconStream {
    scan: Scan,
    /// Original text pushed but not yet released.
    held: String,
    /// Absolute original byte offset of `held`.
    held_base: usize,
    /// Absolute offset up to which PII detection has run (always at a PII boundary).
    pii_done: usize,
}

impl LexiconStream {
    fn new(inner: Arc<Inner>, stage: Stage) -> LexiconStream {
        LexiconStream {
            scan: Scan::new(inner, stage),
            held: String::new(),
            held_base: 0,
            pii_done: 0,
        }
    }

    /// Runs PII detection over held text up to absolute offset `upto` (a PII boundary) and
    /// returns `upto`.
    fn pii_until(&mut self, upto: usize) -> usize {
        if self.scan.inner.pii.is_none() {
            return usize::MAX;
        }
        let from = self.pii_done.saturating_sub(self.held_base);
        let to = upto.saturating_sub(self.held_base).min(self.held.len());
        if let Some(region) = self.held.get(from..to) {
            let region = region.to_string();
            self.scan.scan_pii(&region, self.pii_done);
        }
        self.pii_done = self.pii_done.max(upto);
        upto
    }

    fn release(&mut self, upto_abs: usize) -> String {
        let cut = upto_abs.saturating_sub(self.held_base).min(self.held.len());
        let Some(released) = self.held.get(..cut) else {
            return String::new();
        };
        if !self.scan.masks.is_empty() {
            merge(&mut self.scan.masks);
        }
        let out = apply_masks(released, self.held_base, &self.scan.masks);
        self.held.replace_range(..cut, "");
        self.held_base += cut;
        let held_base = self.held_base;
        self.scan.masks.retain(|&(_, end)| end > held_base);
        out
    }

    fn stop(&mut self) -> StreamStep {
        self.held.clear();
        self.scan.masks.clear();
        self.scan.pending.clear();
        StreamStep::Stop
    }
}

impl StreamReview for LexiconStream {
    fn push(&mut self, chunk: &str) -> StreamStep {
        if self.scan.stopped {
            return StreamStep::Stop;
        }
        if chunk.is_empty() {
            return StreamStep::Release(String::new());
        }
        self.held.push_str(chunk);
        self.scan.feed(chunk);
        let pii_from = self
            .pii_done
            .saturating_sub(self.held_base)
            .min(self.held.len());
        let pii_boundary = self.held_base
            + pii_from
            + self
                .held
                .get(pii_from..)
                .map_or(0, |t| hegui_pii::tail_boundary(t, PII_TAIL_MAX));
        let pii_cut = self.pii_until(pii_boundary);
        if self.scan.stopped {
            return self.stop();
        }
        let cut = self.scan.release_point().min(pii_cut);
        StreamStep::Release(self.release(cut))
    }

    fn finish(&mut self) -> StreamStep {
        if self.scan.stopped {
            return StreamStep::Stop;
        }
        let inner = Arc::clone(&self.scan.inner);
        self.scan.confirm_due(&inner, true);
        let all = self.held_base + self.held.len();
        self.pii_until(all);
        if self.scan.stopped {
            return self.stop();
        }
        StreamStep::Release(self.release(all))
    }

    fn decision(&self) -> Decision {
        self.scan.decision()
    }
}

#[cfg(test)]
mod tests;
