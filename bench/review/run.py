#!/usr/bin/env python3
"""Runs the review-engine benchmark side by side and prints the tables (bench/review.sh calls it).

Every measurement is a separate process (so peak RSS is the engine's own), run --runs times,
interleaved (run 1 of every engine, then run 2, ...), and reported as the median. Before each
measurement it waits for a quiet machine (1-minute loadavg below --quiet-load, or less than 0.25
cores busy over the last 5 s; at most --point-wait seconds, before the first one at most
--max-wait), and it records what else ran during it ("other load": CPU used by all other
processes, in cores, from /proc/stat minus the measured process's own rusage).

Speed is chars per CPU-second of the scan (the engine's own process CPU time, single thread), so
that other jobs on the machine inflate it less than wall time would; the wall-clock figure is in
results too.
"""

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

LABELS = {
    "hegui": "hegui, full normalisation",
    "hegui-pii": "hegui, full normalisation + PII detectors",
    "daachorse": "daachorse {daac} charwise, no normalisation (the engine's automaton crate)",
    "aho-corasick": "aho-corasick {ac}, no normalisation",
    "pyahocorasick": "pyahocorasick {pyac} (C, from Python)",
    "ahocorasick-rs": "ahocorasick-rs {acrs} (Rust aho-corasick, from Python)",
    "mint-filter": "mint-filter {mint} (JavaScript, Node {node})",
}
ALL_ENGINES = list(LABELS)


def log(msg):
    print(f"review: {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg", encoding="ascii") as f:
        return [float(x) for x in f.read().split()[:3]]


