"""`ecopy figures`: per-commune performance figures (Res. 131/NQ-CP), as on the public page.

    ecopy figures [--month 2026-11 | --year 2026 | --from D --to D] [--agency CODE]
                  [--csv FILE] [--json] [--as-of ISO] [--store DIR]

The numbers come from pipeline.casework.figures.compute_figures and the CSV from figures_csv, the
very functions behind /figures and /figures.csv. Exit codes: 0 shown, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from ecopy.settings import Settings

EXIT_OK, EXIT_USAGE = 0, 2

# (column, Vietnamese heading, English heading) of the terminal table
_TABLE = (("agency", "Mã xã", "Code"), ("received", "Tiếp nhận", "Received"),
          ("finished_on_time", "Đúng hạn", "On time"), ("finished_late", "Quá hạn", "Late"),
          ("open", "Đang giải quyết", "Open"), ("open_overdue", "Đã quá hạn", "Overdue"),
          ("median_hours", "Trung vị (giờ)", "Median h"),
          ("median_working_hours", "Trung vị (giờ HC)", "Median office h"),
          ("online_share_pct", "Trực tuyến %", "Online %"),
          ("refusals_by_reason", "Từ chối theo lý do", "Refusals by reason"),
          ("commune_name", "Xã, phường", "Commune"))


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    fi = subparsers.add_parser("figures", parents=[common],
                               help="processing figures per commune (the public /figures page)")
    when = fi.add_mutually_exclusive_group()
    when.add_argument("--month", help="YYYY-MM (default: this month, Vietnam time)")
    when.add_argument("--year", help="YYYY")
    when.add_argument("--from", dest="first", help="YYYY-MM-DD, with --to")
    fi.add_argument("--to", dest="last", help="YYYY-MM-DD, the last day included")
    fi.add_argument("--agency", help="only this commune (5-digit code)")
    fi.add_argument("--as-of", help="figures as they stood at this ISO time (default now)")
    fi.add_argument("--csv", type=Path, help="also write the CSV (same bytes as /figures.csv)")
    fi.add_argument("--json", action="store_true", help="machine-readable figures on stdout")
    fi.add_argument("--store", type=Path, help="store directory (default $ECOPY_STORE)")
    fi.set_defaults(handler=cmd_figures)


def _as_of(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_figures(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_state
    from pipeline.casework.figures import PeriodError, compute_figures, figures_csv, parse_period
    from pipeline.vn.tz import VN_TZ
    from storage.db.dossiers import AGENCY

    en = settings.lang == "en"
    if args.agency and not AGENCY.match(args.agency):
        print(f"ecopy: {'commune code must be 5 digits' if en else 'mã xã phải có 5 chữ số'}: "
              f"{args.agency!r}", file=sys.stderr)
        return EXIT_USAGE
    if bool(args.first) != bool(args.last):
        print("ecopy: --from and --to go together", file=sys.stderr)
        return EXIT_USAGE
    try:
        period = parse_period(month=args.month, year=args.year, first=args.first,
                              last=args.last)
        as_of = _as_of(args.as_of)
    except (PeriodError, ValueError) as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    figures = compute_figures(open_state(args, settings).db, period, agency=args.agency,
                              as_of=as_of)
    if args.csv:
        args.csv.write_bytes(figures_csv(figures))
    if args.json:
        print(json.dumps(figures.to_json(), ensure_ascii=False, indent=2))
        return EXIT_OK
    as_of_local = figures.as_of.astimezone(VN_TZ)
    print(f"{'Period' if en else 'Kỳ'} {period.label} · "
          f"{'as of' if en else 'đến thời điểm'} {as_of_local:%d/%m/%Y %H:%M} (UTC+7)")
    if not figures.calendar_complete:
        print("Holidays of some year of the period are unknown: weekends only." if en else
              "Chưa có lịch nghỉ lễ của một số năm trong kỳ: chỉ trừ thứ Bảy, Chủ nhật.")
    rows = figures.rows()
    header = [en_h if en else vi_h for _, vi_h, en_h in _TABLE]
    cells = [["—" if row[col] is None else str(row[col]) for col, _, _ in _TABLE]
             for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    for line in [header, *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return EXIT_OK
