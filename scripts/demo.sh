#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is needed, turn the bundled sample scans
# into signed e-copies in ./warehouse, and verify one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PERSON=001301012345
set +e
.venv/bin/ecopy process samples/ --person-id "$PERSON" --requester "Nguyễn Thị Mai Anh" --out . "$@"
status=$?
set -e
# 0: all filed, 3: some wait for review; both leave copies to look at
if [ "$status" != 0 ] && [ "$status" != 3 ]; then exit "$status"; fi
.venv/bin/ecopy warehouse list "$PERSON" --out .
copy=$(ls -t warehouse/"$PERSON"/*/*.pdf | head -n 1)
.venv/bin/ecopy verify "$copy" --store .
