//! Finding personal information in free text.
//!
//! A hand-written scan rather than the `regex` crate, because the rules are not regular in
//! a way `regex` can express cheaply: full-width digits must be mapped while spans keep
//! pointing at the original bytes; "not preceded or followed by a digit or letter" needs
//! look-around, which `regex` lacks; and a run of separated digit groups
//! (`138 1234 5678 139 …`) has to be split into candidates that each pass a checksum,
//! choosing the longest valid one. The scan is one forward pass over the characters with a
//! window of at most 20 digit groups, plus one bounded pass per `@`, so it runs in linear
//! time and constant extra memory whatever the input (100 MB of digits included).

use std::collections::VecDeque;
use std::ops::Range;

use chrono::{NaiveDate, TimeDelta, Utc};

use crate::chars::{
    digit_value, is_alnum, is_decimal_point, is_letter, is_plus, is_separator, is_x, to_ascii,
};
use crate::id_card::IdCardRules;
use crate::{bank_card, email, phone, uscc, PiiKind};

/// Most digits in any candidate: a 19-digit card number.
const MAX_CANDIDATE_DIGITS: usize = bank_card::MAX_DIGITS;
/// Most separator characters between two groups of one number (`138 - 1234`).
const MAX_SEPARATORS: u8 = 3;
/// Fewest digits in each group of a number written in several groups. Single digits
/// apart (`1 3 5 7 9 …`) are lists and scores far more often than phone numbers.
const MIN_GROUP_DIGITS: usize = 2;

/// One piece of personal information found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PiiMatch {
    /// What was found.
    pub kind: PiiKind,
    /// Byte offset of the first character, on a `char` boundary of the original text.
    pub start: usize,
    /// Byte offset just past the last character, on a `char` boundary of the original text.
    pub end: usize,
}

impl PiiMatch {
    /// The span as a byte range of the original text.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The matched text, or `None` if `text` is not the text this match came from.
    pub fn text<'t>(&self, text: &'t str) -> Option<&'t str> {
        text.get(self.range())
    }
}

/// Finds personal information; holds the date that bounds ID-number birth dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detector {
    id_rules: IdCardRules,
}

impl Default for Detector {
    /// A detector for today's date in China (UTC+8).
    fn default() -> Self {
        Self::new(today_in_china())
    }
}

/// Today's date in China Standard Time (UTC+8, no daylight saving).
pub fn today_in_china() -> NaiveDate {
    (Utc::now() + TimeDelta::hours(8)).date_naive()
}

/// Finds personal information in `text` with [`Detector::default`]; see [`Detector::detect`].
pub fn detect(text: &str) -> Vec<PiiMatch> {
    Detector::default().detect(text)
}

/// A maximal run of digits (ASCII or full-width), possibly ending in an ID check `X`.
#[derive(Debug, Clone, Copy)]
struct Group {
    start: usize,
    end: usize,
    /// Digits in the run; only the first [`MAX_CANDIDATE_DIGITS`] are kept.
    len: usize,
    digits: [u8; MAX_CANDIDATE_DIGITS],
    check_x: bool,
    /// Preceded by a letter or by a decimal point after a digit (`0.138…`).
    blocked_before: bool,
    /// Followed by a letter or by a decimal point and a digit (`…5678.9`).
    blocked_after: bool,
    /// Byte offset of a `+` right before the group.
    plus: Option<usize>,
}

impl Group {
    fn push(&mut self, d: u8) {
        if let Some(slot) = self.digits.get_mut(self.len) {
            *slot = b'0' + d;
        }
        self.len += 1;
    }
}

impl Detector {
    /// A detector that treats `today` as the current date.
    pub fn new(today: NaiveDate) -> Self {
        Self::with_id_rules(IdCardRules::new(today))
    }

    /// A detector with custom ID-number date rules.
    pub fn with_id_rules(id_rules: IdCardRules) -> Self {
        Self { id_rules }
    }

    /// The date treated as today.
    pub fn today(&self) -> NaiveDate {
        self.id_rules.today()
    }

