//! The lexicon reviewer: batch and streaming term matching over normalised text.

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use hegui_types::{Action, Decision, MatchInfo, Stage};
use sha2::{Digest, Sha256};

use crate::lexicon::{Lexicon, LexiconError};
use crate::normalize::Normalized;
use crate::{Review, Reviewer, StreamReview, StreamStep};

/// The demonstration lexicon shipped with hegui (`lexicons/demo.toml`).
pub const DEMO_LEXICON: &str = include_str!("../../../lexicons/demo.toml");

/// What one lexicon entry asks for when its term matches.
#[derive(Debug)]
struct Rule {
    rule: String,
    risk: String,
    action: Action,
}

#[derive(Debug)]
struct Inner {
    version: String,
    lexicon_versions: Vec<(String, String)>,
    /// Standard (not leftmost) semantics, so that overlapping search reports every occurrence
    /// of every term: a harmless short term must not hide a longer stopping one.
    matcher: AhoCorasick,
    /// For each matcher pattern, the rules of every entry with that normalised term (the same
    /// term may appear in several lexicons).
    pattern_rules: Vec<Vec<Rule>>,
    /// Longest term in normalised chars, minus one: how much a stream must hold back.
    hold_chars: usize,
}

impl Inner {
    /// Appends every match in `norm` that ends after normalised byte `ends_after`, with offsets
    /// shifted by `base` into the caller's original text.
    fn scan(&self, norm: &Normalized, ends_after: usize, base: usize, out: &mut Vec<MatchInfo>) {
        // The match kind is fixed to Standard at construction, where this call is also tried
        // once, so the error case cannot happen here.
        let Ok(found) = self.matcher.try_find_overlapping_iter(norm.as_str()) else {
            return;
        };
        for m in found {
            if m.end() <= ends_after {
                continue;
            }
            let span = norm.original_range(m.start()..m.end());
            for r in self
                .pattern_rules
                .get(m.pattern().as_usize())
                .into_iter()
                .flatten()
            {
                out.push(MatchInfo {
                    rule: r.rule.clone(),
                    risk: r.risk.clone(),
                    action: r.action,
                    start: base + span.start,
                    end: base + span.end,
                });
            }
        }
    }
}

/// A [`Reviewer`] that matches lexicon terms against normalised text.
///
/// Cheap to clone: clones share one matcher.
#[derive(Debug, Clone)]
pub struct LexiconReviewer {
    inner: Arc<Inner>,
}

