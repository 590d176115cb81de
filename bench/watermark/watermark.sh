#!/usr/bin/env bash
# Side-by-side benchmark of hegui-watermark against the PyPI packages invisible-watermark
# (dwtDct, dwtDctSvd) and blind-watermark, on the same procedurally generated 1920x1080 PNGs,
# with the same Pillow-made attacked files, all pinned to one CPU core.
#
# Run from anywhere: bench/watermark/watermark.sh (results in BENCHMARKS.md, "Image watermark").
# Environment: WM_BENCH_IMAGES (default 5), WM_BENCH_WORK (scratch dir, default mktemp),
# WM_BENCH_VENV (default bench/watermark/.venv), CARGO_TARGET_DIR (default the workspace's target/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${WM_BENCH_VENV:-$here/.venv}"
work="${WM_BENCH_WORK:-$(mktemp -d /tmp/wm-bench.XXXXXX)}"
images="${WM_BENCH_IMAGES:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
pip=("$venv/bin/pip" install -q --disable-pip-version-check)
"${pip[@]}" "numpy<3" "pillow>=10.1" "opencv-python-headless<5" "PyWavelets>=1.4"
# Both packages declare the GUI build `opencv-python` (conflicts with the headless one), and
# invisible-watermark also declares `torch`, which only its rivaGan method uses: install them
# without dependencies; bench.py stubs `torch` at import time if it is absent.
"${pip[@]}" --no-deps "invisible-watermark==0.2.0" "blind-watermark==0.4.4"

(cd "$root" && cargo build --release -p hegui-watermark --example wm_bench)

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMEXPR_NUM_THREADS=1
pin=()
if command -v taskset >/dev/null 2>&1; then
  pin=(taskset -c 0)
fi
"${pin[@]}" "$venv/bin/python" "$here/bench.py" \
  --work "$work" --images "$images" --hegui "$CARGO_TARGET_DIR/release/examples/wm_bench"
