"""`ecopy audit verify` and `ecopy audit list`: the append-only, hash-chained audit log.

Exit codes (verify): 0 the chain is intact, 1 problems found (listed). list: 0.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecopy.settings import Settings

EXIT_OK, EXIT_PROBLEMS = 0, 1


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    au = subparsers.add_parser("audit", help="the audit log (who did what, hash-chained)")
    actions = au.add_subparsers(dest="action", required=True)
    ve = actions.add_parser("verify", parents=[common],
                            help="check that no audit event was edited, inserted or removed")
    ve.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")
    ve.add_argument("--json", action="store_true")
    ve.set_defaults(handler=cmd_audit_verify)
    li = actions.add_parser("list", parents=[common], help="show audit events, oldest first")
    li.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")
    li.add_argument("--last", type=int, metavar="N", help="only the newest N events")
    li.add_argument("--json", action="store_true")
    li.set_defaults(handler=cmd_audit_list)


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_store
    from storage.evidence.audit import read_events, verify_audit

    store = open_store(args, settings)
    problems = verify_audit(store)
    count = len(read_events(store))
    if args.json:
        print(json.dumps({"store": store.describe(), "events": count, "intact": not problems,
                          "problems": problems}, ensure_ascii=False, indent=2))
    else:
        en = settings.lang == "en"
        if not problems:
            print(f"Audit log intact: {count} events." if en
                  else f"Nhật ký kiểm tra nguyên vẹn: {count} sự kiện.")
        else:
            print(f"Audit log NOT intact ({len(problems)} problems):" if en
                  else f"Nhật ký kiểm tra KHÔNG nguyên vẹn ({len(problems)} vấn đề):")
            for p in problems:
                print(f"  - {p}")
    return EXIT_PROBLEMS if problems else EXIT_OK


def cmd_audit_list(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_store
    from storage.evidence.audit import read_events

    events = read_events(open_store(args, settings), last=args.last)
    if args.json:
        print(json.dumps(events, ensure_ascii=False, indent=2))
        return EXIT_OK
    for e in events:
        details = json.dumps(e.get("details", {}), ensure_ascii=False, sort_keys=True)
        print(f"{e.get('seq', '?'):>6}  {e.get('time', '')}  {e.get('actor', '')}  "
              f"{e.get('action', '')}  {e.get('object', '')}  {details}")
    return EXIT_OK
