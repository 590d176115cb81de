#!/usr/bin/env python3
"""Recall (and extra findings) of a findings dump against the planted truth, per kind.

    score.py TRUTH.jsonl FINDINGS.jsonl   (both: {"line", "kind", "value"} per line)
"""
import json
import sys


def norm(v):
    return "".join(c for c in v if c.isalnum() or c in "@.").upper()


def load(p):
    with open(p, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


truth = load(sys.argv[1])
found = {(x["line"], x["kind"], norm(x["value"])) for x in load(sys.argv[2])}
per = {}
for t in truth:
    k = t["kind"]
    hit = (t["line"], k, norm(t["value"])) in found
    p = per.setdefault(k, [0, 0])
    p[0] += 1
    p[1] += hit
planted = {(t["line"], t["kind"], norm(t["value"])) for t in truth}
extra = len(found - planted)
total = sum(p[0] for p in per.values())
hits = sum(p[1] for p in per.values())
print(json.dumps({
    "recall": hits / total if total else None,
    "planted": total,
    "found": hits,
    "per_kind": {k: {"planted": p[0], "found": p[1], "recall": p[1] / p[0]} for k, p in sorted(per.items())},
    "findings_not_planted": extra,
}))
