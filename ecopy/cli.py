"""The `ecopy` command.

Exit codes (process): 0 every document filed (or already filed), 3 some wait for review and
none was rejected, 4 at least one was rejected, 2 bad command line or settings.
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

from ecopy import SOFTWARE
from ecopy.settings import Settings, load_settings
from pipeline.idnumber import parse_personal_id
from pipeline.reasons import Reason, message
from pipeline.types import DocStatus, to_jsonable
from storage.backends import LocalStore, ObjectStore

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
    pr.add_argument("--accept-signed", action="store_true",
                    help="treat already-signed PDFs as images of the paper")
    pr.add_argument("--certify-all", action="store_true",
                    help="certify even when the machine asks for review (dev/demo only)")
    pr.add_argument("--refuse", metavar="GROUND", default="",
                    help="refuse certification of these papers (Decree 23/2015 Art 22) "
                         "with this ground; the originals are kept and the refusal recorded")
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
    ve.add_argument("--revocation", choices=("soft-fail", "require"), default="soft-fail",
                    help="require revocation evidence (B-LT copies carry it; default soft-fail)")
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


def _quiet_libraries() -> None:
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
    _quiet_libraries()
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except (ValueError, OSError) as exc:
        print(f"ecopy: settings error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "lang", None):
        settings = replace(settings, lang=args.lang)
    return args.handler(args, settings)


def open_store(args: argparse.Namespace, settings: Settings) -> ObjectStore:
    """The store a command works on: --out/--store (a directory) when given; else S3 when
    ECOPY_S3_ENDPOINT is set; else the ECOPY_STORE directory."""
    path = getattr(args, "out", None) or getattr(args, "store", None)
    if path is None and settings.s3_endpoint:
        return s3_store(settings)
    return LocalStore(path or settings.store_dir)


def _secret(what: str, file: Path | None, env_name: str) -> str:
    """A credential from a file (Docker secrets) or a named env var; never a settings value."""
    if file is not None:
        return file.read_text(encoding="utf-8").strip()
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    raise SystemExit(f"ecopy: ECOPY_S3_ENDPOINT is set but no {what}: set "
                     f"ECOPY_S3_{what.upper().replace(' ', '_')}_FILE (or ..._ENV)")


def s3_store(settings: Settings) -> ObjectStore:
    from storage.backends.s3 import S3Store

    return S3Store(
        settings.s3_endpoint, settings.s3_bucket,
        _secret("access key", settings.s3_access_key_file, settings.s3_access_key_env),
        _secret("secret key", settings.s3_secret_key_file, settings.s3_secret_key_env),
        secure=settings.s3_secure, region=settings.s3_region or None,
        ca_file=settings.s3_ca_file,
    )  # fmt: skip


def cmd_process(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.keys import build_certify_context
    from ecopy.progress import RichProgress, render_summary
    from pipeline.orchestrator import ProcessOptions, process_batch

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
    store = open_store(args, settings)
    ctx = build_certify_context(settings, store, requester_name=args.requester)
    options = ProcessOptions(person_id=args.person_id, lang=settings.ocr_lang,
                             workers=settings.workers, accept_signed=args.accept_signed,
                             hold_for_review=not args.certify_all, limits=settings.limits,
                             lang_messages=settings.lang, actor=settings.actor or "ecopy",
                             refuse=args.refuse)
    show = not (args.no_progress or args.json) and err.is_terminal
    with RichProgress(err, enabled=show) as progress:
        outcomes = process_batch(args.paths, store, ctx, options, progress)
    if args.json:
        print(json.dumps({"store": store.describe(), "documents": to_jsonable(outcomes)},
                         ensure_ascii=False, indent=2))
    else:
        render_summary(Console(), outcomes, store.describe(), settings.lang)
    statuses = {o.status for o in outcomes}
    if DocStatus.REJECTED in statuses:
        return EXIT_REJECTED
    if DocStatus.NEEDS_REVIEW in statuses:
        return EXIT_REVIEW
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.keys import verify_file

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # the register to check against: --store, else the configured S3 store (if any)
    store = (LocalStore(args.store) if args.store is not None
             else s3_store(settings) if settings.s3_endpoint else None)
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

    from storage.evidence.warehouse import list_copies

    copies = list_copies(open_store(args, settings), args.person_id)
    if args.json:
        print(json.dumps(copies, ensure_ascii=False, indent=2))
        return EXIT_OK
    vi = settings.lang != "en"
    table = Table(title=(f"Kho dữ liệu của {args.person_id}" if vi
                         else f"Data warehouse of {args.person_id}"))
    for col in (("Loại", "Type"), ("Tên giấy tờ", "Document"), ("Số CT", "Reg. no."),
                ("Ngày", "Date"), ("Tệp", "File")):
        table.add_column(col[0] if vi else col[1], overflow="fold")
    for c in copies:
        entry = c.get("register_entry", {})
        table.add_row(c.get("doc_type", ""), c.get("document_name", ""),
                      f"{entry.get('number', '')} / {entry.get('book', '')}",
                      entry.get("date", ""), c["key"])
    console = Console()
    console.print(table)
    if not copies:
        console.print("Chưa có bản sao nào." if vi else "No copies yet.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
