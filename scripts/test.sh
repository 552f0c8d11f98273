#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test through ctest, including the multi-rank
# tests under mpirun -np 2 and -np 4; then the sanitizer stage: a second tree, build-asan,
# built with AddressSanitizer + UndefinedBehaviorSanitizer (-DDISTTUNE_SANITIZE=ON), runs
# the tests labelled `sanitize` (tests/tests.cmake: unit, mpi_np2, failfast, fuzz_short,
# the fuzz harness test and tests/faults*_test.py); then the libtorch 2 stage
# (scripts/check-torch2.sh): every test again, built against libtorch 2.6 in a Debian trixie
# root. Arguments go to every ctest run.
#   SANITIZE=0 scripts/test.sh      # without the sanitizer stage (~12 minutes less on 2 cores)
#   TORCH2=0 scripts/test.sh        # without the libtorch 2 stage
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 1800 "$@")

if [ "${SANITIZE:-1}" != 0 ]; then
  ASAN_DIR=${ASAN_BUILD_DIR:-build-asan}
  t0=$(date +%s)
  cmake -S . -B "$ASAN_DIR" -DCMAKE_BUILD_TYPE=Release -DDISTTUNE_SANITIZE=ON >/dev/null
  cmake --build "$ASAN_DIR" -j "${JOBS:-$(nproc)}" --target disttune disttune_tests disttune_fuzz
  t1=$(date +%s)
  (cd "$ASAN_DIR" && ctest -L sanitize --output-on-failure --timeout 1800 "$@")
  echo "test: sanitizer stage: build $((t1 - t0)) s, tests $(($(date +%s) - t1)) s"
fi

if [ "${TORCH2:-1}" != 0 ]; then
  scripts/check-torch2.sh "$@"
fi
