#!/usr/bin/env bash
# Implicit-labeling throughput per format (MB/s), on in-memory files of SIZE_MB each (as if in
# page cache): `write` alone and digest + Ed25519 signature + write.
# usage: bench/label/label.sh [SIZE_MB]   (default 64; the brief's range is 50–200)
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MB="${1:-64}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo run --quiet --release -p hegui-label --example label_throughput -- "$SIZE_MB"
