#!/usr/bin/env bash
# Installs disttune's Debian dependencies (when missing) and builds it into build/.
# Idempotent: a second run installs nothing and rebuilds only what changed.
#   scripts/setup.sh            # Release build in build/
#   BUILD_DIR=build-asan CMAKE_ARGS=-DDISTTUNE_SANITIZE=ON scripts/setup.sh
#   BUILD_TARGETS=disttune scripts/setup.sh   # the command-line tool only
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ccache pkg-config git
  libtorch-dev libopenblas0-pthread          # libtorch; OpenBLAS instead of reference BLAS (~25x)
  libdnnl-dev                                # oneDNN sgemm for the encoder's CPU projections
  libopenmpi-dev openmpi-bin                 # MPI backend and launcher
  libhdf5-dev libyaml-cpp-dev libgoogle-glog-dev libgtest-dev
  nlohmann-json3-dev libutf8proc-dev
  python3 python3-torch python3-h5py python3-numpy   # reference implementations for tests
  slurm-wlm munge                            # tests/slurm_test.py runs a real local SLURM job
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Languages=en also fetches the package descriptions the quickstart dataset is built from.
  $SUDO apt-get update -q -o Acquire::Languages=en
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
fi
t0=$(date +%s)
# BUILD_TARGETS (e.g. "disttune") builds only those; the default builds tests and benchmarks too.
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j "$JOBS" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
echo "setup: build ready in $BUILD_DIR ($(( $(date +%s) - t0 )) s)"
