#!/usr/bin/env bash
# The embedded default, end to end on a fresh machine: set up and build, build the Debian
# package retrieval set, then run configs/quickstart.yaml under mpirun -np 2.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
DATA=datasets/debian/pairs.jsonl
if [ ! -s "$DATA" ]; then
  /usr/bin/python3 datasets/build_debian_pairs.py "$DATA"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Training is not in this build yet: check the whole job's config and data under 2 ranks.
mpirun -np 2 --oversubscribe build/disttune validate configs/quickstart.yaml "$@"
