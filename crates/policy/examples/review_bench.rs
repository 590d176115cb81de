//! Benchmark of the review engine against large real lexicons (BENCHMARKS.md, "Review engine").
//!
//! Run through `bench/review.sh`, which prepares the data and runs the peers side by side, or
//! directly:
//!
//! ```text
//! cargo build --release -p hegui-policy --example review_bench
//! review_bench lexicon WORDS OUTDIR [--shard 0]
//!     Writes the lexicon OUTDIR/jieba.toml (`[lexicon] name = "jieba"`, one `[[entry]]` per
//!     word, risk A1-8, action flag) from a word list, one word a line; with --shard N > 0,
//!     files OUTDIR/jieba-NNNN.toml of N entries each instead. Words whose normal form is empty
//!     are skipped, and so are words whose normal form an earlier word already has (a lexicon
//!     rejects duplicates after normalisation). A word containing `&` or `~` (combination
//!     syntax) is written as its normal form, which matches the same text. Then loads it back
//!     and reports how long that took.
//! review_bench hegui LEXICON TEXT [--piece BYTES] [--pii 0|1]
//!     LexiconReviewer::review(Stage::Input, piece) over the text cut into pieces of BYTES
//!     (default 65536, cut back to a char boundary): full normalisation; matches = listed +
//!     `omitted_matches` (allow/flag matches beyond the reviewer's listing limit).
//!     LEXICON is a lexicon file or a folder of them. --pii 1 turns the PII detectors on too
//!     (LexiconReviewer::build(.., pii)).
//! review_bench raw WORDS TEXT [--piece BYTES]
//!     The `aho-corasick` crate as a peer (DFA up to 400 kB of patterns, else contiguous NFA,
//!     the configuration the engine used before daachorse; MatchKind::Standard), built from the
//!     raw words and run with find_overlapping_iter over the same pieces of raw text: no
//!     normalisation.
//! review_bench daachorse WORDS TEXT [--piece BYTES]
//!     The engine's automaton crate alone: daachorse's charwise automaton built from the raw
//!     words, find_overlapping_iter over the same pieces of raw text: no normalisation.
//! review_bench step LEXICON TEXT [--lanes 1|2]
//!     Diagnostic: the engine's own automaton (daachorse charwise, from the same patterns as the
//!     reviewer: the normalised terms) stepped char by char over the raw text, counting
//!     matches, without normalisation or match records: what the automaton alone costs in the
//!     engine's loop. With --lanes 2 it then steps two lanes (the two halves of the text) in
//!     one loop, to see whether two independent chains of state loads overlap, and reports
//!     both runs and whether their match counts agree.
//! review_bench norm TEXT
//!     Diagnostic: hegui_policy::normalize::Normalizer over every char, nothing else.
//! review_bench stream LEXICON|demo TEXT [--tokens 10000] [--chars-per-token 1.5]
//!                     [--long-chars 1000000] [--repeat 20] [--seed 1] [--pii 0|1]
//!     Streaming review (Reviewer::stream(Stage::Output)) of text pushed in random 1..=8-char
//!     chunks: CPU for a stream of --tokens tokens (mean over at least --repeat streams and one
//!     second), then the cost per chunk along one --long-chars stream, by windows of 1000 chunks
//!     (deciles: the median window of each tenth). The stream text is the text's lines in
//!     order, skipping lines whose review would stop the stream.
//! ```
//!
//! Every mode prints one JSON object on stdout. Times: `*_wall_s` from a monotonic clock,
//! `*_cpu_s` the thread's CPU time (`/proc/thread-self/schedstat`); memory: `VmRSS` and `VmHWM`
//! (peak) of the process from `/proc/self/status`, in bytes.

use std::collections::HashSet;
use std::error::Error;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind, StartKind};
use hegui_policy::normalize::{normalize, warm_up, Normalizer, SEPARATOR};
use hegui_policy::{Lexicon, LexiconReviewer, ReviewPolicy, Reviewer, StreamStep, DEMO_LEXICON};
use hegui_types::Stage;
use serde_json::{json, Value};

type Res<T> = Result<T, Box<dyn Error>>;

