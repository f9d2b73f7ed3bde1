"""`ecopy reuse check`: which of the papers a procedure needs the state already holds.

Looks in the person's data warehouse (every commune of this deployment) and the configured
authoritative registers (ECOPY_EXTERNAL_SOURCES), prints where each paper is available or
why it is not, and the hit rate. A query only: the web dossier page records the answers in
the dossier and the audit log. Exit codes: 0 every paper available, 3 some must be asked
for, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path

from ecopy.settings import Settings

EXIT_OK, EXIT_USAGE, EXIT_SOME_MISSING = 0, 2, 3


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    re_ = subparsers.add_parser("reuse", help="reuse before asking: papers the state holds")
    actions = re_.add_subparsers(dest="action", required=True)
    ch = actions.add_parser("check", parents=[common],
                            help="where each needed paper is available, or why not")
    ch.add_argument("--person-id", required=True)
    ch.add_argument("--needs", required=True,
                    help="document types, comma-separated (e.g. citizen_id,birth_cert)")
    ch.add_argument("--source", type=Path, action="append", default=[], dest="sources",
                    help="an external register file (repeatable; default "
                         "$ECOPY_EXTERNAL_SOURCES)")
    ch.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")
    ch.add_argument("--json", action="store_true")
    ch.set_defaults(handler=cmd_check)


def configured_sources(settings: Settings, extra: list[Path] | None = None) -> list:
    from pipeline.casework.once_only.connectors import FileSource

    return [FileSource(p) for p in (extra or list(settings.external_sources))]


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from ecopy.wiring import open_state
    from pipeline.casework.once_only.availability import find_available, hit_rate
    from pipeline.steps.classify import DOCUMENT_NAMES
    from pipeline.vn.idnumber import parse_personal_id

    needs = [n.strip() for n in args.needs.split(",") if n.strip()]
    unknown = [n for n in needs if n not in DOCUMENT_NAMES or n == "other"]
    try:
        parse_personal_id(args.person_id)
    except ValueError as exc:
        print(f"ecopy: invalid_person_id: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not needs or unknown:
        print(f"ecopy: unknown document types: {', '.join(unknown) or '(none given)'}; "
              f"choose from {', '.join(t for t in DOCUMENT_NAMES if t != 'other')}",
              file=sys.stderr)
        return EXIT_USAGE
    sources = configured_sources(settings, args.sources)
    test_mode = settings.key_source == "dev"
    answers = find_available(open_state(args, settings).db, args.person_id, needs, sources,
                             today=date.today(), test_mode=test_mode)
    titles = ", ".join(s.title_vi if settings.lang == "vi" else s.title_en for s in sources)
    rate = hit_rate(answers)
    if args.json:
        print(json.dumps({"person_id": args.person_id, "hit_rate": round(rate, 4),
                          "answers": [{**asdict(a), "message": a.message(settings.lang, titles)}
                                      for a in answers]}, ensure_ascii=False, indent=1))
    else:
        table = Table(title=f"{args.person_id}: {sum(a.available for a in answers)}/"
                            f"{len(answers)} available ({rate:.0%})")
        for col in ("paper", "available", "where", "reference / reason"):
            table.add_column(col)
        for a in answers:
            why = a.ref if a.available else f"{a.reason}: {a.message(settings.lang, titles)}"
            table.add_row(DOCUMENT_NAMES[a.doc_type], "yes" if a.available else "no",
                          a.where + (f" ({a.agency})" if a.agency else ""), why)
        Console().print(table)
    return EXIT_OK if all(a.available for a in answers) else EXIT_SOME_MISSING
