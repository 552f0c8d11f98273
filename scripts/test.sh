#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test through ctest, including the multi-rank
# tests under mpirun -np 2 and -np 4.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 1800 "$@"
