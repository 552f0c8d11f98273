#!/usr/bin/env bash
# The libtorch 2 stage of the tests. The development machines' Debian (bookworm) packages
# libtorch 1.13; GPU users build against PyTorch 2.x, where other code runs (the fused
# attention kernel and per-device autocast behind TORCH_VERSION_MAJOR >= 2) and the API
# differs. This builds disttune in a Debian trixie root (libtorch 2.6, GCC 14, Open MPI 5,
# Python 3.13 with torch 2.6 for the reference tests) and runs every test there. Needs root
# (debootstrap, chroot, mounts) and Debian's mirror; arguments go to ctest.
#   scripts/check-torch2.sh     # ~15 minutes on 2 cores the first time; the root is kept
#   TORCH2_ROOT=DIR scripts/check-torch2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${TORCH2_ROOT:-/var/tmp/disttune-trixie}
JOBS=${JOBS:-$(nproc)}
PACKAGES=(
  g++ cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread libopenmpi-dev openmpi-bin libhdf5-dev libyaml-cpp-dev
  libgoogle-glog-dev libgtest-dev nlohmann-json3-dev libutf8proc-dev
  python3 python3-torch python3-h5py python3-numpy
)
t0=$(date +%s)

if [ ! -f "$ROOT/.disttune-ready" ]; then
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
  for m in proc sys dev; do mountpoint -q "$ROOT/$m" && umount -l "$ROOT/$m"; done
  rm -rf --one-file-system "$ROOT"  # never into a bind mount left by an interrupted run
  debootstrap --variant=minbase trixie "$ROOT" http://deb.debian.org/debian >"$ROOT.log" 2>&1 ||
    { tail -20 "$ROOT.log"; echo "check-torch2: debootstrap failed ($ROOT.log)" >&2; exit 1; }
fi

mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
}
trap cleanup EXIT
# Open MPI reads /proc and /sys (hwloc), the tests use /dev/shm and /dev/null.
for m in proc sys dev; do
  mkdir -p "$ROOT/$m"
  if ! mountpoint -q "$ROOT/$m"; then
    mount --bind "/$m" "$ROOT/$m"
    mounted+=("$ROOT/$m")
  fi
done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

in_root() {
  chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive CCACHE_DIR=/work/ccache OMPI_ALLOW_RUN_AS_ROOT=1 \
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent=false "$@"
}

if [ ! -f "$ROOT/.disttune-ready" ]; then
  in_root apt-get update -q >/dev/null
  in_root apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >"$ROOT/apt.log" 2>&1 ||
    { tail -20 "$ROOT/apt.log"; echo "check-torch2: installing the packages failed" >&2; exit 1; }
  touch "$ROOT/.disttune-ready"
fi
t1=$(date +%s)

# The tree as committed and staged (plus the shared data the tests read beside it), over
# the previous copy so that ninja rebuilds only what changed.
mkdir -p "$ROOT/work/disttune" "$ROOT/work/shared"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$ROOT/work/disttune"
# A file since deleted or moved would stay in the copy, and CMake's glob would build it.
git ls-files | sort >"$ROOT/work/tree.list"
(cd "$ROOT/work/disttune" && find . -type f -printf '%P\n' | sort | comm -23 - "$ROOT/work/tree.list" |
  xargs -r -d '\n' rm -f --)
[ -d ../shared/data ] && cp -r ../shared/data "$ROOT/work/shared/"
in_root cmake -S /work/disttune -B /work/build -G Ninja -DCMAKE_BUILD_TYPE=Release >"$ROOT/work/configure.log" ||
  { tail -30 "$ROOT/work/configure.log"; exit 1; }
grep "disttune:" "$ROOT/work/configure.log"
in_root cmake --build /work/build -j "$JOBS"
# Debian's libtorch is a CPU build, so the build above leaves out the NCCL communicator's
# libtorch CUDA code (DISTTUNE_TORCH_CUDA): compile it against libtorch 2.6's c10/cuda
# headers and the host's CUDA toolkit, with the one header a CUDA build of libtorch
# generates written here.
if [ -f /usr/local/cuda/include/nccl.h ]; then
  mkdir -p "$ROOT/usr/local/cuda" "$ROOT/work/cuda-gen/c10/cuda/impl"
  mountpoint -q "$ROOT/usr/local/cuda" || { mount --bind /usr/local/cuda "$ROOT/usr/local/cuda" && mounted+=("$ROOT/usr/local/cuda"); }
  echo "#define C10_CUDA_BUILD_SHARED_LIBS" >"$ROOT/work/cuda-gen/c10/cuda/impl/cuda_cmake_macros.h"
  # The train benchmark's GPU memory statistics (c10::cuda::CUDACachingAllocator) too.
  for src in src/dist/nccl_communicator.cpp benchmarks/train_bench.cpp; do
    in_root c++ -std=gnu++17 -fsyntax-only -fopenmp -Wall -Wextra -Wno-unused-parameter -DDISTTUNE_HAVE_NCCL=1 \
      -DDISTTUNE_TORCH_CUDA=1 -DOMPI_SKIP_MPICXX=1 -DDISTTUNE_SOURCE_DIR=\"/work/disttune\" \
      -I/work/disttune/src -I/work/cuda-gen -I/usr/include/hdf5/serial \
      -isystem /usr/include/torch/csrc/api/include -isystem /usr/lib/x86_64-linux-gnu/openmpi/include \
      -isystem /usr/local/cuda/include "/work/disttune/$src"
  done
  echo "check-torch2: the libtorch CUDA code (NCCL communicator, train benchmark) compiles against libtorch 2.6"
fi
t2=$(date +%s)
in_root bash -c 'cd /work/build && ctest --output-on-failure --timeout 1800 "$@"' ctest "$@"
echo "check-torch2: libtorch $(in_root python3 -c 'import torch; print(torch.__version__)'):" \
  "root $((t1 - t0)) s, build $((t2 - t1)) s, tests $(($(date +%s) - t2)) s"
