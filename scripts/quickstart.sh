#!/usr/bin/env bash
# The embedded default, end to end on a fresh machine: set up and build the disttune tool,
# build the Debian package retrieval set from this machine's package index, then train
# configs/quickstart.yaml under mpirun -np 2 (extra arguments go to `disttune train`, e.g.
# --set training.epochs=2). Nothing is downloaded besides Debian packages and their index.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
BUILD_TARGETS=disttune scripts/setup.sh
DATA=datasets/debian/pairs.jsonl
if [ ! -s "$DATA" ]; then
  if ! ls /var/lib/apt/lists/*_i18n_Translation-en* >/dev/null 2>&1; then
    echo "quickstart: fetching the English package descriptions (apt-get update)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q -o Acquire::Languages=en
  fi
  /usr/bin/python3 datasets/build_debian_pairs.py "$DATA"
fi
echo "quickstart: set-up, build and data ready after $(( $(date +%s) - t0 )) s"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# = mpirun -np 2 build/disttune train configs/quickstart.yaml, one core and thread per rank.
launch/disttune-run -n 2 -- train configs/quickstart.yaml "$@"
echo "quickstart: done in $(( $(date +%s) - t0 )) s; model in runs/quickstart/final," \
     "report in runs/quickstart/report.md"
