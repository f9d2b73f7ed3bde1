#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine: system packages (when root) and a venv in .venv.
# Usage: scripts/setup.sh [--dev]   (--dev also installs test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES=(tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng tesseract-ocr-osd poppler-utils
              qpdf fonts-liberation2 redis-server softhsm2 opensc python3-venv)
# the browser tests of the web app drive Debian's chromium through its chromedriver; the
# database tests start their own PostgreSQL server (pg_trgm is in postgresql-contrib)
[ "${1:-}" = "--dev" ] && APT_PACKAGES+=(chromium chromium-driver postgresql postgresql-contrib)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing system packages (run as root or install them): ${missing[*]}" >&2
    exit 1
  fi
fi
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.ecopy-installed
lock=requirements.lock
[ "${1:-}" = "--dev" ] && lock=requirements-dev.lock
want="$(cat pyproject.toml "$lock" | sha256sum | cut -c1-16) $lock"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # Exactly the locked versions, each checked against its hash (scripts/lock.sh makes the
  # files); then ecopy itself, built with the locked setuptools. Quiet unless it fails:
  # build-backend notices are noise to someone running the demo.
  if ! { .venv/bin/pip install -q --require-hashes --no-deps -r "$lock" \
         && .venv/bin/pip install -q --no-deps --no-build-isolation -e .; } \
       > .venv/install.log 2>&1; then
    cat .venv/install.log >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
# A deployment's database server (ECOPY_DATABASE_URL) gets the code's schema; the embedded
# SQLite file beside a local store is brought up to date whenever ecopy opens it.
if [ -n "${ECOPY_DATABASE_URL:-}" ]; then
  .venv/bin/ecopy db upgrade
fi
