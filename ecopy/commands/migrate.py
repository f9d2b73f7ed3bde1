"""`ecopy migrate`: move former provinces'/communes' stores into one deployment (merger 2025).

    ecopy migrate --mapping old-to-new.csv --from [LABEL=]STORE ... --to STORE [--dry-run]
    ecopy migrate mapping --old CODE ... > old-to-new.csv     official rows, from bundled data
    ecopy migrate check-archive LABEL --store STORE           an archived audit chain

STORE is a directory or s3://<bucket> (the configured ECOPY_S3_* endpoint and credentials).
The mapping is validated against the Decision 19/2025 table bundled in pipeline/data: every
pair must be an official old -> new pair, an old code may have one target, and every commune
code found in a source must be mapped, before anything is written. The engine is
storage.migration.migrate; docs/migration.md explains the layout and limits.

Exit codes: 0 done, nothing in conflict; 1 conflicts, unhandled objects or failed checks
(see the report); 2 bad command line, mapping or store; 3 stopped early by --limit (run again
to resume).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from ecopy.settings import Settings
from ecopy.wiring import open_database
from storage.backends import LocalStore, ObjectStore
from storage.db import SQLITE_NAME

EXIT_OK, EXIT_CONFLICT, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HEADER = ["old_code", "new_code"]

MESSAGES = {  # stable code: (vi, en)
    "mapping_header": ("Dòng đầu của tệp ánh xạ phải là: old_code,new_code",
                       "The mapping file's first row must be: old_code,new_code"),
    "mapping_unknown_old": ("Dòng {line}: mã cũ {old} không có trong danh mục trước 01/7/2025",
                            "Line {line}: old code {old} is not a unit before 1 July 2025"),
    "mapping_not_official": ("Dòng {line}: {old} → {new} không phải cặp sắp xếp chính thức "
                             "(Quyết định 19/2025/QĐ-TTg); đúng là: {allowed}",
                             "Line {line}: {old} → {new} is not an official pair (Decision "
                             "19/2025/QĐ-TTg); official: {allowed}"),
    "mapping_two_targets": ("Dòng {line}: mã cũ {old} đã được ánh xạ sang {first}, không thể "
                            "sang {new}", "Line {line}: old code {old} already maps to {first}, "
                            "not also to {new}"),
    "mapping_bad_row": ("Dòng {line}: cần hai mã (2 hoặc 5 chữ số)",
                        "Line {line}: two codes expected (2 or 5 digits)"),
    "unmapped": ("Kho {source}: mã xã {code} ({where}) chưa có trong tệp ánh xạ",
                 "Store {source}: commune code {code} ({where}) is not in the mapping"),
    "store_missing": ("Không tìm thấy kho nguồn {store}", "Source store {store} not found"),
    "s3_not_configured": ("{store}: chưa cấu hình ECOPY_S3_ENDPOINT",
                          "{store}: ECOPY_S3_ENDPOINT is not configured"),
    "split": ("Xã cũ {old} được chia cho nhiều xã mới ({allowed}); đã chọn {new}: kiểm tra lại",
              "Old commune {old} was split between {allowed}; {new} chosen: check it"),
}


def msg(settings: Settings, reason: str, **params: object) -> str:
    vi, en = MESSAGES[reason]
    return f"[{reason}] " + (en if settings.lang == "en" else vi).format(**params)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    mi = subparsers.add_parser("migrate", parents=[common],
                               help="merge former provinces'/communes' stores into this one")
    mi.add_argument("--mapping", type=Path, help="CSV old_code,new_code (Decision 19/2025)")
    mi.add_argument("--from", dest="sources", action="append", default=[], metavar="STORE",
                    help="source store: directory or s3://bucket, optionally LABEL=STORE; "
                         "repeatable")
    mi.add_argument("--to", dest="dest", metavar="STORE", help="destination store")
    mi.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    mi.add_argument("--report", type=Path, help="also write the report as CSV here")
    mi.add_argument("--limit", type=int, help="stop after this many objects (run again to "
                                              "resume)")
    mi.add_argument("--jobs", type=int, default=4, help="objects copied at once (default 4)")
    mi.add_argument("--json", action="store_true", help="summary as JSON on stdout")
    mi.add_argument("--no-progress", action="store_true")
    mi.set_defaults(handler=cmd_migrate)
    actions = mi.add_subparsers(dest="migrate_action", required=False)
    mp = actions.add_parser("mapping", parents=[common],
                            help="write the official old_code,new_code rows (CSV on stdout)")
    mp.add_argument("--old", nargs="+", required=True, metavar="CODE",
                    help="old commune (5 digits) or province (2 digits) codes")
    mp.set_defaults(handler=cmd_mapping)
    ca = actions.add_parser("check-archive", parents=[common],
                            help="verify an archived audit chain (audit-archive/LABEL)")
    ca.add_argument("label")
    ca.add_argument("--store", required=True, help="directory or s3://bucket")
    ca.set_defaults(handler=cmd_check_archive)


def official_targets(old: str) -> list[str]:
    """The new codes an old commune (5 digits) or province (2 digits) officially went into."""
    from pipeline.vn import adminunits

    if len(old) == 2:
        unit = adminunits.current_province_of(old)
        return [unit.code] if unit else []
    return [s.commune.code for s in adminunits.successors(old)]


def read_mapping(text: str, settings: Settings) -> tuple[dict[str, str], dict[str, str],
                                                         list[str]]:
    """(communes old->new, provinces old->new, errors) of a mapping CSV."""
    from pipeline.vn import adminunits

    communes: dict[str, str] = {}
    provinces: dict[str, str] = {}
    errors: list[str] = []
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != HEADER:
        return {}, {}, [msg(settings, "mapping_header")]
    for line, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if (len(cells) < 2 or not cells[0].isdigit() or len(cells[0]) not in (2, 5)
                or len(cells[1]) != len(cells[0]) or not cells[1].isdigit()):
            errors.append(msg(settings, "mapping_bad_row", line=line))
            continue
        old, new = cells[0], cells[1]
        known = (adminunits.old_province(old) if len(old) == 2
                 else adminunits.old_commune(old))
        allowed = official_targets(old)
        if known is None or not allowed:
            errors.append(msg(settings, "mapping_unknown_old", line=line, old=old))
        elif new not in allowed:
            errors.append(msg(settings, "mapping_not_official", line=line, old=old, new=new,
                              allowed=", ".join(allowed)))
        else:
            table = provinces if len(old) == 2 else communes
            if table.setdefault(old, new) != new:
                errors.append(msg(settings, "mapping_two_targets", line=line, old=old,
                                  first=table[old], new=new))
    return communes, provinces, errors


def open_named_store(spec: str, settings: Settings, *, must_exist: bool) -> ObjectStore | str:
    """A store from a CLI argument (sealed with this deployment's KEKs), or the error message."""
    from ecopy.wiring import s3_store, seal

    if spec.startswith("s3://"):
        bucket = spec.removeprefix("s3://").strip("/")
        if not settings.s3_endpoint:
            return msg(settings, "s3_not_configured", store=spec)
        return seal(s3_store(replace(settings, s3_bucket=bucket)), settings)
    path = Path(spec)
    if must_exist and not path.is_dir():
        return msg(settings, "store_missing", store=spec)
    return seal(LocalStore(path), settings)


def _label_and_spec(arg: str) -> tuple[str, str]:
    label, sep, rest = arg.partition("=")
    if sep and LABEL.match(label):
        return label, rest
    name = arg.removeprefix("s3://").rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]", "-", name).lstrip(".-_")[:64] or "source", arg


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.vn import adminunits
    from storage.migration.migrate import Source, agencies_in, migrate
    from storage.migration.rows import agencies_in_db

    err = Console(stderr=True)
    if not (args.mapping and args.sources and args.dest):
        err.print("ecopy migrate: --mapping, --from and --to are required", style="red")
        return EXIT_USAGE
    communes, provinces, errors = read_mapping(args.mapping.read_text(encoding="utf-8"),
                                               settings)
    sources = []
    for arg in args.sources:
        label, spec = _label_and_spec(arg)
        store = open_named_store(spec, settings, must_exist=True)
        if isinstance(store, str):
            errors.append(store)
        else:
            sources.append(Source(label, store, _source_db(store)))
    for source in sources if not errors else []:
        found = agencies_in(source.store)
        if source.db is not None:
            for code, where in agencies_in_db(source.db).items():
                found.setdefault(code, set()).update(where)
        for code, where in sorted(found.items()):
            if code not in communes:
                errors.append(msg(settings, "unmapped", source=source.label, code=code,
                                  where=", ".join(sorted(where))))
    fresh = not args.dest.startswith("s3://") and not Path(args.dest).exists()
    dest = None if errors else open_named_store(args.dest, settings, must_exist=False)
    if isinstance(dest, str):
        errors.append(dest)
    elif dest is not None and any(s.store.describe() == dest.describe() for s in sources):
        errors.append("ecopy migrate: a source cannot be the destination")
    if errors or dest is None:
        for line in errors:
            err.print(line, style="red", markup=False)
        return EXIT_USAGE
    names = {}
    for old in communes:
        unit = adminunits.old_commune(old)
        names[old] = unit.full_name if unit else ""
    from rich.progress import Progress

    show = not (args.no_progress or args.json) and err.is_terminal
    with Progress(console=err, disable=not show) as bar:
        task = bar.add_task("migrate", total=None)
        result = migrate(sources, dest, communes, dry_run=args.dry_run,
                         actor=settings.actor or "ecopy", names=names, limit=args.limit,
                         jobs=args.jobs,
                         progress=lambda done, total: bar.update(task, completed=done,
                                                                 total=total),
                         dest_db=None if args.dry_run and fresh
                         else open_database(settings, dest))
    if args.dry_run and fresh:
        Path(args.dest).rmdir()  # LocalStore made it; a dry run leaves no trace
    if args.report:
        write_csv(result.outcomes, args.report)
    problems = {k: v for k, v in result.checks.items() if v}
    summary = {"run_id": result.run_id, "dry_run": result.dry_run, "complete": result.complete,
               "destination": dest.describe(), "report": result.report_key,
               "report_sha256": result.report_sha256, "counts": result.counts(),
               "provinces": provinces, "check_problems": problems,
               "conflicts": [asdict(o) for o in result.conflicts]}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_summary(Console(), summary, settings.lang)
    if result.conflicts or problems:
        return EXIT_CONFLICT
    return EXIT_OK if result.complete else EXIT_INCOMPLETE


