#!/usr/bin/env bash
# One-shot signed labeling, as a user runs `hegui label add --key`: a fresh process per file,
# files in /dev/shm (page cache with no device under it), side by side with `cp` of the same
# file in the same round (the I/O floor: a copy writes the same bytes to a new file).
#
# usage: bench/label/oneshot.sh [ROUNDS] [SIZE_MB] [FORMAT...]
#   ROUNDS (default 9) alternating rounds per format; SIZE_MB (default 64) per sample file;
#   FORMAT names as label_throughput knows them (default: all). Set LABEL_ONE_BASE to a
#   second label_one binary (say, an older build) to time it in the same rounds.
# Prints per format the median time and MB/s of cp, hegui (and the base), and hegui / cp.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${1:-9}"
SIZE_MB="${2:-64}"
shift $(( $# > 2 ? 2 : $# ))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p hegui-label --examples
bin="$CARGO_TARGET_DIR/release/examples"
dir=$(mktemp -d /dev/shm/hegui-oneshot.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/samples"
# The samples: label_throughput writes each one it measures (its own table goes to stderr here).
LABEL_THROUGHPUT_SAVE="$dir/samples" "$bin/label_throughput" "$SIZE_MB" "$@" >/dev/null 2>&1

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms_of_cp() {
  local s e
  s=$(date +%s%N); cp "$1" "$2"; e=$(date +%s%N)
  echo "scale=1; ($e - $s) / 1000000" | bc
}

printf '| file | MB | cp ms (MB/s) | hegui ms (MB/s) | hegui / cp |%s\n' "${LABEL_ONE_BASE:+ base ms (MB/s) |}"
printf '|---|---:|---:|---:|---:|%s\n' "${LABEL_ONE_BASE:+---:|}"
for f in "$dir"/samples/*; do
  name=$(basename "$f"); ext="${name##*.}"
  : >"$dir/cp"; : >"$dir/hegui"; : >"$dir/base"
  for _ in $(seq "$ROUNDS"); do
    ms_of_cp "$f" "$dir/copy.$ext" >>"$dir/cp"; rm -f "$dir/copy.$ext"
    cp "$f" "$dir/in.$ext"
    "$bin/label_one" "$dir/in.$ext" | awk '{print $1}' >>"$dir/hegui"
    rm -f "$dir/in.$ext"
    if [ -n "${LABEL_ONE_BASE:-}" ]; then
      cp "$f" "$dir/in.$ext"
      "$LABEL_ONE_BASE" "$dir/in.$ext" | awk '{print $1}' >>"$dir/base"
      rm -f "$dir/in.$ext"
    fi
  done
  mb=$(echo "scale=1; $(stat -c %s "$f") / 1000000" | bc)
  c=$(median <"$dir/cp"); h=$(median <"$dir/hegui")
  rate() { echo "$1 ($(echo "$mb * 1000 / $1" | bc) MB/s)"; }
  line="| $name | $mb | $(rate "$c") | $(rate "$h") | $(echo "scale=2; $h / $c" | bc) |"
  if [ -n "${LABEL_ONE_BASE:-}" ]; then
    line="$line $(rate "$(median <"$dir/base")") |"
  fi
  echo "$line"
done
