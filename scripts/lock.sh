#!/usr/bin/env bash
# Re-resolve the lock files after changing dependencies in pyproject.toml.
# requirements.lock: what `ecopy` runs with (demo, image); requirements-dev.lock: that plus the
# test tools. Every line carries hashes, and setup.sh installs with --require-hashes, so a fresh
# machine gets exactly the versions the tests passed with. setuptools is locked too: the project
# itself is installed without build isolation, so nothing unhashed is fetched.
# Usage: scripts/lock.sh [--upgrade]     (uv from PyPI in a throw-away venv; no project change)
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${TMPDIR:-/tmp}/ecopy-uv
[ -x "$tool/bin/uv" ] || { python3 -m venv "$tool" && "$tool/bin/pip" install -q uv 2>/dev/null; }
build=$(mktemp --suffix=.in)
trap 'rm -f "$build"' EXIT
python3 - "$build" <<'PY'
import sys, tomllib
reqs = tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]
open(sys.argv[1], "w").write("\n".join(reqs) + "\n")
PY
common=(--universal --python-version 3.11 --generate-hashes --no-header --quiet "$@")
"$tool/bin/uv" pip compile pyproject.toml "$build" "${common[@]}" -o requirements.lock
"$tool/bin/uv" pip compile pyproject.toml "$build" --extra dev "${common[@]}" \
    -o requirements-dev.lock
# uv names the temporary input in "# via" comments; keep the files identical across runs
sed -i "s|$build|build-system.requires|g" requirements.lock requirements-dev.lock
