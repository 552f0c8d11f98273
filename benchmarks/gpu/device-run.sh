#!/usr/bin/env bash
# The GPU check in one call: on a machine with CUDA, a CUDA build of PyTorch and
# sentence-transformers (and the kit from benchmarks/gpu/stage.sh in .gpu-kit/), unpacks
# disttune's Debian libraries, builds disttune and disttune_bench against its libtorch with
# the NCCL backend, trains train-smoke.yaml on the GPU, and runs `benchmarks/run --gpu`
# (docs/benchmarks.md, "GPU"). Writes device.log, build.log, train.txt, report.md, the
# suite's table and JSON to $OUT (default ./gpu-out).
#   benchmarks/gpu/device-run.sh            # all of it (~5-8 minutes on 16 cores)
#   benchmarks/gpu/device-run.sh build      # stop after the build (build-errors.txt on failure)
#   benchmarks/gpu/device-run.sh unpack     # stop after unpacking the libraries
#   benchmarks/gpu/device-run.sh train      # stop after the training run (train-smoke.yaml)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
KIT=$ROOT/.gpu-kit
OUT=${OUT:-$ROOT/gpu-out}
BUILD=${GPU_BUILD_DIR:-$ROOT/build-gpu}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/device.log"; }
fail() { log "FAILED: $*"; exit 1; }

log "machine: $(nproc) cores; $(nvidia-smi -L 2>/dev/null | head -1)"
log "$($PY -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "cxx11 abi", torch.compiled_with_cxx11_abi())' 2>&1)"
log "$(${CXX:-g++} --version 2>&1 | head -1); $(cmake --version 2>&1 | head -1); $(getconf GNU_LIBC_VERSION); $( (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1 | tail -1)"
[ -d "$KIT/debs" ] || fail "no $KIT/debs: run benchmarks/gpu/stage.sh first and carry .gpu-kit"

# Unpack into / (Debian's absolute paths, in the wrapper compilers and Open MPI's plugin
# directory among them, then hold), except a library package whose sonames the machine
# already has (its own, newer build stays) and a package installed under the same name.
known=$(mktemp)
ldconfig -p | awk 'NR > 1 {print $1}' | sort -u >"$known"
glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
unpack=()
too_new=()
for deb in "$KIT"/debs/*.deb; do
  pkg=$(dpkg-deb -f "$deb" Package)
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    log "keep installed $pkg"
    continue
  fi
  sonames=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed -n 's|.*/\(lib[^/]*\.so\.[0-9][0-9]*\)$|\1|p' | sort -u)
  if [ -n "$sonames" ] && ! echo "$sonames" | grep -qFxvf "$known"; then
    log "keep the machine's $pkg ($(paste -sd' ' <<<"$sonames"))"
    continue
  fi
  # stage.sh recorded the newest glibc symbol version each package needs.
  need=$(awk -v f="$(basename "$deb")" '$1 == f {print $2}' "$KIT/glibc-needed.txt" 2>/dev/null)
  if [ -n "$need" ] && [ "$need" != none ] && [ "$(printf '%s\n%s\n' "$need" "$glibc" | sort -V | tail -1)" != "$glibc" ]; then
    too_new+=("$pkg (glibc $need)")
  fi
  unpack+=("$deb")
done
[ ${#too_new[@]} -eq 0 ] ||
  fail "this machine's glibc $glibc is older than these packages need: ${too_new[*]} (benchmarks/gpu/stage.sh)"
for deb in "${unpack[@]}"; do
  # Not dpkg -x: its tar would replace the merged-/usr links (/lib -> usr/lib) with plain
  # directories and take the dynamic loader with them.
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C / --keep-directory-symlink || fail "unpacking $deb"
  echo "unpacked $(dpkg-deb -f "$deb" Package)" >>"$OUT/device.log"
done
ldconfig
# dpkg, not unpacking, makes Debian's alternatives links (mpirun -> mpirun.openmpi).
for t in mpirun mpiexec mpicc; do
  command -v "$t" >/dev/null || [ ! -x "/usr/bin/$t.openmpi" ] || ln -s "$t.openmpi" "/usr/bin/$t"
done
[ "${1:-all}" = unpack ] && exit 0

# PyTorch's CMake package looks for the CUDA toolkit through nvcc.
[ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
TORCH_PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)') || fail "no torch in $PY"
# pip's NCCL (nvidia-nccl-cu*): headers and libnccl.so.2, no unversioned link.
NCCL_HOME=$($PY -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)
NCCL_ARGS=()
if [ -n "$NCCL_HOME" ] && [ -f "$NCCL_HOME/include/nccl.h" ]; then
  NCCL_ARGS=(-DNCCL_INCLUDE_DIR="$NCCL_HOME/include" -DNCCL_LIBRARY="$(find "$NCCL_HOME/lib" -name 'libnccl.so*' | sort | head -1)")
  export LD_LIBRARY_PATH="$NCCL_HOME/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
log "configure: torch at $TORCH_PREFIX, NCCL at ${NCCL_HOME:-(CUDA toolkit)}"
cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
  -DMPI_C_COMPILER=/usr/bin/mpicc.openmpi -DPKG_CONFIG_EXECUTABLE=/usr/bin/pkgconf "${NCCL_ARGS[@]}" \
  >"$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; fail "configure (configure.log)"; }
grep -E "disttune:|NCCL" "$OUT/configure.log" | tee -a "$OUT/device.log"

log "build"
# -k 0 / --keep-going: every compile error of the run, not only the first file's.
KEEP=(-k 0)
[ ${#GEN[@]} -eq 0 ] && KEEP=(--keep-going)
if ! cmake --build "$BUILD" -j "$(nproc)" --target disttune disttune_bench -- "${KEEP[@]}" >"$OUT/build.log" 2>&1; then
  grep -E "error|Error" -A3 "$OUT/build.log" | head -300 >"$OUT/build-errors.txt"
  head -60 "$OUT/build-errors.txt"
  fail "build (build-errors.txt)"
fi
log "built disttune and disttune_bench"
[ "${1:-all}" = build ] && exit 0

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 DISTTUNE_DATA=$KIT/data PYTHONUNBUFFERED=1
# Open MPI starts even a single process's daemon through its rsh launcher, which refuses to
# start without an ssh or rsh binary; nothing here is remote, so any command will do.
command -v ssh >/dev/null || command -v rsh >/dev/null || export OMPI_MCA_plm_rsh_agent=false
export OMPI_MCA_mca_base_component_show_load_errors=0
# The product end to end on the GPU first (about a minute): training in bf16 with dropout,
# evaluation, a checkpoint, the report (benchmarks/gpu/train-smoke.yaml).
log "train"
rm -rf /tmp/gpu-smoke
timeout 600 "$BUILD/disttune" train "$ROOT/benchmarks/gpu/train-smoke.yaml" \
  --set "data.train=$KIT/data/financial-rag/pairs.jsonl" --set output.dir=/tmp/gpu-smoke >"$OUT/train.txt" 2>&1
train_rc=$?
cp /tmp/gpu-smoke/report.md /tmp/gpu-smoke/metrics.jsonl "$OUT/" 2>/dev/null
log "train exit $train_rc"
[ "${1:-all}" = train ] && exit "$train_rc"

log "suite"
$PY "$ROOT/benchmarks/run" --gpu --python "$PY" --build "$BUILD" --out "$OUT/gpu-benchmarks.json" 2>&1 |
  tee "$OUT/suite.txt"
rc=${PIPESTATUS[0]}
log "suite exit $rc"
[ "$rc" -eq 0 ] && rc=$train_rc
exit "$rc"