    /// Finds ID numbers, mobile numbers, bank cards, e-mail addresses and credit codes.
    ///
    /// Matches are sorted, never overlap, and each one passes its validator. Numbers may be
    /// written with full-width digits and with up to three spaces or hyphens between digit
    /// groups of at least two digits; a number must not touch another digit or a letter,
    /// nor be part of a decimal number (`0.13812345678`).
    /// Where candidates overlap the longer wins, and for the same span an ID number beats a
    /// credit code, which beats a bank card.
    pub fn detect(&self, text: &str) -> Vec<PiiMatch> {
        let mut found = Vec::new();
        self.detect_into(text, &mut found);
        found
    }

    /// [`Detector::detect`] into `found` (cleared first), so that a caller scanning many
    /// texts reuses one buffer instead of allocating a vector per text.
    pub fn detect_into(&self, text: &str, found: &mut Vec<PiiMatch>) {
        found.clear();
        // Every number we know and every credit code (its area code) has a digit, ASCII or
        // full-width (UTF-8 `EF BC 90..99`); most prose has none, so one byte pass skips
        // the two scans, and within them the text between candidates is skipped the same
        // way, never decoded. Emails need an ASCII `@`.
        let bytes = text.as_bytes();
        if let Some(first) = next_digit(bytes, 0) {
            self.scan_numbers(text, first, found);
        }
        if let Some(at) = memchr::memchr(b'@', bytes) {
            scan_emails(text, at, found);
        }
        resolve_overlaps(found);
    }

    /// Numbers and credit codes, from `first`, the offset of the first digit of `text`.
    fn scan_numbers(&self, text: &str, first: usize, out: &mut Vec<PiiMatch>) {
        let bytes = text.as_bytes();
        let mut run = Run::default();
        // Separators seen since the last group of the run; `None` once the run is broken.
        let mut gap: Option<u8> = None;
        // The character before the current one, and the one before it (the latter tracked
        // only across non-digits).
        let (mut prev, mut before_prev) = context_before(text, first);
        let mut it = chars_from(text, first);
        // End of the last letter-and-digit run examined for a credit code.
        let mut uscc_end = 0;
        while let Some((i, c)) = it.next() {
            let Some(d) = digit_value(c) else {
                gap = match gap {
                    Some(n) if n < MAX_SEPARATORS && is_separator(c) => Some(n + 1),
                    _ => None,
                };
                if gap.is_none() {
                    run.flush(self, out);
                    // Nothing before the next digit can start or extend a number: go there,
                    // with the two characters before it as context (unless it is the next
                    // character, as in dense text like `A1A1…`).
                    let after = i + c.len_utf8();
                    if !bytes.get(after).is_some_and(u8::is_ascii_digit) {
                        let Some(next) = next_digit(bytes, after) else {
                            break;
                        };
                        if next > after {
                            (prev, before_prev) = context_before(text, next);
                            it = chars_from(text, next);
                            continue;
                        }
                    }
                }
                before_prev = prev.map(|(_, p)| p);
                prev = Some((i, c));
                continue;
            };
            if i >= uscc_end {
                uscc_end = uscc_run(text, i, out);
            }
            let mut g = Group {
                start: i,
                end: i + c.len_utf8(),
                len: 0,
                digits: [0; MAX_CANDIDATE_DIGITS],
                check_x: false,
                blocked_before: prev.is_some_and(|(_, p)| {
                    is_letter(p)
                        || (is_decimal_point(p) && before_prev.and_then(digit_value).is_some())
                }),
                blocked_after: false,
                plus: prev.filter(|&(_, p)| is_plus(p)).map(|(j, _)| j),
            };
            g.push(d);
            let mut last = (i, c);
            while let Some(&(j, c2)) = it.peek() {
                let Some(d2) = digit_value(c2) else { break };
                g.push(d2);
                last = (j, c2);
                it.next();
            }
            if let Some(&(j, c2)) = it.peek() {
                if is_x(c2) {
                    let mut ahead = it.clone();
                    ahead.next();
                    if !ahead.peek().is_some_and(|&(_, c3)| is_alnum(c3)) {
                        g.check_x = true;
                        last = (j, c2);
                        it.next();
                    }
                }
            }
            g.end = last.0 + last.1.len_utf8();
            g.blocked_after = match it.peek() {
                Some(&(_, c2)) if is_decimal_point(c2) => {
                    let mut ahead = it.clone();
                    ahead.next();
                    ahead
                        .peek()
                        .is_some_and(|&(_, c3)| digit_value(c3).is_some())
                }
                Some(&(_, c2)) => is_letter(c2),
                None => false,
            };
            prev = Some(last);
            before_prev = None;

            if gap.is_none_or(|n| n == 0) {
                run.flush(self, out);
            }
            if g.len > MAX_CANDIDATE_DIGITS {
                // Too long to be, or to be part of, any number we know.
                run.flush(self, out);
                gap = None;
                continue;
            }
            run.push(g, self, out);
            gap = Some(0);
        }
        run.flush(self, out);
    }

