#!/usr/bin/env bash
# Review-engine benchmark: hegui's lexicon review vs Aho–Corasick peers on a large real lexicon
# (BENCHMARKS.md, section "Review engine").
#
#   bench/review.sh              full run: jieba's dictionary (100k sample and all ~350k words)
#                                over >= 100 MB of COLD text, 3 runs per point, plus streaming
#                                review (about 20 min on a 2-core machine, plus the build)
#   bench/review.sh --quick      smoke: 10 MB of text, 1 run, short streams (~2 min)
#
# Options (anything else is passed to bench/review/run.py, see `python3 bench/review/run.py -h`):
#   --quick               short smoke run
#   --runs N              runs per point, the median is reported (default 3)
#   --sizes LIST          lexicon sizes: 100k,full (default both)
#   --engines LIST        hegui,hegui-pii,daachorse,aho-corasick,pyahocorasick,ahocorasick-rs,mint-filter
#   --text-bytes N        review only the first N bytes of the text
#   --max-wait S          wait at most S seconds for a quiet machine (loadavg < 1.0, or under
#                         0.25 cores busy for 5 s) before starting (default 600); --point-wait S
#                         before each point (default 60)
#   --no-build            use the review_bench binary already built
#
# Peers are installed on first use, pinned: bench/review/.venv (python3 -m venv; jieba 0.42.1 for
# its dict.txt, pyahocorasick 2.3.1, ahocorasick-rs 1.0.3) and bench/review/node_modules
# (npm ci from bench/review/package-lock.json: mint-filter 4.0.3). Data is prepared once into
# bench/review/.data (jieba word lists, COLD text repeated to >= 100 MB; COLD is read from
# $COLD_DIR, default /work/shared/data/cold). The Rust side is
# crates/policy/examples/review_bench.rs, built with cargo into $CARGO_TARGET_DIR (default:
# the workspace's target/). Results: bench/results/review-<UTC time>/ (summary.md, raw.jsonl).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
HERE="$BENCH_DIR/review"
VENV="$HERE/.venv"
DATA="$HERE/.data"
COLD_DIR="${COLD_DIR:-/work/shared/data/cold}"

# Pinned so that a rerun measures the same software.
JIEBA_VERSION=0.42.1
PYAHOCORASICK_VERSION=2.3.1
AHOCORASICK_RS_VERSION=1.0.3

fail() { echo "bench/review.sh: error: $*" >&2; exit 2; }
need() { command -v "$1" >/dev/null 2>&1 || fail "'$1' is required but not found on PATH ($2)"; }

quick=0
build=1
pass=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) pass+=("$1"); shift ;;
    esac
done
if [[ $quick == 1 ]]; then
    # Later arguments win in argparse, so explicit options still override these.
    pass=(--runs 1 --text-bytes 10000000 --stream-repeat 5 --stream-long-chars 200000
          --max-wait 60 --point-wait 10 "${pass[@]}")
fi

need cargo "install Rust with rustup"
need python3 "install Python 3.9 or newer"
need node "install Node.js 18 or newer (Debian: apt-get install nodejs npm)"
need npm "install npm (Debian: apt-get install npm)"
[[ -f "$COLD_DIR/train.csv" && -f "$COLD_DIR/dev.csv" ]] || fail "COLD train.csv/dev.csv not found in $COLD_DIR (set COLD_DIR)"

# --- peers -----------------------------------------------------------------------------------
py_ok() {
    "$VENV/bin/python" - "$JIEBA_VERSION" "$PYAHOCORASICK_VERSION" "$AHOCORASICK_RS_VERSION" <<'EOF' 2>/dev/null
import importlib.metadata as m, sys
want = dict(zip(["jieba", "pyahocorasick", "ahocorasick-rs"], sys.argv[1:]))
sys.exit(any(m.version(k) != v for k, v in want.items()))
EOF
}
if [[ ! -x "$VENV/bin/python" ]] || ! py_ok; then
    echo "bench: installing jieba, pyahocorasick, ahocorasick-rs into $VENV (pip)" >&2
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "jieba==$JIEBA_VERSION" "pyahocorasick==$PYAHOCORASICK_VERSION" "ahocorasick-rs==$AHOCORASICK_RS_VERSION" \
        || fail "pip install failed; see the output above"
    py_ok || fail "the venv at $VENV does not have the pinned versions"
fi
want_mint="$(node -p "require('$HERE/package.json').dependencies['mint-filter']")"
have_mint="$(node -p "try { require('$HERE/node_modules/mint-filter/package.json').version } catch (e) { '' }")"
if [[ "$have_mint" != "$want_mint" ]]; then
    echo "bench: installing mint-filter $want_mint into $HERE/node_modules (npm ci)" >&2
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed; see the output above"
fi

# --- binary ----------------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ $build == 1 ]]; then
    echo "bench: cargo build --release --locked -p hegui-policy --example review_bench (target dir $TARGET_DIR)" >&2
    (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --locked --quiet -p hegui-policy --example review_bench) \
        || fail "cargo build failed"
fi
BIN="$TARGET_DIR/release/examples/review_bench"
[[ -x "$BIN" ]] || fail "review_bench not found at $BIN (drop --no-build, or set CARGO_TARGET_DIR)"

# --- data ------------------------------------------------------------------------------------
DICT="$("$VENV/bin/python" -c 'import jieba, os; print(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"))')"
[[ -f "$DICT" ]] || fail "jieba's dict.txt not found at $DICT"
"$VENV/bin/python" "$HERE/prepare.py" --dict "$DICT" --cold "$COLD_DIR" --out "$DATA" \
    || fail "data preparation failed"

# --- run -------------------------------------------------------------------------------------
mkdir -p "$BENCH_DIR/results"
exec python3 "$HERE/run.py" --bin "$BIN" --venv-python "$VENV/bin/python" --node "$(command -v node)" \
    --data "$DATA" --results "$BENCH_DIR/results" "${pass[@]}"
