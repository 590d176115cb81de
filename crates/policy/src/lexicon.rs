//! Lexicons: lists of terms, each with a risk code and the action to take when it matches.
//!
//! # File format
//!
//! A lexicon is a UTF-8 TOML file:
//!
//! ```toml
//! [lexicon]
//! name = "demo"            # required, [a-z0-9_-]+; unique among the lexicons in force
//! description = "..."      # optional
//!
//! [[entry]]
//! term = "制造炸弹"          # required, non-empty after normalisation, unique in this file
//! risk = "A1-4"            # required: a TC260 risk code A1-1..A5-2, or PII-<type>
//! action = "block"         # optional: allow | flag | mask | block | safe_answer
//! severity = "high"        # optional: low | medium (default) | high
//! except = ["炸弹糖"]        # optional: longer contexts in which the term is harmless
//! pinyin = true            # optional: also match the pinyin spelling (zhizaozhadan)
//! initials = false         # optional: also match the pinyin initials (zzzd)
//! note = "..."             # optional, for people
//!
//! [[entry]]
//! term = "毒品&购买~新闻"     # a combination: all of the &-terms, none of the ~-terms
//! risk = "A1-8"
//! ```
//!
//! Without an `action`, the review policy decides from (risk, severity, stage).
//!
//! Unknown keys are errors, so a misspelt key cannot silently disable an entry. Terms are
//! compared after [normalisation](crate::normalize): `ＡＢＣ` and `abc` are the same term, and
//! listing both in one file is a duplicate. Every error names the file and line and says what
//! to change. An entry is identified in match records as `<lexicon name>:<line of [[entry]]>`,
//! which never reveals the term itself. The lexicon's version is the SHA-256 of the file bytes.

use std::collections::HashMap;
use std::path::Path;

use hegui_types::{Action, Severity};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::normalize::normalize;
use crate::taxonomy;

/// Why a lexicon (or a set of lexicons) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    /// The file could not be read.
    #[error("{file}: cannot read lexicon: {source}; check the path and its permissions")]
    Read {
        /// The path as given.
        file: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{file}:{line}: lexicon is not valid UTF-8; save the file as UTF-8")]
    NotUtf8 {
        /// File name used in messages.
        file: String,
        /// Line of the first invalid byte.
        line: usize,
    },
    /// The TOML is malformed, has an unknown key, or lacks a required key.
    #[error(
        "{}: {message}; see LEXICON.md for the lexicon format",
        location(.file, *.line)
    )]
    Syntax {
        /// File name used in messages.
        file: String,
        /// Line of the problem, when the parser knows it.
        line: Option<usize>,
        /// The parser's description of the problem.
        message: String,
    },
    /// `[lexicon] name` has characters outside `[a-z0-9_-]`.
    #[error(
        "{file}:{line}: invalid lexicon name {name:?}: use only lower-case letters, digits, '_' and '-'"
    )]
    InvalidName {
        /// File name used in messages.
        file: String,
        /// Line of the `name` key.
        line: usize,
        /// The rejected name.
        name: String,
    },
    /// An entry is inconsistent (bad severity, combination, exception or pinyin option).
    #[error("{file}:{line}: {problem}")]
    Entry {
        /// File name used in messages.
        file: String,
        /// Line of the offending key.
        line: usize,
        /// What is wrong and what to do.
        problem: String,
    },
    /// An entry's `term` is empty or blank after normalisation.
    #[error(
        "{file}:{line}: empty term: give the entry a term with visible characters, or remove it"
    )]
    EmptyTerm {
        /// File name used in messages.
        file: String,
        /// Line of the `term` key.
        line: usize,
    },
    /// An entry's `risk` is neither a TC260 risk code nor `PII-<type>`.
    #[error(
        "{file}:{line}: unknown risk code {risk}: use one of A1-1..A1-8, A2-1..A2-9, A3-1..A3-5, \
         A4-1..A4-7, A5-1..A5-2 or PII-<type> (type in [a-z0-9_-])"
    )]
    UnknownRisk {
        /// File name used in messages.
        file: String,
        /// Line of the `risk` key.
        line: usize,
        /// The rejected code.
        risk: String,
    },
    /// An entry's `action` is not one of the known actions.
    #[error(
        "{file}:{line}: unknown action {action:?}: use one of allow, flag, mask, block, safe_answer"
    )]
    UnknownAction {
        /// File name used in messages.
        file: String,
        /// Line of the `action` key.
        line: usize,
        /// The rejected action.
        action: String,
    },
    /// Two entries of one lexicon have the same term after normalisation.
    #[error(
        "{file}:{line}: duplicate term {term:?}: the entry at line {first_line} already has it \
         (terms are compared after normalisation); remove or merge one of the two entries"
    )]
    DuplicateTerm {
        /// File name used in messages.
        file: String,
        /// Line of the later entry.
        line: usize,
        /// Line of the earlier entry with the same term.
        first_line: usize,
        /// The term as written in the later entry.
        term: String,
    },
    /// Two lexicons given to one reviewer share a name, which would make rule ids ambiguous.
    #[error(
        "lexicons {first} and {second} are both named {name:?}: give each lexicon a unique \
         [lexicon] name"
    )]
    DuplicateName {
        /// The shared name.
        name: String,
        /// File name of the first lexicon.
        first: String,
        /// File name of the second lexicon.
        second: String,
    },
    /// The matcher could not be built (for example, the terms are too many or too long).
    #[error("cannot build the term matcher: {message}; reduce the number or length of terms")]
    Matcher {
        /// The matcher library's description.
        message: String,
    },
}