    /// The kind of a digit string (plus a trailing `X`), if it validates as one. `groups`
    /// are the digit counts of the groups it was written in.
    fn classify(&self, digits: &[u8], check_x: bool, groups: &[usize]) -> Option<PiiKind> {
        let is_id = |b: &[u8]| self.id_rules.parse_ascii(b).is_ok();
        let is_phone = |b: &[u8]| phone::parse_ascii(b).is_ok();
        let is_card = |b: &[u8]| bank_card::check_digits(b).is_ok();
        if check_x {
            let mut b = [b'X'; 18];
            let head = b.get_mut(..17)?;
            if digits.len() != 17 {
                return None;
            }
            head.copy_from_slice(digits);
            return is_id(&b).then_some(PiiKind::IdCard);
        }
        match digits.len() {
            11 | 13 if is_phone(digits) => Some(PiiKind::Phone),
            15 if is_id(digits) => Some(PiiKind::IdCard),
            15 if is_phone(digits) => Some(PiiKind::Phone),
            18 if is_id(digits) => Some(PiiKind::IdCard),
            16..=19 if card_grouping(groups) && is_card(digits) => Some(PiiKind::BankCard),
            _ => None,
        }
    }
}

/// Whether a card number is grouped as cards are printed: in one piece, in fours (the last
/// group shorter), or as issuer number plus the rest (6 + 10..13). Luhn passes one random
/// digit string in ten, so without this `138 1234 5678 139 1234` would read as a card.
fn card_grouping(groups: &[usize]) -> bool {
    match groups {
        [_] | [6, _] => true,
        [init @ .., last] => init.iter().all(|&g| g == 4) && (1..=4).contains(last),
        [] => false,
    }
}

/// Digit groups joined by separators, of which only the last few are kept: once the window
/// holds more digits than any candidate, no later group can extend a candidate starting at
/// its front, so the front is decided and dropped.
#[derive(Default)]
struct Run {
    groups: VecDeque<Group>,
    digits: usize,
}

impl Run {
    fn push(&mut self, g: Group, det: &Detector, out: &mut Vec<PiiMatch>) {
        self.digits += g.len;
        self.groups.push_back(g);
        while self.digits > MAX_CANDIDATE_DIGITS {
            self.decide_front(det, out);
        }
    }

    fn flush(&mut self, det: &Detector, out: &mut Vec<PiiMatch>) {
        while !self.groups.is_empty() {
            self.decide_front(det, out);
        }
    }

    /// Emits the longest valid candidate starting at the front group and drops the groups it
    /// covers, or drops just the front group.
    fn decide_front(&mut self, det: &Detector, out: &mut Vec<PiiMatch>) {
        let consumed = match self.best_at_front(det) {
            Some((m, last)) => {
                out.push(m);
                last + 1
            }
            None => 1,
        };
        for g in self.groups.drain(..consumed.min(self.groups.len())) {
            self.digits -= g.len;
        }
    }

    fn best_at_front(&self, det: &Detector) -> Option<(PiiMatch, usize)> {
        let first = self.groups.front()?;
        if first.blocked_before {
            return None;
        }
        let mut buf = [0u8; MAX_CANDIDATE_DIGITS];
        let mut n = 0;
        let mut lens = [0usize; MAX_CANDIDATE_DIGITS];
        let mut best = None;
        let mut prev_x = false;
        for (j, g) in self.groups.iter().enumerate() {
            if n + g.len > MAX_CANDIDATE_DIGITS || prev_x {
                break;
            }
            if j > 0 && (g.len < MIN_GROUP_DIGITS || first.len < MIN_GROUP_DIGITS) {
                break;
            }
            buf.get_mut(n..n + g.len)?
                .copy_from_slice(g.digits.get(..g.len)?);
            n += g.len;
            if g.blocked_after {
                break;
            }
            prev_x = g.check_x;
            *lens.get_mut(j)? = g.len;
            let digits = buf.get(..n)?;
            if let Some(kind) = det.classify(digits, g.check_x, lens.get(..=j)?) {
                // `+86…`: the plus belongs to the number.
                let start = match first.plus {
                    Some(p) if kind == PiiKind::Phone && digits.starts_with(b"86") => p,
                    _ => first.start,
                };
                let m = PiiMatch {
                    kind,
                    start,
                    end: g.end,
                };
                best = Some((m, j));
            }
        }
        best
    }
}

