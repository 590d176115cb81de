#!/usr/bin/env bash
# Training-data audit benchmark (BENCHMARKS.md, section "Training-data audit").
#
#   bench/audit.sh            full run: a >= 1 GiB JSONL corpus from COLD + JADE with planted PII
#   bench/audit.sh --quick    smoke: 50 MB corpus
#
# What it measures, in one run on the same data:
#   1. the full technical scan (`hegui audit run`: lexicons + classifier + PII detectors, plus
#      reading, duplicate detection, sampling and statistics) on one core and on all cores,
#      in MB/s of corpus;
#   2. the PII task alone, hegui's detector vs Microsoft Presidio's analyzer (pattern recognisers
#      only) on the same lines (every planted line and as many unplanted ones), with the ratio;
#   3. recall of the planted PII: hegui's detector on the whole corpus, both engines on the PII
#      task; and the audit report's counts against the planted truth.
#
# Needs python3 (venv), the data in $COLD_DIR / $JADE_DIR (default /work/shared/data/{cold,jade}).
# Presidio is installed pinned into bench/audit/.venv on first use. Data: bench/audit/.data.
# Results: bench/results/audit-<UTC time>/summary.md and raw JSON.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
HERE="$BENCH_DIR/audit"
VENV="$HERE/.venv"
COLD_DIR="${COLD_DIR:-/work/shared/data/cold}"
JADE_DIR="${JADE_DIR:-/work/shared/data/jade}"
PRESIDIO_VERSION=2.2.360
BYTES=$((1024 * 1024 * 1024))
tag=full
if [[ "${1:-}" == "--quick" ]]; then BYTES=$((50 * 1000 * 1000)); tag=quick; fi

fail() { echo "bench/audit.sh: error: $*" >&2; exit 2; }
[[ -f "$COLD_DIR/train.csv" ]] || fail "COLD not found in $COLD_DIR (set COLD_DIR)"

DATA="$HERE/.data/$tag"
OUT="$ROOT/bench/results/audit-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "presidio-analyzer==$PRESIDIO_VERSION"
fi

if [[ ! -f "$DATA/truth.json" ]]; then
    echo "preparing the $tag corpus in $DATA ..."
    python3 "$HERE/prepare.py" --out "$DATA" --bytes "$BYTES" --cold "$COLD_DIR" --jade "$JADE_DIR"
fi

echo "building hegui (release) ..."
(cd "$ROOT" && cargo build --release -q -p hegui && cargo build --release -q -p hegui-pii --example pii_file)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
HEGUI="$TARGET/release/hegui"
PII="$TARGET/release/examples/pii_file"

# A classifier trained on COLD train, so the scan runs lexicons + classifier + PII.
if [[ ! -f "$DATA/cold.hgc" ]]; then
    "$HEGUI" classifier train --data "$COLD_DIR/train.csv" --out "$DATA/cold.hgc" \
        --label-map 0=safe,1=offensive --negative-label safe --risk offensive=A2-9 >/dev/null
fi
cat > "$DATA/hegui.toml" <<EOF
[storage]
data_dir = "$DATA/hegui-data"
[review.classifier]
model = "$DATA/cold.hgc"
EOF

corpus_bytes=$(stat -c %s "$DATA/corpus.jsonl")
cores=$(nproc)
scan() { # threads label
    local t0 t1
    t0=$(date +%s.%N)
    "$HEGUI" --config "$DATA/hegui.toml" audit run --manifest "$DATA/manifest.toml" \
        --out "$OUT/scan-$2" --threads "$1" --quiet >/dev/null || true
    t1=$(date +%s.%N)
    python3 -c "import json,sys; s=$t1-$t0; print(json.dumps({'threads': $1, 'seconds': s, 'mb_per_s': $corpus_bytes/1e6/s}))"
}
echo "full scan, 1 thread ..."
scan 1 1core > "$OUT/scan-1core.json"
echo "full scan, $cores threads ..."
scan 0 allcores > "$OUT/scan-allcores.json"

echo "PII task: hegui vs Presidio ..."
"$PII" "$DATA/pii_lines.txt" --dump "$OUT/hegui_pii_found.jsonl" > "$OUT/pii-hegui.json"
"$VENV/bin/python" "$HERE/presidio_pii.py" "$DATA/pii_lines.txt" --dump "$OUT/presidio_found.jsonl" > "$OUT/pii-presidio.json"
python3 "$HERE/score.py" "$DATA/pii_truth.jsonl" "$OUT/hegui_pii_found.jsonl" > "$OUT/recall-pii-task-hegui.json"
python3 "$HERE/score.py" "$DATA/pii_truth.jsonl" "$OUT/presidio_found.jsonl" > "$OUT/recall-pii-task-presidio.json"
echo "recall over the whole corpus ..."
"$PII" "$DATA/corpus.jsonl" --jsonl --dump "$OUT/hegui_corpus_found.jsonl" > "$OUT/pii-corpus-hegui.json"
python3 "$HERE/score.py" "$DATA/planted.jsonl" "$OUT/hegui_corpus_found.jsonl" > "$OUT/recall-corpus-hegui.json"
rm -f "$OUT"/*_found.jsonl

python3 - "$OUT" "$DATA" "$cores" <<'PY' | tee "$OUT/summary.md"
import json, os, sys
out, data, cores = sys.argv[1], sys.argv[2], int(sys.argv[3])
j = lambda n: json.load(open(os.path.join(out, n)))
truth = json.load(open(os.path.join(data, "truth.json")))
s1, sa = j("scan-1core.json"), j("scan-allcores.json")
ph, pp = j("pii-hegui.json"), j("pii-presidio.json")
rh, rp, rc = j("recall-pii-task-hegui.json"), j("recall-pii-task-presidio.json"), j("recall-corpus-hegui.json")
rep = json.load(open(os.path.join(out, "scan-1core", "audit.json")))
src = rep["sources"][0]
print(f"corpus: {truth['bytes']/1e6:.0f} MB, {truth['lines']} lines, planted {truth['planted']}")
print()
print("| measurement | value |")
print("|---|---|")
print(f"| full scan, 1 thread | {s1['seconds']:.1f} s, **{s1['mb_per_s']:.1f} MB/s per core** |")
print(f"| full scan, {cores} threads | {sa['seconds']:.1f} s, {sa['mb_per_s']:.1f} MB/s |")
print(f"| PII task, hegui detector | {ph['mb_per_s']:.1f} MB/s, recall {rh['recall']:.5f} |")
print(f"| PII task, Presidio (pattern recognisers) | {pp['mb_per_s']:.2f} MB/s, recall {rp['recall']:.5f} |")
print(f"| PII task, hegui / Presidio | **{ph['mb_per_s']/pp['mb_per_s']:.0f}×** |")
print(f"| recall of planted PII, whole corpus (hegui) | **{rc['recall']:.5f}** ({rc['found']}/{rc['planted']}; {rc['findings_not_planted']} findings not planted) |")
print(f"| audit report: items with PII / planted lines | {src['pii_items']} / {sum(truth['planted'].values())} |")
print(f"| audit report: harmful rate (lexicons + classifier) | {src['harmful']['rate']:.4f} |")
print()
print("Per kind, PII task (hegui / Presidio recall):")
for k in sorted(rh["per_kind"]):
    print(f"- {k}: {rh['per_kind'][k]['recall']:.4f} / {rp['per_kind'].get(k, {}).get('recall', 0):.4f}")
PY
echo "results in $OUT"
