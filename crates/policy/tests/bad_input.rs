#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Bad and extreme input for the review engine: lexicon files that are not UTF-8, empty texts
//! and lexicons, a 100 MB input reviewed in one piece and as a stream, pathological lexicons
//! (100k terms with a long common prefix, thousands of one-char terms), terms that normalise
//! to nothing, and a 100k-entry lexicon file.
//!
//! Sizes and durations are printed (run with `--nocapture` to see them); no assertion depends
//! on timing.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use hegui_policy::normalize::{normalize, MAX_NOISE_GAP, MAX_REPEAT_DROP};
use hegui_policy::{
    Lexicon, LexiconError, LexiconReviewer, ReviewPolicy, Reviewer, StreamReview, StreamStep,
    DEMO_LEXICON,
};
use hegui_types::{Action, MatchInfo, Stage};

/// Generous ceiling for one automaton's heap size.
const MAX_MATCHER_BYTES: usize = 2 << 30;

// ---- helpers ----

/// A TOML basic string for `s`: quotes, backslashes and control chars escaped, the rest as is.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A lexicon file with one entry per term, all with `risk` and `action`. The `[[entry]]` header
/// of the `j`-th term (from 0) is on line `entry_line(j)`.
fn lexicon_text<'a>(name: &str, terms: impl IntoIterator<Item = &'a str>, action: &str) -> String {
    let mut text = format!("[lexicon]\nname = {}\n", toml_str(name));
    for term in terms {
        let _ = write!(
            text,
            "\n[[entry]]\nterm = {}\nrisk = \"A1-4\"\naction = {}\n",
            toml_str(term),
            toml_str(action)
        );
    }
    text
}

/// Line of the `[[entry]]` header of the `j`-th entry written by [`lexicon_text`].
fn entry_line(j: usize) -> usize {
    4 + 5 * j
}

/// Pushes `chunks` then finishes; returns the released text and whether the stream stopped.
fn run_stream<'a>(
    stream: &mut dyn StreamReview,
    chunks: impl IntoIterator<Item = &'a str>,
) -> (String, bool) {
    let mut released = String::new();
    for chunk in chunks {
        match stream.push(chunk) {
            StreamStep::Release(s) => released.push_str(&s),
            StreamStep::Stop => return (released, true),
        }
    }
    match stream.finish() {
        StreamStep::Release(s) => released.push_str(&s),
        StreamStep::Stop => return (released, true),
    }
    (released, false)
}

/// Splits `text` into pieces of at most `max` bytes (at least one char each), at char
/// boundaries.
fn chunks(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = max.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out
}

/// `(rule, start, end)` of each match, for comparing decisions.
fn spans(matches: &[MatchInfo]) -> Vec<(String, usize, usize)> {
    matches
        .iter()
        .map(|m| (m.rule.to_string(), m.start, m.end))
        .collect()
}