impl LexiconError {
    /// The line the error points at, when it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            LexiconError::NotUtf8 { line, .. }
            | LexiconError::InvalidName { line, .. }
            | LexiconError::Entry { line, .. }
            | LexiconError::EmptyTerm { line, .. }
            | LexiconError::UnknownRisk { line, .. }
            | LexiconError::UnknownAction { line, .. }
            | LexiconError::DuplicateTerm { line, .. } => Some(*line),
            LexiconError::Syntax { line, .. } => *line,
            LexiconError::Read { .. }
            | LexiconError::DuplicateName { .. }
            | LexiconError::Matcher { .. } => None,
        }
    }
}

fn location(file: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_string(),
    }
}

/// How many terms one combination may join.
pub const MAX_COMBINATION_TERMS: usize = 16;
/// How many pinyin spellings one entry may generate (polyphonic chars multiply them).
pub const MAX_PINYIN_VARIANTS: usize = 32;

/// A combination entry: all of `all` and none of `none` (see [`Entry::combination`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combination {
    /// Normalised terms that must all appear.
    pub all: Vec<String>,
    /// Normalised terms none of which may appear before the combination completes.
    pub none: Vec<String>,
}

/// One validated lexicon entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    term: String,
    normalized: String,
    risk: String,
    action: Option<Action>,
    severity: Severity,
    exceptions: Vec<String>,
    combination: Option<Combination>,
    variants: Vec<String>,
    line: usize,
}

impl Entry {
    /// The term as written in the file.
    pub fn term(&self) -> &str {
        &self.term
    }

    /// The term after normalisation, as matched against normalised text (for a combination,
    /// its canonical `a&b~c` form).
    pub fn normalized_term(&self) -> &str {
        &self.normalized
    }

    /// TC260 risk code or `PII-<type>`.
    pub fn risk(&self) -> &str {
        &self.risk
    }

    /// The action written in the entry; `None` leaves it to the review policy.
    pub fn action(&self) -> Option<Action> {
        self.action
    }

    /// The entry's severity (`medium` when the file does not say).
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// Normalised contexts in which the term is harmless: a match inside one of them does not
    /// count. Each contains the term.
    pub fn exceptions(&self) -> &[String] {
        &self.exceptions
    }

    /// For a term written `a&b~c`: all of `a`, `b` anywhere in the text, and no `c` before
    /// they are all there.
    pub fn combination(&self) -> Option<&Combination> {
        self.combination.as_ref()
    }

    /// Extra normalised spellings that match as the term does (pinyin, pinyin initials).
    pub fn variants(&self) -> &[String] {
        &self.variants
    }

