#!/usr/bin/env bash
# Quick start 1: install what is needed, then generate the sample district, partition
# it, write GeoPackage + GeoJSON + HTML map under out/demo, store the plan in the
# embedded PostGIS and serve the map at http://127.0.0.1:8000/map until Ctrl-C.
# Extra arguments go to `commgrid demo` (e.g. --port 8001 --no-serve).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
exec .venv/bin/commgrid demo "$@"