/// Peak resident set of this process (all tests in it), from `/proc`, for information.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Small deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// CJK chars, in code point order from U+4E00, that normalise to exactly themselves.
fn plain_cjk_chars() -> impl Iterator<Item = char> {
    ('\u{4E00}'..='\u{9FA5}').filter(|&c| {
        let n = normalize(c.encode_utf8(&mut [0; 4]));
        n.chars().eq(std::iter::once(c))
    })
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

// ---- lexicon files that are not UTF-8 ----

#[test]
fn a_lexicon_file_with_an_invalid_byte_is_rejected_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], usize); 7] = [
        // A stray byte inside a term.
        (
            "term.toml",
            b"[lexicon]\nname = \"x\"\n\n[[entry]]\nterm = \"\xff\"\nrisk = \"A1-4\"\n",
            5,
        ),
        // On the first line, before anything valid.
        ("first.toml", b"\xfe[lexicon]\nname = \"x\"\n", 1),
        // Right after a newline.
        ("after_newline.toml", b"[lexicon]\n\x80name = \"x\"\n", 2),
        // A truncated multi-byte sequence (the first two bytes of U+9020) at the end of a line.
        (
            "truncated.toml",
            b"[lexicon]\nname = \"x\"\n[[entry]]\nterm = \"\xe5\x88\xb6\xe9\x80\"\nrisk = \"A1-4\"\n",
            4,
        ),
        // An overlong encoding of '/'.
        ("overlong.toml", b"[lexicon]\nname = \"x\"\n# \xc0\xaf\n", 3),
        // An encoded UTF-16 surrogate (CESU-8).
        ("surrogate.toml", b"[lexicon]\n\n\n# \xed\xa0\x80\n", 4),
        // Latin-1 text in a comment at the very end, without a final newline.
        (
            "latin1.toml",
            b"[lexicon]\nname = \"x\"\n\n\n\n# caf\xe9",
            6,
        ),
    ];
    for (name, bytes, line) in cases {
        let path = write_file(dir.path(), name, bytes);
        let shown = path.display().to_string();
        let e = Lexicon::load(&path).unwrap_err();
        match &e {
            LexiconError::NotUtf8 { file, line: at } => {
                assert_eq!(file, &shown, "{name}");
                assert_eq!(*at, line, "{name}");
            }
            other => panic!("{name}: expected NotUtf8, got {other:?}"),
        }
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("{shown}:{line}: ")), "{msg}");
        assert!(msg.contains("UTF-8"), "{msg}");
        let all = Lexicon::load_checked(&path).unwrap_err();
        assert_eq!(all.len(), 1, "{name}: {all:?}");
    }
}

#[test]
fn a_byte_order_mark_or_valid_multi_byte_text_is_not_mistaken_for_bad_utf8() {
    let dir = tempfile::tempdir().unwrap();
    // A BOM is valid UTF-8; whether TOML accepts it is the parser's business, but it must not
    // be reported as an encoding problem.
    let path = write_file(
        dir.path(),
        "bom.toml",
        "\u{feff}[lexicon]\nname = \"x\"\n".as_bytes(),
    );
    if let Err(e) = Lexicon::load(&path) {
        assert!(!matches!(e, LexiconError::NotUtf8 { .. }), "{e:?}");
    }
    let path = write_file(
        dir.path(),
        "ok.toml",
        lexicon_text("x", ["制造炸弹", "𠀀𠀁"], "block").as_bytes(),
    );
    assert_eq!(Lexicon::load(&path).unwrap().entries().len(), 2);
}

// ---- empty text and empty lexicons ----

#[test]
fn empty_text_and_empty_lexicons_are_reviewed_without_fuss() {
    let empty_file = Lexicon::parse("empty.toml", "[lexicon]\nname = \"empty\"\n").unwrap();
    assert!(empty_file.entries().is_empty());
    let policy = ReviewPolicy::default();
    let reviewers = [
        ("no lexicons", LexiconReviewer::new(vec![]).unwrap()),
        (
            "no lexicons, no pii",
            LexiconReviewer::build(vec![], &policy, false).unwrap(),
        ),
        (
            "a lexicon without entries",
            LexiconReviewer::new(vec![empty_file.clone()]).unwrap(),
        ),
        (
            "a lexicon without entries, no pii",
            LexiconReviewer::build(vec![empty_file], &policy, false).unwrap(),
        ),
        ("demo", LexiconReviewer::demo().unwrap()),
    ];
    for (what, r) in &reviewers {
        eprintln!("{what}: matcher {:?}", r.matcher_info());
        for stage in [Stage::Input, Stage::Output] {
            let review = r.review(stage, "");
            assert_eq!(review.text, "", "{what}");
            assert_eq!(review.decision.action, Action::Allow, "{what}");
            assert!(review.decision.matches.is_empty(), "{what}");
            assert_eq!(review.decision.policy_version, r.version(), "{what}");

            // A stream of nothing, of empty chunks only, and finished twice.
            let mut s = r.stream(stage);
            assert_eq!(s.finish(), StreamStep::Release(String::new()), "{what}");
            assert_eq!(s.finish(), StreamStep::Release(String::new()), "{what}");
            assert_eq!(s.decision().action, Action::Allow, "{what}");
            let mut s = r.stream(stage);
            let (released, stopped) = run_stream(s.as_mut(), ["", "", ""]);
            assert_eq!((released.as_str(), stopped), ("", false), "{what}");

            // Empty chunks between real ones change nothing.
            let text = "你好，世界 hello";
            let mut s = r.stream(stage);
            let (released, stopped) =
                run_stream(s.as_mut(), ["", "你好，", "", "世界", " hello", ""]);
            assert_eq!((released.as_str(), stopped), (text, false), "{what}");
            assert_eq!(r.review(stage, text).text, text, "{what}");
        }
    }
    for (what, r) in reviewers.iter().take(4) {
        assert_eq!(r.term_count(), 0, "{what}");
        assert_eq!(r.max_held_chars(), 0, "{what}");
        assert_eq!(r.matcher_info(), ("none", 0), "{what}");
        // Without any term, a text that the demo lexicon would block passes.
        assert_eq!(
            r.review(Stage::Input, "请教我制造炸弹").decision.action,
            Action::Allow,
            "{what}"
        );
    }
}

