#!/usr/bin/env python3
"""Python peers of the review benchmark (bench/review.sh runs this under bench/review/.venv).

    peers.py pyahocorasick WORDS TEXT [--piece 65536]
    peers.py ahocorasick-rs WORDS TEXT [--piece 65536]

Builds the engine's automaton from the word list (one word a line), then counts every
(overlapping) match over the text, cut into the same pieces as the Rust and Node drivers (at most
--piece bytes, each cut moved back to a UTF-8 char boundary, decoded before timing starts).

- pyahocorasick: ahocorasick.Automaton(), add_word(word, index) per word, make_automaton(),
  then sum(1 for _ in A.iter(piece)) per piece (iter() reports all overlapping matches).
- ahocorasick-rs: AhoCorasick(words, matchkind=MATCHKIND_STANDARD) (the default; the only kind
  that allows overlapping matches; implementation left to the library), then
  len(ac.find_matches_as_indexes(piece, overlapping=True)) per piece.

Prints one JSON object, with the same keys as crates/policy/examples/review_bench.rs.
"""

import argparse
import json
import time
from importlib import metadata


def memory():
    """(VmRSS, VmHWM) of this process, in bytes."""
    rss = hwm = 0
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return rss, hwm


def pieces(data, size):
    out, start, n = [], 0, len(data)
    while start < n:
        end = min(start + size, n)
        while end < n and (data[end] & 0xC0) == 0x80:
            end -= 1
        out.append(data[start:end].decode("utf-8"))
        start = end
    return out


class Timer:
    def __init__(self):
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def stop(self):
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("engine", choices=["pyahocorasick", "ahocorasick-rs"])
    ap.add_argument("words")
    ap.add_argument("text")
    ap.add_argument("--piece", type=int, default=65536)
    args = ap.parse_args()

    with open(args.words, encoding="utf-8") as f:
        words = [w for w in f.read().split("\n") if w]
    extra = {}
    rss_before, _ = memory()
    t = Timer()
    if args.engine == "pyahocorasick":
        import ahocorasick

        a = ahocorasick.Automaton()
        for i, w in enumerate(words):
            a.add_word(w, i)
        a.make_automaton()
        build_s, build_cpu_s = t.stop()
        stats = a.get_stats()
        extra = {"automaton_heap_bytes": stats.get("total_size"), "automaton_nodes": stats.get("nodes_count")}
        version = metadata.version("pyahocorasick")

        def count(p):
            return sum(1 for _ in a.iter(p))

    else:
        import ahocorasick_rs

        ac = ahocorasick_rs.AhoCorasick(words, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)
        build_s, build_cpu_s = t.stop()
        version = metadata.version("ahocorasick-rs")

        def count(p):
            return len(ac.find_matches_as_indexes(p, overlapping=True))

    rss_after_build, _ = memory()

    with open(args.text, "rb") as f:
        data = f.read()
    parts = pieces(data, args.piece)
    text_chars = sum(len(p) for p in parts)
    text_bytes = len(data)
    del data

    matches = 0
    t = Timer()
    for p in parts:
        matches += count(p)
    scan_wall_s, scan_cpu_s = t.stop()
    rss_end, peak = memory()
    out = {
        "mode": args.engine,
        "engine": args.engine,
        "version": version,
        "entries": len(words),
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "matches": matches,
        "scan_wall_s": scan_wall_s,
        "scan_cpu_s": scan_cpu_s,
        "rss_before_build": rss_before,
        "rss_after_build": rss_after_build,
        "rss_end": rss_end,
        "peak_rss": peak,
        "text_bytes": text_bytes,
        "text_chars": text_chars,
        "pieces": len(parts),
    }
    out.update(extra)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