/// Credit codes: maximal runs of exactly 18 letters and digits (either width). Every credit
/// code has digits (its area code), so [`Detector::scan_numbers`] calls this for the run
/// around each group of digits it meets outside the last run examined, and runs without
/// digits (words) are never visited. Returns where the run ends.
fn uscc_run(text: &str, digit: usize, out: &mut Vec<PiiMatch>) -> usize {
    let bytes = text.as_bytes();
    let mut buf = [0u8; 18];
    let start = alnum_run_start(bytes, digit);
    let mut count = 0usize;
    let mut end = start;
    // Byte by byte; only full-width forms (lead byte `EF`) are decoded.
    loop {
        let (b, len) = match bytes.get(end) {
            Some(&b) if b.is_ascii_alphanumeric() => (b, 1),
            Some(0xEF) => match chars_from(text, end).next().and_then(|(_, c)| to_ascii(c)) {
                Some(b) if b.is_ascii_alphanumeric() => (b, 3),
                _ => break,
            },
            _ => break,
        };
        if let Some(slot) = buf.get_mut(count) {
            *slot = b.to_ascii_uppercase();
        }
        count += 1;
        end += len;
    }
    if count == 18 && uscc::check_ascii(&buf).is_ok() {
        out.push(PiiMatch {
            kind: PiiKind::Uscc,
            start,
            end,
        });
    }
    end
}

/// Where the run of letters and digits (either width) that holds byte `at` begins.
fn alnum_run_start(bytes: &[u8], mut at: usize) -> usize {
    loop {
        match at.checked_sub(1).and_then(|i| bytes.get(i)) {
            Some(b) if b.is_ascii_alphanumeric() => at -= 1,
            _ => match at.checked_sub(3).and_then(|i| bytes.get(i..at)) {
                Some(&[0xEF, b1, b2]) if full_width_alnum(b1, b2) => at -= 3,
                _ => return at,
            },
        }
    }
}

/// Whether `EF b1 b2` is a full-width digit or letter (U+FF10..FF19 `EF BC 90..99`,
/// U+FF21..FF3A `EF BC A1..BA`, U+FF41..FF5A `EF BD 81..9A`).
fn full_width_alnum(b1: u8, b2: u8) -> bool {
    match b1 {
        0xBC => (0x90..=0x99).contains(&b2) || (0xA1..=0xBA).contains(&b2),
        0xBD => (0x81..=0x9A).contains(&b2),
        _ => false,
    }
}

/// Iterates the characters of `text` from byte `from` (a `char` boundary), with their
/// offsets in `text`.
fn chars_from(
    text: &str,
    from: usize,
) -> std::iter::Peekable<impl Iterator<Item = (usize, char)> + Clone + '_> {
    text.get(from..)
        .unwrap_or_default()
        .char_indices()
        .map(move |(i, c)| (i + from, c))
        .peekable()
}

/// The character ending at byte `at` (with its offset) and the one before it.
fn context_before(text: &str, at: usize) -> (Option<(usize, char)>, Option<char>) {
    let head = text.get(..at).unwrap_or_default();
    let mut back = head.char_indices().rev();
    (back.next(), back.next().map(|(_, c)| c))
}

/// Offset of the first digit at or after `from`: an ASCII digit, or a full-width one
/// (U+FF10..FF19, UTF-8 `EF BC 90..99`). Byte tests only: the Chinese text between numbers
/// is never decoded.
fn next_digit(bytes: &[u8], from: usize) -> Option<usize> {
    next_byte_class(bytes, from, |b0, b1, b2| {
        (b0.wrapping_sub(b'0') < 10) | (b0 == 0xEF) & (b1 == 0xBC) & (b2.wrapping_sub(0x90) < 10)
    })
}