#[test]
fn empty_or_blank_lexicon_files_are_syntax_errors_naming_the_file() {
    for text in ["", "\n\n", "# only a comment\n", "   "] {
        let e = Lexicon::parse("blank.toml", text).unwrap_err();
        assert!(matches!(e, LexiconError::Syntax { .. }), "{text:?}: {e:?}");
        let msg = e.to_string();
        assert!(msg.starts_with("blank.toml"), "{msg}");
        assert!(msg.contains("lexicon"), "{msg}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "zero.toml", b"");
    let msg = Lexicon::load(&path).unwrap_err().to_string();
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
}

// ---- a huge input ----

/// About `bytes` of Chinese text with noise (punctuation, spaces, emoji, zero-width chars,
/// newlines, long noise runs and runs of repeated chars) and, now and then, a demo term without
/// its last char, which a stream must hold back until the next char, but which no demo pattern
/// matches: apart from those fragments, its chars normalise to chars that occur in no demo
/// term, variant or exception, and each fragment stands between two such chars.
fn huge_clean_text(bytes: usize) -> String {
    let demo = Lexicon::parse("demo.toml", DEMO_LEXICON).unwrap();
    let mut used: HashSet<char> = HashSet::new();
    for e in demo.entries() {
        used.extend(e.normalized_term().chars());
        for s in e.variants().iter().chain(e.exceptions()) {
            used.extend(s.chars());
        }
    }
    // Simplified and traditional chars alike (traditional ones normalise to simplified).
    let cjk: Vec<char> = ('\u{4E00}'..='\u{9FA5}')
        .filter(|&c| {
            let n = normalize(c.encode_utf8(&mut [0; 4]));
            let mut it = n.chars();
            matches!((it.next(), it.next()), (Some(d), None) if !d.is_ascii() && !used.contains(&d))
        })
        .step_by(5)
        .collect();
    assert!(cjk.len() > 1_000, "{}", cjk.len());
    let demo_reviewer = LexiconReviewer::demo().unwrap();
    let fragments: Vec<String> = demo
        .entries()
        .iter()
        .filter(|e| e.combination().is_none() && e.term().chars().count() >= 2)
        .map(|e| {
            let mut t = e.term().to_string();
            t.pop();
            t
        })
        .filter(|f| {
            // A fragment that happens to contain another term is no use here.
            let alone = format!("{}{f}{}", cjk[0], cjk[1]);
            demo_reviewer
                .review(Stage::Output, &alone)
                .decision
                .matches
                .is_empty()
        })
        .collect();
    assert!(fragments.len() > 50, "{}", fragments.len());
    let noise = [
        ' ', '，', '。', '！', '？', '、', '\u{200b}', '😀', '《', '》', '\n', '“', '”', '…',
        '\u{3000}', '～', '·', '\u{0301}', '\u{feff}',
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut text = String::with_capacity(bytes + 64);
    let mut last = '中';
    while text.len() < bytes {
        match rng.below(100) {
            0..=67 => {
                last = cjk[rng.below(cjk.len())];
                text.push(last);
            }
            70..=89 => text.push(noise[rng.below(noise.len())]),
            68..=69 => {
                text.push(cjk[rng.below(cjk.len())]);
                text.push_str(&fragments[rng.below(fragments.len())]);
                last = cjk[rng.below(cjk.len())];
                text.push(last);
            }
            90..=94 => {
                // A run of repeats, sometimes with noise in between.
                for _ in 0..rng.below(20) {
                    text.push(last);
                    if rng.below(3) == 0 {
                        text.push(noise[rng.below(noise.len())]);
                    }
                }
            }
            _ => {
                // A noise run, often long enough to separate.
                for _ in 0..1 + rng.below(10) {
                    text.push(noise[rng.below(noise.len())]);
                }
            }
        }
    }
    text
}

#[test]
fn a_100_mb_input_is_reviewed_in_one_piece_and_as_a_stream_with_bounded_hold_back() {
    let t = Instant::now();
    let text = huge_clean_text(100 * 1024 * 1024);
    let total_chars = text.chars().count();
    eprintln!(
        "huge input: {} bytes, {total_chars} chars, built in {:?}",
        text.len(),
        t.elapsed()
    );
    let r = LexiconReviewer::demo().unwrap();

    let t = Instant::now();
    let review = r.review(Stage::Output, &text);
    eprintln!("huge input: batch review {:?}", t.elapsed());
    assert_eq!(review.decision.action, Action::Allow);
    assert!(
        review.decision.matches.is_empty(),
        "{:?}",
        review.decision.matches.get(..5)
    );
    // Not assert_eq!: a failure must not print 100 MB.
    assert!(review.text == text, "batch review changed the text");
    drop(review);

    // How much a stream may hold back, in original chars: each of the `max_held_chars`
    // normalised chars (and the trailing partial one) stands for at most itself plus
    // MAX_REPEAT_DROP dropped repeats, each of the 1 + MAX_REPEAT_DROP chars preceded by at
    // most MAX_NOISE_GAP noise chars.
    let per_char = (MAX_REPEAT_DROP as usize + 1) * (MAX_NOISE_GAP as usize + 1);
    let bound = (r.max_held_chars() + 1) * per_char;

    let t = Instant::now();
    let mut s = r.stream(Stage::Output);
    let mut released = String::with_capacity(text.len());
    let (mut pushed_chars, mut released_chars, mut max_held) = (0usize, 0usize, 0usize);
    let pieces = chunks(&text, 64 * 1024);
    for chunk in &pieces {
        pushed_chars += chunk.chars().count();
        match s.push(chunk) {
            StreamStep::Release(out) => {
                released_chars += out.chars().count();
                released.push_str(&out);
            }
            StreamStep::Stop => panic!("the stream stopped at char {pushed_chars}"),
        }
        max_held = max_held.max(pushed_chars - released_chars);
    }
    match s.finish() {
        StreamStep::Release(out) => {
            released_chars += out.chars().count();
            released.push_str(&out);
        }
        StreamStep::Stop => panic!("the stream stopped at the end"),
    }
    eprintln!(
        "huge input: stream of {} chunks {:?}; held back at most {max_held} chars (bound \
         {bound}, max_held_chars {})",
        pieces.len(),
        t.elapsed(),
        r.max_held_chars()
    );
    assert_eq!(released_chars, total_chars);
    assert!(released == text, "the stream released other text");
    assert!(
        max_held <= bound,
        "held back {max_held} chars, bound {bound}"
    );
    assert_eq!(s.decision().action, Action::Allow);
    eprintln!("huge input: peak RSS of the test process {}", peak_rss());
}

// ---- pathological lexicons ----

/// Parses `terms` as lexicons of `per_file` entries each, named `{prefix}{index}`.
fn parse_split(prefix: &str, terms: &[String], per_file: usize, action: &str) -> Vec<Lexicon> {
    terms
        .chunks(per_file)
        .enumerate()
        .map(|(i, part)| {
            let name = format!("{prefix}{i}");
            let text = lexicon_text(&name, part.iter().map(String::as_str), action);
            Lexicon::parse(&format!("{name}.toml"), &text).unwrap()
        })
        .collect()
}

#[test]
fn a_lexicon_of_100k_terms_with_a_long_common_prefix_builds_and_matches() {
    const TERMS: usize = 100_000;
    const PER_FILE: usize = TERMS;
    const PREFIX_CHARS: usize = 64;
    let prefix: String = plain_cjk_chars().step_by(3).take(PREFIX_CHARS).collect();
    assert_eq!(normalize(&prefix), prefix);
    let terms: Vec<String> = (0..TERMS).map(|i| format!("{prefix}{i:05}")).collect();

    let t = Instant::now();
    let lexicons = parse_split("p", &terms, PER_FILE, "flag");
    let parsed = t.elapsed();
    let t = Instant::now();
    let r = LexiconReviewer::new(lexicons).unwrap();
    let built = t.elapsed();
    let (kind, bytes) = r.matcher_info();
    eprintln!(
        "common prefix: {TERMS} terms of {} chars, parsed in {parsed:?}, built in {built:?}; \
         matcher {kind}, {bytes} bytes ({:.1} MiB); peak RSS {}",
        PREFIX_CHARS + 5,
        bytes as f64 / (1024.0 * 1024.0),
        peak_rss()
    );
    assert!(bytes < MAX_MATCHER_BYTES, "{bytes}");
    assert_eq!(r.term_count(), TERMS);
    assert_eq!(r.max_held_chars(), PREFIX_CHARS + 5 - 1);

    // Near misses (the prefix with 4 digits, a partial prefix) and one real term, 12345.
    let partial: String = prefix.chars().take(PREFIX_CHARS - 1).collect();
    let head = format!("前言：{prefix}1234。{partial}12345，");
    let text = format!("{head}{prefix}12345。后记");
    let start = head.len();
    let end = start + prefix.len() + 5;
    let rule = format!("p{}:{}", 12_345 / PER_FILE, entry_line(12_345 % PER_FILE));
    let t = Instant::now();
    let review = r.review(Stage::Input, &text);
    eprintln!("common prefix: review {:?}", t.elapsed());
    assert_eq!(spans(&review.decision.matches), vec![(rule, start, end)]);
    assert_eq!(review.decision.action, Action::Flag);
    assert_eq!(review.text, text);

    // The same through a stream, char by char and in 7-byte chunks.
    for max in [1, 7] {
        let mut s = r.stream(Stage::Input);
        let (released, stopped) = run_stream(s.as_mut(), chunks(&text, max));
        assert_eq!((released.as_str(), stopped), (text.as_str(), false));
        assert_eq!(
            spans(&s.decision().matches),
            spans(&review.decision.matches)
        );
    }
}

#[test]
fn a_lexicon_of_5000_one_char_terms_builds_and_matches() {
    const CHARS: u32 = 5_000;
    const PER_FILE: usize = CHARS as usize;
    // Every char from U+4E00 on, but only the first of those with the same normal form: a
    // traditional char and its simplified form, or a numeral and its financial form, are one
    // term after normalisation, and listing both in one lexicon is a duplicate.
    let mut seen: HashSet<String> = HashSet::new();
    let mut kept: Vec<String> = Vec::new();
    let mut dropped: Vec<(char, String)> = Vec::new();
    for c in (0x4E00..0x4E00 + CHARS).filter_map(char::from_u32) {
        let n = normalize(c.encode_utf8(&mut [0; 4]));
        assert!(!n.is_empty(), "{c}");
        if seen.insert(n.clone()) {
            kept.push(c.to_string());
        } else {
            dropped.push((c, n));
        }
    }
    let lexicons = parse_split("c", &kept, PER_FILE, "flag");
    let t = Instant::now();
    let r = LexiconReviewer::new(lexicons).unwrap();
    let (kind, bytes) = r.matcher_info();
    eprintln!(
        "one-char terms: {} of {CHARS} chars kept ({} share a normal form with an earlier \
         one), built in {:?}; matcher {kind}, {bytes} bytes",
        kept.len(),
        dropped.len(),
        t.elapsed()
    );
    assert!(bytes < MAX_MATCHER_BYTES, "{bytes}");
    assert_eq!(r.max_held_chars(), 0);
    let rule_of = |i: usize| format!("c{}:{}", i / PER_FILE, entry_line(i % PER_FILE));

    // One term in ASCII text: U+4E01 is the second char kept.
    assert_eq!(kept[1], "丁");
    let review = r.review(Stage::Output, "abc 丁 def");
    assert_eq!(spans(&review.decision.matches), vec![(rule_of(1), 4, 7)]);

    // A text made only of terms, separated by noise: one match per char, in order.
    let mut rng = Rng(7);
    let picks: Vec<usize> = (0..200).map(|_| rng.below(kept.len())).collect();
    let mut text = String::new();
    let mut expected = Vec::new();
    let mut previous = None;
    for &i in &picks {
        let start = text.len();
        text.push_str(&kept[i]);
        // A repeated non-ASCII char (noise between does not matter) collapses into the first;
        // ASCII digits (numerals) do not.
        if previous != Some(i) || normalize(&kept[i]).is_ascii() {
            expected.push((rule_of(i), start, text.len()));
        }
        previous = Some(i);
        text.push('，');
    }
    let review = r.review(Stage::Output, &text);
    assert_eq!(spans(&review.decision.matches), expected);
    assert_eq!(review.text, text);
    let mut s = r.stream(Stage::Output);
    let (released, stopped) = run_stream(s.as_mut(), chunks(&text, 1));
    assert_eq!((released.as_str(), stopped), (text.as_str(), false));
    assert_eq!(spans(&s.decision().matches), expected);

    // A char left out as a duplicate matches the term it normalises like.
    let (c, n) = dropped.first().cloned().unwrap();
    let first = kept
        .iter()
        .position(|k| normalize(k) == n)
        .expect("an earlier char with the same normal form");
    let text = c.to_string();
    let review = r.review(Stage::Output, &text);
    assert_eq!(
        spans(&review.decision.matches),
        vec![(rule_of(first), 0, text.len())],
        "{c} normalises to {n} like {}",
        kept[first]
    );
    // ... and in one lexicon the two are a duplicate, reported at the later entry.
    let e = Lexicon::parse(
        "dup.toml",
        &lexicon_text("dup", [kept[first].as_str(), text.as_str()], "flag"),
    )
    .unwrap_err();
    assert!(
        matches!(e, LexiconError::DuplicateTerm { line, first_line, .. }
            if line == entry_line(1) && first_line == entry_line(0)),
        "{e:?}"
    );
}

// ---- terms that normalise to nothing ----

#[test]
fn terms_that_normalise_to_empty_are_rejected_with_a_clear_error() {
    let blanks = [
        "",
        " ",
        "\t",
        "\u{3000}",
        "\u{200b}",
        "\u{200b}\u{200c}\u{200d}\u{feff}\u{2060}",
        "!!!",
        "。，、？！",
        "——……",
        "@#$%^*()[]{}",
        "😀",
        "👨\u{200d}👩\u{200d}👧",
        "\u{0301}\u{0308}",
        "\u{fe0f}",
        "\u{0}",
        "\u{1}\u{7f}",
        "\r\n",
        "\u{202e}\u{202d}",
        "〰〽",
        "★☆♥",
    ];
    let long_blank = " ".repeat(10_000);
    for term in blanks.iter().copied().chain([long_blank.as_str()]) {
        assert_eq!(normalize(term), "", "{term:?}");
        let text = lexicon_text("x", ["ok", term], "block");
        let e = Lexicon::parse("t.toml", &text).unwrap_err();
        // The term key is on the line after the second entry's header.
        let line = entry_line(1) + 1;
        assert!(
            matches!(&e, LexiconError::EmptyTerm { file, line: l } if file == "t.toml" && *l == line),
            "{term:?}: {e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("t.toml:{line}: empty term:")),
            "{msg}"
        );
        assert!(msg.contains("visible characters"), "{msg}");
    }

    // Every blank term is reported, not only the first.
    let text = lexicon_text("x", ["", "ok", "。", "好"], "block");
    let errors = Lexicon::check("t.toml", &text).unwrap_err();
    let lines: Vec<usize> = errors
        .iter()
        .map(|e| match e {
            LexiconError::EmptyTerm { line, .. } => *line,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lines, vec![entry_line(0) + 1, entry_line(2) + 1]);

    // A combination with a part that is empty or blank.
    for term in [
        "a&", "&a", "a&&b", "a~", "~a", "a&。", "a~  ", "&", "~", "&~",
    ] {
        let text = lexicon_text("x", [term], "block");
        let e = Lexicon::parse("t.toml", &text).unwrap_err();
        let line = entry_line(0) + 1;
        assert!(
            matches!(&e, LexiconError::Entry { line: l, .. } if *l == line),
            "{term:?}: {e:?}"
        );
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("t.toml:{line}: ")), "{msg}");
        assert!(msg.contains("empty part"), "{msg}");
    }

    // A blank exception context cannot contain the term.
    let text = "[lexicon]\nname = \"x\"\n[[entry]]\nterm = \"炸弹\"\nrisk = \"A1-4\"\nexcept = [\"！！\"]\n";
    let msg = Lexicon::parse("t.toml", text).unwrap_err().to_string();
    assert!(msg.starts_with("t.toml:6: exception"), "{msg}");
    assert!(msg.contains("does not contain the term"), "{msg}");
}

// ---- a lexicon file with 100k entries ----

fn numbered_lexicon(entries: usize) -> String {
    let mut text = String::from("[lexicon]\nname = \"big\"\n");
    for i in 0..entries {
        let _ = write!(
            text,
            "\n[[entry]]\nterm = \"词{i:06}\"\nrisk = \"A1-4\"\naction = \"flag\"\n"
        );
    }
    text
}

fn time_parse(entries: usize) -> std::time::Duration {
    let text = numbered_lexicon(entries);
    let t = Instant::now();
    let lex = Lexicon::parse("big.toml", &text).unwrap();
    let took = t.elapsed();
    assert_eq!(lex.entries().len(), entries);
    assert_eq!(lex.entries()[entries - 1].line(), entry_line(entries - 1));
    let t = Instant::now();
    let r = LexiconReviewer::new(vec![lex]).unwrap();
    eprintln!(
        "lexicon file of {entries} entries ({} bytes): parsed in {took:?}; reviewer built in \
         {:?}, matcher {:?}",
        text.len(),
        t.elapsed(),
        r.matcher_info()
    );
    let last = format!("词{:06}", entries - 1);
    let review = r.review(Stage::Input, &format!("看{last}。"));
    assert_eq!(
        spans(&review.decision.matches),
        vec![(
            format!("big:{}", entry_line(entries - 1)),
            3,
            3 + last.len()
        )]
    );
    took
}

/// Parsing time by file size, printed (parsing once took time quadratic in the file size,
/// when each entry's line was found by counting newlines from the start of the file).
#[test]
fn a_lexicon_toml_with_100k_entries_parses() {
    let small = time_parse(10_000);
    let large = time_parse(100_000);
    eprintln!(
        "lexicon parse: 100k entries took {:.1}x as long as 10k",
        large.as_secs_f64() / small.as_secs_f64().max(1e-9)
    );
}
