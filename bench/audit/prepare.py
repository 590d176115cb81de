#!/usr/bin/env python3
"""Builds the training-data audit benchmark corpus (BENCHMARKS.md, "Training-data audit").

A JSONL corpus of at least --bytes bytes from real Chinese text (COLD train/dev and JADE
questions, repeated in a seeded random order), with synthetic personal information planted at
known rates, each planted value valid under the national rules (GB 11643 ID numbers, assigned
mobile prefixes, Luhn bank cards, GB 32100 credit codes) and placed inside the sentence after a
Chinese lead word (请拨打, 身份证号, ...), never directly before an ASCII letter, digit, '.', '-' or '_'. Writes:

  corpus.jsonl      {"text": ...} per line
  planted.jsonl     {"line": N, "kind": "PII-phone", "value": "..."} per planted value
  pii_lines.txt     the text of every planted line plus as many unplanted ones (for the PII
                    comparison with Presidio), one per line
  pii_truth.jsonl   for each line of pii_lines.txt: {"line": N, "kind", "value"} when planted
  manifest.toml     the audit manifest over corpus.jsonl
  truth.json        counts per kind, lines, bytes
"""

import argparse
import csv
import json
import os
import random
import string

RATES = {  # share of lines carrying one planted value of this kind
    "PII-phone": 0.010,
    "PII-id_card": 0.005,
    "PII-email": 0.005,
    "PII-bank_card": 0.002,
    "PII-uscc": 0.001,
}

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
AREAS = ["110105", "310104", "440305", "510104", "330106", "420102", "610113", "320102"]
PREFIXES = ["139", "138", "137", "186", "185", "133", "189", "199", "150", "177"]


def id_number(r):
    year = r.randint(1950, 2008)
    month = r.randint(1, 12)
    day = r.randint(1, 28)
    first17 = f"{r.choice(AREAS)}{year:04d}{month:02d}{day:02d}{r.randint(0, 999):03d}"
    s = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS))
    return first17 + ID_CHECK[s % 11]


def luhn_complete(partial):
    digits = [int(c) for c in partial]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return partial + str((10 - total % 10) % 10)


def bank_card(r):
    return luhn_complete("62" + "".join(r.choice(string.digits) for _ in range(13)))


def uscc(r):
    body = "91" + r.choice(AREAS) + "".join(r.choice(USCC_ALPHABET) for _ in range(9))
    s = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS))
    return body + USCC_ALPHABET[(31 - s % 31) % 31]


def value(kind, r):
    if kind == "PII-phone":
        return r.choice(PREFIXES) + "".join(r.choice(string.digits) for _ in range(8))
    if kind == "PII-id_card":
        return id_number(r)
    if kind == "PII-email":
        user = "".join(r.choice(string.ascii_lowercase) for _ in range(r.randint(4, 10)))
        return f"{user}{r.randint(1, 999)}@{r.choice(['qq.com', '163.com', 'example.cn'])}"
    if kind == "PII-bank_card":
        return bank_card(r)
    return uscc(r)


LEADS = {
    "PII-phone": "请拨打",
    "PII-id_card": "身份证号",
    "PII-email": "邮箱",
    "PII-bank_card": "卡号",
    "PII-uscc": "统一社会信用代码",
}


def texts(cold_dir, jade_dir):
    out = []
    for name in ("train.csv", "dev.csv"):
        p = os.path.join(cold_dir, name)
        with open(p, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                t = (row.get("TEXT") or "").strip()
                if t:
                    out.append(t)
    p = os.path.join(jade_dir, "jade_benchmark_easy_zh.csv")
    if os.path.exists(p):
        with open(p, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                t = (row.get("问题") or "").strip()
                if t:
                    out.append(t)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--cold", default="/work/shared/data/cold")
    ap.add_argument("--jade", default="/work/shared/data/jade")
    ap.add_argument("--seed", type=int, default=20261129)
    a = ap.parse_args()
    base = texts(a.cold, a.jade)
    if not base:
        raise SystemExit(f"no text found under {a.cold} / {a.jade}")
    os.makedirs(a.out, exist_ok=True)
    r = random.Random(a.seed)
    counts = {k: 0 for k in RATES}
    written = 0
    line = 0
    kinds = list(RATES)
    cum = []
    acc = 0.0
    for k in kinds:
        acc += RATES[k]
        cum.append(acc)
    unplanted_kept = 0
    with open(os.path.join(a.out, "corpus.jsonl"), "w", encoding="utf-8") as corpus, open(
        os.path.join(a.out, "planted.jsonl"), "w", encoding="utf-8"
    ) as planted, open(os.path.join(a.out, "pii_lines.txt"), "w", encoding="utf-8") as pii_lines, open(
        os.path.join(a.out, "pii_truth.jsonl"), "w", encoding="utf-8"
    ) as pii_truth:
        pii_n = 0
        while written < a.bytes:
            line += 1
            t = base[r.randrange(len(base))]
            x = r.random()
            kind = next((k for k, c in zip(kinds, cum) if x < c), None)
            if kind:
                v = value(kind, r)
                # Real personal information is delimited: plant where the next character is
                # not an ASCII letter or digit (else "…5678ord" fuses into another token).
                # Nor before "." or "-" (a decimal "…5678.25", a domain "…@qq.com-20度" go on).
                spots = [
                    i for i in range(len(t) + 1)
                    if i == len(t) or not (t[i].isascii() and (t[i].isalnum() or t[i] in ".-_"))
                ]
                pos = spots[r.randrange(len(spots))]
                t = f"{t[:pos]}{LEADS[kind]}{v}{t[pos:]}"
                counts[kind] += 1
                planted.write(json.dumps({"line": line, "kind": kind, "value": v}) + "\n")
                pii_lines.write(t.replace("\n", " ") + "\n")
                pii_n += 1
                pii_truth.write(json.dumps({"line": pii_n, "kind": kind, "value": v}) + "\n")
            elif unplanted_kept < sum(counts.values()):
                unplanted_kept += 1
                pii_lines.write(t.replace("\n", " ") + "\n")
                pii_n += 1
            rec = json.dumps({"text": t}, ensure_ascii=False) + "\n"
            corpus.write(rec)
            written += len(rec.encode("utf-8"))
    with open(os.path.join(a.out, "manifest.toml"), "w", encoding="utf-8") as m:
        m.write(
            f"""[audit]
seed = {a.seed}
sample_size = 4000

[[source]]
name = "cold-jade"
origin = "open_dataset"
licence = "COLD and JADE research licences (see /work/shared/data)"
collection_method = "benchmark corpus built by bench/audit/prepare.py"
collected = "2026-11-29"
pi_basis = "other_lawful_basis"
paths = ["corpus.jsonl"]
"""
        )
    truth = {"lines": line, "bytes": written, "planted": counts, "seed": a.seed}
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
    print(json.dumps(truth))


if __name__ == "__main__":
    main()
