"""`ecopy register export|check`: the register books (Mẫu số 19) of a commune.

Exit codes: 0 done / chain intact, 1 chain problems found, 2 bad command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecopy.settings import Settings

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    rg = subparsers.add_parser("register", help="the certification register (Mẫu số 19)")
    actions = rg.add_subparsers(dest="action", required=True)

    ex = actions.add_parser("export", parents=[common],
                            help="a month or a year of the register as CSV or printable PDF")
    _period_args(ex)
    ex.add_argument("--month", type=int, help="1-12; without it, the whole year")
    ex.add_argument("--format", choices=("csv", "pdf"), default="pdf", dest="fmt")
    ex.add_argument("--out", type=Path, required=True, dest="out_file", help="file to write")
    ex.set_defaults(handler=cmd_export)

    ck = actions.add_parser("check", parents=[common],
                            help="check a year's register chain (gaps, edited entries)")
    _period_args(ck)
    ck.set_defaults(handler=cmd_check)


def _period_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--commune", help="5-digit commune code (default $ECOPY_COMMUNE)")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")


def _commune(args: argparse.Namespace, settings: Settings) -> str | None:
    commune = args.commune or settings.commune_code
    if len(commune) == 5 and commune.isdigit():
        return commune
    print(f"ecopy: mã xã không hợp lệ / invalid commune code: {commune!r}", file=sys.stderr)
    return None


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.access import record_cli_reads
    from ecopy.reports.books import export_book
    from ecopy.wiring import open_state
    from storage.db.access import copy_reads

    commune = _commune(args, settings)
    if commune is None:
        return EXIT_USAGE
    if args.month is not None and not 1 <= args.month <= 12:
        print(f"ecopy: tháng không hợp lệ / invalid month: {args.month}", file=sys.stderr)
        return EXIT_USAGE
    state = open_state(args, settings)
    try:
        book = export_book(state, commune, args.year, month=args.month, fmt=args.fmt,
                           out=args.out_file,
                           fonts=(settings.font_path, settings.bold_font_path))
    except OSError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with state.db.read() as s:  # the exported rows name requesters: whose copies they are
        reads = copy_reads(s, [row.entry.copy_id for row in book.rows])
    record_cli_reads(state, settings, "register_export", reads)
    en = settings.lang == "en"
    print(f"{len(book.rows)} entries, {book.period}, book {book.book_label} → {args.out_file}"
           if en else
           f"{len(book.rows)} mục, {book.period}, Quyển số {book.book_label} → {args.out_file}")
    for problem in (*book.chain_problems, *book.unreadable):
        print(f"  ! {problem}", file=sys.stderr)
    return EXIT_OK


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """The year's register object by object (the evidence), against the catalogue (a number
    the catalogue knows whose object is gone was deleted) and against the audit log's
    register events and the head (the last entries deleted, an entry replaced)."""
    from ecopy.reports.books import chain_status
    from ecopy.wiring import open_state
    from storage.db.catalogue import register_chain
    from storage.evidence.audit import read_events
    from storage.evidence.register import check_against_audit, register_numbers

    commune = _commune(args, settings)
    if commune is None:
        return EXIT_USAGE
    state = open_state(args, settings)
    problems = chain_status(state.store, commune, args.year)
    with state.db.read() as s:
        indexed = {number for number, _sha, _prev in register_chain(s, commune, args.year)}
    stored = set(register_numbers(state.store, commune, args.year))
    problems += [f"number {n}: in the catalogue but its object is missing (deleted?)"
                 for n in sorted(indexed - stored)]
    # the audit log is read whole: this is an operator's check, not a request path
    audit = check_against_audit(state.store, commune, args.year, read_events(state.store))
    problems += [p for p in audit if p not in problems]
    en = settings.lang == "en"
    if not problems:
        print(f"Register {commune}/{args.year}: intact" if en
              else f"Sổ chứng thực {commune}/{args.year}: nguyên vẹn")
        return EXIT_OK
    print(f"Register {commune}/{args.year}: {len(problems)} problem(s)" if en
          else f"Sổ chứng thực {commune}/{args.year}: {len(problems)} vấn đề")
    for problem in problems:
        print(f"  - {problem}")
    return EXIT_PROBLEMS
