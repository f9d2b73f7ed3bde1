"""`ecopy retention run|schedule`: delete or anonymise working data on its retention date.

    ecopy retention schedule [--json]              the categories, their periods (settings
                                                   ECOPY_RETENTION_<CATEGORY>_DAYS) and actions
    ecopy retention run [--dry-run] [--json]       what is due: deleted / anonymised, one audit
        [--store DIR] [--limit N]                  event per run; --dry-run changes nothing

The schedule and what each category means are in pipeline.casework.retention and
docs/retention.md. Evidence (e-copies, register, refusals, cancellations, the audit chain)
is never deleted. Run it daily (cron, a systemd timer or the compose scheduler); with
--dry-run first on a new deployment. Exit codes: 0 done, 1 something due was kept by the
store's object lock or by a refusal record the catalogue lacks (see the report), 2 bad
schedule or input, 3 more was due than --limit (run again).
"""

from __future__ import annotations

import argparse
import json
import sys
from math import ceil
from pathlib import Path
from typing import Any

from ecopy.settings import Settings

EXIT_OK, EXIT_KEPT, EXIT_USAGE, EXIT_MORE = 0, 1, 2, 3
SHOWN = 20  # ids and keys listed per category in the text output (--json lists all)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    rt = subparsers.add_parser("retention", help="delete or anonymise working data past its "
                                                 "retention date (never evidence)")
    actions = rt.add_subparsers(dest="action", required=True)
    sc = actions.add_parser("schedule", parents=[common],
                            help="the retention periods in force")
    sc.add_argument("--json", action="store_true")
    sc.set_defaults(handler=cmd_schedule)
    run = actions.add_parser("run", parents=[common], help="delete / anonymise what is due")
    run.add_argument("--dry-run", action="store_true",
                     help="list what is due and change nothing")
    run.add_argument("--limit", type=int, default=5000,
                     help="at most this many items per category in one run (default 5000)")
    run.add_argument("--store", type=Path, help="store directory (default: S3 or $ECOPY_STORE)")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=cmd_run)


def schedule_of(settings: Settings) -> dict[str, int]:
    from pipeline.casework.retention import CATEGORIES

    return {c.name: getattr(settings, c.setting) for c in CATEGORIES}


def problems_of(settings: Settings, days: dict[str, int]) -> list[str]:
    """The module's checks, and those only the settings can answer."""
    from pipeline.casework.retention import schedule_problems

    problems = schedule_problems(days)
    window = ceil(settings.web_login_window_s / 86400)
    if days["throttle_hits"] < window:
        problems.append(f"throttle_hits: {days['throttle_hits']} days is shorter than the "
                        f"login window (ECOPY_WEB_LOGIN_WINDOW_S: {window} days)")
    return problems


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.casework.retention import CATEGORIES

    days = schedule_of(settings)
    if args.json:
        print(json.dumps([{"category": c.name, "action": c.action, "days": days[c.name],
                           "default_days": c.default_days, "counted_from": c.counted_from[1],
                           "setting": f"ECOPY_{c.setting.upper()}"} for c in CATEGORIES],
                         ensure_ascii=False, indent=2))
    else:
        en = settings.lang == "en"
        for c in CATEGORIES:
            print(f"{c.name:<19} {_verb(c.action, en):<10} {days[c.name]:>5} "
                  f"{'days after' if en else 'ngày sau'} {c.counted_from[en]}  "
                  f"({c.title_en if en else c.title_vi})")
    problems = problems_of(settings, days)
    for problem in problems:
        print(f"ecopy: {problem}", file=sys.stderr)
    return EXIT_USAGE if problems else EXIT_OK


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_state
    from pipeline.casework.retention import run_retention

    days = schedule_of(settings)
    problems = problems_of(settings, days)
    if args.limit < 1:
        problems.append("--limit must be at least 1")
    if problems:
        for problem in problems:
            print(f"ecopy: {problem}", file=sys.stderr)
        return EXIT_USAGE
    state = open_state(args, settings)
    result = run_retention(state, days, actor=settings.actor or "ecopy retention",
                           dry_run=args.dry_run, limit=args.limit)
    report = result.to_json()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_run(report, settings.lang == "en")
    outcomes = result.outcomes
    if any(k.why in ("locked", "on_record") for o in outcomes for k in o.kept):
        return EXIT_KEPT
    return EXIT_MORE if any(o.more for o in outcomes) else EXIT_OK


def _verb(action: str, en: bool) -> str:
    return {("delete", True): "delete", ("anonymise", True): "anonymise",
            ("delete", False): "xóa", ("anonymise", False): "ẩn danh"}[(action, en)]


def _print_run(report: dict[str, Any], en: bool) -> None:
    from pipeline.casework.retention import CATEGORIES

    titles = {c.name: (c.title_en if en else c.title_vi) for c in CATEGORIES}
    if report["dry_run"]:
        head = ("Retention, dry run: nothing was changed" if en
                else "Lưu giữ dữ liệu, chạy thử: không thay đổi gì")
    else:
        head = (f"Retention done, audit event {report['audit_seq']}" if en
                else f"Đã xử lý lưu giữ dữ liệu, sự kiện nhật ký {report['audit_seq']}")
    print(f"{head} ({report['run']})")
    would = report["dry_run"]
    for name, o in report["categories"].items():
        verb = _verb(o["action"], en)
        if en:
            done = f"{o['count']} {'to ' + verb if would else verb + 'd'}"
        else:
            done = f"{o['count']} {'sẽ ' if would else 'đã '}{verb}"
        objects = len(o.get("keys", []))
        if objects:
            done += (f", {objects} store objects {'to delete' if would else 'deleted'}" if en
                     else f", {objects} đối tượng lưu trữ {'sẽ' if would else 'đã'} xóa")
        after = "days" if en else "ngày"
        print(f"  {titles[name]} ({o['days']} {after}, < {o['cutoff']}): {done}")
        label = (("complaint" if en else "khiếu nại") if name == "complaint_contacts"
                 else ("case" if en else "giấy tờ"))
        lines = [*(f"{label} {i}" for i in o.get("ids", [])),
                 *(f"{'delete' if en else 'xóa'} {k}" for k in o.get("keys", [])),
                 *(f"{'kept' if en else 'giữ lại'} {k['ref']} ({k['why']})"
                   for k in o.get("kept", []))]
        for line in lines[:SHOWN]:
            print(f"      {line}")
        if len(lines) > SHOWN:
            rest = "more (--json lists all)" if en else "nữa (--json liệt kê hết)"
            print(f"      … {len(lines) - SHOWN} {rest}")
        if o.get("more"):
            print("      " + ("more is due: run again" if en else "còn mục đến hạn: chạy lại"))
        if o.get("note"):
            print(f"      {o['note']}")
