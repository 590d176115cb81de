#!/usr/bin/env python3
"""Microsoft Presidio's analyzer, pattern recognisers only (no NLP model), on the same PII task
as hegui's detector: one text per line of FILE. Prints a JSON summary; --dump writes findings
as {"line", "kind", "value"} using hegui's kind codes so bench/audit/score.py can score both.

Recognisers: Presidio's own EmailRecognizer and CreditCardRecognizer (regex + Luhn), and
PatternRecognizers for mainland mobile numbers, resident ID numbers and unified social credit
codes with the same shapes hegui accepts (no checksum validation: Presidio's pattern layer).
"""
import argparse
import json
import time

import tldextract

# EmailRecognizer validates domains with tldextract, which by default downloads the public
# suffix list; this machine has no internet, so use the snapshot bundled with tldextract.
tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

from presidio_analyzer import Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer

RECOGNIZERS = [
    ("PII-phone", PatternRecognizer(
        supported_entity="CN_MOBILE",
        patterns=[Pattern("cn_mobile", r"(?<!\d)1[3-9]\d{9}(?!\d)", 0.6)])),
    ("PII-id_card", PatternRecognizer(
        supported_entity="CN_ID",
        patterns=[Pattern("cn_id", r"(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dXx])", 0.6)])),
    ("PII-uscc", PatternRecognizer(
        supported_entity="CN_USCC",
        patterns=[Pattern("uscc", r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])", 0.6)])),
    ("PII-email", EmailRecognizer()),
    ("PII-bank_card", CreditCardRecognizer()),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--dump")
    a = ap.parse_args()
    with open(a.file, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    size = sum(len(l.encode("utf-8")) for l in lines)
    found = []
    counts = {}
    t0 = time.perf_counter()
    for i, text in enumerate(lines, 1):
        for kind, rec in RECOGNIZERS:
            for r in rec.analyze(text, entities=rec.supported_entities, nlp_artifacts=None):
                counts[kind] = counts.get(kind, 0) + 1
                found.append((i, kind, r.start, r.end))
    secs = time.perf_counter() - t0
    if a.dump:
        with open(a.dump, "w", encoding="utf-8") as d:
            for i, kind, s, e in found:
                d.write(json.dumps({"line": i, "kind": kind, "value": lines[i - 1][s:e]}) + "\n")
    print(json.dumps({"engine": "presidio-analyzer (pattern recognisers)", "lines": len(lines),
                      "bytes": size, "seconds": secs, "mb_per_s": size / 1e6 / secs,
                      "counts": counts}))


if __name__ == "__main__":
    main()