impl LexiconReviewer {
    /// Builds a reviewer from lexicons; their names must be distinct.
    pub fn new(lexicons: Vec<Lexicon>) -> Result<LexiconReviewer, LexiconError> {
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
        let digest = hex::encode(hasher.finalize());
        let version = format!("lex-{}", digest.get(..16).unwrap_or(&digest));

        let mut terms: Vec<&str> = Vec::new();
        let mut pattern_rules: Vec<Vec<Rule>> = Vec::new();
        let mut pattern_of: HashMap<&str, usize> = HashMap::new();
        let mut longest = 0;
        for lex in &lexicons {
            for entry in lex.entries() {
                let term = entry.normalized_term();
                let id = *pattern_of.entry(term).or_insert_with(|| {
                    terms.push(term);
                    pattern_rules.push(Vec::new());
                    terms.len() - 1
                });
                longest = longest.max(term.chars().count());
                if let Some(rules) = pattern_rules.get_mut(id) {
                    rules.push(Rule {
                        rule: format!("{}:{}", lex.name(), entry.line()),
                        risk: entry.risk().to_string(),
                        action: entry.action(),
                    });
                }
            }
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&terms)
            .map_err(|e| LexiconError::Matcher {
                message: e.to_string(),
            })?;
        if let Err(e) = matcher.try_find_overlapping_iter("") {
            return Err(LexiconError::Matcher {
                message: e.to_string(),
            });
        }

        Ok(LexiconReviewer {
            inner: Arc::new(Inner {
                version,
                lexicon_versions,
                matcher,
                pattern_rules,
                hold_chars: longest.saturating_sub(1),
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
}

impl Reviewer for LexiconReviewer {
    fn version(&self) -> &str {
        &self.inner.version
    }

    fn review(&self, stage: Stage, text: &str) -> Review {
        let norm = Normalized::new(text);
        let mut matches = Vec::new();
        self.inner.scan(&norm, 0, 0, &mut matches);
        let masks = mask_spans(&matches);
        let decision = Decision::from_matches(stage, matches, self.inner.version.clone());
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

/// Spans of mask-action matches, sorted and merged.
fn mask_spans(matches: &[MatchInfo]) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = matches
        .iter()
        .filter(|m| m.action == Action::Mask)
        .map(|m| (m.start, m.end))
        .collect();
    merge(&mut spans);
    spans
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
fn apply_masks(text: &str, base: usize, spans: &[(usize, usize)]) -> String {
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

/// A streaming review over a [`LexiconReviewer`]'s terms.
///
/// Each push scans only the held tail plus the new chunk and records only matches that end in
/// the new chunk — the ones ending earlier were recorded by an earlier push — so every match is
/// counted once. After a scan, no future match can start before the last `hold_chars`
/// normalised chars, so everything before them is final and released, masks applied. A
/// stopping match ends the stream before any of its text could be released.
///
/// Text pushed after `finish` is reviewed as a continuation (offsets keep counting), but a term
/// spanning the `finish` boundary cannot be caught because the tail was already released.
struct LexiconStream {
    inner: Arc<Inner>,
    stage: Stage,
    /// Original text pushed but not yet released.
    held: String,
    /// Absolute original byte offset of `held`.
    held_base: usize,
    /// Normalisation of `held`, with offsets relative to `held`.
    norm: Normalized,
    /// Absolute normalised byte offset of `norm`.
    norm_base: usize,
    /// Absolute normalised byte offset up to which matches have been recorded.
    scanned_to: usize,
    matches: Vec<MatchInfo>,
    /// Absolute spans of mask matches that reach into the held text, sorted and merged.
    masks: Vec<(usize, usize)>,
    stopped: bool,
}

impl LexiconStream {
    fn new(inner: Arc<Inner>, stage: Stage) -> LexiconStream {
        LexiconStream {
            inner,
            stage,
            held: String::new(),
            held_base: 0,
            norm: Normalized::default(),
            norm_base: 0,
            scanned_to: 0,
            matches: Vec::new(),
            masks: Vec::new(),
            stopped: false,
        }
    }

    /// Byte offset in `held` before which no future match can start.
    fn release_point(&self) -> usize {
        if self.inner.hold_chars == 0 {
            return self.held.len();
        }
        let text = self.norm.as_str();
        match text.char_indices().rev().nth(self.inner.hold_chars - 1) {
            // Round down to the original char whose expansion contains the first held char.
            Some((i, c)) => self.norm.original_range(i..i + c.len_utf8()).start,
            None => 0,
        }
    }

    fn release(&mut self, cut: usize) -> String {
        let cut = cut.min(self.held.len());
        let Some(released) = self.held.get(..cut) else {
            return String::new();
        };
        let out = apply_masks(released, self.held_base, &self.masks);
        self.held.replace_range(..cut, "");
        self.norm_base += self.norm.drain_front(cut);
        self.held_base += cut;
        let held_base = self.held_base;
        self.masks.retain(|&(_, end)| end > held_base);
        out
    }
}

impl StreamReview for LexiconStream {
    fn push(&mut self, chunk: &str) -> StreamStep {
        if self.stopped {
            return StreamStep::Stop;
        }
        if chunk.is_empty() {
            return StreamStep::Release(String::new());
        }
        let old_len = self.held.len();
        self.held.push_str(chunk);
        self.norm.push_str(chunk, old_len);

        let first_new = self.matches.len();
        let ends_after = self.scanned_to.saturating_sub(self.norm_base);
        self.inner
            .scan(&self.norm, ends_after, self.held_base, &mut self.matches);
        self.scanned_to = self.norm_base + self.norm.as_str().len();

        let new = self.matches.get(first_new..).unwrap_or_default();
        if new.iter().any(|m| m.action.stops()) {
            self.stopped = true;
            self.held.clear();
            self.norm = Normalized::default();
            self.masks.clear();
            return StreamStep::Stop;
        }
        let before = self.masks.len();
        self.masks.extend(
            new.iter()
                .filter(|m| m.action == Action::Mask)
                .map(|m| (m.start, m.end)),
        );
        // A term nested inside a longer one ends first and is found first, so the spans arrive
        // out of start order; `apply_masks` needs them sorted.
        if self.masks.len() != before {
            merge(&mut self.masks);
        }

        let cut = self.release_point();
        StreamStep::Release(self.release(cut))
    }

    fn finish(&mut self) -> StreamStep {
        if self.stopped {
            return StreamStep::Stop;
        }
        // Every push already scanned through the end of the text, so the final check has
        // nothing new to look at: no further text can complete a match now.
        let all = self.held.len();
        StreamStep::Release(self.release(all))
    }

    fn decision(&self) -> Decision {
        Decision::from_matches(self.stage, self.matches.clone(), self.inner.version.clone())
    }
}

#[cfg(test)]
mod tests;
