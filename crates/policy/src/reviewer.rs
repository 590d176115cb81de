//! The lexicon reviewer: one pass of normalisation and multi-pattern matching, batch or
//! streaming.
//!
//! Every original char is normalised ([`crate::normalize`]) and the normalised chars are fed
//! into an Aho–Corasick automaton over chars (the `daachorse` crate's charwise double-array
//! automaton: one transition per char, two array loads), whose state is carried between chunks
//! (rebuilt at each chunk from the last few chars), so a chunk costs O(its length + the depth
//! of that state, at most the longest term) however the stream is split. A ring buffer
//! remembers the original offset of the last few normalised chars, which maps every match back
//! to the original text.
//!
//! Batch review is the streaming scanner fed one chunk, so the two agree by construction.
//!
//! Latin-script terms match whole words only. Noise is dropped between ASCII letters too (so
//! `b.o.m.b` reads `bomb`), so without a boundary rule `retard` would match in `retardant`. A
//! pattern whose first normalised char is an ASCII letter or digit matches only if the
//! original char before its first source char is not a *word char* (one that normalises to an
//! ASCII letter or digit; within an expansion such as `㎏` → `kg`, the expansion char before);
//! one whose last normalised char is, only if the char after it is not (the end of the text is
//! a boundary). The start is checked when the match is found ([`Scan`]'s `ring_word`); the
//! end needs the next char, so such a match is *tentative* until then
//! ([`Scan::resolve_tentative`]), and a stream holds its text back meanwhile.

use std::collections::HashMap;
use std::sync::Arc;

use daachorse::charwise::iter::FindOverlappingStepper;
use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder, MatchKind};
use hegui_types::{Action, Decision, MatchInfo, Severity, Stage};
use sha2::{Digest, Sha256};

use crate::lexicon::{Lexicon, LexiconError};
use crate::normalize::{Normalizer, Step, SEPARATOR};
use crate::policy::ReviewPolicy;
use crate::{Review, Reviewer, StreamReview, StreamStep};

/// The demonstration lexicon shipped with hegui (`lexicons/demo.toml`).
pub const DEMO_LEXICON: &str = include_str!("../../../lexicons/demo.toml");

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

/// What the scan needs for every match of a pattern, kept as the pattern's value in the
/// automaton's output list, which the automaton reads anyway: with a large lexicon about one
/// char in two ends a match, and a plain term is then handled without touching another table.
#[derive(Debug, Clone, Copy)]
struct Hit {
    /// For a plain term its rule, else the pattern's index (the general path).
    id: u32,
    /// The pattern's length in normalised chars (plain terms only).
    chars: u16,
    /// One term without exception contexts, shorter than 65,535 chars.
    plain: bool,
    /// The plain term's rule's actions and risk.
    fast: RuleFast,
    /// Which word boundaries the pattern needs ([`NEEDS_START`], [`NEEDS_END`]); fits in the
    /// struct's padding, so the automaton's values stay 12 bytes.
    bounds: u8,
}

/// [`Hit::bounds`]: the pattern starts with an ASCII letter or digit, so the original char
/// before the match must not be a word char.
const NEEDS_START: u8 = 1;
/// [`Hit::bounds`]: the pattern ends with an ASCII letter or digit, so the original char after
/// the match must not be a word char (the end of the text is a boundary).
const NEEDS_END: u8 = 2;

/// The word boundaries a normalised pattern needs: at each end that is an ASCII letter or
/// digit, so that Latin-script terms match whole words only (`retard` not in `retardant`).
fn bounds_of(pattern: &str) -> u8 {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let mut b = 0;
    if word(pattern.chars().next()) {
        b |= NEEDS_START;
    }
    if word(pattern.chars().next_back()) {
        b |= NEEDS_END;
    }
    b
}

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

/// The automaton, each pattern's [`Hit`] as its value.
type Automaton = CharwiseDoubleArrayAhoCorasick<Hit>;

/// The automaton, with a `Debug` that says how big it is (the crate's type has none).
struct Matcher(Automaton);

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("states", &self.0.num_states())
            .field("heap_bytes", &self.0.heap_bytes())
            .finish()
    }
}