/// The threshold between DFA and contiguous NFA the engine used with `aho-corasick`.
const DFA_MAX_PATTERN_BYTES: usize = 400_000;

const USAGE: &str = "usage: review_bench lexicon WORDS OUTDIR [--shard N] \
    | hegui LEXICON TEXT [--piece N] [--pii 0|1] \
    | raw WORDS TEXT [--piece N] | daachorse WORDS TEXT [--piece N] | step LEXICON TEXT [--lanes 1|2] \
    | norm TEXT \
    | stream LEXICON|demo TEXT [--tokens N] [--chars-per-token F] [--long-chars N] [--repeat N] \
    [--seed N] [--pii 0|1]";

fn main() {
    match run() {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("review_bench: error: {e}");
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

fn run() -> Res<Value> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (positional, options) = split_args(&args)?;
    let pos = |i: usize| -> Res<&str> {
        positional
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}").into())
    };
    let opt = |name: &str, default: f64| -> Res<f64> {
        match options.iter().find(|(k, _)| k == name) {
            Some((_, v)) => Ok(v.parse::<f64>().map_err(|e| format!("--{name} {v}: {e}"))?),
            None => Ok(default),
        }
    };
    let piece = opt("piece", 65536.0)? as usize;
    match pos(0)? {
        "lexicon" => make_lexicon(pos(1)?, pos(2)?, opt("shard", 0.0)? as usize),
        "hegui" => bench_hegui(pos(1)?, pos(2)?, piece.max(4), opt("pii", 0.0)? != 0.0),
        "raw" => bench_raw(pos(1)?, pos(2)?, piece.max(4)),
        "daachorse" => bench_daachorse(pos(1)?, pos(2)?, piece.max(4)),
        "step" => bench_step(pos(1)?, pos(2)?, opt("lanes", 1.0)? as usize),
        "norm" => bench_norm(pos(1)?),
        "stream" => bench_stream(
            pos(1)?,
            pos(2)?,
            StreamOptions {
                tokens: opt("tokens", 10_000.0)?,
                chars_per_token: opt("chars-per-token", 1.5)?,
                long_chars: opt("long-chars", 1_000_000.0)? as usize,
                repeat: (opt("repeat", 20.0)? as usize).max(1),
                seed: opt("seed", 1.0)? as u64,
                pii: opt("pii", 0.0)? != 0.0,
            },
        ),
        other => Err(format!("unknown mode {other:?}").into()),
    }
}

type Options = Vec<(String, String)>;

fn split_args(args: &[String]) -> Res<(Vec<String>, Options)> {
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            options.push((name.to_string(), value.clone()));
        } else {
            positional.push(a.clone());
        }
    }
    Ok((positional, options))
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

/// `VmRSS` and `VmHWM` of this process, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e9)
}

/// A running wall-clock and CPU timer.
struct Timer {
    wall: Instant,
    cpu: f64,
}

impl Timer {
    fn start() -> Timer {
        Timer {
            wall: Instant::now(),
            cpu: thread_cpu(),
        }
    }

    /// (wall seconds, CPU seconds) since start.
    fn stop(&self) -> (f64, f64) {
        (self.wall.elapsed().as_secs_f64(), thread_cpu() - self.cpu)
    }
}

/// The text cut into pieces of at most `size` bytes, each cut moved back to a char boundary
/// (the peers' drivers cut the same way, so every engine sees the same pieces).
fn pieces(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::with_capacity(text.len() / size + 1);
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + size).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if let Some(p) = text.get(start..end) {
            out.push(p);
        }
        start = end;
    }
    out
}

fn read_text(path: &str) -> Res<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}").into())
}

