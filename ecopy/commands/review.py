"""`ecopy review`: what the machine was unsure about, fixed by a clerk, approved by a certifier.

    ecopy review list                       documents waiting for review, with the reasons
    ecopy review show SHA                   type, fields (page, confidence), why it waits
    ecopy review correct SHA --doc-type T --field full_name="Nguyễn Văn An" ...
    ecopy review approve SHA                certify it now (role certifier or admin)
    ecopy review refuse SHA --ground TEXT   refuse it (Decree 23/2015 Art 22), recorded

Corrections are kept as immutable objects (documents/<sha>/corrections/<time>-<n>.json, who
and when) and merged into the record; the audit log gets a `review` event for each act. SHA
may be abbreviated to a unique prefix of at least 8 characters.

Exit codes: 0 done, 1 refused (role, state), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecopy.settings import Settings
from pipeline.types import FIELD_NAMES, DocStatus

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
APPROVERS = ("certifier", "admin")
DATE_FIELDS = frozenset(f for f in FIELD_NAMES if f.endswith(("date", "date_of_birth",
                                                             "date_of_death")))


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


def _waiting(store: Any) -> list[dict[str, Any]]:
    from storage.records import read_record

    out = []
    for key in store.list("documents/"):
        if key.endswith("/record.json"):
            record = read_record(store, key.split("/")[1])
            if record and record.get("status") == "needs_review":
                out.append(record)
    return sorted(out, key=lambda r: r.get("history", [{}])[-1].get("at", ""))


def _find(store: Any, prefix: str) -> dict[str, Any] | None:
    from storage.records import read_record

    if len(prefix) == 64:
        return read_record(store, prefix)
    if len(prefix) < 8:
        return None
    shas = {k.split("/")[1] for k in store.list(f"documents/{prefix}")}
    return read_record(store, shas.pop()) if len(shas) == 1 else None


def _load(args: argparse.Namespace, settings: Settings) -> tuple[Any, dict | None]:
    from ecopy.cli import open_store

    store = open_store(args, settings)
    record = _find(store, args.sha)
    if record is None:
        print(f"ecopy: no single document matches {args.sha!r} in {store.describe()}",
              file=sys.stderr)
    return store, record


def _still_waiting(record: dict) -> bool:
    """Only a document waiting for review can be corrected, approved or refused."""
    if record.get("status") == DocStatus.NEEDS_REVIEW:
        return True
    print(f"ecopy: the document is {record.get('status')}, not waiting for review",
          file=sys.stderr)
    return False


def _options(record: dict, settings: Settings) -> Any:
    from pipeline.stages import StageOptions

    return StageOptions(person_id=record.get("person_id", ""), lang=settings.ocr_lang,
                        limits=settings.limits, lang_messages=settings.lang,
                        actor=settings.actor or "ecopy")


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

    rows = [_summary(r) for r in _waiting(open_store(args, settings))]
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
    from pipeline.dates import parse_date
    from pipeline.idnumber import parse_personal_id

    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or name not in FIELD_NAMES:
            raise ValueError(f"--field {pair!r}: expected NAME=VALUE with NAME one of "
                             f"{', '.join(sorted(FIELD_NAMES))}")
        if name in DATE_FIELDS:
            parsed = parse_date(value)
            if parsed is None:
                raise ValueError(f"--field {name}: {value!r} is not a date")
            value = parsed.isoformat()
        if name.endswith("id_number"):
            parse_personal_id(value)  # raises ValueError with the reason
        if name == "sex" and value not in ("M", "F"):
            raise ValueError("--field sex: M or F")
        out[name] = value
    return out


def cmd_correct(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.classify import DOCUMENT_NAMES
    from storage.audit import append_event
    from storage.records import dump, update_record

    store, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    if args.doc_type and args.doc_type not in DOCUMENT_NAMES:
        print(f"ecopy: --doc-type must be one of {', '.join(DOCUMENT_NAMES)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        fields = _parse_fields(args.field)
    except ValueError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not fields and not args.doc_type:
        print("ecopy: nothing to correct: give --doc-type and/or --field", file=sys.stderr)
        return EXIT_USAGE
    if not _still_waiting(record):
        return EXIT_REFUSED
    sha = record["sha256"]
    now = datetime.now(UTC)
    correction = {"sha256": sha, "actor": settings.actor or "ecopy",
                  "at": now.isoformat(timespec="seconds"), "doc_type": args.doc_type,
                  "fields": fields,
                  "machine": {"doc_type": record.get("doc_type"),
                              "fields": {f["name"]: f["value"]
                                         for f in record.get("fields", [])}}}
    n = 0
    while not store.put_if_absent(f"documents/{sha}/corrections/{now:%Y%m%dT%H%M%SZ}-{n}.json",
                                  dump(correction)):
        n += 1
    merged = dict(record.get("corrections") or {})
    merged["fields"] = {**merged.get("fields", {}), **fields}
    if args.doc_type:
        merged["doc_type"] = args.doc_type
    update_record(store, sha, DocStatus.NEEDS_REVIEW, corrections=merged)
    append_event(store, actor=settings.actor or "ecopy", action="review",
                 object=f"originals/{sha}", object_sha256=sha,
                 details={"act": "correct", "doc_type": args.doc_type,
                          "fields": sorted(fields)})
    print(json.dumps(merged, ensure_ascii=False, indent=2) if args.json
          else f"{sha[:12]}: corrections recorded")
    return EXIT_OK


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.keys import build_certify_context
    from pipeline.stages import certify_stored
    from storage.audit import append_event

    if settings.role not in APPROVERS:
        print(f"ecopy: Vai trò {settings.role or '(không có)'!r} không được phê duyệt chứng "
              f"thực; chỉ certifier hoặc admin. / Role {settings.role or '(none)'!r} may not "
              "approve a certification (ECOPY_ROLE certifier or admin).", file=sys.stderr)
        return EXIT_REFUSED
    store, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    if not _still_waiting(record):
        return EXIT_REFUSED
    sha = record["sha256"]
    append_event(store, actor=settings.actor or "ecopy", action="review",
                 object=f"originals/{sha}", object_sha256=sha,
                 details={"act": "approve", "reasons": record.get("review_reasons", [])})
    workdir = Path(tempfile.mkdtemp(prefix=f"ecopy-review-{sha[:12]}-"))
    try:
        outcome = certify_stored(build_certify_context(settings, store), _options(record,
                                 settings), sha=sha, record=record, workdir=workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {"sha256": sha, "status": str(outcome.status), "reason": outcome.reason,
              "message": outcome.message, "copy_id": outcome.copy_id,
              "register_number": outcome.register_number, "ecopy": outcome.ecopy_path}
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json
          else f"{sha[:12]}: {result['status']} {result['ecopy'] or result['message']}")
    return EXIT_OK if outcome.status == DocStatus.FILED else EXIT_REFUSED


def cmd_refuse(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.reasons import Reason
    from pipeline.stages import reject

    store, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    if not _still_waiting(record):
        return EXIT_REFUSED
    outcome = reject(store, _options(record, settings), agency_code=settings.commune_code,
                     source=record.get("name", ""), name=record.get("name", ""),
                     sha=record["sha256"], reason=Reason.REFUSED_BY_CLERK,
                     params={"ground": args.ground})
    print(json.dumps({"sha256": record["sha256"], "status": str(outcome.status),
                      "message": outcome.message}, ensure_ascii=False, indent=2) if args.json
          else f"{record['sha256'][:12]}: {outcome.message}")
    return EXIT_OK