/// Offset of the first byte at or after `from` for which `class(byte, next, next but one)`
/// holds (missing bytes past the end read as 0). The predicates above use `&`/`|` rather
/// than `&&`/`||` so that they have no branches.
fn next_byte_class(
    bytes: &[u8],
    mut from: usize,
    class: impl Fn(u8, u8, u8) -> bool,
) -> Option<usize> {
    // Sixteen positions at a time without an early exit, which the compiler turns into
    // vector compares (the `memchr` idea for a class of characters rather than a byte); the
    // last block padded with zeros, which no class accepts. Then the position within the
    // block, one by one.
    let any = |w: &[u8; 18]| {
        w.iter()
            .zip(&w[1..])
            .zip(&w[2..])
            .take(16)
            .fold(false, |any, ((&x, &y), &z)| any | class(x, y, z))
    };
    loop {
        match bytes.get(from..from + 18) {
            Some(w) => {
                let w: &[u8; 18] = w.try_into().ok()?;
                if any(w) {
                    break;
                }
            }
            None => {
                let rest = bytes.get(from..).filter(|r| !r.is_empty())?;
                // The padded window tests 16 positions; a rest of 17 bytes (the most there
                // can be here) goes to the byte-by-byte search below.
                if rest.len() <= 16 {
                    let mut w = [0u8; 18];
                    w.iter_mut().zip(rest).for_each(|(d, &s)| *d = s);
                    if !any(&w) {
                        return None;
                    }
                }
                break;
            }
        }
        from += 16;
    }
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    (from..bytes.len()).find(|&i| class(at(i), at(i + 1), at(i + 2)))
}

/// Characters accepted in a detected local part: the practical subset of RFC 5322 atext.
/// The rarer symbols (`=`, `'`, `{`…) are left out because in running text they are far
/// more often delimiters (`email=a@b.cn`) than part of an address.
fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// E-mail addresses around each `@`, from `first`, the offset of the first. Each scan stops at the neighbouring `@` (not a local
/// or domain byte), so every byte is visited at most twice.
fn scan_emails(text: &str, first: usize, out: &mut Vec<PiiMatch>) {
    let b = text.as_bytes();
    let rest = b.get(first..).unwrap_or_default();
    for at in memchr::memchr_iter(b'@', rest).map(|i| i + first) {
        let mut s = at;
        while s > 0 && b.get(s - 1).copied().is_some_and(is_local_byte) {
            s -= 1;
        }
        while s < at && b.get(s) == Some(&b'.') {
            s += 1;
        }
        let mut e = at + 1;
        while b.get(e).copied().is_some_and(is_domain_byte) {
            e += 1;
        }
        while e > at + 1 && matches!(b.get(e - 1), Some(b'.' | b'-')) {
            e -= 1;
        }
        if s == at || e == at + 1 {
            continue;
        }
        if let Some(candidate) = text.get(s..e) {
            if email::check_email(candidate).is_ok() {
                out.push(PiiMatch {
                    kind: PiiKind::Email,
                    start: s,
                    end: e,
                });
            }
        }
    }
}

/// Which kind wins when two kinds claim the same span: the stricter check first.
fn priority(kind: PiiKind) -> u8 {
    match kind {
        PiiKind::IdCard => 4,
        PiiKind::Uscc => 3,
        PiiKind::Email => 2,
        PiiKind::BankCard => 1,
        PiiKind::Phone => 0,
    }
}

/// Sorts and removes overlaps, keeping the longer match (an e-mail address over the phone
/// number that is its local part) and, for equal spans, the higher [`priority`].
fn resolve_overlaps(found: &mut Vec<PiiMatch>) {
    found.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(priority(b.kind).cmp(&priority(a.kind)))
    });
    // In place: `kept` matches are kept at the front.
    let mut kept = 0usize;
    for i in 0..found.len() {
        let Some(&m) = found.get(i) else { break };
        match kept.checked_sub(1).and_then(|k| found.get_mut(k)) {
            Some(last) if m.start < last.end => {
                if m.end - m.start > last.end - last.start {
                    *last = m;
                }
            }
            _ => {
                if let Some(slot) = found.get_mut(kept) {
                    *slot = m;
                }
                kept += 1;
            }
        }
    }
    found.truncate(kept);
}