def cpu_busy_s():
    """Seconds of CPU used by everything since boot (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def wait_quiet(threshold, timeout, idle_cores=0.25, window=5.0):
    """Waits until the 1-minute loadavg is below `threshold`, or until the CPU used by all
    processes over the last `window` seconds is below `idle_cores` (loadavg lags by minutes after
    a burst of other work), for at most `timeout` seconds. Returns (loadavg, waited, quiet)."""
    start = time.time()
    while True:
        la = loadavg()[0]
        waited = time.time() - start
        if la < threshold:
            return la, waited, True
        if waited >= timeout:
            return la, waited, False
        b0, t0 = cpu_busy_s(), time.time()
        time.sleep(min(window, max(0.5, timeout - waited)))
        if (cpu_busy_s() - b0) / (time.time() - t0) < idle_cores:
            return la, time.time() - start, True


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(cmd, args, name, quiet_timeout, timeout=3600):
    la, waited, quiet = wait_quiet(args.quiet_load, quiet_timeout)
    if not quiet:
        log(f"  machine not quiet after {waited:.0f} s (load {la:.2f}); measuring anyway")
    busy0, child0, t0 = cpu_busy_s(), children_cpu(), time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = time.time() - t0
    own = children_cpu() - child0
    other = max(0.0, (cpu_busy_s() - busy0 - own) / wall) if wall > 0 else 0.0
    if p.returncode != 0:
        raise SystemExit(f"review: {name} failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    try:
        rec = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit(f"review: {name} printed no JSON: {p.stdout!r}\n{p.stderr}")
    rec.update({"name": name, "load1_before": la, "waited_s": round(waited, 1),
                "other_load_cores": round(other, 3), "process_wall_s": round(wall, 3),
                "process_cpu_s": round(own, 3)})
    return rec


def med(recs, key):
    vals = [r[key] for r in recs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def mb(b):
    return "–" if b is None else f"{b / 1e6:,.0f}"


def fmt_rate(x):
    return "–" if not x else (f"{x / 1e6:,.1f}" if x < 1e8 else f"{x / 1e6:,.0f}")


def versions(venv_python, node):
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
        except OSError:
            return "?"

    v = {
        "ac": "1",
        "daac": "5",
        "pyac": run([venv_python, "-c", "import importlib.metadata as m; print(m.version('pyahocorasick'))"]),
        "acrs": run([venv_python, "-c", "import importlib.metadata as m; print(m.version('ahocorasick-rs'))"]),
        "mint": run([node, "-p", f"require({json.dumps(os.path.join(HERE, 'node_modules', 'mint-filter', 'package.json'))}).version"]),
        "node": run([node, "--version"]).lstrip("v"),
        "python": run([venv_python, "-c", "import platform; print(platform.python_version())"]),
        "rustc": run(["rustc", "--version"]),
    }
    lock = os.path.join(HERE, "..", "..", "Cargo.lock")
    try:
        with open(lock, encoding="utf-8") as f:
            text = f.read()
        at = text.find('name = "aho-corasick"')
        if at >= 0:
            v["ac"] = text[at:].split("\n")[1].split('"')[1]
        # zhconv pins an older daachorse; the engine's is the newest in the lock file.
        daac = [line.split('"')[1] for block in text.split("[[package]]")
                if 'name = "daachorse"' in block
                for line in block.splitlines() if line.startswith("version = ")]
        if daac:
            v["daac"] = max(daac, key=lambda x: tuple(int(p) for p in x.split(".")))
    except OSError:
        pass
    return v


def engine_fingerprint(root):
    """SHA-256 (first 16 hex digits) over the review engine's sources, to tell which code a
    result belongs to."""
    import hashlib

    h = hashlib.sha256()
    for sub in ("crates/policy/src", "crates/types/src", "crates/pii/src", "lexicons"):
        base = os.path.join(root, sub)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                h.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()[:16]


def cut_text(src, dst, nbytes):
    """Writes the first nbytes of src, cut back to the last full line."""
    if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
        return
    with open(src, "rb") as f:
        data = f.read(nbytes)
    cut = data.rfind(b"\n")
    with open(dst, "wb") as f:
        f.write(data[: cut + 1])


def on_signal(signum, _frame):
    # subprocess.run kills the running measurement when an exception interrupts it.
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", required=True, help="review_bench binary")
    ap.add_argument("--venv-python", required=True)
    ap.add_argument("--node", default="node")
    ap.add_argument("--data", required=True, help="folder written by prepare.py")
    ap.add_argument("--results", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="100k,full")
    ap.add_argument("--engines", default=",".join(ALL_ENGINES))
    ap.add_argument("--text-bytes", type=int, default=0, help="use only the first N bytes of the text (0: all)")
    ap.add_argument("--piece", type=int, default=65536)
    ap.add_argument("--shard", type=int, default=0, help="entries per generated lexicon file (0: one file)")
    ap.add_argument("--stream-repeat", type=int, default=20)
    ap.add_argument("--stream-long-chars", type=int, default=1_000_000)
    ap.add_argument("--no-stream", action="store_true")
    ap.add_argument("--quiet-load", type=float, default=1.0)
    ap.add_argument("--max-wait", type=float, default=600)
    ap.add_argument("--point-wait", type=float, default=60)
    args = ap.parse_args()

    sizes = [s for s in args.sizes.split(",") if s]
    engines = [e for e in args.engines.split(",") if e]
    for e in engines:
        if e not in LABELS:
            raise SystemExit(f"review: unknown engine {e}; known: {', '.join(LABELS)}")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out_dir = os.path.join(args.results, f"review-{stamp}")
    os.makedirs(out_dir, exist_ok=True)
    raw_path = os.path.join(out_dir, "raw.jsonl")
    raw = open(raw_path, "w", encoding="utf-8")

    def keep(rec):
        raw.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        raw.flush()
        return rec

    with open(os.path.join(args.data, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    text = os.path.join(args.data, "text.txt")
    if args.text_bytes and args.text_bytes < meta["text_bytes"]:
        t = os.path.join(args.data, f"text-{args.text_bytes}.txt")
        cut_text(text, t, args.text_bytes)
        text = t
    words = {s: os.path.join(args.data, f"words-{s}.txt") for s in sizes}
    lexdir = {s: os.path.join(args.data, f"lexicon-{s}") for s in sizes}
    v = versions(args.venv_python, args.node)
    env = {
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "mhz": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("cpu MHz")), "?"),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "load_before": loadavg(),
        "versions": v,
        "text": os.path.relpath(text, os.path.join(HERE, "..", "..")),
        "engine_sources": engine_fingerprint(os.path.join(HERE, "..", "..")),
        "binary_built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(args.bin))),
    }
    log(f"results in {out_dir}")

    # Lexicons: generated every run (cheap), so they always follow the engine's normalisation.
    lexinfo = {}
    for s in sizes:
        cmd = [args.bin, "lexicon", words[s], lexdir[s], "--shard", str(args.shard)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"review: {' '.join(cmd)} failed:\n{p.stderr}")
        lexinfo[s] = keep(dict(json.loads(p.stdout), name=f"lexicon-{s}"))
        log(f"lexicon {s}: {lexinfo[s]['words']} words -> {lexinfo[s]['entries']} entries "
            f"({lexinfo[s]['duplicate_after_normalisation']} duplicates after normalisation, "
            f"{lexinfo[s]['empty_after_normalisation']} empty) in {lexinfo[s]['files']} files")

    def command(engine, s):
        piece = ["--piece", str(args.piece)]
        return {
            "hegui": [args.bin, "hegui", lexdir[s], text] + piece,
            "hegui-pii": [args.bin, "hegui", lexdir[s], text, "--pii", "1"] + piece,
            "daachorse": [args.bin, "daachorse", words[s], text] + piece,
            "aho-corasick": [args.bin, "raw", words[s], text] + piece,
            "pyahocorasick": [args.venv_python, os.path.join(HERE, "peers.py"), "pyahocorasick", words[s], text] + piece,
            "ahocorasick-rs": [args.venv_python, os.path.join(HERE, "peers.py"), "ahocorasick-rs", words[s], text] + piece,
            "mint-filter": [args.node, os.path.join(HERE, "mint.js"), words[s], text] + piece,
        }[engine]

    la, waited, quiet = wait_quiet(args.quiet_load, args.max_wait)
    log(f"machine {'quiet' if quiet else 'NOT quiet'} (load {la:.2f}) after {waited:.0f} s")
    env["load_at_start"] = loadavg()
    t_start = time.time()

    recs = {}  # (size, engine) -> [records]
    diag = {}  # (size, kind) -> [records]
    streams = {}  # label -> [records]
    stream_cases = [("demo", "demo", "0"), ("demo + PII", "demo", "1")]
    if "100k" in lexdir:
        stream_cases.append(("100k", lexdir["100k"], "0"))
    for run in range(1, args.runs + 1):
        for s in sizes:
            for e in engines:
                log(f"run {run}/{args.runs}: {e}, lexicon {s}")
                r = keep(measure(command(e, s), args, f"{e}/{s}", args.point_wait))
                recs.setdefault((s, e), []).append(r)
                log(f"  {r['text_chars'] / r['scan_cpu_s'] / 1e6:.2f} M chars/s (CPU), "
                    f"{r['matches']:,} matches, build {r['build_cpu_s']:.2f} s CPU, peak {mb(r['peak_rss'])} MB, "
                    f"load {r['load1_before']:.2f}, other {r['other_load_cores']:.2f} cores")
            log(f"run {run}/{args.runs}: diagnostics, lexicon {s}")
            r = keep(measure([args.bin, "step", lexdir[s], text], args, f"step/{s}", args.point_wait))
            diag.setdefault((s, "step"), []).append(r)
        r = keep(measure([args.bin, "norm", text], args, "norm", args.point_wait))
        diag.setdefault(("", "norm"), []).append(r)
        if not args.no_stream:
            for label, lex, pii in stream_cases:
                log(f"run {run}/{args.runs}: stream, {label}")
                cmd = [args.bin, "stream", lex, os.path.join(args.data, "text.txt"), "--pii", pii,
                       "--repeat", str(args.stream_repeat), "--long-chars", str(args.stream_long_chars)]
                r = keep(measure(cmd, args, f"stream/{label}", args.point_wait))
                streams.setdefault(label, []).append(r)
    env["load_after"] = loadavg()
    env["minutes"] = round((time.time() - t_start) / 60, 1)
    keep({"name": "environment", **env})
    raw.close()

    # --- tables ---------------------------------------------------------------------------------
    lines = []
    w = lines.append
    w(f"# Review engine benchmark, {stamp}")
    w("")
    w(f"- machine: {env['cores']} cores, {env['cpu']} ({env['mhz']} MHz), Linux {env['kernel']}; "
      f"loadavg before {env['load_before']}, at start {env['load_at_start']}, after {env['load_after']}; "
      f"{env['minutes']} min")
    w(f"- text: {env['text']}: COLD train+dev TEXT ×{meta['copies']} = {os.path.getsize(text):,} bytes; "
      f"reviewed in pieces of at most {args.piece:,} bytes (cut at a char boundary), the same pieces for every engine")
    for s in sizes:
        li = lexinfo[s]
        w(f"- lexicon {s}: {li['words']:,} words of jieba 0.42.1 dict.txt"
          f"{' (seeded random sample, seed ' + str(meta['seed']) + ')' if s == '100k' else ''}; "
          f"hegui: {li['entries']:,} entries after dropping {li['duplicate_after_normalisation']:,} duplicates and "
          f"{li['empty_after_normalisation']} empty terms after normalisation "
          f"({li['written_as_normal_form']} written as normal form), {li['files']} file(s), loaded in {li['load_s']:.2f} s")
    w(f"- hegui: review_bench built {env['binary_built']}, engine sources (crates/policy, types, pii, lexicons) "
      f"sha256 {env['engine_sources']}")
    w(f"- versions: {v['rustc']}; daachorse {v['daac']}, aho-corasick {v['ac']}; Python {v['python']}, pyahocorasick {v['pyac']}, "
      f"ahocorasick-rs {v['acrs']}; Node {v['node']}, mint-filter {v['mint']}")
    w(f"- medians of {args.runs} run(s); M chars/s = Unicode chars ÷ CPU seconds of the scan (one thread); "
      "'other' = CPU used by other processes during the measurement, in cores (median)")
    w("")
    for s in sizes:
        w(f"## Lexicon {s}")
        w("")
        w("| engine | entries | build (CPU s) | automaton (MB) | RSS Δ build (MB) | peak RSS (MB) | matches | M chars/s (CPU) | M chars/s (wall) | hegui ÷ engine | other |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        hegui_rate = None
        if (s, "hegui") in recs:
            rr = recs[(s, "hegui")]
            hegui_rate = med(rr, "text_chars") / med(rr, "scan_cpu_s")
        for e in engines:
            rr = recs.get((s, e))
            if not rr:
                continue
            chars = med(rr, "text_chars")
            rate = chars / med(rr, "scan_cpu_s")
            wall_rate = chars / med(rr, "scan_wall_s")
            ms = sorted({r["matches"] for r in rr})
            match_s = f"{ms[0]:,}" if len(ms) == 1 else f"{ms[0]:,}–{ms[-1]:,} (varied!)"
            delta = statistics.median([r["rss_after_build"] - r["rss_before_build"] for r in rr])
            ratio = f"{hegui_rate / rate:.2f}×" if hegui_rate else "–"
            w(f"| {LABELS[e].format(**v)} | {med(rr, 'entries'):,} | {med(rr, 'build_cpu_s'):.2f} | "
              f"{mb(med(rr, 'automaton_heap_bytes'))} | {mb(delta)} | {mb(med(rr, 'peak_rss'))} | {match_s} | "
              f"{fmt_rate(rate)} | {fmt_rate(wall_rate)} | {ratio} | {med(rr, 'other_load_cores'):.2f} |")
        w("")
        if (s, "hegui") in recs:
            rr = recs[(s, "hegui")]
            chars = med(rr, "text_chars")
            parts = [f"lexicon load {med(rr, 'lexicon_load_cpu_s'):.2f} s + automaton {med(rr, 'automaton_build_cpu_s'):.2f} s (CPU) "
                     f"({rr[0]['automaton']}, max held back {rr[0]['max_held_chars']} chars)"]
            st = diag.get((s, "step"))
            nm = diag.get(("", "norm"))
            w(f"hegui build: {parts[0]}. Where the scan's time goes (same text, one piece, CPU):")
            w("")
            w("| part | CPU s | M chars/s | share of review |")
            w("|---|---:|---:|---:|")
            total = med(rr, "scan_cpu_s")
            if nm:
                c = med(nm, "scan_cpu_s")
                w(f"| normalisation only (Normalizer::push per char) | {c:.2f} | {fmt_rate(chars / c)} | {100 * c / total:.0f}% |")
            if st:
                c = med(st, "scan_cpu_s")
                w(f"| automaton only (engine's {st[0]['automaton']}, one step per char of raw text, counting {med(st, 'matches'):,} matches) | "
                  f"{c:.2f} | {fmt_rate(chars / c)} | {100 * c / total:.0f}% |")
            w(f"| full review (normalise + automaton + {med(rr, 'matches'):,} match records + Decision) | {total:.2f} | "
              f"{fmt_rate(chars / total)} | 100% |")
            w(f"| matches per char | {med(rr, 'matches') / chars:.2f} | | |")
            w("")
    if streams:
        w("## Streaming review (Reviewer::stream(Stage::Output), random 1–8-char chunks)")
        w("")
        w("| lexicon | entries | 10k-token stream: chars / chunks | CPU per stream (ms) | µs per chunk | matches | 1M-char stream: ns/chunk first 1000 / last 1000 / median / max window | deciles (ns/chunk) | peak RSS (MB) |")
        w("|---|---:|---:|---:|---:|---:|---|---|---:|")
        for label, rr in streams.items():
            r0 = rr[0]
            cpu = med(rr, "short_cpu_s")
            dec = [statistics.median([r["decile_ns_per_chunk"][i] for r in rr]) for i in range(10)]
            w(f"| {label} | {r0['entries']:,} | {r0['short_chars']:,} / {r0['short_chunks']:,} | {cpu * 1e3:.2f} | "
              f"{cpu * 1e6 / r0['short_chunks']:.2f} | {r0['short_matches']:,} | "
              f"{med(rr, 'first_window_ns_per_chunk'):,.0f} / {med(rr, 'last_window_ns_per_chunk'):,.0f} / "
              f"{med(rr, 'median_window_ns_per_chunk'):,.0f} / {med(rr, 'max_window_ns_per_chunk'):,.0f} | "
              f"{' '.join(f'{d:,.0f}' for d in dec)} | {mb(med(rr, 'peak_rss'))} |")
        w("")
        r0 = next(iter(streams.values()))[0]
        w(f"Stream text: COLD lines in order, skipping lines whose review would stop the stream "
          f"({', '.join(str(rr[0]['lines_skipped_as_stopping']) + ' for ' + k for k, rr in streams.items())}); "
          f"{r0['short_tokens']:.0f} tokens × 1.5 chars, mean over {r0['short_streams']} streams (at least 1 s) per run; "
          f"the long stream has {r0['long_chars']:,} chars in {r0['long_chunks']:,} chunks, timed by windows of "
          f"{r0['window_chunks']} chunks.")
        w("")
    summary = "\n".join(lines)
    with open(os.path.join(out_dir, "summary.md"), "w", encoding="utf-8") as f:
        f.write(summary + "\n")
    latest = os.path.join(args.results, "review-latest")
    try:
        if os.path.islink(latest):
            os.unlink(latest)
        os.symlink(os.path.basename(out_dir), latest)
    except OSError:
        pass
    print(summary)
    log(f"done: {out_dir}/summary.md, raw records in {raw_path}")


if __name__ == "__main__":
    main()
