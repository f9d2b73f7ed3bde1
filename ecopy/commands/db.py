"""`ecopy db`: the database of working state (architecture.md, "Two kinds of state").

    ecopy db upgrade [--store DIR]          bring the schema to this code's (Alembic)
    ecopy db status [--store DIR] [--json]  where it is, its schema, what it holds
    ecopy db import [--store DIR|s3://B]    build it from a store made before it existed:
                                            idempotent, resumable; says what it could not place
    ecopy db check [--repair] [--store ...] the catalogue against the evidence, both ways;
                                            --repair adds what is missing (evidence wins) and
                                            finishes cases whose copy was filed

The database is ECOPY_DATABASE_URL (PostgreSQL, password in ECOPY_DATABASE_PASSWORD_FILE), or
the SQLite file inside the local store. Exit codes: 0 done (check: nothing found), 1 check
found problems or differences, 2 bad input or unreachable database.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ecopy.settings import Settings

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    db = subparsers.add_parser("db", help="the database of working state")
    actions = db.add_subparsers(dest="action", required=True)
    for name, handler, text in (
            ("upgrade", cmd_upgrade, "bring the schema to this code's version"),
            ("status", cmd_status, "the database, its schema revision and its contents"),
            ("import", cmd_import, "build the database from a store made before it existed"),
            ("check", cmd_check, "the catalogue against the evidence (--repair: fix it)")):
        sp = actions.add_parser(name, parents=[common], help=text)
        sp.add_argument("--store", help="store directory or s3://bucket (default: S3 or "
                                        "$ECOPY_STORE)")
        sp.add_argument("--json", action="store_true")
        if name == "check":
            sp.add_argument("--repair", action="store_true",
                            help="add missing rows and finish filed cases (evidence wins)")
        sp.set_defaults(handler=handler)


def _store(args: argparse.Namespace, settings: Settings) -> Any:
    from ecopy.commands.migrate import open_named_store
    from ecopy.wiring import open_store

    if not args.store:
        return open_store(None, settings)
    found = open_named_store(args.store, settings, must_exist=True)
    if isinstance(found, str):
        raise SystemExit(f"ecopy: {found}")
    return found


def state_for(args: argparse.Namespace, settings: Settings, *, check: bool = True) -> Any:
    """The State of a command that takes --store DIR|s3://bucket."""
    from ecopy.wiring import open_database
    from pipeline.casework.deadlines import ProcedureDeadlines
    from storage.state import State

    store = _store(args, settings)
    return State(store, open_database(settings, store, check=check), ProcedureDeadlines())


def _print(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print("\n".join(lines))


def cmd_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db.migrate import upgrade

    state = state_for(args, settings, check=False)
    before, after = upgrade(state.db)
    _print(args, {"database": state.db.describe(), "before": before, "after": after},
           [f"{state.db.describe()}: schema {before or '(empty)'} → {after}"])
    return EXIT_OK


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import func, select

    from storage.db.migrate import current_revision, head_revision
    from storage.db.schema import metadata

    state = state_for(args, settings, check=False)
    current, head = current_revision(state.db), head_revision()
    counts: dict[str, int] = {}
    if current == head:
        with state.db.read() as s:
            for table in metadata.sorted_tables:
                counts[table.name] = s.execute(select(func.count()).select_from(table)
                                               ).scalar_one()
    data = {"database": state.db.describe(), "dialect": state.db.dialect,
            "schema": current, "code_schema": head, "current": current == head,
            "rows": counts}
    lines = [f"{data['database']} ({data['dialect']})",
             f"schema {current or '(empty)'}, this ecopy needs {head}"
             + ("" if current == head else ": run `ecopy db upgrade`")]
    lines += [f"  {name}: {n}" for name, n in counts.items()]
    _print(args, data, lines)
    return EXIT_OK if current == head else EXIT_FOUND


def _complaint_state(data: dict[str, Any], events: list[dict[str, Any]]) -> tuple[bool, str]:
    from pipeline.casework.complaints import Complaint, Event, state_of
    from pipeline.casework.procedures import calendar

    fields = Complaint.__dataclass_fields__
    complaint = Complaint(**{k: data.get(k, "") for k in fields})
    now = state_of(complaint, [Event(**{k: e[k] for k in Event.__dataclass_fields__ if k in e})
                               for e in events], working_day=calendar().is_working_day)
    return now.status == "closed", now.due


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db.migrate import upgrade
    from storage.migration.legacy import import_store

    state = state_for(args, settings, check=False)
    upgrade(state.db)
    found = import_store(state, default_agency=settings.commune_code,
                         complaint_state=_complaint_state)
    data = {"store": state.store.describe(), "database": state.db.describe(),
            **found.as_dict()}
    lines = [f"{data['store']} → {data['database']}"]
    lines += [f"  {kind}: {n}" for kind, n in data["counts"].items()]
    lines += [f"  ! {p}" for p in found.problems]
    _print(args, data, lines)
    return EXIT_OK


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.casework.status import finish_filed
    from storage.db.rebuild import sync_catalogue
    from storage.db.rollups import rebuild as rebuild_month_rows

    state = state_for(args, settings)
    found = sync_catalogue(
        state.store, state.db, repair=args.repair,
        finish=lambda case_id, version, key: finish_filed(state, case_id, version, key))
    with (state.db.write() if args.repair else state.db.read()) as s:
        # the figures' month rows against their dossiers (storage.db.rollups)
        found.add("month_figures_stale", len(rebuild_month_rows(s, repair=args.repair)))
    differences = {k: n for k, n in found.counts.items()
                   if not k.endswith("_objects") and n and k != "cases_finished"}
    data = {"store": state.store.describe(), "database": state.db.describe(),
            "repaired": args.repair, **found.as_dict()}
    lines = [f"{data['store']} ↔ {data['database']}" + (" (repaired)" if args.repair else "")]
    lines += [f"  {kind}: {n}" for kind, n in data["counts"].items()]
    lines += [f"  ! {p}" for p in found.problems]
    if not differences and not found.problems:
        lines.append("  nhất quán / consistent")
    _print(args, data, lines)
    if args.repair:  # what is left is what a repair cannot do: objects someone removed
        return EXIT_FOUND if found.problems else EXIT_OK
    return EXIT_FOUND if differences or found.problems else EXIT_OK