def _source_db(store: ObjectStore) -> Any:
    """A former deployment's database: the SQLite file of a local store that has one (a
    store made before the database existed has none: its working state is objects)."""
    from ecopy.wiring import local_root
    from storage.db import Database, sqlite_url
    from storage.db.migrate import require_current

    root = local_root(store)
    if root is None or not (root / SQLITE_NAME).is_file():
        return None
    db = Database(sqlite_url(root))
    require_current(db)
    return db


def write_csv(outcomes: list, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["source", "key", "dest_key", "source_sha256", "sha256", "action",
                      "detail"])
        for o in outcomes:
            out.writerow([o.source, o.key, o.dest_key, o.source_sha256, o.sha256, o.action,
                          o.detail])


def _print_summary(console: Console, summary: dict, lang: str) -> None:
    vi = lang != "en"
    head = "Chạy thử: không ghi gì" if summary["dry_run"] and vi else (
        "Dry run: nothing written" if summary["dry_run"] else
        f"{'Đã chuyển vào' if vi else 'Migrated into'} {summary['destination']}")
    console.print(head, markup=False)
    for action, n in summary["counts"].items():
        console.print(f"  {action:<18} {n}", markup=False)
    for c in summary["conflicts"][:20]:
        console.print(f"  {c['action']}: {c['source']}:{c['key']} -> {c['dest_key']}",
                      style="red", markup=False)
    for name, problems in summary["check_problems"].items():
        console.print(f"  {name}: {'; '.join(problems[:3])}", style="red", markup=False)
    if summary["report"]:
        console.print(f"{'Báo cáo' if vi else 'Report'}: {summary['report']} "
                      f"(sha256 {summary['report_sha256']})", markup=False)
    if not summary["complete"]:
        console.print("Chưa xong: chạy lại lệnh để tiếp tục." if vi else
                      "Not finished: run the command again to resume.", markup=False)


