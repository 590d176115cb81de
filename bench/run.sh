#!/usr/bin/env bash
# Latency benchmark: direct mock upstream vs hegui (every stage on) vs LiteLLM proxy.
#
#   bench/run.sh                 full run: 10, 50, 500, 1000, 2000 req/s, 20 s per point (~23 min)
#   bench/run.sh --quick         smoke: 50, 500 req/s, 3 s per point, 1 s warm-up (~3 min)
#   bench/run.sh --rates 500,1000,2000 --duration 10
#
# Options (anything else is passed to bench/bench.py, see `python3 bench/bench.py --help`):
#   --quick               short smoke run
#   --rates LIST          comma-separated req/s (default 10,50,500,1000,2000; 10 and 50 are
#                         there because LiteLLM sustains none of the others on 2 cores)
#   --duration S          seconds per measured point (default 20)
#   --warmup S            unrecorded seconds of the same load before each point (default 1)
#   --connections N       oha connections (default 64)
#   --workloads LIST      json-short,json-long,stream-short,stream-long
#   --targets LIST        direct,hegui,litellm (direct is the baseline, always needed)
#   --litellm-workers N   LiteLLM worker processes (default 2, one per core)
#   --db-dir DIR          where hegui's SQLite database goes (default: the run folder, on disk)
#   --redo-noisy RUN_DIR  measure again the rows of an earlier run that other processes disturbed
#                         (more than 0.3 cores of other load during a point) or that it never
#                         reached (interrupted), and write a merged run; see BENCHMARKS.md
#   --no-build            use the binaries already built
#   --keep-db             keep hegui's SQLite database in the run folder
#
# Tools go into bench/.tools (oha, via cargo install) and bench/.venv (LiteLLM, via pip); both
# are installed on first use. Binaries are built with cargo into $CARGO_TARGET_DIR (default:
# the workspace's target/). Results: bench/results/<UTC time>/, bench/results/latest.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
TOOLS="$BENCH_DIR/.tools"
VENV="$BENCH_DIR/.venv"
RESULTS="$BENCH_DIR/results"

# Pinned so that a rerun measures the same software.
OHA_VERSION="${OHA_VERSION:-1.16.0}"
LITELLM_VERSION="${LITELLM_VERSION:-1.108.7}"

fail() { echo "bench/run.sh: error: $*" >&2; exit 2; }
need() { command -v "$1" >/dev/null 2>&1 || fail "'$1' is required but not found on PATH ($2)"; }

quick=0
build=1
pass=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) pass+=("$1"); shift ;;
    esac
done
if [[ $quick == 1 ]]; then
    # Later arguments win in argparse, so explicit options still override these.
    pass=(--rates 50,500 --duration 3 --warmup 1 --cooldown 0.5 "${pass[@]}")
fi

need cargo "install Rust with rustup"
need python3 "install Python 3.9 or newer"

# --- tools -----------------------------------------------------------------------------------
OHA="$TOOLS/bin/oha"
if [[ ! -x "$OHA" ]] || ! "$OHA" --version 2>/dev/null | grep -q "$OHA_VERSION"; then
    echo "bench: installing oha $OHA_VERSION into $TOOLS (cargo install, takes a few minutes)" >&2
    cargo install oha --version "$OHA_VERSION" --locked --root "$TOOLS" \
        || fail "cargo install oha failed; see the output above"
fi
[[ -x "$OHA" ]] || fail "oha missing at $OHA after install"

LITELLM="$VENV/bin/litellm"
if [[ ! -x "$LITELLM" ]] || ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != '$LITELLM_VERSION')" 2>/dev/null; then
    echo "bench: installing litellm[proxy]==$LITELLM_VERSION into $VENV (pip)" >&2
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION" \
        || fail "pip install litellm[proxy] failed; see the output above"
fi
[[ -x "$LITELLM" ]] || fail "litellm missing at $LITELLM after install"

# --- binaries --------------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ $build == 1 ]]; then
    echo "bench: cargo build --release -p hegui -p hegui-mock-upstream (target dir $TARGET_DIR)" >&2
    (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p hegui -p hegui-mock-upstream) \
        || fail "cargo build failed"
fi
HEGUI="$TARGET_DIR/release/hegui"
MOCK="$TARGET_DIR/release/hegui-mock-upstream"
[[ -x "$HEGUI" ]] || fail "hegui binary not found at $HEGUI (drop --no-build, or set CARGO_TARGET_DIR)"
[[ -x "$MOCK" ]] || fail "hegui-mock-upstream binary not found at $MOCK (drop --no-build, or set CARGO_TARGET_DIR)"

# --- run -------------------------------------------------------------------------------------
mkdir -p "$RESULTS"
# bench.py stops its own servers on exit, error or signal; this trap covers run.sh being
# signalled while bench.py runs (it gets SIGTERM, then cleans up).
child=""
cleanup() {
    if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM HUP

python3 "$BENCH_DIR/bench.py" --hegui "$HEGUI" --mock "$MOCK" --oha "$OHA" --litellm "$LITELLM" \
    --results "$RESULTS" "${pass[@]}" &
child=$!
set +e
wait "$child"
rc=$?
set -e
child=""
exit $rc
