#!/usr/bin/env bash
# Tamper-evident log benchmark (BENCHMARKS.md, section "Tamper-evident log").
#
#   bench/ledger.sh              full run, about 8 minutes on an idle 2-core machine (+ build):
#                                  durable appends on SQLite and PostgreSQL at 1, 16 and 256
#                                  concurrent writers (2 s warm-up + 10 s measured each);
#                                  the leanest durable SQLite log the same disk allows
#                                  (`ledger_bench ceiling`: records and leaves only), as a bound;
#                                  a real 1M-record SQLite log built through the record writer,
#                                  inclusion proofs over it, then `verify_ledger` over all of it;
#                                  proofs at 1M and 10M leaves (MemoryTree and a nodes-only
#                                  SQLite database); the criterion benches of hegui-ledger
#   bench/ledger.sh --quick      smoke run, about 2 minutes (3 s points, 100k records, 1M leaves)
#
# Options:
#   --quick               short smoke run
#   --writers LIST        concurrent writers (default 1,16,256)
#   --seconds S           measured seconds per append point (default 10; quick 3)
#   --records N           records in the real SQLite log (default 1000000; quick 100000)
#   --leaves LIST         tree sizes for the proof benchmarks (default 1000000,10000000;
#                         quick 1000000)
#   --proofs N            random leaves per proof figure (default 2000; quick 1000)
#   --dir DIR             where the SQLite databases go (default: the run folder; must be a
#                         real disk, not tmpfs: the point is durability)
#   --pg URL              PostgreSQL admin URL (default $HEGUI_TEST_POSTGRES_URL, else
#                         postgres://postgres@127.0.0.1:5432/test); a fresh database per point
#   --no-pg               skip PostgreSQL
#   --no-criterion        skip the criterion benches
#   --no-build            use the binaries already built
#
# Binaries are built with cargo into $CARGO_TARGET_DIR (default: the workspace's target/).
# Results: bench/results/ledger-<UTC time>/ (summary.md: the tables; log.txt: progress, plus per
# append point what the sequencer's reads cost and, on SQLite, the bytes written per record).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"

fail() { echo "bench/ledger.sh: error: $*" >&2; exit 2; }

quick=0
writers="1,16,256"
seconds=""
records=""
leaves=""
proofs=""
dir=""
pg="${HEGUI_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
use_pg=1
use_criterion=1
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --writers) writers="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --records) records="$2"; shift ;;
    --leaves) leaves="$2"; shift ;;
    --proofs) proofs="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    --pg) pg="$2"; shift ;;
    --no-pg) use_pg=0 ;;
    --no-criterion) use_criterion=0 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown option $1 (see --help)" ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  : "${seconds:=3}" "${records:=100000}" "${leaves:=1000000}" "${proofs:=1000}"
  warmup=1
else
  : "${seconds:=10}" "${records:=1000000}" "${leaves:=1000000,10000000}" "${proofs:=2000}"
  warmup=2
fi

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release/examples/ledger_bench"
if [ "$build" = 1 ]; then
  (cd "$ROOT" && cargo build --release -q -p hegui-store --example ledger_bench)
  if [ "$use_criterion" = 1 ]; then
    (cd "$ROOT" && cargo bench -q -p hegui-ledger --bench merkle --no-run)
  fi
fi
[ -x "$BIN" ] || fail "$BIN not built (drop --no-build)"

RUN="$BENCH_DIR/results/ledger-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN"
: "${dir:=$RUN}"
mkdir -p "$dir"
fs="$(df -T "$dir" | awk 'NR==2 {print $2}')"
[ "$fs" = tmpfs ] && fail "--dir $dir is on tmpfs: fsync would mean nothing"
SUMMARY="$RUN/summary.md"
LOG="$RUN/log.txt"

if [ "$use_pg" = 1 ] && command -v pg_isready >/dev/null 2>&1; then
  pg_isready -q -d "$pg" || fail "PostgreSQL at $pg is not reachable (use --no-pg to skip it)"
fi

{
  echo "# Tamper-evident log benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB, load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- disk: $(df -h "$dir" | awk 'NR==2 {print $1}') ($fs), SQLite in $dir"
  echo "- rustc: $(rustc --version 2>/dev/null || echo unknown)"
  [ "$use_pg" = 1 ] && echo "- PostgreSQL: $(psql "$pg" -Atc 'SHOW server_version' 2>/dev/null || echo '?'), synchronous_commit=$(psql "$pg" -Atc 'SHOW synchronous_commit' 2>/dev/null || echo '?')"
  echo
} >"$SUMMARY"

step() { echo "== $*" | tee -a "$LOG" >&2; }
run() { "$BIN" "$@" --dir "$dir" --pg "$pg" >>"$SUMMARY" 2> >(tee -a "$LOG" >&2); }

start=$(date +%s)
step "durable appends, SQLite"
echo "## Durable appends" >>"$SUMMARY"
run appends --backend sqlite --writers "$writers" --seconds "$seconds" --warmup "$warmup"
step "the leanest durable SQLite log on this disk (a bound for the figures above)"
printf '\n## The leanest durable SQLite log (ledger_bench ceiling)\n\n' >>"$SUMMARY"
run ceiling --batches 105,256,1000 --seconds "$seconds" --warmup "$warmup"
printf '\n' >>"$SUMMARY"
if [ "$use_pg" = 1 ]; then
  step "durable appends, PostgreSQL"
  run appends --backend postgres --writers "$writers" --seconds "$seconds" --warmup "$warmup" --no-header
fi
step "real SQLite log of $records records: build, proofs, verify_ledger"
printf '\n## Real SQLite log\n' >>"$SUMMARY"
run store --records "$records" --proofs "$proofs"
step "proofs at $leaves leaves: MemoryTree and nodes-only SQLite"
printf '\n## Proofs by tree size\n' >>"$SUMMARY"
run nodes --leaves "$leaves" --proofs "$proofs"
if [ "$use_criterion" = 1 ]; then
  step "criterion: hegui-ledger merkle"
  printf '\n## Criterion (hegui-ledger, benches/merkle.rs)\n\n```\n' >>"$SUMMARY"
  (cd "$ROOT" && HEGUI_BENCH_LEAVES="$leaves" cargo bench -q -p hegui-ledger --bench merkle -- --noplot) 2>>"$LOG" \
    | grep -E '^[a-z_]+/|time:|thrpt:' >>"$SUMMARY"
  printf '```\n' >>"$SUMMARY"
fi
echo >>"$SUMMARY"
echo "total $(( $(date +%s) - start )) s; load after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$SUMMARY"
step "done in $(( $(date +%s) - start )) s: $SUMMARY"
cat "$SUMMARY"