#[derive(Debug)]
struct Inner {
    version: String,
    lexicon_versions: Vec<(String, String)>,
    /// `None` when the lexicons have no patterns.
    matcher: Option<Matcher>,
    /// Per pattern: what it means.
    targets: Vec<Vec<Target>>,
    /// Per pattern: its length in normalised chars.
    pattern_chars: Vec<u32>,
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
    /// start state (no pattern can span it), which saves a step and marks a point no match
    /// can start before.
    alphabet: CharSet,
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
        let alphabet = CharSet::new(&patterns.strings);
        if risk_index.len() > usize::from(u16::MAX) {
            return Err(LexiconError::Matcher {
                message: "more than 65535 distinct risk codes".into(),
            });
        }
        let rule_fast: Vec<RuleFast> = rules
            .iter()
            .map(|r| RuleFast {
                actions: r.actions,
                risk_ix: u16::try_from(r.risk_ix).unwrap_or(u16::MAX),
            })
            .collect();
        let mut hits = Vec::with_capacity(patterns.strings.len());
        for (pid, ((t, &chars), pattern)) in patterns
            .targets
            .iter()
            .zip(&pattern_chars)
            .zip(&patterns.strings)
            .enumerate()
        {
            let bounds = bounds_of(pattern);
            let general = Hit {
                id: u32::try_from(pid).map_err(|_| too_many())?,
                chars: 0,
                plain: false,
                fast: RuleFast {
                    actions: [Action::Allow; 2],
                    risk_ix: 0,
                },
                bounds,
            };
            let plain = match t.as_slice() {
                [Target::Term(rule)] => rules
                    .get(*rule as usize)
                    .filter(|r| r.exception_chars == 0)
                    .zip(rule_fast.get(*rule as usize))
                    .zip(u16::try_from(chars).ok().filter(|&c| c < u16::MAX))
                    .map(|((_, &fast), chars)| Hit {
                        id: *rule,
                        chars,
                        plain: true,
                        fast,
                        bounds,
                    }),
                _ => None,
            };
            hits.push(plain.unwrap_or(general));
        }
        let matcher = build_matcher(&patterns.strings, &hits)?;
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

    /// How many normalised chars a stream holds back at most: the longest term's length minus
    /// one, or one more while a match of a term ending in a Latin letter or digit waits for
    /// the next char (the word boundary).
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
            None => ("none", 0),
            Some(Matcher(a)) => ("daachorse-charwise", a.heap_bytes()),
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

/// The automaton over `patterns` (normalised chars), each pattern's value its [`Hit`] (same
/// index in `hits`).
///
/// `daachorse`'s charwise automaton rather than `aho-corasick`'s: over chars it takes one
/// transition per char (a double array: the state's base, then the child's check) where a
/// byte automaton takes one per UTF-8 byte, three per Han char, each a search of the state's
/// transitions. With the 100k-word jieba lexicon over COLD text, alone, it stepped 55–69 M
/// chars/s against 22 M for `aho-corasick`'s contiguous NFA over UTF-8, and the review went
/// from 15–17 to 24–26 M chars/s (BENCHMARKS.md, review engine). The depth of every state is
/// cached so that a stream can carry its state between chunks ([`Scan::feed_with`]); the
/// prefilter only serves the crate's slice searches, which the scan does not use.
fn build_matcher(patterns: &[String], hits: &[Hit]) -> Result<Option<Matcher>, LexiconError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let err = |e: daachorse::errors::DaachorseError| LexiconError::Matcher {
        message: e.to_string(),
    };
    let mut a: Automaton = CharwiseDoubleArrayAhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .use_prefilter(false)
        .build_with_values(patterns.iter().zip(hits.iter().copied()))
        .map_err(err)?;
    a.cache_depths().map_err(err)?;
    Ok(Some(Matcher(a)))
}

/// The chars that occur in some pattern: a bit per BMP code point, and the few beyond it
/// sorted. Looked up for every normalised char, so it is kept small (8 KiB) rather than asking
/// the automaton, whose own char table is 4 bytes a code point.
#[derive(Debug, Default)]
struct CharSet {
    bmp: Vec<u64>,
    astral: Vec<char>,
}

