#!/usr/bin/env python3
"""Prepares the review benchmark's data once (bench/review.sh calls it).

Writes into OUT (bench/review/.data/ by default):

- words-full.txt   every word of jieba's dict.txt (first column), exact duplicates dropped,
                   in the dictionary's order, one per line;
- words-100k.txt   a seeded random sample (random.Random(SEED).sample) of 100,000 of those words,
                   kept in the dictionary's order;
- text.txt         the TEXT column of COLD train.csv then dev.csv (UTF-8 BOM stripped), one text
                   per line, the whole repeated until the file has at least --min-bytes bytes;
- meta.json        sizes, seed, sources and their SHA-256, so a rerun can tell it is up to date.

Stdlib only: it runs under the bench venv's python (which has jieba) or any python3.
"""

import argparse
import csv
import hashlib
import json
import os
import random
import sys


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dict", required=True, help="jieba's dict.txt")
    ap.add_argument("--cold", required=True, help="folder with COLD train.csv and dev.csv")
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-bytes", type=int, default=100_000_000)
    ap.add_argument("--subset", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()

    sources = [args.dict] + [os.path.join(args.cold, f) for f in ("train.csv", "dev.csv")]
    wanted = {
        "version": 1,
        "min_bytes": args.min_bytes,
        "subset": args.subset,
        "seed": args.seed,
        "sources": {os.path.basename(p): sha256(p) for p in sources},
    }
    meta_path = os.path.join(args.out, "meta.json")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if {k: meta.get(k) for k in wanted} == wanted and all(
            os.path.exists(os.path.join(args.out, n))
            for n in ("words-full.txt", "words-100k.txt", "text.txt")
        ):
            print(f"prepare: data in {args.out} is up to date", file=sys.stderr)
            return
    except (OSError, ValueError):
        pass
    os.makedirs(args.out, exist_ok=True)

    # Words: first column of dict.txt ("word freq tag").
    words, seen, lines = [], set(), 0
    with open(args.dict, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            lines += 1
            w = parts[0]
            if w not in seen:
                seen.add(w)
                words.append(w)
    if args.subset > len(words):
        sys.exit(f"prepare: the dictionary has only {len(words)} words")
    chosen = set(random.Random(args.seed).sample(range(len(words)), args.subset))
    subset = [w for i, w in enumerate(words) if i in chosen]
    for name, ws in (("words-full.txt", words), ("words-100k.txt", subset)):
        with open(os.path.join(args.out, name), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(ws) + "\n")

    # Text: COLD's TEXT column, one text per line (a text's own line breaks become spaces).
    texts = []
    for name in ("train.csv", "dev.csv"):
        with open(os.path.join(args.cold, name), encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                t = " ".join((row.get("TEXT") or "").split("\n")).strip()
                if t:
                    texts.append(t)
    corpus = ("\n".join(texts) + "\n").encode("utf-8")
    copies = -(-args.min_bytes // len(corpus))
    text_path = os.path.join(args.out, "text.txt")
    with open(text_path, "wb") as f:
        for _ in range(copies):
            f.write(corpus)
    text = corpus.decode("utf-8")

    meta = dict(wanted)
    meta.update(
        {
            "words_full": len(words),
            "dict_lines": lines,
            "words_100k": len(subset),
            "cold_texts": len(texts),
            "corpus_bytes": len(corpus),
            "corpus_chars": len(text),
            "copies": copies,
            "text_bytes": len(corpus) * copies,
            "text_chars": len(text) * copies,
            "text_han_share": round(sum(1 for c in text if "\u4e00" <= c <= "\u9fff") / len(text), 3),
        }
    )
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    print(
        f"prepare: {len(words)} words ({len(subset)} in the subset), {len(texts)} COLD texts × "
        f"{copies} = {meta['text_bytes']:,} bytes, {meta['text_chars']:,} chars",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
