"""`ecopy cancel COPY_ID` and `ecopy cancellations publish`: cancelled certifications.

The actor and role come from settings (ECOPY_ACTOR, ECOPY_ROLE); only a certifier may
cancel (an admin administers: Decree 280/2025 Art 5). Exit codes: 0 cancelled (or already
cancelled) / published, 1 refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecopy.settings import Settings

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ca = subparsers.add_parser("cancel", parents=[common],
                               help="cancel a certification by a decision (certifier)")
    ca.add_argument("copy_id")
    ca.add_argument("--decision", required=True, help="reference of the cancelling decision")
    ca.add_argument("--reason", required=True)
    ca.add_argument("--decision-date", help="YYYY-MM-DD (default today)")
    ca.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")
    ca.add_argument("--json", action="store_true")
    ca.set_defaults(handler=cmd_cancel)

    cs = subparsers.add_parser("cancellations", help="the list of cancelled certifications")
    actions = cs.add_subparsers(dest="action", required=True)
    pu = actions.add_parser("publish", parents=[common],
                            help="write cancellations.json and cancellations.html")
    pu.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")
    pu.add_argument("--out", type=Path, required=True, dest="out_dir",
                    help="directory to write the list into")
    pu.set_defaults(handler=cmd_publish)


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.actions import cancel_certification
    from ecopy.wiring import open_state
    from storage.db.successions import visible_agencies
    from storage.evidence.cancellations import CancellationError, NotAllowed, UnknownCopy

    state = open_state(args, settings)
    with state.db.read() as s:  # a copy of this commune (or one it succeeded) only
        agencies = visible_agencies(s, settings.commune_code)
    try:
        decision, already = cancel_certification(
            state, args.copy_id, decision_ref=args.decision, decision_date=args.decision_date,
            reason=args.reason, actor=settings.actor, role=settings.role, agencies=agencies)
    except (NotAllowed, UnknownCopy) as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except CancellationError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"already_cancelled": already, "decision": decision},
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    en = settings.lang == "en"
    if already:
        print(f"Already cancelled by decision {decision['decision_ref']} of "
              f"{decision['decision_date']}." if en else
              f"Bản sao đã bị hủy trước đó theo Quyết định số {decision['decision_ref']} "
              f"ngày {decision['decision_date']}.")
    else:
        print(f"Cancelled: {args.copy_id} (decision {decision['decision_ref']})." if en else
              f"Đã hủy bản sao {args.copy_id} theo Quyết định số {decision['decision_ref']}.")
    return EXIT_OK


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.reports.cancellations import publish
    from ecopy.wiring import open_state
    from storage.db.catalogue import all_cancellations

    with open_state(args, settings).db.read() as s:
        decisions = all_cancellations(s)
    try:
        json_path, html_path = publish(decisions, args.out_dir)
    except OSError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{json_path}\n{html_path}")
    return EXIT_OK