/// Where the trailing run of `text` that could still be part of — or grow into — personal
/// information begins: letters and digits (ASCII or full-width), the e-mail characters
/// `. _ % + - @`, and up to three separators (spaces, hyphens) that follow a digit, as in
/// `138 1234 5678`. Text before the returned offset can be scanned on its own: [`detect`] on
/// it finds what detection of the whole text would find there. A stream reviewer scans up to
/// this boundary and holds back the rest.
///
/// The walk back stops after `max_bytes`, so a run longer than that (a long token, not
/// personal information as written by people) is cut.
pub fn tail_boundary(text: &str, max_bytes: usize) -> usize {
    let mut boundary = text.len();
    let mut chars = text.char_indices().rev().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if text.len() - i > max_bytes {
            break;
        }
        if is_run_char(c) {
            boundary = i;
            chars.next();
            continue;
        }
        if !is_separator(c) {
            break;
        }
        // A group of separators belongs to the run only if a digit comes before it.
        let mut group = Vec::new();
        while let Some(&(j, s)) = chars.peek() {
            if !is_separator(s) || group.len() > usize::from(MAX_SEPARATORS) {
                break;
            }
            group.push(j);
            chars.next();
        }
        let before_is_digit = chars.peek().is_some_and(|&(_, p)| digit_value(p).is_some());
        if group.len() <= usize::from(MAX_SEPARATORS) && before_is_digit {
            if let Some(&j) = group.last() {
                boundary = j;
            }
            continue;
        }
        break;
    }
    boundary
}

fn is_run_char(c: char) -> bool {
    to_ascii(c).is_some_and(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'@')
    })
}

#[cfg(test)]
mod boundary_tests {
    use super::*;

    #[test]
    fn next_digit_finds_a_digit_at_any_offset_of_any_length() {
        for len in 1..70 {
            for at in 0..len {
                let mut text = vec![b'a'; len];
                text[at] = b'7';
                assert_eq!(next_digit(&text, 0), Some(at), "len {len}, digit at {at}");
                assert_eq!(next_digit(&text, at + 1), None, "len {len}, after {at}");
            }
        }
        // A full-width digit (EF BC 97) straddling the end of a block, and one cut short.
        let mut text = "中".repeat(5).into_bytes();
        text.extend("７".as_bytes());
        assert_eq!(next_digit(&text, 0), Some(15));
        assert_eq!(next_digit(&text[..17], 0), None);
    }

    #[test]
    fn the_boundary_keeps_numbers_and_addresses_whole() {
        fn cut(t: &str) -> &str {
            &t[tail_boundary(t, 256)..]
        }
        assert_eq!(cut("电话：138 - 1234"), "138 - 1234");
        assert_eq!(cut("电话：138  1234  "), "138  1234  ");
        assert_eq!(cut("电话：138\u{a0}1234\u{2010}"), "138\u{a0}1234\u{2010}");
        assert_eq!(cut("邮箱 john%smith@exa"), "john%smith@exa");
        assert_eq!(cut("hello world"), "world");
        assert_eq!(cut("价格 - 5"), "5");
        assert_eq!(cut("好的。"), "");
        assert_eq!(cut("１３８"), "１３８");
        // More than three separators break the run, as they break a number for detect.
        assert_eq!(cut("138    1234"), "1234");
        assert_eq!(cut(&"a".repeat(300)).len(), 256);
    }

    #[test]
    fn scanning_up_to_the_boundary_finds_what_the_whole_text_has_there() {
        let text =
            "电话：138 - 1234 - 5678，邮箱 john%smith@example.com 卡号 6222 0212 3456 7890 128。";
        let whole = detect(text);
        for split in text.char_indices().map(|(i, _)| i) {
            let b = tail_boundary(&text[..split], 256);
            let head = detect(&text[..b]);
            let tail: Vec<PiiMatch> = detect(&text[b..])
                .into_iter()
                .map(|m| PiiMatch {
                    start: m.start + b,
                    end: m.end + b,
                    ..m
                })
                .collect();
            let mut joined = head;
            joined.extend(tail);
            assert_eq!(joined, whole, "split at {split}");
        }
    }
}
