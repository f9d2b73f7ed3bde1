"""`ecopy complaints list|accept|answer|close|reopen`: complaints and feedback for operators.

`list` shows every commune's complaints (or one with --agency), open first, overdue flagged,
without the complainants' contact details (those are for the commune's staff, on the web
page). The steps act like the staff page: the actor and role come from settings (ECOPY_ACTOR,
ECOPY_ROLE: clerk, certifier or admin), each step is one create-if-absent event, audited.
Exit codes: 0 done, 1 refused (role, unknown complaint, step not allowed now), 2 bad input.
"""

from __future__ import annotations

import argparse
import hashlib
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
        st.add_argument("--agency", required=True, help="the commune the complaint is filed with")
        st.add_argument("--text", default="", help="the answer or a closing note")
        if step == "accept":
            st.add_argument("--complex", action="store_true", help="a complex case (longer "
                                                                   "time limit)")
        st.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")
        st.set_defaults(handler=cmd_step, step=step)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.cli import open_store
    from pipeline.procedures import calendar
    from storage.complaints import events_of, list_complaints, state_of
    from storage.dossiers import AGENCY

    if args.agency is not None and not AGENCY.match(args.agency):
        print("ecopy: --agency: the 5-digit commune code", file=sys.stderr)
        return EXIT_USAGE
    store = open_store(args, settings)
    rows = []
    for c in list_complaints(store, args.agency):
        state = state_of(c, events_of(store, c), working_day=calendar().is_working_day)
        if args.overdue and not state.overdue:
            continue
        rows.append({"complaint_id": c.complaint_id, "agency": c.agency, "kind": c.kind,
                     "target_type": c.target_type, "target": c.target,
                     "created_at": c.created_at, "status": state.status, "due": state.due,
                     "overdue": state.overdue, "complex": state.complex})
    rows.sort(key=lambda r: (r["status"] == "closed", not r["overdue"], r["created_at"]))
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
    from ecopy.cli import open_store
    from storage.complaints import (
        BAD_STEP,
        COMPLAINT_ID,
        ComplaintError,
        add_event,
        complaint_prefix,
        load_complaint,
    )
    from storage.dossiers import AGENCY
    from storage.evidence.audit import append_event

    if settings.role not in WRITERS or not settings.actor:
        print("ecopy: set ECOPY_ACTOR and ECOPY_ROLE (clerk, certifier or admin) to act on "
              "complaints", file=sys.stderr)
        return EXIT_REFUSED
    if not AGENCY.match(args.agency) or not COMPLAINT_ID.match(args.complaint_id):
        print("ecopy: bad complaint reference", file=sys.stderr)
        return EXIT_USAGE
    store = open_store(args, settings)
    complaint = load_complaint(store, args.agency, args.complaint_id)
    if complaint is None:
        print(f"ecopy: no complaint {args.complaint_id} at commune {args.agency}",
              file=sys.stderr)
        return EXIT_REFUSED
    try:
        event, data = add_event(store, complaint, args.step, by=settings.actor, text=args.text,
                                complex_case=getattr(args, "complex", False))
    except ComplaintError as exc:
        print(f"ecopy: {exc.reason}: {exc.field} {exc.detail}".rstrip(), file=sys.stderr)
        return EXIT_REFUSED if exc.reason == BAD_STEP else EXIT_USAGE
    key = f"{complaint_prefix(complaint.agency, complaint.complaint_id)}events/{event.seq:04d}.json"
    append_event(store, actor=settings.actor, action="complaint", object=key,
                 object_sha256=hashlib.sha256(data).hexdigest(),
                 details={"act": f"complaint_{args.step}", "complaint": complaint.complaint_id,
                          "via": "cli"})
    print(f"{args.step}: {complaint.complaint_id} ({event.seq})")
    return EXIT_OK