def cmd_mapping(args: argparse.Namespace, settings: Settings) -> int:
    """The official rows for the given old codes; a split commune gets the part that kept the
    commune's seat when the table says so, else its first listed successor, with a warning."""
    from pipeline.vn import adminunits

    err = Console(stderr=True)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(HEADER)
    status = EXIT_OK
    for old in args.old:
        targets = official_targets(old)
        if not targets:
            err.print(msg(settings, "mapping_unknown_old", line="-", old=old), style="red",
                      markup=False)
            status = EXIT_USAGE
            continue
        new = targets[0]
        if len(old) == 5 and len(targets) > 1:
            whole = [s.commune.code for s in adminunits.successors(old) if not s.partial]
            new = whole[0] if len(whole) == 1 else old if old in targets else targets[0]
            err.print(msg(settings, "split", old=old, allowed=", ".join(targets), new=new),
                      style="yellow", markup=False)
        out.writerow([old, new])
    return status


def cmd_check_archive(args: argparse.Namespace, settings: Settings) -> int:
    from storage.backends.prefixed import PrefixedStore
    from storage.evidence.audit import verify_audit

    store = open_named_store(args.store, settings, must_exist=True)
    if isinstance(store, str) or not LABEL.match(args.label):
        print(store if isinstance(store, str) else "ecopy: bad label", file=sys.stderr)
        return EXIT_USAGE
    problems = verify_audit(PrefixedStore(store, f"audit-archive/{args.label}"))
    for p in problems:
        print(p)
    events = sum(1 for _ in store.list(f"audit-archive/{args.label}/audit/"))
    print(f"audit-archive/{args.label}: {events} objects, "
          + ("intact" if not problems else f"{len(problems)} problem(s)"))
    return EXIT_OK if not problems else EXIT_CONFLICT
