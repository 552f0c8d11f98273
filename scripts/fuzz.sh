#!/usr/bin/env bash
# Extended fuzzing run (docs/reliability.md, "Fuzzing"): builds disttune_fuzz with
# AddressSanitizer + UndefinedBehaviorSanitizer in build-asan and runs every target for
# RUNS executions (default 10^6), one process per target so that a failing target does not
# stop the others. Prints executions, time, executions/s and the result of each target;
# crash inputs land in build-asan/fuzz-artifacts/. Exit status 0 when every target ran
# clean. CI runs the short version instead (ctest -R fuzz_short).
#   scripts/fuzz.sh                          # all targets, 10^6 executions each, seed 1
#   RUNS=100000 SEED=7 TARGETS="csv tsv" scripts/fuzz.sh
#   BUILD_DIR=build scripts/fuzz.sh          # the Release tree, without sanitizers
#   FUZZ=/tmp/disttune_fuzz scripts/fuzz.sh  # a binary built before (no build step)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1000000}
SEED=${SEED:-1}
BUILD_DIR=${BUILD_DIR:-build-asan}

if [ -z "${FUZZ:-}" ]; then
  if [ "$BUILD_DIR" = build-asan ]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DDISTTUNE_SANITIZE=ON >/dev/null
  fi
  cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" --target disttune_fuzz >/dev/null
  FUZZ="$BUILD_DIR/disttune_fuzz"
fi

# As in the sanitizer stage of scripts/test.sh (tests/tests.cmake), plus two settings that
# make the extended run ~1.7x faster: no allocation stack in reports (replay a saved input
# with `disttune_fuzz TARGET --input FILE` under the default options to get it) and a
# smaller free-memory quarantine.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:check_initialization_order=1:strict_init_order=1:malloc_context_size=0:quarantine_size_mb=16}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/sanitizer.supp}

TARGETS=${TARGETS:-$("$FUZZ" --list | awk '{print $1}')}
ARTIFACTS=${ARTIFACTS:-$BUILD_DIR/fuzz-artifacts}
mkdir -p "$ARTIFACTS"
echo "fuzz: $FUZZ, $RUNS executions per target, seed $SEED, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-16s %10s %9s %9s  %s\n' target runs seconds exec/s result
failed=0
for t in $TARGETS; do
  log="$ARTIFACTS/$t.log"
  start=$SECONDS
  if "$FUZZ" "$t" --runs "$RUNS" --seed "$SEED" --artifact-prefix "$ARTIFACTS/" >"$log" 2>&1; then
    # The target's row: name runs seconds exec/s accepted outcomes corpus rss+MB result.
    awk -v t="$t" '$1 == t { printf "%-16s %10s %9s %9s  ok\n", $1, $2, $3, $4 }' "$log"
  else
    secs=$((SECONDS - start))
    crash=$(grep -o "input saved to [^ ]*" "$log" | head -1 | cut -d' ' -f4)
    printf '%-16s %10s %9s %9s  FAILED (%s; log %s)\n' "$t" - "$secs" - "${crash:-no input saved}" "$log"
    failed=1
  fi
done
exit $failed
