"""`ecopy access`: who read a citizen's data (the access log of ecopy.access).

    ecopy access report --person-id ID [--since DATE] [--json]   the citizen's report
    ecopy access seal                 hash every finished day into the audit chain
    ecopy access verify [--json]      each sealed day's rows against their hash

The report lists every recorded read of the person's data, newest first: when, which
account with which role, of which commune, what it read (a dossier, a case's fields, page
images, the warehouse, a copy, register rows, a search result). It reads the person's
data itself, so the run is recorded too. Exit codes: 0 done, 1 a sealed day changed
(verify), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime

from ecopy.commands.db import state_for
from ecopy.settings import Settings

EXIT_OK, EXIT_CHANGED, EXIT_USAGE = 0, 1, 2
PERSON_ID = re.compile(r"^\d{12}$")
WHAT = {  # what each kind of read is called in the report
    "dossier": ("hồ sơ", "dossier"), "dossier_list": ("danh sách hồ sơ", "dossier list"),
    "dossier_papers": ("giấy tờ cần của hồ sơ", "papers a dossier needs"),
    "search": ("kết quả tìm kiếm", "search result"),
    "case_fields": ("thông tin trích xuất của giấy tờ", "a document's extracted data"),
    "case_certify": ("trang chứng thực giấy tờ", "a document's certification page"),
    "page_image": ("ảnh trang giấy tờ", "a page image of a document"),
    "review_queue": ("danh sách cần kiểm tra", "review queue"),
    "certify_queue": ("danh sách chờ chứng thực", "certification queue"),
    "warehouse": ("kho dữ liệu bản sao", "electronic copies"),
    "copy": ("tải bản sao", "copy download"), "register": ("sổ chứng thực", "register"),
    "register_export": ("xuất sổ chứng thực", "register export"),
    "access_report": ("báo cáo truy cập", "access report"),
}


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ac = subparsers.add_parser("access", help="who read a citizen's data (access log)")
    actions = ac.add_subparsers(dest="action", required=True)
    rp = actions.add_parser("report", parents=[common], help="a person's access report")
    rp.add_argument("--person-id", required=True, help="the 12-digit personal ID")
    rp.add_argument("--since", default="", help="only reads on or after this date (ISO)")
    for sp in (rp, actions.add_parser("seal", parents=[common], help="seal finished days"),
               actions.add_parser("verify", parents=[common], help="check sealed days")):
        sp.add_argument("--store", help="store directory (default: S3 or $ECOPY_STORE)")
        sp.add_argument("--json", action="store_true")
    rp.set_defaults(handler=cmd_report)
    actions.choices["seal"].set_defaults(handler=cmd_seal)
    actions.choices["verify"].set_defaults(handler=cmd_verify)


def what_text(what: str, lang: str) -> str:
    names = WHAT.get(what)
    return names[0 if lang == "vi" else 1] if names else what


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.access import record_cli_reads, report
    from storage.db.access import Read

    if not PERSON_ID.match(args.person_id):
        print("ecopy: --person-id has exactly 12 digits", file=sys.stderr)
        return EXIT_USAGE
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since).replace(tzinfo=UTC)
        except ValueError:
            print(f"ecopy: not a date: {args.since!r}", file=sys.stderr)
            return EXIT_USAGE
    state = state_for(args, settings)
    rows = report(state.db, args.person_id, since=since)
    record_cli_reads(state, settings, "access_report", [Read(args.person_id)])
    if args.json:
        print(json.dumps({"person_id": args.person_id, "reads": rows}, ensure_ascii=False,
                         indent=2))
        return EXIT_OK
    vi = settings.lang == "vi"
    print(("Những lần truy cập dữ liệu của công dân số định danh "
           if vi else "Reads of the data of personal ID ") + args.person_id + f": {len(rows)}")
    for r in rows:
        print(f"{r['at']}  {r['actor']} ({r['role']}, {r['agency']} {r['commune_name']})  "
              f"{what_text(r['what'], settings.lang)} {r['ref']}".rstrip())
    return EXIT_OK


def cmd_seal(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.access import seal_days

    state = state_for(args, settings)
    sealed = seal_days(state.db, state.store)
    if args.json:
        print(json.dumps({"sealed": sealed}, indent=2))
    else:
        for seal in sealed:
            print(f"{seal['day']}: {seal['rows']} reads, sha256 {seal['sha256']}")
        if not sealed:
            print("nothing to seal" if settings.lang != "vi" else "không có ngày nào cần niêm")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.access import verify_days

    state = state_for(args, settings)
    days = verify_days(state.db, state.store)
    if args.json:
        print(json.dumps({"days": days}, indent=2))
    else:
        for d in days:
            print(f"{d['day']}: {d['state']} ({d['rows']} sealed, {d['now']} now)")
    return EXIT_CHANGED if any(d["state"] == "changed" for d in days) else EXIT_OK
