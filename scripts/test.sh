#!/usr/bin/env bash
# Quick start 2: install what is needed (including headless Chromium), then run the
# linter and the whole test suite. The suite starts its own throwaway PostGIS
# clusters on free ports and removes them afterwards.
# Extra arguments go to pytest (e.g. -k partition).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
