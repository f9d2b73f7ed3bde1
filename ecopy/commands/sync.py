"""`ecopy sync`: deliver the portal outbox (issue 8 points 2 and 3).

    ecopy sync status [--json]              backlog by kind, oldest pending, failed items
    ecopy sync run [--once] [--limit N]     deliver due items; loops until SIGTERM/SIGINT
    ecopy sync retry KEY | --all-failed     re-queue failed items (role admin, audited)
    ecopy sync backfill                     enqueue what the records already hold (admin)

The portal is ECOPY_PORTAL_URL (empty: not configured, items wait), its bearer token is read
from ECOPY_PORTAL_TOKEN_FILE, a private CA from ECOPY_PORTAL_CA_FILE, and
ECOPY_PORTAL_TIMEOUT_S bounds each request's read. Exit codes: 0 done, 1 refused (role) or
portal not configured (run --once), 2 bad input, 3 status: items failed for good.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecopy.settings import Settings

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_FAILED_ITEMS = 0, 1, 2, 3
ADMINS = ("admin",)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sp = subparsers.add_parser("sync", help="deliver e-copies, statuses and cancellations to "
                                            "the national/provincial portal")
    actions = sp.add_subparsers(dest="action", required=True)

    def action(name: str, handler: Any, text: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, parents=[common], help=text)
        p.add_argument("--store", type=Path, help="store directory (default: S3 or "
                                                  "$ECOPY_STORE)")
        p.set_defaults(handler=handler)
        return p

    st = action("status", cmd_status, "backlog, oldest pending item, failed deliveries")
    st.add_argument("--json", action="store_true")
    ru = action("run", cmd_run, "deliver due items (loops until stopped)")
    ru.add_argument("--once", action="store_true", help="one pass, then exit")
    ru.add_argument("--limit", type=int, default=100, help="items per pass (default 100)")
    ru.add_argument("--interval", type=float, default=10.0,
                    help="seconds between passes when idle (default 10)")
    ru.add_argument("--json", action="store_true")
    re_ = action("retry", cmd_retry, "re-queue a failed item (role admin)")
    which = re_.add_mutually_exclusive_group(required=True)
    which.add_argument("key", nargs="?", help="the item's key (see sync status)")
    which.add_argument("--all-failed", action="store_true")
    bf = action("backfill", cmd_backfill, "enqueue copies, cancellations and statuses "
                                          "already recorded (role admin)")
    bf.add_argument("--json", action="store_true")


def portal_client(settings: Settings) -> Any:
    """The delivery client, or None when no portal is configured."""
    if not settings.portal_url:
        return None
    from workers.sync import PortalClient, PortalConfig

    return PortalClient(PortalConfig(
        url=settings.portal_url, token_file=settings.portal_token_file,
        ca_file=settings.portal_ca_file, connect_timeout_s=min(10.0, settings.portal_timeout_s),
        read_timeout_s=float(settings.portal_timeout_s)))


def _state(args: argparse.Namespace, settings: Settings) -> Any:
    from ecopy.wiring import open_state

    return open_state(args, settings)


def _age(seconds: int | None, en: bool) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if en else f"{hours} giờ {rest // 60} phút"


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from storage.outbox import summary

    with _state(args, settings).db.read() as s:
        info = summary(s)
    info["portal_configured"] = bool(settings.portal_url)
    info["portal_url"] = settings.portal_url
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return EXIT_FAILED_ITEMS if info["failed_total"] else EXIT_OK
    en = settings.lang == "en"
    kinds = ", ".join(f"{k} {n}" for k, n in info["pending_by_kind"].items())
    if not info["portal_configured"]:
        print("Portal not configured (ECOPY_PORTAL_URL): items wait in the outbox." if en else
              "Chưa cấu hình cổng (ECOPY_PORTAL_URL): các mục chờ trong hàng đợi.")
    else:
        print(f"Portal: {settings.portal_url}" if en else f"Cổng: {settings.portal_url}")
    print(f"Pending: {info['pending']} ({kinds}); oldest waits "
          f"{_age(info['oldest_pending_age_s'], True)}" if en else
          f"Đang chờ gửi: {info['pending']} ({kinds}); mục cũ nhất đã chờ "
          f"{_age(info['oldest_pending_age_s'], False)}")
    print(f"Delivered: {info['delivered']}; failed: {info['failed_total']}" if en else
          f"Đã gửi: {info['delivered']}; gửi lỗi: {info['failed_total']}")
    for item in info["failed"]:
        print(f"  {item['key']}  {item['kind']} {item['ref']}  "
              f"{item['attempts']}×  {item['last_error']}")
    if info["failed_total"] > len(info["failed"]):
        more = info["failed_total"] - len(info["failed"])
        print(f"  … {more} more (--json, or /admin/sync)" if en else
              f"  … còn {more} mục (--json, hoặc /admin/sync)")
    return EXIT_FAILED_ITEMS if info["failed_total"] else EXIT_OK


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from workers.sync import deliver_due

    if args.limit < 1:
        print("ecopy: --limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    state = _state(args, settings)
    client = portal_client(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if client is None:
        print("ecopy: chưa cấu hình cổng (ECOPY_PORTAL_URL); các mục chờ trong hàng đợi. / "
              "no portal configured (ECOPY_PORTAL_URL); items wait in the outbox.",
              file=sys.stderr)
        if args.once:
            return EXIT_REFUSED
        stop.wait()  # a service without a portal idles instead of restarting in a loop
        return EXIT_OK
    while True:
        report = deliver_due(state, client, datetime.now(UTC), args.limit)
        if args.json or args.once:
            print(json.dumps(report.as_dict()), flush=True)
        if args.once or stop.is_set():
            return EXIT_OK
        if report.attempted < args.limit and stop.wait(args.interval):
            return EXIT_OK


def _admin(settings: Settings) -> bool:
    if settings.role in ADMINS and settings.actor.strip():
        return True
    print("ecopy: chỉ quản trị viên (ECOPY_ROLE=admin, ECOPY_ACTOR=tên) được làm việc này. / "
          "admin only (set ECOPY_ROLE=admin and ECOPY_ACTOR).", file=sys.stderr)
    return False


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    from storage.outbox import failed_items, retry

    if not _admin(settings):
        return EXIT_REFUSED
    state = _state(args, settings)
    with state.db.read() as s:
        keys = [i.key for i in failed_items(s)] if args.all_failed else [args.key]
    done = [key for key in keys
            if retry(state.db, state.store, key, actor=settings.actor.strip())]
    if not args.all_failed and not done:
        print(f"ecopy: {args.key!r}: không có mục lỗi nào với khóa này. / no failed item with "
              "this key.", file=sys.stderr)
        return EXIT_USAGE
    for key in done:
        print(key)
    return EXIT_OK


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.casework.portal import backfill
    from storage.evidence.audit import append_event

    if not _admin(settings):
        return EXIT_REFUSED
    state = _state(args, settings)
    with state.db.write() as s:
        counts = backfill(s)
    append_event(state.store, actor=settings.actor.strip(), action="sync-backfill",
                 object="outbox/", object_sha256="", details=counts)
    print(json.dumps(counts) if args.json else
          " ".join(f"{kind}={n}" for kind, n in counts.items()))
    return EXIT_OK
