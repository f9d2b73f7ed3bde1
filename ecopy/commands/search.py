"""`ecopy search`: the staff search of the web app, for the command line.

    ecopy search TEXT                    a personal ID, a name (with or without tone marks),
                                         a dossier code, a copy id or a register number
    ecopy search --doc-type T --status S --from D --to D [--cursor C]

Within ECOPY_COMMUNE; `--all-communes` only for ECOPY_ROLE auditor (they oversee the whole
deployment). One row per case (a dossier without documents is a row of its own), newest
dossier first, a page at a time. Every search is audited, and each person it shows is
recorded in the access log (ecopy.access): it reads citizens' data. Exit
codes: 0 found something, 1 nothing found, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from ecopy.commands.db import state_for
from ecopy.settings import Settings

EXIT_OK, EXIT_NONE, EXIT_USAGE = 0, 1, 2
OVERSEERS = ("auditor",)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    se = subparsers.add_parser("search", parents=[common],
                               help="find dossiers and documents (ID, name, code, number...)")
    se.add_argument("text", nargs="?", default="",
                    help="personal ID, name, dossier code, copy id or register number")
    se.add_argument("--doc-type", default="")
    se.add_argument("--status", default="")
    se.add_argument("--from", dest="first", default="", help="opened on or after (a date)")
    se.add_argument("--to", dest="last", default="", help="opened on or before (a date)")
    se.add_argument("--all-communes", action="store_true",
                    help="every commune of the deployment (ECOPY_ROLE auditor)")
    se.add_argument("--cursor", default="", help="the next page (printed after a full page)")
    se.add_argument("--limit", type=int, default=50, help="rows per page (max 200)")
    se.add_argument("--store", help="store directory (default: S3 or $ECOPY_STORE)")
    se.add_argument("--json", action="store_true")
    se.set_defaults(handler=cmd_search)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.access import record_cli_reads
    from pipeline.vn.dates import parse_date
    from storage.db.access import Read
    from storage.db.paging import BadCursor
    from storage.db.search import SearchQuery, search
    from storage.evidence.audit import append_event

    if args.all_communes and settings.role not in OVERSEERS:
        print("ecopy: --all-communes is for auditors (ECOPY_ROLE=auditor)", file=sys.stderr)
        return EXIT_USAGE
    dates = []
    for raw in (args.first, args.last):
        found = parse_date(raw) if raw else None
        if raw and found is None:
            print(f"ecopy: not a date: {raw!r}", file=sys.stderr)
            return EXIT_USAGE
        dates.append(found)
    query = SearchQuery(text=args.text, doc_type=args.doc_type, status=args.status,
                        opened_from=dates[0], opened_to=dates[1])
    if query.empty():
        print("ecopy: give something to search for", file=sys.stderr)
        return EXIT_USAGE
    state = state_for(args, settings)
    agencies = None if args.all_communes else [settings.commune_code]
    try:
        with state.db.read() as s:
            page = search(s, query, agencies=agencies, cursor=args.cursor, limit=args.limit)
    except BadCursor:
        print("ecopy: --cursor is not one this search printed", file=sys.stderr)
        return EXIT_USAGE
    append_event(state.store, actor=settings.actor or "ecopy", action="search",
                 object="search", details={"hits": len(page.items), "via": "cli",
                                           "communes": "all" if agencies is None
                                           else settings.commune_code})
    record_cli_reads(state, settings, "search",
                     [Read(h.person_id, h.case_id or h.dossier_id) for h in page.items])
    rows = [{"dossier_code": h.public_code, "dossier_id": h.dossier_id, "agency": h.agency,
             "person_id": h.person_id, "person_name": h.person_name,
             "opened_at": h.opened_at.isoformat(timespec="seconds"), "case_id": h.case_id,
             "document": h.document_name or h.name, "status": h.status,
             "copy_id": h.copy_id, "register_number": h.register_number} for h in page.items]
    if args.json:
        print(json.dumps({"hits": rows, "next_cursor": page.next_cursor}, ensure_ascii=False,
                         indent=2))
    else:
        for r in rows:
            print(f"{r['dossier_code']}  {r['agency']}  {r['opened_at'][:10]}  "
                  f"{r['person_id'] or '-':12}  {r['person_name']}  {r['document']}  "
                  f"{r['status']}  {r['case_id']}")
        if page.next_cursor:
            print(f"more: --cursor {page.next_cursor}")
    return EXIT_OK if rows else EXIT_NONE