impl CharSet {
    fn new<'a>(patterns: impl IntoIterator<Item = &'a String>) -> CharSet {
        let mut set = CharSet {
            bmp: vec![0; 0x1_0000 / 64],
            astral: Vec::new(),
        };
        for c in patterns.into_iter().flat_map(|p| p.chars()) {
            let u = u32::from(c) as usize;
            match set.bmp.get_mut(u / 64) {
                Some(word) => *word |= 1 << (u % 64),
                None => set.astral.push(c),
            }
        }
        set.astral.sort_unstable();
        set.astral.dedup();
        set
    }

    #[inline]
    fn contains(&self, c: char) -> bool {
        let u = u32::from(c) as usize;
        match self.bmp.get(u / 64) {
            Some(word) => word >> (u % 64) & 1 == 1,
            None => self.astral.binary_search(&c).is_ok(),
        }
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

/// [`Scan::run_from`] when no run of repeats can extend a match.
const NO_RUN: usize = usize::MAX;

/// A match of a pattern that needs a word boundary after it, waiting for the next char: a
/// word char cancels it, anything else (or the end of the text) lets it count.
#[derive(Debug, Clone, Copy)]
struct Tentative {
    hit: Hit,
    start_ord: usize,
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
    /// Depth of the automaton's state after the last char fed: that state is the one reached
    /// from the start by the last `depth` normalised chars, which `ring_chars` holds. The
    /// crate's stepper borrows the automaton, so it lives for one [`Scan::feed`]; the next
    /// feed rebuilds the state from these chars (at most the longest pattern, usually 0–3).
    depth: usize,
    /// Original start offset of each of the last normalised chars, by ordinal.
    ring: Vec<usize>,
    /// The last normalised chars, by ordinal (same slots as `ring`).
    ring_chars: Vec<char>,
    /// Per normalised char, by ordinal (same slots as `ring`): whether the char before it was
    /// a word char (the original char before its source char, or for the second and later
    /// chars of an expansion the expansion char before it).
    ring_word: Vec<bool>,
    /// Whether the last original char (noise and dropped repeats included), or the last
    /// expansion char, was a word char: one that normalises to an ASCII letter or digit.
    prev_word: bool,
    /// Matches ending at the last normalised char whose patterns need a word boundary after
    /// it: decided by the next char ([`Scan::resolve_tentative`]).
    tentative: Vec<Tentative>,
    /// Original end offset of the tentative matches (they all end at the same char).
    tentative_end: usize,
    /// Original end of the last normalised char, or [`NO_RUN`] once noise followed it.
    run_from: usize,
    /// `run_from` extended over the repeats of that char that followed it directly (the
    /// normaliser dropped them): a match ending at the char ends there.
    run_to: usize,
    /// Indices in `matches` of the listed matches that end at `run_to`.
    ending: Vec<usize>,
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
        let ring = vec![0; inner.ring_mask + 1];
        let ring_chars = vec!['\0'; inner.ring_mask + 1];
        let ring_word = vec![false; inner.ring_mask + 1];
        Scan {
            inner,
            stage,
            norm: Normalizer::new(),
            buf: Vec::new(),
            depth: 0,
            ring,
            ring_chars,
            ring_word,
            prev_word: false,
            tentative: Vec::new(),
            tentative_end: 0,
            run_from: NO_RUN,
            run_to: NO_RUN,
            ending: Vec::new(),
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
            None => self.pos += text.len(),
            Some(Matcher(aut)) => self.feed_with(&inner, aut, text),
        }
    }

    fn feed_with(&mut self, inner: &Inner, aut: &Automaton, text: &str) {
        // Back to the state the previous feed ended in: the Aho–Corasick state after any text
        // is the one its longest suffix that is a pattern prefix leads to from the start, so
        // feeding that suffix alone reaches it. Its matches were handled when first fed.
        let mut st = aut.find_overlapping_stepper();
        for ord in self.count.saturating_sub(self.depth)..self.count {
            if let Some(&c) = self.ring_chars.get(ord & inner.ring_mask) {
                st.consume(c);
            }
        }
        let mut many = std::mem::take(&mut self.buf);
        for (i, c) in text.char_indices() {
            let start = self.pos + i;
            let end = start + c.len_utf8();
            // The common case (one normalised char or none) takes no allocation; expansions
            // (`㎏` → `kg`) are copied out because the normaliser is borrowed until then.
            // Each char first decides the tentative matches before it (is it a word char?),
            // then becomes the char before the next one (`prev_word`).
            let n = match self.norm.step(c) {
                Step::Skip => {
                    // Noise or a dropped (non-ASCII) repeat: never a word char.
                    if !self.tentative.is_empty() {
                        self.resolve_tentative(inner, false);
                    }
                    self.prev_word = false;
                    if self.norm.skipped_a_repeat() {
                        self.extend_run(start, end);
                    } else {
                        self.break_run();
                    }
                    continue;
                }
                Step::One(n) => n,
                Step::Many(s) => {
                    many.clear();
                    many.extend(s.chars());
                    // Inside an expansion, each expansion char is the "next char" of the one
                    // before it (`㎏` is `k` then `g`).
                    for k in 0..many.len() {
                        let Some(&n) = many.get(k) else { break };
                        let word = n.is_ascii_alphanumeric();
                        if !self.tentative.is_empty() {
                            self.resolve_tentative(inner, word);
                        }
                        if self.norm.accept(n) {
                            self.advance(inner, aut, &mut st, n, start, end);
                        }
                        self.prev_word = word;
                    }
                    if !self.pending.is_empty() && self.tentative.is_empty() {
                        self.confirm_due(inner, false);
                    }
                    continue;
                }
            };
            let word = n.is_ascii_alphanumeric();
            if !self.tentative.is_empty() {
                self.resolve_tentative(inner, word);
            }
            self.advance(inner, aut, &mut st, n, start, end);
            self.prev_word = word;
            // While an exception context may be tentative, its term waits one char more.
            if !self.pending.is_empty() && self.tentative.is_empty() {
                self.confirm_due(inner, false);
            }
        }
        self.buf = many;
        self.depth = st.depth().map_or(0, |d| d as usize);
        self.pos += text.len();
    }

    /// Feeds one normalised char `n`, produced by the original char at `start..end`. Inlined
    /// into the scan loop: the common case with small lexicons (a char in no pattern) is then
    /// a bit test and two stores, without a call.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn advance<'a>(
        &mut self,
        inner: &Inner,
        aut: &'a Automaton,
        st: &mut FindOverlappingStepper<'a, Hit>,
        n: char,
        start: usize,
        end: usize,
    ) {
        self.run_from = end;
        self.run_to = end;
        if !self.ending.is_empty() {
            self.ending.clear();
        }
        if n == SEPARATOR || !inner.alphabet.contains(n) {
            // No match spans it, so the automaton restarts and nothing before it needs
            // remembering.
            self.count += 1;
            self.after_sep = self.count;
            *st = aut.find_overlapping_stepper();
        } else {
            self.step(inner, st, n, start, end);
        }
    }

    /// Feeds the normalised char `n`, which occurs in some pattern, produced by the original
    /// char at `start..end`.
    fn step(
        &mut self,
        inner: &Inner,
        st: &mut FindOverlappingStepper<'_, Hit>,
        n: char,
        start: usize,
        end: usize,
    ) {
        self.count += 1;
        let slot = (self.count - 1) & inner.ring_mask;
        if let Some(s) = self.ring.get_mut(slot) {
            *s = start;
        }
        if let Some(s) = self.ring_chars.get_mut(slot) {
            *s = n;
        }
        if let Some(w) = self.ring_word.get_mut(slot) {
            *w = self.prev_word;
        }
        st.consume(n);
        let mut listed = false;
        for m in st.matches() {
            let hit = m.value();
            let chars = if hit.plain {
                usize::from(hit.chars)
            } else {
                inner
                    .pattern_chars
                    .get(hit.id as usize)
                    .copied()
                    .unwrap_or(1) as usize
            };
            let start_ord = self.count.saturating_sub(chars);
            if hit.bounds != 0 {
                // A Latin-script end: the match must not continue a word before it...
                if hit.bounds & NEEDS_START != 0
                    && self
                        .ring_word
                        .get(start_ord & inner.ring_mask)
                        .copied()
                        .unwrap_or(false)
                {
                    continue;
                }
                // ...nor after it, which the next char tells.
                if hit.bounds & NEEDS_END != 0 {
                    self.tentative.push(Tentative { hit, start_ord });
                    self.tentative_end = end;
                    continue;
                }
            }
            // Most patterns are one plain term: confirm it here, without the general handling
            // of exceptions and combinations.
            if hit.plain {
                let start = self.origin(start_ord);
                self.confirm_with(inner, hit.id, hit.fast, start, end);
            } else {
                if !listed {
                    self.hits.clear();
                    listed = true;
                }
                self.hits.push((hit.id as usize, start_ord));
            }
        }
        if listed {
            self.on_hits(inner, end);
        }
    }

    /// Decides the tentative matches, which end at the char before the current one: `word`
    /// says whether the current char is a word char (which cancels them all); otherwise each is
    /// handled as it would have been when found. Called before the current char is fed, so the
    /// ring still maps their start ordinals.
    fn resolve_tentative(&mut self, inner: &Inner, word: bool) {
        let mut tentative = std::mem::take(&mut self.tentative);
        if !word {
            let end = self.tentative_end;
            let mut listed = false;
            for t in &tentative {
                if t.hit.plain {
                    let start = self.origin(t.start_ord);
                    self.confirm_with(inner, t.hit.id, t.hit.fast, start, end);
                } else {
                    if !listed {
                        self.hits.clear();
                        listed = true;
                    }
                    self.hits.push((t.hit.id as usize, t.start_ord));
                }
            }
            if listed {
                self.on_hits(inner, end);
            }
        }
        tentative.clear();
        self.tentative = tentative;
        if !self.pending.is_empty() {
            self.confirm_due(inner, false);
        }
    }

    /// The end of the text (or of a stream at `finish`): a word boundary, so tentative matches
    /// count, and the next text starts after a boundary.
    fn end_of_text(&mut self, inner: &Inner) {
        if !self.tentative.is_empty() {
            self.resolve_tentative(inner, false);
        }
        self.prev_word = false;
    }

    /// The original char at `start..end` is a repeat of the last normalised char, directly
    /// after it (or after other such repeats): matches ending at that char, listed or pending,
    /// now end after it, so `傻傻傻冒冒冒` is masked whole. In a stream the repeat is fed, and
    /// the mask extended, before any release point can pass it.
    fn extend_run(&mut self, start: usize, end: usize) {
        if self.run_from == NO_RUN {
            return;
        }
        let old = self.run_to;
        self.run_to = end;
        for k in 0..self.ending.len() {
            let Some(&i) = self.ending.get(k) else { break };
            if let Some(m) = self.matches.get_mut(i) {
                m.end = end;
                if m.action == Action::Mask {
                    self.masks.push((start, end));
                }
            }
        }
        for p in &mut self.pending {
            if p.end == old {
                p.end = end;
            }
        }
    }

    /// Noise ends the run of repeats a match extends over.
    fn break_run(&mut self) {
        self.run_from = NO_RUN;
        if !self.ending.is_empty() {
            self.ending.clear();
        }
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
        if let Some(&fast) = inner.rule_fast.get(rule as usize) {
            self.confirm_with(inner, rule, fast, start, end);
        }
    }

    /// [`Scan::confirm`] with the rule's compact facts at hand: with a large lexicon most
    /// matches stop at them, and the full rule (with its strings) is touched only for listed
    /// matches.
    #[inline]
    fn confirm_with(&mut self, inner: &Inner, rule: u32, fast: RuleFast, start: usize, end: usize) {
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
        // Ending at the last normalised char: over the repeats of it seen so far, and the
        // ones still to come (`extend_run`).
        let end = if self.run_from != NO_RUN && (end == self.run_from || end == self.run_to) {
            self.ending.push(self.matches.len());
            self.run_to
        } else {
            end
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
        // A tentative match may still count: none of its text may go yet.
        if let Some(t) = self.tentative.iter().map(|t| t.start_ord).min() {
            ord = ord.min(t);
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
        let mut scan = self.scanned(stage, text);
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

    fn decide(&self, stage: Stage, text: &str) -> Decision {
        self.scanned(stage, text).take_decision()
    }

    fn stream(&self, stage: Stage) -> Box<dyn StreamReview> {
        Box::new(LexiconStream::new(Arc::clone(&self.inner), stage))
    }
}

impl LexiconReviewer {
    /// A whole text scanned: every match found and confirmed, PII included.
    fn scanned(&self, stage: Stage, text: &str) -> Scan {
        let mut scan = Scan::new(Arc::clone(&self.inner), stage);
        scan.feed(text);
        scan.end_of_text(&self.inner);
        scan.confirm_due(&self.inner, true);
        scan.scan_pii(text, 0);
        scan
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
        self.scan.tentative.clear();
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
        self.scan.end_of_text(&inner);
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
