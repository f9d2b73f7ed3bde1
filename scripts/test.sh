#!/usr/bin/env bash
# The test suite on a fresh Debian machine: install what is needed, lint, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check .
.venv/bin/pytest -q "$@"
