"""`ecopy review`: what the machine was unsure about, fixed by a clerk, approved by a certifier.

    ecopy review list [--cursor C]          the commune's cases waiting for review
    ecopy review show REF                   type, fields (page, confidence), why it waits
    ecopy review correct REF --doc-type T --field full_name="Nguyễn Văn An" ...
    ecopy review approve REF                certify it now (role certifier); also
                                            `ecopy certify REF`
    ecopy review refuse REF --ground CODE   refuse it on an Art 22 ground (Decree 23/2015),
                                            recorded (role certifier)
    ecopy review foreign REF FINDING        a paper issued abroad: legalised, exempt:KIND or
                                            not_legalised (then it cannot be approved)
    ecopy review split REF [--pages "1; 2-3"]
                                            a file holding several papers: one new case per
                                            paper (default: the split the machine proposes)
    ecopy review reviewed REF               checked: it waits for a certifier (e.g. a file
                                            flagged mixed_documents that is one paper)

The work is done by ecopy.actions (shared with the web app). Each correction is kept as made
(who, when, what the machine had said) and merged into the case; the audit log gets a
`review` event for each act. REF is a case id or the original's sha256, or a unique prefix
of either of at least 8 characters, and is looked up within ECOPY_COMMUNE only.

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
from pipeline.reasons import REFUSAL_GROUNDS
from pipeline.types import DocStatus

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _register_certify(subparsers, common)
    rv = subparsers.add_parser("review", help="documents waiting for a clerk")
    verbs = rv.add_subparsers(dest="action", required=True)
    for name, handler, text in (("list", cmd_list, "documents waiting for review"),
                                ("show", cmd_show, "one document: type, fields, reasons"),
                                ("correct", cmd_correct, "record a clerk's corrections"),
                                ("foreign", cmd_foreign, "a paper issued abroad: legalised, "
                                                         "exempt or not"),
                                ("split", cmd_split, "one new case per paper of the file"),
                                ("reviewed", cmd_reviewed, "checked: hand it to a certifier"),
                                ("approve", cmd_approve, "certify now (certifier)"),
                                ("refuse", cmd_refuse, "refuse (Decree 23/2015 Art 22)")):
        sp = verbs.add_parser(name, parents=[common], help=text)
        if name != "list":
            sp.add_argument("ref", help="the case id, or the original's sha256 (or a unique "
                                        "prefix of either), within ECOPY_COMMUNE")
        sp.add_argument("--store", type=Path, help="store directory (default: S3 or "
                                                   "$ECOPY_STORE)")
        sp.add_argument("--json", action="store_true")
        sp.set_defaults(handler=handler)
        if name == "list":
            sp.add_argument("--cursor", default="", help="the next page (printed at the end)")
            sp.add_argument("--limit", type=int, default=50, help="cases per page (max 200)")
        if name == "correct":
            sp.add_argument("--doc-type", help="the document type code (domain.md)")
            sp.add_argument("--field", action="append", default=[], metavar="NAME=VALUE",
                            help="a corrected field; repeat for several")
        if name == "foreign":
            sp.add_argument("finding", choices=actions.FOREIGN_STATES,
                            help="none (Vietnamese), legalised (consular legalisation seen), "
                                 "not_legalised (then it is refused), exempt:KIND "
                                 "(Circular 01/2020 Art 6)")
        if name == "split":
            sp.add_argument("--pages", default="",
                            help='the pages of each paper, e.g. "1; 2-3" (default: the split '
                                 "the machine proposes, shown by review show)")
        if name == "refuse":
            sp.add_argument("--ground", required=True, choices=tuple(REFUSAL_GROUNDS),
                            help="the Art 22 ground: " + "; ".join(
                                f"{code} = {vi}" for code, (vi, _en) in REFUSAL_GROUNDS.items()))
            sp.add_argument("--detail", default="", help="what the certifier adds, as told to "
                                                         "the requester")


def _register_certify(subparsers: argparse._SubParsersAction,
                     common: argparse.ArgumentParser) -> None:
    """`ecopy certify REF`: the certifier's own act on one paper (the same as `review
    approve`): the acting certifier (ECOPY_ACTOR, role certifier) signs with their key."""
    sp = subparsers.add_parser("certify", parents=[common],
                               help="certify one paper now, as the acting certifier")
    sp.add_argument("ref", help="the case id, or the original's sha256 (or a unique prefix "
                                "of either), within ECOPY_COMMUNE")
    sp.add_argument("--store", type=Path, help="store directory (default: S3 or $ECOPY_STORE)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(handler=cmd_approve)


def _load(args: argparse.Namespace, settings: Settings) -> tuple[Any, dict | None]:
    """The case a command names, within this deployment's commune (ECOPY_COMMUNE): a case
    of another commune is not found, as on the web."""
    from ecopy.wiring import open_state

    state = open_state(args, settings)
    try:
        record = actions.find_case(state, args.ref, settings.commune_code)
    except actions.Ambiguous as exc:
        print(f"ecopy: {args.ref!r} names several cases of commune {settings.commune_code} "
              "(the same scan in several dossiers); name one by its case id:", file=sys.stderr)
        for m in exc.matches:
            print(f"  {m['case_id']}  dossier {m['dossier_id']}  {m['status']}  {m['name']}",
                  file=sys.stderr)
        return state, None
    if record is None:
        print(f"ecopy: no case {args.ref!r} at commune {settings.commune_code}",
              file=sys.stderr)
    return state, record


def _summary(record: dict) -> dict[str, Any]:
    fields = {f["name"]: {"value": f["value"], "page": f["page"],
                          "confidence": round(f["confidence"], 2)}
              for f in record.get("fields", [])}
    return {"case_id": record["case_id"], "dossier_id": record.get("dossier_id"),
            "sha256": record["sha256"], "name": record.get("name"),
            "person_id": record.get("person_id"), "status": record.get("status"),
            "doc_type": record.get("doc_type"),
            "confidence": (record.get("classification") or {}).get("confidence"),
            "review_reasons": record.get("review_reasons", []),
            "message": record.get("message", ""), "fields": fields,
            "corrections": record.get("corrections", {})}


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """The commune's review queue, longest waiting first, a page at a time (--cursor)."""
    from ecopy.access import record_cli_reads
    from ecopy.wiring import open_state
    from storage.db.access import Read
    from storage.db.cases import queue

    state = open_state(args, settings)
    with state.db.read() as s:
        page = queue(s, settings.commune_code, (DocStatus.NEEDS_REVIEW,), cursor=args.cursor,
                     limit=args.limit, full=True)
    rows = [_summary(r) for r in page.items]
    record_cli_reads(state, settings, "review_queue",
                     [Read(r.get("person_id") or "", r["case_id"]) for r in page.items])
    if args.json:
        print(json.dumps({"cases": rows, "next_cursor": page.next_cursor},
                         ensure_ascii=False, indent=2))
    else:
        for r in rows:
            print(f"{r['case_id']}  {r['name']}  {r['doc_type']}  "
                  f"{', '.join(r['review_reasons'])}")
        print(f"{len(rows)} document(s) waiting for review"
              + (f"; more: --cursor {page.next_cursor}" if page.next_cursor else ""))
    return EXIT_OK


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.access import record_cli_reads
    from pipeline.reasons import Reason, message
    from storage.db.access import Read

    state, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    record_cli_reads(state, settings, "case_fields",
                     [Read(record.get("person_id") or "", record["case_id"])])
    summary = _summary(record)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{summary['name']}  (case {summary['case_id']}, original {summary['sha256']})\n"
          f"  status: {summary['status']}\n"
          f"  type: {summary['doc_type']} (confidence {summary['confidence']})")
    texts = record.get("review_messages") or {}
    for r in summary["review_reasons"]:  # the facts measured at the time, in the record
        print(f"  ! {r}: {texts.get(r) or message(Reason(r), settings.lang)}")
    if Reason.MIXED_DOCUMENTS in summary["review_reasons"]:
        split = actions.proposed_split(state, record)
        print(f"  tách / split: ecopy review split {record['case_id']} --pages \"{split}\"\n"
              f"  một giấy / one paper: ecopy review reviewed {record['case_id']}")
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
    state, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    try:
        fields = _parse_fields(args.field)
        if not fields and not args.doc_type:
            raise ValueError("nothing to correct: give --doc-type and/or --field")
        merged = actions.correct_document(state, record, actor=settings.actor or "ecopy",
                                          doc_type=args.doc_type, fields=fields)
    except actions.ActionRefused as exc:
        return _refused(exc)
    except ValueError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(merged, ensure_ascii=False, indent=2) if args.json
          else f"{record['case_id']}: corrections recorded")
    return EXIT_OK


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    if settings.role not in actions.APPROVERS:
        print(f"ecopy: Vai trò {settings.role or '(không có)'!r} không được phê duyệt chứng "
              f"thực; chỉ người chứng thực (certifier). / Role {settings.role or '(none)'!r} may "
              "not approve a certification (ECOPY_ROLE certifier).", file=sys.stderr)
        return EXIT_REFUSED
    state, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    try:  # the certifier who acts (ECOPY_ACTOR, else the configured one) signs
        signer = actions.settings_for_signer(settings, settings.actor, "")
        outcome = actions.approve_document(signer, state, record,
                                           actor=settings.actor or signer.certifier_name,
                                           role=settings.role)
    except actions.ActionRefused as exc:
        return _refused(exc)
    result = {"case_id": record["case_id"], "sha256": record["sha256"],
              "status": str(outcome.status), "reason": outcome.reason,
              "message": outcome.message, "copy_id": outcome.copy_id,
              "register_number": outcome.register_number, "ecopy": outcome.ecopy_path}
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json
          else f"{record['case_id']}: {result['status']} "
               f"{result['ecopy'] or result['message']}")
    return EXIT_OK if outcome.status == DocStatus.FILED else EXIT_REFUSED


def cmd_foreign(args: argparse.Namespace, settings: Settings) -> int:
    state, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    try:
        actions.mark_foreign(state, record, actor=settings.actor or "ecopy",
                             value=args.finding)
    except actions.ActionRefused as exc:
        return _refused(exc)
    problem = actions.foreign_problem({"foreign": {"state": args.finding}})
    print(json.dumps({"case_id": record["case_id"], "foreign": args.finding,
                      "may_be_certified": not problem}, ensure_ascii=False)
          if args.json else f"{record['case_id']}: {args.finding}" + (
              f"\n{problem}" if problem else ""))
    return EXIT_OK


def cmd_split(args: argparse.Namespace, settings: Settings) -> int:
    """Cut the file into one case per paper, then read each new case as an upload is read
    (nothing is signed: each waits for review or a certifier)."""
    from ecopy.access import record_cli_reads
    from ecopy.web.processing import Processor
    from storage.db.access import Read
    from storage.db.cases import get_case

    state, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    actor = settings.actor or "ecopy"
    pages = args.pages or actions.proposed_split(state, record)
    try:
        dossier, new = actions.split_document(settings, state, record, actor=actor,
                                              parts=pages)
    except actions.ActionRefused as exc:
        return _refused(exc)
    except ValueError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    processor = Processor(settings, state)
    try:
        running = processor.submit(dossier, new, actor)
        if running is not None:
            running.result()
    finally:
        processor.close()
    with state.db.read() as s:
        cases = [get_case(s, case_id) or {"case_id": case_id} for case_id in new]
    # the parts' names and types are the person's data shown on screen, as review show's are
    record_cli_reads(state, settings, "case_fields",
                     [Read(c.get("person_id") or "", c["case_id"]) for c in cases])
    parts = [{"case_id": c["case_id"], "name": c.get("name"), "status": c.get("status"),
              "doc_type": c.get("doc_type"), "pages": (c.get("split_from") or {}).get("pages"),
              "review_reasons": c.get("review_reasons", [])} for c in cases]
    if args.json:
        print(json.dumps({"case_id": record["case_id"], "split": pages, "parts": parts},
                         ensure_ascii=False, indent=2))
    else:
        print(f"{record['case_id']}: tách thành {len(parts)} giấy / split into {len(parts)} "
              "papers")
        for part in parts:
            print(f"  trang {part['pages']}: {part['case_id']} {part['status']} "
                  f"{part['doc_type'] or ''}".rstrip())
    return EXIT_OK


def cmd_reviewed(args: argparse.Namespace, settings: Settings) -> int:
    state, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    try:
        actions.mark_reviewed(state, record, actor=settings.actor or "ecopy")
    except actions.ActionRefused as exc:
        return _refused(exc)
    print(json.dumps({"case_id": record["case_id"], "status": str(DocStatus.READY)})
          if args.json else f"{record['case_id']}: {DocStatus.READY}")
    return EXIT_OK


def cmd_refuse(args: argparse.Namespace, settings: Settings) -> int:
    state, record = _load(args, settings)
    if record is None:
        return EXIT_USAGE
    try:
        outcome, violation = actions.refuse_document(
            settings, state, record, actor=settings.actor or "ecopy", role=settings.role,
            ground_code=args.ground, detail=args.detail or "",
            agency_code=settings.commune_code)
    except actions.ActionRefused as exc:
        return _refused(exc)
    except ValueError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps({"case_id": record["case_id"], "sha256": record["sha256"],
                      "status": str(outcome.status), "message": outcome.message,
                      "violation_record": violation},
                     ensure_ascii=False, indent=2) if args.json
          else f"{record['case_id']}: {outcome.message}"
               + (f"\nBiên bản vi phạm / violation record: {violation}" if violation else ""))
    return EXIT_OK