    /// 1-based line of the entry's `[[entry]]` header.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// A parsed and validated lexicon file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexicon {
    source: String,
    name: String,
    description: Option<String>,
    entries: Vec<Entry>,
    version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    lexicon: RawHeader,
    #[serde(default)]
    entry: Vec<Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    term: Spanned<String>,
    risk: Spanned<String>,
    #[serde(default)]
    action: Option<Spanned<String>>,
    #[serde(default)]
    severity: Option<Spanned<String>>,
    #[serde(default)]
    except: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pinyin: Option<Spanned<bool>>,
    #[serde(default)]
    initials: Option<Spanned<bool>>,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonHeader {
    lexicon: JsonHeaderBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonHeaderBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

/// One entry of the JSON Lines form; the same keys as [`RawEntry`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntry {
    term: String,
    risk: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    except: Option<Vec<String>>,
    #[serde(default)]
    pinyin: Option<bool>,
    #[serde(default)]
    initials: Option<bool>,
    #[serde(default)]
    note: Option<String>,
}

impl JsonEntry {
    /// The TOML entry it stands for; every span is empty because a JSON line has one line.
    fn into_raw(self) -> RawEntry {
        let s = |v| Spanned::new(0..0, v);
        RawEntry {
            term: s(self.term),
            risk: s(self.risk),
            action: self.action.map(s),
            severity: self.severity.map(s),
            except: self.except.map(|v| Spanned::new(0..0, v)),
            pinyin: self.pinyin.map(|v| Spanned::new(0..0, v)),
            initials: self.initials.map(|v| Spanned::new(0..0, v)),
            note: self.note,
        }
    }
}

impl Lexicon {
    /// Parses and validates lexicon text; `name_for_errors` (usually the path) prefixes errors.
    /// Stops at the first problem; [`Lexicon::check`] lists them all.
    pub fn parse(name_for_errors: &str, text: &str) -> Result<Lexicon, LexiconError> {
        Lexicon::check(name_for_errors, text).map_err(|mut errors| errors.swap_remove(0))
    }

