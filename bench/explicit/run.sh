#!/usr/bin/env bash
# Benchmarks of hegui-explicit (criterion, optimised build). Record results in RESULTS.md.
# Peer: ffmpeg's drawtext filter drawing the same wording on one 1080p frame (includes ffmpeg's
# start-up, decode and encode, so it bounds what a tool call costs, not the raster alone).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cd "$root"
cargo bench -p hegui-explicit --bench explicit -- --noplot "$@"
if command -v ffmpeg >/dev/null; then
  font="$root/crates/explicit/assets/NotoSansCJKsc-Bold-subset.otf"
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  ffmpeg -loglevel error -y -f lavfi -i testsrc=size=1920x1080:duration=1 -frames:v 1 "$tmp/in.png"
  start=$(date +%s%N)
  for _ in 1 2 3 4 5; do
    ffmpeg -loglevel error -y -i "$tmp/in.png" -vf "drawtext=fontfile=$font:text=AI生成:fontsize=74:fontcolor=white:box=1:boxcolor=black@0.72:x=w-tw-40:y=h-th-40" "$tmp/out.png"
  done
  end=$(date +%s%N)
  echo "peer: ffmpeg drawtext, 1080p PNG in -> PNG out, mean of 5: $(( (end - start) / 5000000 )) ms"
fi
