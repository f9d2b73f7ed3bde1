"""`ecopy review`: what the machine was unsure about, fixed by a clerk, approved by a certifier.

    ecopy review list                       documents waiting for review, with the reasons
    ecopy review show SHA                   type, fields (page, confidence), why it waits
    ecopy review correct SHA --doc-type T --field full_name="Nguyễn Văn An" ...
    ecopy review approve SHA                certify it now (role certifier or admin)
    ecopy review refuse SHA --ground TEXT   refuse it (Decree 23/2015 Art 22), recorded

The work is done by ecopy.actions (shared with the web app). Corrections are kept
as immutable objects (documents/<sha>/corrections/<time>-<n>.json, who
and when) and merged into the record; the audit log gets a `review` event for each act. SHA
may be abbreviated to a unique prefix of at least 8 characters.

Exit codes: 0 done, 1 refused (role, state), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ecopy import actions
from ecopy.settings import Settings
from pipeline.types import DocStatus

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    rv = subparsers.add_parser("review", help="documents waiting for a clerk")
    actions = rv.add_subparsers(dest="action", required=True)
    for name, handler, text in (("list", cmd_list, "documents waiting for review"),
                                ("show", cmd_show, "one document: type, fields, reasons"),
                                ("correct", cmd_correct, "record a clerk's corrections"),
                                ("approve", cmd_approve, "certify now (certifier/admin)"),
                                ("refuse", cmd_refuse, "refuse (Decree 23/2015 Art 22)")):
        sp = actions.add_parser(name, parents=[common], help=text)
        if name != "list":
            sp.add_argument("sha", help="the original's sha256 (or a unique prefix)")
        sp.add_argument("--store", type=Path, help="store directory (default: S3 or "
                                                   "$ECOPY_STORE)")
        sp.add_argument("--json", action="store_true")
        sp.set_defaults(handler=handler)
        if name == "correct":
            sp.add_argument("--doc-type", help="the document type code (domain.md)")
            sp.add_argument("--field", action="append", default=[], metavar="NAME=VALUE",
                            help="a corrected field; repeat for several")
        if name == "refuse":
            sp.add_argument("--ground", required=True, help="the refusal ground, as told to "
                                                            "the requester")


def _load(args: argparse.Namespace, settings: Settings) -> tuple[Any, dict | None]:
    from ecopy.cli import open_store

    store = open_store(args, settings)
    record = actions.find_document(store, args.sha)
    if record is None:
        print(f"ecopy: no single document matches {args.sha!r} in {store.describe()}",
              file=sys.stderr)
    return store, record


def _summary(record: dict) -> dict[str, Any]:
    fields = {f["name"]: {"value": f["value"], "page": f["page"],
                          "confidence": round(f["confidence"], 2)}
              for f in record.get("fields", [])}
    return {"sha256": record["sha256"], "name": record.get("name"),
            "person_id": record.get("person_id"), "status": record.get("status"),
            "doc_type": record.get("doc_type"),
            "confidence": (record.get("classification") or {}).get("confidence"),
            "review_reasons": record.get("review_reasons", []),
            "message": record.get("message", ""), "fields": fields,
            "corrections": record.get("corrections", {})}


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.cli import open_store

    rows = [_summary(r) for r in actions.waiting_documents(open_store(args, settings))]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            print(f"{r['sha256'][:12]}  {r['name']}  {r['doc_type']}  "
                  f"{', '.join(r['review_reasons'])}")
        print(f"{len(rows)} document(s) waiting for review")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.reasons import Reason, message

    _, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    summary = _summary(record)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{summary['name']}  ({summary['sha256']})\n  status: {summary['status']}\n"
          f"  type: {summary['doc_type']} (confidence {summary['confidence']})")
    texts = record.get("review_messages") or {}
    for r in summary["review_reasons"]:  # the facts measured at the time, in the record
        print(f"  ! {r}: {texts.get(r) or message(Reason(r), settings.lang)}")
    for name, f in summary["fields"].items():
        page = "clerk" if f["page"] < 0 else f"page {f['page'] + 1}"
        print(f"  {name}: {f['value']}  ({page}, confidence {f['confidence']})")
    return EXIT_OK


def _parse_fields(pairs: list[str]) -> dict[str, str]:
    """NAME=VALUE pairs; the values are checked by actions.correct_document."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--field {pair!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


def _refused(exc: Exception) -> int:
    print(f"ecopy: {exc}", file=sys.stderr)
    return EXIT_REFUSED


def cmd_correct(args: argparse.Namespace, settings: Settings) -> int:
    store, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    try:
        fields = _parse_fields(args.field)
        if not fields and not args.doc_type:
            raise ValueError("nothing to correct: give --doc-type and/or --field")
        merged = actions.correct_document(store, record, actor=settings.actor or "ecopy",
                                          doc_type=args.doc_type, fields=fields)
    except actions.ActionRefused as exc:
        return _refused(exc)
    except ValueError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(merged, ensure_ascii=False, indent=2) if args.json
          else f"{record['sha256'][:12]}: corrections recorded")
    return EXIT_OK


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    if settings.role not in actions.APPROVERS:
        print(f"ecopy: Vai trò {settings.role or '(không có)'!r} không được phê duyệt chứng "
              f"thực; chỉ certifier hoặc admin. / Role {settings.role or '(none)'!r} may not "
              "approve a certification (ECOPY_ROLE certifier or admin).", file=sys.stderr)
        return EXIT_REFUSED
    store, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    try:
        outcome = actions.approve_document(settings, store, record,
                                           actor=settings.actor or "ecopy", role=settings.role)
    except actions.ActionRefused as exc:
        return _refused(exc)
    sha = record["sha256"]
    result = {"sha256": sha, "status": str(outcome.status), "reason": outcome.reason,
              "message": outcome.message, "copy_id": outcome.copy_id,
              "register_number": outcome.register_number, "ecopy": outcome.ecopy_path}
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json
          else f"{sha[:12]}: {result['status']} {result['ecopy'] or result['message']}")
    return EXIT_OK if outcome.status == DocStatus.FILED else EXIT_REFUSED


def cmd_refuse(args: argparse.Namespace, settings: Settings) -> int:
    store, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    try:
        outcome = actions.refuse_document(settings, store, record,
                                          actor=settings.actor or "ecopy", ground=args.ground,
                                          agency_code=settings.commune_code)
    except actions.ActionRefused as exc:
        return _refused(exc)
    except ValueError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps({"sha256": record["sha256"], "status": str(outcome.status),
                      "message": outcome.message}, ensure_ascii=False, indent=2) if args.json
          else f"{record['sha256'][:12]}: {outcome.message}")
    return EXIT_OK
