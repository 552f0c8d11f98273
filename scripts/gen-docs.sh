#!/usr/bin/env bash
# Regenerates docs/config.md from the option registry (CI checks it is current).
set -euo pipefail
cd "$(dirname "$0")/.."
build/disttune help config > docs/config.md
echo "docs/config.md regenerated"