fn read_words(path: &str) -> Res<Vec<String>> {
    Ok(read_text(path)?
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

fn text_fields(text: &str, piece_count: usize) -> Value {
    json!({
        "text_bytes": text.len(),
        "text_chars": text.chars().count(),
        "pieces": piece_count,
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

// ---------------------------------------------------------------------------------------------
// lexicon

fn toml_string(s: &str) -> String {
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

fn make_lexicon(words_path: &str, out_dir: &str, shard: usize) -> Res<Value> {
    let words = read_words(words_path)?;
    let mut seen: HashSet<String> = HashSet::with_capacity(words.len());
    let (mut empty, mut duplicate, mut rewritten) = (0usize, 0usize, 0usize);
    let (mut changed, mut single_raw, mut single_norm) = (0usize, 0usize, 0usize);
    let mut terms: Vec<String> = Vec::with_capacity(words.len());
    for word in &words {
        let n = normalize(word);
        changed += usize::from(n != *word);
        single_raw += usize::from(word.chars().count() == 1);
        if n.is_empty() {
            empty += 1;
            continue;
        }
        if seen.contains(&n) {
            duplicate += 1;
            continue;
        }
        single_norm += usize::from(n.chars().count() == 1);
        if word.contains(['&', '~']) {
            rewritten += 1;
            terms.push(n.clone());
        } else {
            terms.push(word.clone());
        }
        seen.insert(n);
    }
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{out_dir}: {e}"))?;
    for old in std::fs::read_dir(out_dir)? {
        let old = old?.path();
        if old.extension().is_some_and(|x| x == "toml") {
            std::fs::remove_file(&old)?;
        }
    }
    let per_file = if shard == 0 {
        terms.len().max(1)
    } else {
        shard
    };
    let mut toml_bytes = 0usize;
    let mut files = 0usize;
    for (i, part) in terms.chunks(per_file).enumerate() {
        let name = if shard == 0 {
            "jieba".to_string()
        } else {
            format!("jieba-{i:04}")
        };
        let mut toml = String::with_capacity(part.len() * 60);
        let _ = write!(
            toml,
            "# Generated by crates/policy/examples/review_bench.rs from a word list; \
             benchmark data.\n[lexicon]\nname = \"{name}\"\n"
        );
        for term in part {
            let _ = write!(
                toml,
                "[[entry]]\nterm = {}\nrisk = \"A1-8\"\naction = \"flag\"\n",
                toml_string(term)
            );
        }
        let path = std::path::Path::new(out_dir).join(format!("{name}.toml"));
        std::fs::write(&path, &toml).map_err(|e| format!("{}: {e}", path.display()))?;
        toml_bytes += toml.len();
        files += 1;
    }
    // Check it loads, so a bad lexicon fails here rather than in the middle of the benchmark.
    let t = Timer::start();
    let lexicons = load_lexicons(out_dir)?;
    let (load_s, _) = t.stop();
    let loaded: usize = lexicons.iter().map(|l| l.entries().len()).sum();
    Ok(json!({
        "mode": "lexicon",
        "words": words.len(),
        "empty_after_normalisation": empty,
        "duplicate_after_normalisation": duplicate,
        "written_as_normal_form": rewritten,
        "words_changed_by_normalisation": changed,
        "single_char_words": single_raw,
        "single_char_entries": single_norm,
        "entries": terms.len(),
        "loaded_entries": loaded,
        "files": files,
        "entries_per_file": per_file,
        "toml_bytes": toml_bytes,
        "load_s": load_s,
    }))
}

/// Loads a lexicon file, or every `*.toml` file of a folder (in name order).
fn load_lexicons(path: &str) -> Res<Vec<Lexicon>> {
    let p = std::path::Path::new(path);
    if !p.is_dir() {
        return Ok(vec![Lexicon::load(p)?]);
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(p)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{path}: no *.toml lexicon in this folder").into());
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        out.push(Lexicon::load(&f)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// hegui

fn bench_hegui(lexicon_path: &str, text_path: &str, piece: usize, pii: bool) -> Res<Value> {
    let t = Timer::start();
    warm_up();
    let (warm_up_s, _) = t.stop();
    let (rss_before, _) = memory();
    let t = Timer::start();
    let lexicons = load_lexicons(lexicon_path)?;
    let (load_s, load_cpu_s) = t.stop();
    let files = lexicons.len();
    let t = Timer::start();
    let reviewer = LexiconReviewer::build(lexicons, &ReviewPolicy::default(), pii)?;
    let (automaton_s, automaton_cpu_s) = t.stop();
    let (rss_after_build, _) = memory();
    let (kind, heap) = reviewer.matcher_info();

    let text = read_text(text_path)?;
    let parts = pieces(&text, piece);
    let t = Timer::start();
    let (mut matches, mut listed, mut flagged) = (0u64, 0usize, 0usize);
    for p in &parts {
        let review = reviewer.review(Stage::Input, p);
        let found = review.decision.matches.len() as u64 + review.decision.omitted_matches;
        matches += found;
        listed += review.decision.matches.len();
        flagged += usize::from(found > 0);
        black_box(&review);
    }
    let (scan_wall_s, scan_cpu_s) = t.stop();
    let (rss_end, peak) = memory();
    Ok(merge(
        json!({
            "mode": "hegui",
            "engine": "hegui",
            "pii": pii,
            "lexicon_files": files,
            "entries": reviewer.term_count(),
            "automaton": kind,
            "automaton_heap_bytes": heap,
            "max_held_chars": reviewer.max_held_chars(),
            "normaliser_table_s": warm_up_s,
            "lexicon_load_s": load_s,
            "lexicon_load_cpu_s": load_cpu_s,
            "automaton_build_s": automaton_s,
            "automaton_build_cpu_s": automaton_cpu_s,
            "build_s": load_s + automaton_s,
            "build_cpu_s": load_cpu_s + automaton_cpu_s,
            "matches": matches,
            "listed_matches": listed,
            "pieces_with_matches": flagged,
            "scan_wall_s": scan_wall_s,
            "scan_cpu_s": scan_cpu_s,
            "rss_before_build": rss_before,
            "rss_after_build": rss_after_build,
            "rss_end": rss_end,
            "peak_rss": peak,
        }),
        text_fields(&text, parts.len()),
    ))
}

// ---------------------------------------------------------------------------------------------
// raw and daachorse: peer automata alone, no normalisation

fn bench_raw(words_path: &str, text_path: &str, piece: usize) -> Res<Value> {
    bench_peer(
        words_path,
        text_path,
        piece,
        ("raw", "aho-corasick"),
        |words| {
            let total: usize = words.iter().map(String::len).sum();
            let kind = if total <= DFA_MAX_PATTERN_BYTES {
                AhoCorasickKind::DFA
            } else {
                AhoCorasickKind::ContiguousNFA
            };
            Ok(AhoCorasick::builder()
                .kind(Some(kind))
                .match_kind(MatchKind::Standard)
                .start_kind(StartKind::Unanchored)
                .byte_classes(true)
                .build(words)?)
        },
        |ac| (format!("{:?}", ac.kind()), ac.memory_usage()),
        |ac, p| ac.find_overlapping_iter(p).count(),
    )
}

fn bench_daachorse(words_path: &str, text_path: &str, piece: usize) -> Res<Value> {
    bench_peer(
        words_path,
        text_path,
        piece,
        ("daachorse", "daachorse"),
        |words| {
            Ok(daachorse::CharwiseDoubleArrayAhoCorasickBuilder::new()
                .match_kind(daachorse::MatchKind::Standard)
                .build::<_, _, u32>(words)
                .map_err(|e| e.to_string())?)
        },
        |aut| ("daachorse-charwise".to_string(), aut.heap_bytes()),
        |aut, p| aut.find_overlapping_iter(p).count(),
    )
}

/// What `raw` and `daachorse` share: `build` an automaton from the raw words, then `count`
/// its overlapping matches over the same pieces of raw text; `describe` gives its kind and
/// heap size.
fn bench_peer<A>(
    words_path: &str,
    text_path: &str,
    piece: usize,
    (mode, engine): (&str, &str),
    build: impl FnOnce(&[String]) -> Res<A>,
    describe: impl Fn(&A) -> (String, usize),
    count: impl Fn(&A, &str) -> usize,
) -> Res<Value> {
    let words = read_words(words_path)?;
    let total: usize = words.iter().map(String::len).sum();
    let (rss_before, _) = memory();
    let t = Timer::start();
    let aut = build(&words)?;
    let (build_s, build_cpu_s) = t.stop();
    let (rss_after_build, _) = memory();
    let (kind, heap) = describe(&aut);

    let text = read_text(text_path)?;
    let parts = pieces(&text, piece);
    let t = Timer::start();
    let mut matches = 0usize;
    for p in &parts {
        matches += count(&aut, p);
    }
    let (scan_wall_s, scan_cpu_s) = t.stop();
    let (rss_end, peak) = memory();
    Ok(merge(
        json!({
            "mode": mode,
            "engine": engine,
            "entries": words.len(),
            "pattern_bytes": total,
            "automaton": kind,
            "automaton_heap_bytes": heap,
            "build_s": build_s,
            "build_cpu_s": build_cpu_s,
            "matches": matches,
            "scan_wall_s": scan_wall_s,
            "scan_cpu_s": scan_cpu_s,
            "rss_before_build": rss_before,
            "rss_after_build": rss_after_build,
            "rss_end": rss_end,
            "peak_rss": peak,
        }),
        text_fields(&text, parts.len()),
    ))
}

// ---------------------------------------------------------------------------------------------
// step and norm: where the engine's time goes

fn bench_step(lexicon_path: &str, text_path: &str, lanes: usize) -> Res<Value> {
    let lexicons = load_lexicons(lexicon_path)?;
    let mut patterns: Vec<&str> = Vec::new();
    let mut seen = HashSet::new();
    for e in lexicons.iter().flat_map(|l| l.entries()) {
        if e.combination().is_none() && seen.insert(e.normalized_term()) {
            patterns.push(e.normalized_term());
        }
    }
    let text = read_text(text_path)?;
    let mut aut = daachorse::CharwiseDoubleArrayAhoCorasickBuilder::new()
        .match_kind(daachorse::MatchKind::Standard)
        .use_prefilter(false)
        .build::<_, _, u32>(&patterns)
        .map_err(|e| e.to_string())?;
    aut.cache_depths().map_err(|e| e.to_string())?;
    let t = Timer::start();
    let mut st = aut.find_overlapping_stepper();
    let mut matches = 0usize;
    for c in text.chars() {
        st.consume(c);
        matches += st.matches().count();
    }
    let (wall, cpu) = t.stop();
    let mut out = json!({
        "mode": "step",
        "automaton": "daachorse-charwise",
        "matches": black_box(matches),
        "scan_wall_s": wall,
        "scan_cpu_s": cpu,
    });
    if lanes == 2 {
        let longest = patterns
            .iter()
            .map(|p| p.chars().count())
            .max()
            .unwrap_or(0);
        let chars: Vec<char> = text.chars().collect();
        let t = Timer::start();
        let two = step_two_lanes(&aut, &chars, longest);
        let (wall2, cpu2) = t.stop();
        out = merge(
            out,
            json!({
                "two_lanes_matches": two,
                "two_lanes_same_matches": two == matches,
                "two_lanes_scan_wall_s": wall2,
                "two_lanes_scan_cpu_s": cpu2,
            }),
        );
    }
    Ok(merge(out, text_fields(&text, 1)))
}

/// Steps two independent lanes through the automaton in one loop, the first half of `chars`
/// and the second (from `longest` chars before the middle, so that a match ending in the
/// second half is whole in its lane; matches ending before the middle are left to the first
/// lane), to see whether overlapping two chains of state loads speeds the walk up. Returns
/// the matches counted, which must equal one lane's.
fn step_two_lanes(
    aut: &daachorse::CharwiseDoubleArrayAhoCorasick<u32>,
    chars: &[char],
    longest: usize,
) -> usize {
    let mid = chars.len() / 2;
    let b_start = mid.saturating_sub(longest);
    let (a, b) = (
        chars.get(..mid).unwrap_or(&[]),
        chars.get(b_start..).unwrap_or(&[]),
    );
    let skip = mid - b_start;
    let (mut sa, mut sb) = (
        aut.find_overlapping_stepper(),
        aut.find_overlapping_stepper(),
    );
    let mut matches = 0usize;
    for (i, (&ca, &cb)) in a.iter().zip(b).enumerate() {
        sa.consume(ca);
        sb.consume(cb);
        matches += sa.matches().count();
        if i >= skip {
            matches += sb.matches().count();
        }
    }
    for (i, &cb) in b.iter().enumerate().skip(a.len()) {
        sb.consume(cb);
        if i >= skip {
            matches += sb.matches().count();
        }
    }
    black_box(matches)
}

fn bench_norm(text_path: &str) -> Res<Value> {
    warm_up();
    let text = read_text(text_path)?;
    let t = Timer::start();
    let mut n = Normalizer::new();
    let mut buf = Vec::new();
    let (mut out, mut separators) = (0usize, 0usize);
    for c in text.chars() {
        n.push(c, &mut buf);
        out += buf.len();
        separators += buf.iter().filter(|&&c| c == SEPARATOR).count();
    }
    let (wall, cpu) = t.stop();
    Ok(merge(
        json!({
            "mode": "norm",
            "normalised_chars": black_box(out),
            "separators": separators,
            "scan_wall_s": wall,
            "scan_cpu_s": cpu,
        }),
        text_fields(&text, 1),
    ))
}

// ---------------------------------------------------------------------------------------------
// stream

struct StreamOptions {
    tokens: f64,
    chars_per_token: f64,
    long_chars: usize,
    repeat: usize,
    seed: u64,
    pii: bool,
}

/// SplitMix64: a small seeded generator, enough to pick chunk sizes.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Cuts `text` into chunks of 1..=8 chars.
fn chunks<'a>(text: &'a str, rng: &mut SplitMix) -> Vec<&'a str> {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 1 < bounds.len() {
        let n = 1 + (rng.next() % 8) as usize;
        let to = (at + n).min(bounds.len() - 1);
        if let (Some(&s), Some(&e)) = (bounds.get(at), bounds.get(to)) {
            if let Some(c) = text.get(s..e) {
                out.push(c);
            }
        }
        at = to;
    }
    out
}

/// Pushes every chunk through a new stream; returns the chars released, or an error if the
/// stream stopped.
/// Matches found: listed, plus allow/flag matches beyond the reviewer's listing limit.
fn found(d: &hegui_types::Decision) -> u64 {
    d.matches.len() as u64 + d.omitted_matches
}

fn run_stream(reviewer: &LexiconReviewer, chunks: &[&str]) -> Res<(usize, u64)> {
    let mut s = reviewer.stream(Stage::Output);
    let mut released = 0usize;
    for c in chunks {
        match s.push(c) {
            StreamStep::Release(r) => released += r.chars().count(),
            StreamStep::Stop => {
                return Err("the stream stopped: the text has a stopping term".into())
            }
        }
    }
    match s.finish() {
        StreamStep::Release(r) => released += r.chars().count(),
        StreamStep::Stop => return Err("the stream stopped at finish".into()),
    }
    Ok((released, found(&s.decision())))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v.get(n / 2).copied().unwrap_or(0.0),
        n => {
            (v.get(n / 2 - 1).copied().unwrap_or(0.0) + v.get(n / 2).copied().unwrap_or(0.0)) / 2.0
        }
    }
}

fn bench_stream(lexicon: &str, text_path: &str, o: StreamOptions) -> Res<Value> {
    warm_up();
    let t = Timer::start();
    let lexicons = if lexicon == "demo" {
        vec![Lexicon::parse("lexicons/demo.toml", DEMO_LEXICON)?]
    } else {
        load_lexicons(lexicon)?
    };
    let reviewer = LexiconReviewer::build(lexicons, &ReviewPolicy::default(), o.pii)?;
    let (build_s, _) = t.stop();
    let source = read_text(text_path)?;

    // The stream text: lines in order, without those whose review would stop the stream.
    let mut text = String::new();
    let (mut chars, mut skipped) = (0usize, 0usize);
    for line in source.lines() {
        if chars >= o.long_chars {
            break;
        }
        if reviewer.review(Stage::Output, line).decision.action.stops() {
            skipped += 1;
            continue;
        }
        text.push_str(line);
        text.push('\n');
        chars += line.chars().count() + 1;
    }
    if chars < o.long_chars {
        return Err(format!("{text_path} has only {chars} usable chars").into());
    }
    let short_chars = (o.tokens * o.chars_per_token).round() as usize;
    let short_end = text
        .char_indices()
        .nth(short_chars)
        .map_or(text.len(), |(i, _)| i);
    let short_text = text.get(..short_end).unwrap_or_default();

    let mut rng = SplitMix(o.seed);
    let short = chunks(short_text, &mut rng);
    // At least --repeat streams and at least one second in all: the thread's CPU clock
    // (schedstat) advances at scheduler ticks, so CPU is taken over the whole batch.
    let mut wall = Vec::with_capacity(o.repeat);
    let mut short_matches = 0;
    let batch = Timer::start();
    while wall.len() < o.repeat || batch.wall.elapsed().as_secs_f64() < 1.0 {
        let t = Instant::now();
        let (released, m) = run_stream(&reviewer, &short)?;
        wall.push(t.elapsed().as_secs_f64());
        if released != short_chars {
            return Err(format!("released {released} chars of {short_chars}").into());
        }
        short_matches = m;
    }
    let (_, batch_cpu) = batch.stop();
    let streams = wall.len();
    let short_cpu = batch_cpu / streams as f64;
    let short_wall = median(&mut wall);

    // One long stream, timed by windows of 1000 chunks.
    const WINDOW: usize = 1000;
    let long = chunks(&text, &mut rng);
    let mut s = reviewer.stream(Stage::Output);
    let mut windows: Vec<f64> = Vec::with_capacity(long.len() / WINDOW + 1);
    let t_all = Timer::start();
    let (rss_start, _) = memory();
    for w in long.chunks(WINDOW) {
        let t = Instant::now();
        for c in w {
            if let StreamStep::Stop = s.push(c) {
                return Err("the long stream stopped".into());
            }
        }
        windows.push(t.elapsed().as_secs_f64() * 1e9 / w.len() as f64);
    }
    let _ = s.finish();
    let (long_wall, long_cpu) = t_all.stop();
    let (rss_end, peak) = memory();
    let long_matches = found(&s.decision());
    let full: Vec<f64> = if long.len().is_multiple_of(WINDOW) {
        windows.clone()
    } else {
        windows.iter().take(long.len() / WINDOW).copied().collect()
    };
    let deciles: Vec<f64> = (0..10)
        .map(|d| {
            let from = full.len() * d / 10;
            let to = (full.len() * (d + 1) / 10).max(from + 1).min(full.len());
            let mut part = full.get(from..to).unwrap_or_default().to_vec();
            median(&mut part)
        })
        .collect();
    let mut sorted = full.clone();
    let window_median = median(&mut sorted);
    let (kind, heap) = reviewer.matcher_info();
    Ok(json!({
        "mode": "stream",
        "lexicon": lexicon,
        "pii": o.pii,
        "entries": reviewer.term_count(),
        "automaton": kind,
        "automaton_heap_bytes": heap,
        "max_held_chars": reviewer.max_held_chars(),
        "build_s": build_s,
        "lines_skipped_as_stopping": skipped,
        "short_tokens": o.tokens,
        "short_chars": short_chars,
        "short_chunks": short.len(),
        "short_matches": short_matches,
        "short_streams": streams,
        "short_cpu_s": short_cpu,
        "short_wall_s": short_wall,
        "long_chars": chars,
        "long_chunks": long.len(),
        "long_matches": long_matches,
        "long_cpu_s": long_cpu,
        "long_wall_s": long_wall,
        "window_chunks": WINDOW,
        "first_window_ns_per_chunk": full.first().copied().unwrap_or(0.0),
        "last_window_ns_per_chunk": full.last().copied().unwrap_or(0.0),
        "median_window_ns_per_chunk": window_median,
        "max_window_ns_per_chunk": full.iter().copied().fold(0.0, f64::max),
        "decile_ns_per_chunk": deciles,
        "rss_long_start": rss_start,
        "rss_long_end": rss_end,
        "peak_rss": peak,
    }))
}
