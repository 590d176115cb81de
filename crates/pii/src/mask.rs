//! Display forms that hide personal information.
//!
//! | kind | kept | example |
//! |---|---|---|
//! | ID number | first 3, last 4 | `110***********002X` |
//! | mobile | first 3, last 4 of the national number (prefix dropped) | `138****5678` |
//! | bank card | first 6 (issuer), last 4 — what PCI DSS permits to display | `622202******0123` |
//! | e-mail | first character of the local part, whole domain | `z***@example.com` |
//! | credit code | first 2 (authority and type), last 4 | `91************0Y43` |
//!
//! Credit codes keep only the two classification characters in front: the area code and
//! subject identifier together would point at the organisation (for a 个体工商户, a person).
//! A value too short to keep those characters and still hide four is starred completely.

use crate::chars::{is_plus, is_separator, to_ascii};
use crate::detect::{Detector, PiiMatch};
use crate::PiiKind;

/// How [`Detector::mask_all`] replaces a detected span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MaskStyle {
    /// The normalised display form of [`mask`] (`138****5678`); the text length may change.
    #[default]
    Display,
    /// One `*` per character of the original span, so the text keeps its length in chars.
    Stars,
}

/// Fewest characters a display form hides.
const MIN_HIDDEN: usize = 4;

/// The display form of one value of `kind`.
///
/// `span` need not be valid: it is normalised leniently (separators and `+` dropped,
/// full-width forms mapped to ASCII, a `86`/`0086` phone prefix removed) and never panics.
pub fn mask(kind: PiiKind, span: &str) -> String {
    match kind {
        PiiKind::Email => mask_email(span),
        PiiKind::IdCard => keep_ends(&normalise(span, true), 3, 4),
        PiiKind::Uscc => keep_ends(&normalise(span, true), 2, 4),
        PiiKind::BankCard => keep_ends(&normalise(span, false), 6, 4),
        PiiKind::Phone => {
            let n = normalise(span, false);
            let national = if n.len() == 15 && n.starts_with("0086") {
                &n[4..]
            } else if n.len() == 13 && n.starts_with("86") {
                &n[2..]
            } else {
                &n[..]
            };
            keep_ends(national, 3, 4)
        }
    }
}

/// Replaces every detected span with its display form, using [`Detector::default`].
/// Returns the masked text and the matches, whose offsets refer to the ORIGINAL `text`.
pub fn mask_all(text: &str) -> (String, Vec<PiiMatch>) {
    Detector::default().mask_all(text, MaskStyle::Display)
}

/// Replaces every character of each detected span with `*`, using [`Detector::default`].
/// Returns the masked text and the matches, whose offsets refer to the ORIGINAL `text`.
pub fn mask_all_stars(text: &str) -> (String, Vec<PiiMatch>) {
    Detector::default().mask_all(text, MaskStyle::Stars)
}

impl Detector {
    /// Detects and replaces personal information in `text` in the given style. Returns the
    /// masked text and the matches, whose offsets refer to the ORIGINAL `text`.
    pub fn mask_all(&self, text: &str, style: MaskStyle) -> (String, Vec<PiiMatch>) {
        let matches = self.detect(text);
        (replace_spans(text, &matches, style), matches)
    }
}

/// Replaces sorted, non-overlapping spans; spans that do not fit `text` are left alone.
fn replace_spans(text: &str, matches: &[PiiMatch], style: MaskStyle) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for m in matches {
        let (Some(before), Some(span)) = (text.get(done..m.start), text.get(m.range())) else {
            continue;
        };
        out.push_str(before);
        match style {
            MaskStyle::Display => out.push_str(&mask(m.kind, span)),
            MaskStyle::Stars => out.extend(span.chars().map(|_| '*')),
        }
        done = m.end;
    }
    out.push_str(text.get(done..).unwrap_or(""));
    out
}

/// Drops separators and `+`, maps full-width forms to ASCII, optionally upper-cases.
fn normalise(span: &str, upper: bool) -> String {
    span.chars()
        .filter(|&c| !is_separator(c) && !is_plus(c) && !c.is_whitespace())
        .map(|c| match to_ascii(c) {
            Some(b) if upper => char::from(b.to_ascii_uppercase()),
            Some(b) => char::from(b),
            None => c,
        })
        .collect()
}

fn keep_ends(s: &str, front: usize, back: usize) -> String {
    let n = s.chars().count();
    if n < front + back + MIN_HIDDEN {
        return "*".repeat(n.max(MIN_HIDDEN));
    }
    let mut out = String::with_capacity(n);
    for (i, c) in s.chars().enumerate() {
        out.push(if i < front || i >= n - back { c } else { '*' });
    }
    out
}

fn mask_email(span: &str) -> String {
    let span = span.trim();
    match span.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "*".repeat(span.chars().count().max(MIN_HIDDEN)),
    }
}
