#!/usr/bin/env bash
# The test suite on a fresh Debian machine: install what is needed, lint, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check .
# two test processes (pytest-xdist), each test file whole in one of them so module fixtures
# are made once; ECOPY_TEST_PROCESSES=1 runs them one after another
.venv/bin/pytest -q -n "${ECOPY_TEST_PROCESSES:-2}" --dist loadfile "$@"
