"""`ecopy complaints list|accept|answer|close|reopen`: complaints and feedback for operators.

`list` shows every commune's complaints (or one with --agency), open first, overdue flagged,
without the complainants' contact details (those are for the commune's staff, on the web
page). The steps act like the staff page: the actor, role and commune come from settings
(ECOPY_ACTOR, ECOPY_ROLE: clerk, certifier or admin, ECOPY_COMMUNE: a complaint filed with
another commune is not found), each step is one compare-and-set event, audited.
Exit codes: 0 done, 1 refused (role, unknown complaint, step not allowed now), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecopy.settings import Settings

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
WRITERS = ("clerk", "certifier", "admin")


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    co = subparsers.add_parser("complaints", help="complaints and feedback about dossiers and "
                                                  "e-copies")
    actions = co.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", parents=[common], help="list complaints, open first")
    ls.add_argument("--agency", help="only this commune (5-digit code)")
    ls.add_argument("--overdue", action="store_true", help="only open complaints past the "
                                                            "legal time limit")
    ls.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)
    for step in ("accept", "answer", "close", "reopen"):
        st = actions.add_parser(step, parents=[common], help=f"{step} a complaint "
                                                             "(clerk/certifier/admin)")
        st.add_argument("complaint_id")
        st.add_argument("--agency", help="the commune the complaint is filed with (must be "
                                         "ECOPY_COMMUNE, the default)")
        st.add_argument("--text", default="", help="the answer or a closing note")
        if step == "accept":
            st.add_argument("--complex", action="store_true", help="a complex case (longer "
                                                                   "time limit)")
        st.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")
        st.set_defaults(handler=cmd_step, step=step)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_state
    from pipeline.casework.complaints import events_of, list_complaints, state_of
    from pipeline.casework.procedures import calendar
    from storage.db.dossiers import AGENCY

    if args.agency is not None and not AGENCY.match(args.agency):
        print("ecopy: --agency: the 5-digit commune code", file=sys.stderr)
        return EXIT_USAGE
    state = open_state(args, settings)
    rows, cursor = [], ""
    with state.db.read() as s:
        while True:  # open first, due soonest first (storage.db.complaints)
            page = list_complaints(s, args.agency, cursor=cursor, limit=200)
            for c in page.items:
                now = state_of(c, events_of(s, c), working_day=calendar().is_working_day)
                if args.overdue and not now.overdue:
                    continue
                rows.append({"complaint_id": c.complaint_id, "agency": c.agency,
                             "kind": c.kind, "target_type": c.target_type,
                             "target": c.target, "created_at": c.created_at,
                             "status": now.status, "due": now.due, "overdue": now.overdue,
                             "complex": now.complex})
            if not page.next_cursor:
                break
            cursor = page.next_cursor
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    en = settings.lang == "en"
    if not rows:
        print("No complaints." if en else "Không có khiếu nại, phản ánh nào.")
    for r in rows:
        flag = (" OVERDUE" if en else " QUÁ HẠN") if r["overdue"] else ""
        print(f"{r['complaint_id']}  {r['agency']}  {r['created_at'][:10]}  {r['kind']:<9}  "
              f"{r['status']:<8}  {r['due'] or '-':<10}  {r['target_type']}:{r['target']}{flag}")
    return EXIT_OK


def cmd_step(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_state
    from pipeline.casework.complaints import (
        BAD_STEP,
        COMPLAINT_ID,
        ComplaintError,
        add_event,
        load_complaint,
    )
    from pipeline.casework.procedures import calendar
    from storage.db.dossiers import AGENCY
    from storage.evidence.audit import append_event

    if settings.role not in WRITERS or not settings.actor:
        print("ecopy: set ECOPY_ACTOR and ECOPY_ROLE (clerk, certifier or admin) to act on "
              "complaints", file=sys.stderr)
        return EXIT_REFUSED
    agency = args.agency or settings.commune_code
    if not AGENCY.match(agency) or not COMPLAINT_ID.match(args.complaint_id):
        print("ecopy: bad complaint reference", file=sys.stderr)
        return EXIT_USAGE
    state = open_state(args, settings)
    with state.db.read() as s:
        complaint = load_complaint(s, agency, args.complaint_id)
    if complaint is None or agency != settings.commune_code:
        print(f"ecopy: no complaint {args.complaint_id} at commune {settings.commune_code}",
              file=sys.stderr)
        return EXIT_REFUSED
    try:
        with state.db.write() as s:
            event, digest = add_event(s, complaint, args.step, by=settings.actor,
                                      text=args.text,
                                      complex_case=getattr(args, "complex", False),
                                      working_day=calendar().is_working_day)
    except ComplaintError as exc:
        print(f"ecopy: {exc.reason}: {exc.field} {exc.detail}".rstrip(), file=sys.stderr)
        return EXIT_REFUSED if exc.reason == BAD_STEP else EXIT_USAGE
    append_event(state.store, actor=settings.actor, action="complaint",
                 object=f"{complaint.ref}/events/{event.seq}", object_sha256=digest,
                 details={"act": f"complaint_{args.step}", "complaint": complaint.complaint_id,
                          "via": "cli"})
    print(f"{args.step}: {complaint.complaint_id} ({event.seq})")
    return EXIT_OK
