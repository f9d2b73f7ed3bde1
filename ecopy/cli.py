"""The `ecopy` command.

Exit codes (process): 0 every document filed (or already filed), 3 some wait for a person (a
clerk's review, or a certifier: without --certify-as nothing is signed) and none was rejected,
4 at least one was rejected, 2 bad command line or settings.
Exit codes (verify): 0 TOTAL-PASSED, 1 TOTAL-FAILED, 3 INDETERMINATE, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from ecopy import SOFTWARE
from ecopy.settings import Settings, SettingsProblem, load_settings
from ecopy.wiring import open_state, s3_store, seal
from pipeline.reasons import REFUSAL_GROUNDS, Reason, message
from pipeline.run import pagework
from pipeline.types import DocStatus, to_jsonable
from pipeline.vn.idnumber import parse_personal_id
from storage.backends import LocalStore
from storage.db import DatabaseError
from storage.db.dossiers import Dossier
from storage.state import State

EXIT_OK, EXIT_USAGE, EXIT_REVIEW, EXIT_REJECTED = 0, 2, 3, 4
VERIFY_EXIT = {"TOTAL-PASSED": 0, "TOTAL-FAILED": 1, "INDETERMINATE": 3}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=("vi", "en"), default=argparse.SUPPRESS,
                        help="language of messages and reports (default vi)")
    p = argparse.ArgumentParser(prog="ecopy", parents=[common],
                                description="Bản sao điện tử chứng thực từ bản chính"
                                " — certified e-copies from scanned originals.")
    p.add_argument("--version", action="version", version=SOFTWARE)
    sub = p.add_subparsers(dest="command", required=True)

    pr = sub.add_parser("process", parents=[common],
                        help="scans → signed e-copies in the person's warehouse")
    pr.add_argument("paths", nargs="+", type=Path, help="PDF, JPEG, PNG, TIFF files or folders")
    pr.add_argument("--person-id", required=True, help="12-digit personal ID (số định danh)")
    pr.add_argument("--commune", help="5-digit commune code of the certifying agency")
    pr.add_argument("--out", type=Path,
                    help="store directory (default $ECOPY_STORE or ./ecopy-data)")
    pr.add_argument("--requester", help="requester's name for the register (default: from paper)")
    pr.add_argument("--dossier", metavar="CODE",
                    help="the dossier's public status code (default: the person's dossier "
                         "this command opened before at the commune, or a new one)")
    pr.add_argument("--new-dossier", action="store_true",
                    help="open a new dossier: a new request, even for papers seen before")
    pr.add_argument("--accept-signed", action="store_true",
                    help="treat already-signed PDFs as images of the paper")
    pr.add_argument("--certify-as", metavar="NAME", default="",
                    help="certify here, as this configured certifier of the commune (their "
                         "own act, with their key); without it every paper the machine is "
                         "sure of waits for a certifier (ecopy certify CASE, or the web)")
    pr.add_argument("--certify-all", action="store_true",
                    help="with --certify-as: certify even when the machine asks for review "
                         "(dev/demo only)")
    batch_grounds = tuple(g for g in REFUSAL_GROUNDS if g != "forged")  # forged: one by one
    pr.add_argument("--refuse", metavar="GROUND", default="", choices=("", *batch_grounds),
                    help="with --certify-as: refuse certification of these papers on this "
                         f"Decree 23/2015 Art 22 ground ({', '.join(batch_grounds)}); the "
                         "originals are kept and the refusal recorded in the register book "
                         "(a forged paper: ecopy review refuse CASE --ground forged, which "
                         "keeps a violation record)")
    pr.add_argument("--refuse-detail", default="", metavar="TEXT",
                    help="what the certifier adds to the ground, as told to the requester")
    pr.add_argument("--workers", type=int, help="OCR processes (default: one per core)")
    pr.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    pr.add_argument("--no-progress", action="store_true")
    pr.set_defaults(handler=cmd_process)

    ve = sub.add_parser("verify", parents=[common],
                        help="verify an e-copy's signatures and register entry")
    ve.add_argument("file", type=Path)
    ve.add_argument("--json", action="store_true")
    ve.add_argument("--trust", type=Path, action="append", default=[],
                    help="extra trusted root certificate (PEM/DER); repeatable")
    ve.add_argument("--store", type=Path, help="store to check the register entry against")
    ve.add_argument("--revocation", choices=("require", "soft-fail"), default="require",
                    help="require: a signature passes only when its certificates' revocation "
                         "status is established (B-LT copies carry it; the default); soft-fail: "
                         "pass without it, and say so")
    ve.add_argument("--crl", type=Path, action="append", default=[],
                    help="CRL file (DER/PEM) to use as revocation evidence; repeatable")
    ve.add_argument("--fetch", action="store_true",
                    help="fetch CRL/OCSP from the URLs in the certificates")
    ve.add_argument("--html", type=Path, help="also write a printable HTML report here")
    ve.add_argument("--pdf", type=Path, help="also write a printable PDF report here")
    ve.set_defaults(handler=cmd_verify)

    wh = sub.add_parser("warehouse", help="a person's electronic data warehouse")
    whs = wh.add_subparsers(dest="action", required=True)
    wl = whs.add_parser("list", parents=[common], help="list a person's e-copies")
    wl.add_argument("person_id")
    wl.add_argument("--out", type=Path, help="store directory")
    wl.add_argument("--json", action="store_true")
    wl.set_defaults(handler=cmd_warehouse_list)
    we = whs.add_parser("export", parents=[common],
                        help="write an e-copy (or its metadata) from the store to a file")
    we.add_argument("copy", help="copy id, or the copy's store key (warehouse/...)")
    we.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    we.add_argument("--metadata", action="store_true", help="the copy's JSON metadata")
    we.add_argument("--store", type=Path, help="store directory (default: S3 or $ECOPY_STORE)")
    we.set_defaults(handler=cmd_warehouse_export)
    for module in _command_modules():
        module.register(sub, common)
    return p


def _command_modules() -> list:
    """Further subcommands live one per module in ecopy/commands/: each has
    `register(subparsers, common_parser)`, which adds its parser and sets `handler`."""
    import importlib
    import pkgutil

    from ecopy import commands

    return [importlib.import_module(f"ecopy.commands.{m.name}")
            for m in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name)]


def quiet_libraries() -> None:
    """pyHanko logs every failed path build with a traceback; the report already says it.

    Libraries' deprecation notices (cryptography 51 deprecates DSA, which pyHanko imports) are
    for their callers' developers, not for a clerk at a terminal: they are silenced unless
    Python's own -W or PYTHONWARNINGS asks for them. Ours are never silenced."""
    if not sys.warnoptions:
        from cryptography.utils import CryptographyDeprecationWarning

        third_party = r"(?!(ecopy|pipeline|signing|storage|workers)(\.|$))"
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning,
                         CryptographyDeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=third_party)
    logging.basicConfig(level=logging.WARNING, format="ecopy: %(message)s")
    for name in ("pyhanko", "pyhanko_certvalidator", "pikepdf", "fontTools"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except (ValueError, OSError) as exc:
        print(f"ecopy: settings error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "lang", None):
        settings = replace(settings, lang=args.lang)
    try:
        return args.handler(args, settings)
    except SettingsProblem as exc:  # e.g. real keys without a public verify address
        print(f"ecopy: settings error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SQLAlchemyOperationalError as exc:  # unreachable, refused, wrong password
        print(f"ecopy: không kết nối được cơ sở dữ liệu / the database cannot be reached: "
              f"{str(exc.orig).strip().splitlines()[0][:300]}", file=sys.stderr)
        return EXIT_USAGE


def cmd_process(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.keys import build_certify_context
    from ecopy.progress import RichProgress, render_summary
    from pipeline.run.orchestrator import ProcessOptions, process_batch

    err = Console(stderr=True)
    try:
        parse_personal_id(args.person_id)
    except ValueError as exc:
        err.print(message(Reason.INVALID_PERSON_ID, settings.lang, value=args.person_id,
                          detail=str(exc)), style="red")
        return EXIT_USAGE
    commune = args.commune or settings.commune_code
    if not (len(commune) == 5 and commune.isdigit()):
        err.print(message(Reason.INVALID_COMMUNE, settings.lang, value=commune), style="red")
        return EXIT_USAGE
    settings = replace(settings, commune_code=commune,
                       workers=args.workers or settings.workers)
    state = open_state(args, settings)
    dossier = _process_dossier(args, settings, state)
    if dossier is None:
        err.print(f"ecopy: không có hồ sơ mã {args.dossier!r} của xã {commune}. / no dossier "
                  f"{args.dossier!r} at commune {commune}.", style="red")
        return EXIT_USAGE
    ctx = None
    if args.certify_as:  # a certifier's own act: they certify what the machine is sure of
        from ecopy import actions

        try:
            signer = actions.settings_for_signer(settings, args.certify_as, "")
        except actions.NotAllowed as exc:
            err.print(f"ecopy: {exc}", style="red")
            return EXIT_USAGE
        ctx = build_certify_context(signer, state, requester_name=args.requester)
        if not args.json:  # --json says it in its output
            err.print(_acting_as(signer, ctx.test_mode), style="bold")
    elif args.certify_all or args.refuse:
        flag = "--certify-all" if args.certify_all else "--refuse"
        err.print(f"ecopy: {flag} cần --certify-as TÊN (người chứng thực quyết định). / "
                  f"{flag} needs --certify-as NAME (a certifier decides).", style="red")
        return EXIT_USAGE
    options = ProcessOptions(person_id=args.person_id, lang=settings.ocr_lang,
                             workers=settings.workers, accept_signed=args.accept_signed,
                             hold_for_review=not args.certify_all, limits=settings.limits,
                             lang_messages=settings.lang, actor=settings.actor or "ecopy",
                             refuse=args.refuse, refuse_detail=args.refuse_detail,
                             certify_when_sure=ctx is not None,
                             # "module:function" of another OcrEngine, as `ecopy worker` takes
                             ocr_engine=os.environ.get("ECOPY_OCR_ENGINE", pagework.DEFAULT_ENGINE))
    show = not (args.no_progress or args.json) and err.is_terminal
    with RichProgress(err, enabled=show) as progress:
        outcomes = process_batch(args.paths, ctx, options, dossier, progress, state=state)
    where = state.store.describe()
    if args.json:
        print(json.dumps({"store": where, "dossier": dossier.dossier_id,
                          "dossier_code": dossier.public_code,
                          "certified_as": {"name": ctx.certifier.full_name,
                                           "title": ctx.certifier.title,
                                           "test": ctx.test_mode} if ctx else None,
                          "documents": to_jsonable(outcomes)}, ensure_ascii=False, indent=2))
    else:
        render_summary(Console(), outcomes, where, settings.lang)
    statuses = {o.status for o in outcomes}
    if DocStatus.READY in statuses and not args.json:
        err.print(_waiting_for_certifier(outcomes, settings.lang))
    if DocStatus.REJECTED in statuses:
        return EXIT_REJECTED
    if statuses & {DocStatus.NEEDS_REVIEW, DocStatus.READY}:
        return EXIT_REVIEW
    return EXIT_OK


def _acting_as(signer: Settings, test_mode: bool) -> str:
    """Said before anything is signed: who certifies, and on what basis."""
    who = f"{signer.certifier_name} ({signer.certifier_title})"
    if test_mode:
        return (f"Chứng thực với tư cách người chứng thực TEST đã cấu hình: {who}. Bản sao TEST "
                f"— không có giá trị pháp lý. / Certifying as the configured TEST certifier "
                f"{who}: TEST copies, not legally valid.")
    return (f"Chứng thực với tư cách {who}, căn cứ {signer.certifier_basis} "
            f"{signer.certifier_decision}. / Certifying as {who}.")


def _waiting_for_certifier(outcomes, lang: str) -> str:
    ready = [o for o in outcomes if o.status == DocStatus.READY]
    refs = " ".join(o.case_id[:12] for o in ready if o.case_id)
    if lang == "en":
        return (f"{len(ready)} paper(s) wait for a certifier, who compares them with the "
                f"originals and certifies: ECOPY_ROLE=certifier ECOPY_ACTOR=\"<name>\" ecopy "
                f"certify <case> ({refs}), or on the web.")
    return (f"{len(ready)} giấy tờ chờ người chứng thực đối chiếu với bản chính và ký: "
            f"ECOPY_ROLE=certifier ECOPY_ACTOR=\"<họ tên>\" ecopy certify <mã hồ sơ> "
            f"({refs}), hoặc trên trang web.")


def _process_dossier(args: argparse.Namespace, settings: Settings, state: State
                     ) -> Dossier | None:
    """The dossier `process` files into: --dossier (this commune's), a new one with
    --new-dossier, else the one this command opened for the person before (re-running the
    same scans then finds them as duplicates)."""
    from storage.db.dossiers import CLI_NOTE, desk_dossier, dossier_by_code, open_dossier

    actor = settings.actor or "ecopy"
    with state.db.write() as s:
        if args.dossier:
            found = dossier_by_code(s, args.dossier)
            return found if found and found.agency == settings.commune_code else None
        if args.new_dossier:
            return open_dossier(s, agency=settings.commune_code, person_id=args.person_id,
                                person_name=args.requester or "", date_of_birth="",
                                opened_by=actor, note=CLI_NOTE, deadlines=state.deadlines,
                                with_code=False)
        return desk_dossier(s, agency=settings.commune_code, person_id=args.person_id,
                            person_name=args.requester or "", opened_by=actor,
                            deadlines=state.deadlines)


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.keys import verify_file

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # the register to check against: --store, else the configured S3 store (if any); read
    # with this deployment's KEKs, never creating one (verifying must not change keys)
    raw = (LocalStore(args.store) if args.store is not None
           else s3_store(settings) if settings.s3_endpoint else None)  # no listing: GETs
    store = seal(raw, settings, create_kek=False) if raw is not None else None
    report, text = verify_file(data, settings, extra_roots=args.trust, store=store,
                               lang=settings.lang, revocation=args.revocation,
                               crl_files=args.crl, fetching=args.fetch)
    if args.html or args.pdf:
        from signing.report_render import render_html, render_pdf

        if args.html:
            args.html.write_text(render_html(report, settings.lang), encoding="utf-8")
        if args.pdf:
            render_pdf(report, args.pdf, settings.lang)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(text)
    return VERIFY_EXIT.get(report.indication, 1)


def cmd_warehouse_list(args: argparse.Namespace, settings: Settings) -> int:
    from rich.table import Table

    from pipeline.vn.tz import VN_TZ
    from storage.db.catalogue import copies_of_person
    from storage.db.paging import MAX_PAGE

    state = open_state(args, settings)
    copies, cursor = [], ""
    with state.db.read() as s:
        while True:
            page = copies_of_person(s, args.person_id, cursor=cursor, limit=MAX_PAGE)
            copies += [{"copy_id": r.copy_id, "person_id": r.person_id,
                        "doc_type": r.doc_type, "document_name": r.document_name,
                        "register_entry": {"agency_code": r.agency, "year": r.register_year,
                                           "number": r.register_number,
                                           "book": r.register_book},
                        "certified_at": r.certified_at.astimezone(VN_TZ).isoformat(),
                        "cancelled": r.cancelled, "test_mode": r.test_mode,
                        "key": r.pdf_key} for r in page.items]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
    from ecopy.access import record_cli_reads
    from storage.db.access import Read

    record_cli_reads(state, settings, "warehouse",
                     [Read(c["person_id"], c["copy_id"]) for c in copies]
                     or [Read(args.person_id, "")])
    if args.json:
        print(json.dumps(copies, ensure_ascii=False, indent=2))
        return EXIT_OK
    vi = settings.lang != "en"
    table = Table(title=(f"Kho dữ liệu của {args.person_id}" if vi
                         else f"Data warehouse of {args.person_id}"))
    for col in (("Loại", "Type"), ("Tên giấy tờ", "Document"), ("Số CT", "Reg. no."),
                ("Ngày", "Date"), ("Tình trạng", "Status"), ("Tệp", "File")):
        table.add_column(col[0] if vi else col[1], overflow="fold")
    for c in copies:
        entry = c["register_entry"]
        status = (("ĐÃ HỦY" if vi else "CANCELLED") if c["cancelled"]
                  else ("có hiệu lực" if vi else "valid"))
        table.add_row(c["doc_type"], c["document_name"],
                      f"{entry['number']} / {entry['book']}", c["certified_at"][:10], status,
                      c["key"])
    console = Console()
    console.print(table)
    if not copies:
        console.print("Chưa có bản sao nào." if vi else "No copies yet.")
    return EXIT_OK


def cmd_warehouse_export(args: argparse.Namespace, settings: Settings) -> int:
    """The store seals copies (docs/encryption.md): a copy leaves it through here, never by
    reading its file in the store directory."""
    from storage.backends.envelope import SealError
    from storage.db.catalogue import copy_row
    from storage.evidence.warehouse import PREFIX

    state = open_state(args, settings)
    key = args.copy
    if "/" not in key:
        with state.db.read() as s:
            row = copy_row(s, key)
        if row is None:
            print(f"ecopy: không có bản sao {key!r} / no copy {key!r} in "
                  f"{state.store.describe()}", file=sys.stderr)
            return EXIT_USAGE
        key = row.pdf_key
    if not key.startswith(PREFIX) or not key.endswith(".pdf"):
        print(f"ecopy: {key!r} is not an e-copy's key (warehouse/.../COPY_ID.pdf)",
              file=sys.stderr)
        return EXIT_USAGE
    if args.metadata:
        key = key.removesuffix(".pdf") + ".json"
    try:
        state.store.get_to_file(key, args.output)
    except KeyError:
        print(f"ecopy: {key} is missing from {state.store.describe()}", file=sys.stderr)
        return EXIT_USAGE
    except SealError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