    /// Parses and validates lexicon text, reporting every problem (in line order) rather than
    /// the first. The error list is never empty. A name ending in `.jsonl` is read as JSON
    /// Lines (see [`Lexicon::check_jsonl`]), anything else as TOML.
    pub fn check(name_for_errors: &str, text: &str) -> Result<Lexicon, Vec<LexiconError>> {
        if name_for_errors.ends_with(".jsonl") {
            return Lexicon::check_jsonl(name_for_errors, text);
        }
        let file = name_for_errors;
        let lines = LineIndex::new(text);
        let line_at = |offset: usize| lines.line(offset);
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            vec![LexiconError::Syntax {
                file: file.to_string(),
                line: e.span().map(|s| line_at(s.start)),
                message: e.message().trim_end().to_string(),
            }]
        })?;
        let name_line = line_at(raw.lexicon.name.span().start);
        let entries = raw.entry.into_iter().map(|spanned| {
            let entry_line = line_at(spanned.span().start);
            (
                entry_line,
                parse_entry(file, entry_line, spanned.into_inner(), &line_at),
            )
        });
        Lexicon::validated(
            file,
            text,
            (raw.lexicon.name.into_inner(), name_line),
            raw.lexicon.description,
            entries,
        )
    }

    /// Parses the JSON Lines form of a lexicon, meant for large, generated lexicons: it is read
    /// line by line, so memory stays near the size of the entries. The first non-blank line is
    /// the header, every other non-blank line one entry, with the same keys and meaning as the
    /// TOML form:
    ///
    /// ```text
    /// {"lexicon": {"name": "ops", "description": "..."}}
    /// {"term": "制造炸弹", "risk": "A1-4", "action": "block"}
    /// {"term": "炸弹", "risk": "A1-4", "severity": "high", "except": ["炸弹糖"]}
    /// ```
    pub fn check_jsonl(name_for_errors: &str, text: &str) -> Result<Lexicon, Vec<LexiconError>> {
        let file = name_for_errors;
        let syntax = |line: usize, e: serde_json::Error| LexiconError::Syntax {
            file: file.to_string(),
            line: Some(line),
            message: e.to_string(),
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((header_line, header)) = lines.next() else {
            return Err(vec![LexiconError::Syntax {
                file: file.to_string(),
                line: Some(1),
                message: "empty lexicon: the first line must be the header \
                          {\"lexicon\": {\"name\": \"...\"}}"
                    .into(),
            }]);
        };
        let header: JsonHeader =
            serde_json::from_str(header).map_err(|e| vec![syntax(header_line, e)])?;
        let mut errors = Vec::new();
        let mut parsed = Vec::new();
        for (line, text) in lines {
            match serde_json::from_str::<JsonEntry>(text) {
                Ok(e) => {
                    let at_line = |_: usize| line;
                    parsed.push((line, parse_entry(file, line, e.into_raw(), &at_line)));
                }
                Err(e) => errors.push(syntax(line, e)),
            }
        }
        let lexicon = Lexicon::validated(
            file,
            text,
            (header.lexicon.name, header_line),
            header.lexicon.description,
            parsed.into_iter(),
        );
        match lexicon {
            Ok(l) if errors.is_empty() => Ok(l),
            Ok(_) => Err(errors),
            Err(mut more) => {
                errors.append(&mut more);
                errors.sort_by_key(LexiconError::line);
                Err(errors)
            }
        }
    }

    /// The checks common to both forms: the name, each entry, duplicates after normalisation.
    fn validated(
        file: &str,
        text: &str,
        (name, name_line): (String, usize),
        description: Option<String>,
        entries: impl Iterator<Item = (usize, Result<Entry, LexiconError>)>,
    ) -> Result<Lexicon, Vec<LexiconError>> {
        let mut errors = Vec::new();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            errors.push(LexiconError::InvalidName {
                file: file.to_string(),
                line: name_line,
                name: name.clone(),
            });
        }
        let mut kept = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (entry_line, result) in entries {
            match result {
                Ok(entry) => {
                    if let Some(&first_line) = seen.get(&entry.normalized) {
                        errors.push(LexiconError::DuplicateTerm {
                            file: file.to_string(),
                            line: entry_line,
                            first_line,
                            term: entry.term.clone(),
                        });
                        continue;
                    }
                    seen.insert(entry.normalized.clone(), entry_line);
                    kept.push(entry);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Lexicon {
            source: file.to_string(),
            name,
            description,
            entries: kept,
            version: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    /// Reads and parses a lexicon file.
    pub fn load(path: impl AsRef<Path>) -> Result<Lexicon, LexiconError> {
        Lexicon::load_checked(path).map_err(|mut errors| errors.swap_remove(0))
    }

    /// Reads and parses a lexicon file, reporting every problem.
    pub fn load_checked(path: impl AsRef<Path>) -> Result<Lexicon, Vec<LexiconError>> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| {
            vec![LexiconError::Read {
                file: file.clone(),
                source,
            }]
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            vec![LexiconError::NotUtf8 {
                file: file.clone(),
                line: 1 + bytes
                    .get(..e.valid_up_to())
                    .unwrap_or_default()
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count(),
            }]
        })?;
        Lexicon::check(&file, text)
    }

    /// The lexicon's `[lexicon] name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The optional `[lexicon] description`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Hex SHA-256 of the file bytes.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The name used in error messages (usually the path the lexicon was loaded from).
    pub fn source_name(&self) -> &str {
        &self.source
    }
}

fn parse_entry(
    file: &str,
    entry_line: usize,
    raw: RawEntry,
    line_at: &dyn Fn(usize) -> usize,
) -> Result<Entry, LexiconError> {
    let err = |line: usize, problem: String| LexiconError::Entry {
        file: file.to_string(),
        line,
        problem,
    };
    let term_line = line_at(raw.term.span().start);
    let term = raw.term.into_inner();

    let risk = raw.risk;
    if !taxonomy::is_known_code(risk.get_ref()) {
        return Err(LexiconError::UnknownRisk {
            file: file.to_string(),
            line: line_at(risk.span().start),
            risk: risk.into_inner(),
        });
    }
    let action = match raw.action {
        None => None,
        Some(a) => match Action::parse(a.get_ref()) {
            Some(parsed) => Some(parsed),
            None => {
                return Err(LexiconError::UnknownAction {
                    file: file.to_string(),
                    line: line_at(a.span().start),
                    action: a.into_inner(),
                })
            }
        },
    };
    let severity = match raw.severity {
        None => Severity::Medium,
        Some(s) => Severity::parse(s.get_ref()).ok_or_else(|| {
            err(
                line_at(s.span().start),
                format!(
                    "unknown severity {:?}: use one of low, medium, high",
                    s.get_ref()
                ),
            )
        })?,
    };

    let is_combination = term.contains(['&', '~']);
    let (normalized, combination) = if is_combination {
        let c = parse_combination(&term).map_err(|p| err(term_line, p))?;
        if action == Some(Action::Mask) {
            return Err(err(
                term_line,
                "a combination cannot use action \"mask\" (there is no single span to mask): \
                 use flag, block or safe_answer"
                    .to_string(),
            ));
        }
        let mut canonical = c.all.join("&");
        for n in &c.none {
            canonical.push('~');
            canonical.push_str(n);
        }
        (canonical, Some(c))
    } else {
        let n = normalize(&term);
        if n.is_empty() {
            return Err(LexiconError::EmptyTerm {
                file: file.to_string(),
                line: term_line,
            });
        }
        (n, None)
    };

    let mut exceptions = Vec::new();
    if let Some(except) = raw.except {
        let line = line_at(except.span().start);
        if combination.is_some() {
            return Err(err(
                line,
                "`except` cannot be used with a combination (a term with & or ~): use ~term \
                 for contexts that cancel a combination"
                    .to_string(),
            ));
        }
        for context in except.into_inner() {
            let n = normalize(&context);
            if !n.contains(&normalized) {
                return Err(err(
                    line,
                    format!(
                        "exception {context:?} does not contain the term {term:?} (after \
                         normalisation): an exception is a longer text around the term in \
                         which it is harmless"
                    ),
                ));
            }
            if n == normalized {
                return Err(err(
                    line,
                    format!(
                        "exception {context:?} is the term itself, which would disable the \
                         entry: remove the entry instead"
                    ),
                ));
            }
            exceptions.push(n);
        }
    }

    let mut variants = Vec::new();
    for (flag, initials) in [(raw.pinyin, false), (raw.initials, true)] {
        let Some(flag) = flag else { continue };
        if !*flag.get_ref() {
            continue;
        }
        let line = line_at(flag.span().start);
        if combination.is_some() {
            return Err(err(
                line,
                "pinyin matching is not available for combinations: list the pinyin \
                 spelling as its own entry"
                    .to_string(),
            ));
        }
        let spellings = pinyin_spellings(&term, initials);
        if spellings.is_empty() {
            return Err(err(
                line,
                format!("the term {term:?} has no Chinese characters to spell in pinyin"),
            ));
        }
        for s in spellings {
            let n = normalize(&s);
            if n != normalized && !variants.contains(&n) {
                variants.push(n);
            }
        }
    }

    Ok(Entry {
        term,
        normalized,
        risk: risk.into_inner(),
        action,
        severity,
        exceptions,
        combination,
        variants,
        line: entry_line,
    })
}

/// Parses `a&b~c~d`: `&` joins terms that must all appear, `~` introduces terms that must not.
fn parse_combination(term: &str) -> Result<Combination, String> {
    let mut all = Vec::new();
    let mut none = Vec::new();
    let mut rest = term;
    let mut negative = false;
    loop {
        let cut = rest.find(['&', '~']).unwrap_or(rest.len());
        let (atom, tail) = rest.split_at(cut);
        let n = normalize(atom);
        if n.is_empty() {
            return Err(format!(
                "combination {term:?} has an empty part: write terms joined by & (all of) and \
                 ~ (none of), e.g. \"毒品&购买~新闻\""
            ));
        }
        if negative {
            none.push(n)
        } else {
            all.push(n)
        }
        let mut chars = tail.chars();
        match chars.next() {
            None => break,
            Some('&') if !negative => {}
            Some('&') => {
                return Err(format!(
                    "combination {term:?} has & after ~: list every all-of term (&) before the \
                     none-of terms (~)"
                ))
            }
            Some(_) => negative = true,
        }
        rest = chars.as_str();
    }
    if all.len() + none.len() > MAX_COMBINATION_TERMS {
        return Err(format!(
            "combination {term:?} joins {} terms; the limit is {MAX_COMBINATION_TERMS}",
            all.len() + none.len()
        ));
    }
    Ok(Combination { all, none })
}

/// Pinyin spellings of a term (full syllables, or their initials), one per combination of the
/// readings of its polyphonic chars, the most common reading first, at most
/// [`MAX_PINYIN_VARIANTS`]. Empty when the term has no Chinese chars.
fn pinyin_spellings(term: &str, initials: bool) -> Vec<String> {
    use pinyin::ToPinyinMulti;
    let mut spellings = vec![String::new()];
    let mut any_han = false;
    for c in term.chars() {
        let readings: Vec<String> = match c.to_pinyin_multi() {
            Some(multi) => {
                any_han = true;
                let mut r: Vec<String> = Vec::new();
                for p in multi {
                    let s = if initials {
                        p.first_letter().to_string()
                    } else {
                        p.plain().to_string()
                    };
                    if !r.contains(&s) {
                        r.push(s);
                    }
                }
                r
            }
            None => vec![c.to_string()],
        };
        let mut next = Vec::new();
        for prefix in &spellings {
            for r in &readings {
                if next.len() < MAX_PINYIN_VARIANTS {
                    next.push(format!("{prefix}{r}"));
                }
            }
        }
        spellings = next;
    }
    if any_han {
        spellings
    } else {
        Vec::new()
    }
}

/// Line starts of a text, so that mapping an offset to its line is a binary search (a lexicon
/// of 100,000 entries asks for half a million lines).
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"# a comment
[lexicon]
name = "test_lex-1"
description = "for tests"

[[entry]]
term = "制造炸弹"
risk = "A1-4"
action = "block"

[[entry]]
term = "ＡＢＣ"
risk = "PII-phone"
action = "mask"
"#;

    fn parse_err(text: &str) -> LexiconError {
        match Lexicon::parse("t.toml", text) {
            Ok(lex) => panic!("expected an error, parsed {lex:?}"),
            Err(e) => e,
        }
    }

    fn entry_text(term: &str, risk: &str, action: &str) -> String {
        format!("[[entry]]\nterm = {term:?}\nrisk = {risk:?}\naction = {action:?}\n")
    }

    #[test]
    fn a_valid_lexicon_parses_with_entry_lines() {
        let lex = Lexicon::parse("t.toml", GOOD).unwrap();
        assert_eq!(lex.name(), "test_lex-1");
        assert_eq!(lex.description(), Some("for tests"));
        assert_eq!(lex.source_name(), "t.toml");
        let e = lex.entries();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].term(), e[0].risk(), e[0].action(), e[0].line()),
            ("制造炸弹", "A1-4", Some(Action::Block), 6)
        );
        assert_eq!(
            (e[1].term(), e[1].normalized_term(), e[1].line()),
            ("ＡＢＣ", "abc", 11)
        );
        assert_eq!(e[1].action(), Some(Action::Mask));
    }

    #[test]
    fn version_is_the_sha256_of_the_bytes_and_changes_with_them() {
        let a = Lexicon::parse("t.toml", GOOD).unwrap();
        assert_eq!(a.version(), hex::encode(Sha256::digest(GOOD.as_bytes())));
        assert_eq!(a.version().len(), 64);
        let b = Lexicon::parse("t.toml", &format!("{GOOD}\n# edited\n")).unwrap();
        assert_ne!(a.version(), b.version());
    }

    #[test]
    fn a_lexicon_without_entries_is_valid() {
        let lex = Lexicon::parse("t.toml", "[lexicon]\nname = \"empty\"\n").unwrap();
        assert!(lex.entries().is_empty());
        assert_eq!(lex.description(), None);
    }

    #[test]
    fn syntax_errors_report_the_line() {
        let text = "[lexicon]\nname = \"x\"\n\n[[entry]]\nterm = \"a\nrisk = \"A1-4\"\n";
        let e = parse_err(text);
        assert!(
            matches!(e, LexiconError::Syntax { line: Some(5), .. }),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("t.toml:5: "), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_at_their_line() {
        let text = "[lexicon]\nname = \"x\"\n[[entry]]\nterm = \"a\"\nrisk = \"A1-4\"\naction = \"block\"\nweight = 3\n";
        let e = parse_err(text);
        assert!(
            matches!(e, LexiconError::Syntax { line: Some(7), .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("weight"), "{e}");

        let e = parse_err("[lexicon]\nname = \"x\"\nowner = \"me\"\n");
        assert!(
            matches!(e, LexiconError::Syntax { line: Some(3), .. }),
            "{e:?}"
        );

        let e = parse_err("[lexicon]\nname = \"x\"\n[extra]\n");
        assert!(matches!(e, LexiconError::Syntax { .. }), "{e:?}");
        assert!(e.to_string().contains("extra"), "{e}");
    }

    #[test]
    fn missing_keys_are_errors_at_the_entry_line() {
        let e =
            parse_err("[lexicon]\nname = \"x\"\n\n[[entry]]\nterm = \"a\"\naction = \"block\"\n");
        assert!(
            matches!(e, LexiconError::Syntax { line: Some(4), .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("missing field `risk`"), "{e}");
        let e = parse_err("[[entry]]\nterm = \"a\"\nrisk = \"A1-4\"\naction = \"block\"\n");
        assert!(e.to_string().contains("lexicon"), "{e}");
    }

    #[test]
    fn unknown_risk_code_names_the_line_and_the_valid_codes() {
        let text = format!(
            "[lexicon]\nname = \"x\"\n{}{}",
            entry_text("a", "A1-4", "block"),
            entry_text("b", "A9-1", "block")
        );
        let e = parse_err(&text);
        assert!(
            matches!(&e, LexiconError::UnknownRisk { line: 9, risk, .. } if risk == "A9-1"),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with("t.toml:9: unknown risk code A9-1: use one of A1-1.."),
            "{msg}"
        );
        assert!(msg.contains("PII-<type>"), "{msg}");
    }

    #[test]
    fn bad_pii_codes_are_rejected() {
        for bad in ["PII-", "PII-Phone", "pii-phone", "A1-9", "A6-1", ""] {
            let text = format!("[lexicon]\nname = \"x\"\n{}", entry_text("a", bad, "block"));
            assert!(
                matches!(parse_err(&text), LexiconError::UnknownRisk { line: 5, .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_action_names_the_line() {
        let text = format!(
            "[lexicon]\nname = \"x\"\n{}",
            entry_text("a", "A1-4", "delete")
        );
        let e = parse_err(&text);
        assert!(
            matches!(&e, LexiconError::UnknownAction { line: 6, action, .. } if action == "delete"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("allow, flag, mask, block, safe_answer"),
            "{e}"
        );
    }

    #[test]
    fn blank_terms_are_rejected() {
        // U+3000 is the ideographic space; NFKC turns it into an ASCII space.
        for blank in ["", "   ", "\u{3000}", "\u{3000} "] {
            let text = format!(
                "[lexicon]\nname = \"x\"\n[[entry]]\nterm = \"{blank}\"\nrisk = \"A1-4\"\naction = \"block\"\n"
            );
            assert!(
                matches!(parse_err(&text), LexiconError::EmptyTerm { line: 4, .. }),
                "{blank:?}"
            );
        }
    }

    #[test]
    fn duplicate_terms_name_both_lines_even_when_written_differently() {
        let text = format!(
            "[lexicon]\nname = \"x\"\n{}\n{}",
            entry_text("abc", "A1-4", "block"),
            entry_text("ＡＢＣ", "A1-6", "flag")
        );
        let e = parse_err(&text);
        assert!(
            matches!(&e, LexiconError::DuplicateTerm { line: 8, first_line: 3, term, .. } if term == "ＡＢＣ"),
            "{e:?}"
        );
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn invalid_names_are_rejected_at_their_line() {
        for bad in ["", "Demo", "de mo", "演示"] {
            let e = parse_err(&format!("\n[lexicon]\nname = {bad:?}\n"));
            assert!(
                matches!(e, LexiconError::InvalidName { line: 3, .. }),
                "{bad:?}: {e:?}"
            );
        }
    }

    #[test]
    fn load_reads_a_file_and_reports_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lex.toml");
        std::fs::write(&path, GOOD).unwrap();
        let lex = Lexicon::load(&path).unwrap();
        assert_eq!(
            lex,
            Lexicon::parse(&path.display().to_string(), GOOD).unwrap()
        );

        std::fs::write(
            &path,
            format!("{GOOD}[[entry]]\nterm = \"x\"\nrisk = \"A1-4\"\naction = \"nope\"\n"),
        )
        .unwrap();
        let msg = Lexicon::load(&path).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("{}:18: ", path.display())),
            "{msg}"
        );

        let missing = dir.path().join("missing.toml");
        let e = Lexicon::load(&missing).unwrap_err();
        assert!(matches!(e, LexiconError::Read { .. }), "{e:?}");
        assert!(e.to_string().contains("missing.toml"), "{e}");
    }

    #[test]
    fn non_utf8_files_report_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, b"[lexicon]\nname = \"x\"\n# \xff\n").unwrap();
        let e = Lexicon::load(&path).unwrap_err();
        assert!(matches!(e, LexiconError::NotUtf8 { line: 3, .. }), "{e:?}");
    }

    #[test]
    fn the_jsonl_form_reads_like_the_toml_form() {
        let jsonl = concat!(
            "{\"lexicon\": {\"name\": \"ops\", \"description\": \"d\"}}\n",
            "\n",
            "{\"term\": \"制造炸弹\", \"risk\": \"A1-4\", \"action\": \"block\"}\n",
            "{\"term\": \"炸弹\", \"risk\": \"A1-4\", \"severity\": \"high\", \"except\": [\"炸弹糖\"]}\n",
            "{\"term\": \"傻冒\", \"risk\": \"A2-9\", \"pinyin\": true, \"note\": \"n\"}\n",
        );
        let lex = Lexicon::parse("ops.jsonl", jsonl).unwrap();
        assert_eq!(lex.name(), "ops");
        assert_eq!(lex.description(), Some("d"));
        let e = lex.entries();
        assert_eq!(e.len(), 3);
        assert_eq!((e[0].line(), e[0].action()), (3, Some(Action::Block)));
        assert_eq!(
            (e[1].severity(), e[1].exceptions()),
            (Severity::High, &["炸弹糖".to_string()][..])
        );
        assert!(e[2].variants().contains(&"shamao".to_string()));
        assert_eq!(lex.version(), hex::encode(Sha256::digest(jsonl.as_bytes())));
    }

    #[test]
    fn jsonl_errors_name_every_bad_line() {
        let jsonl = concat!(
            "{\"lexicon\": {\"name\": \"ops\"}}\n",
            "{\"term\": \"a\", \"risk\": \"A9-1\"}\n",
            "{\"term\": \"b\", \"risk\": \"A1-1\", \"acton\": \"block\"}\n",
            "{\"term\": \"c\", \"risk\": \"A1-1\"\n",
            "{\"term\": \"ａ\", \"risk\": \"A1-1\"}\n",
            "{\"term\": \"a\", \"risk\": \"A1-2\"}\n",
        );
        let errors = Lexicon::check("ops.jsonl", jsonl).unwrap_err();
        let lines: Vec<Option<usize>> = errors.iter().map(LexiconError::line).collect();
        assert_eq!(
            lines,
            vec![Some(2), Some(3), Some(4), Some(6)],
            "{errors:?}"
        );
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text[0].starts_with("ops.jsonl:2: unknown risk code A9-1"),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("ops.jsonl:3: ") && text[1].contains("acton"),
            "{text:?}"
        );
        assert!(
            text[3].contains("duplicate term") && text[3].contains("line 5"),
            "{text:?}"
        );
        let e = Lexicon::parse("x.jsonl", "\n\n").unwrap_err().to_string();
        assert!(e.contains("header"), "{e}");
        let e = Lexicon::parse("x.jsonl", "{\"lexicon\": {\"name\": \"Bad\"}}").unwrap_err();
        assert!(
            matches!(e, LexiconError::InvalidName { line: 1, .. }),
            "{e:?}"
        );
    }
}
