#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is needed, turn the bundled sample scans
# into signed e-copies in the store here (sealed: docs/encryption.md), export the newest one to
# ./e-copy.pdf and verify it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PERSON=001301012345
set +e
# nothing is signed without a certifier's own act: the demo certifies as the configured TEST
# certifier (the default settings' one), and ecopy says so before it signs
.venv/bin/ecopy process samples/ --person-id "$PERSON" --requester "Nguyễn Thị Mai Anh" --out . \
    --certify-as "${ECOPY_CERTIFIER_NAME:-Nguyễn Văn Thử}" "$@"
status=$?
set -e
# 0: all filed, 3: some wait for review; both leave copies to look at
if [ "$status" != 0 ] && [ "$status" != 3 ]; then exit "$status"; fi
.venv/bin/ecopy warehouse list "$PERSON" --out .
# the store keeps copies encrypted: a copy leaves it through `warehouse export`
copy_id=$(.venv/bin/ecopy warehouse list "$PERSON" --out . --json | .venv/bin/python -c \
  'import json, sys; print(max(json.load(sys.stdin), key=lambda c: c["certified_at"])["copy_id"])')
.venv/bin/ecopy warehouse export "$copy_id" -o e-copy.pdf --store .
.venv/bin/ecopy verify e-copy.pdf --store .
# Reuse before asking (docs/reuse.md): the papers two procedures need, looked up in the
# warehouse just filled and in two simulated national registers; prints each hit rate.
for needs in citizen_id,birth_cert,marital_status citizen_id,birth_cert,university_diploma; do
  set +e
  .venv/bin/ecopy reuse check --person-id "$PERSON" --needs "$needs" --store . \
      --source samples/sources/csdl-dan-cu.json --source samples/sources/csdl-ho-tich.json
  status=$?
  set -e
  # 0: all available, 3: some must be asked for
  if [ "$status" != 0 ] && [ "$status" != 3 ]; then exit "$status"; fi
done
