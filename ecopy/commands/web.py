"""`ecopy serve` (the web app) and `ecopy user` (its local accounts).

    ecopy serve [--host 127.0.0.1] [--port 8080] [--store DIR] [--workers N]
    ecopy user add USER --role clerk|certifier|auditor|admin --agency 99999 --full-name NAME
                   [--title TEXT] [--password-file F]      (else asked twice on the terminal)
    ecopy user list | disable USER | password USER [--password-file F]
    ecopy user role USER [--role ROLE] [--agency CODE]   (ends the user's sessions)

Exit codes: 0 done, 1 refused (exists, unknown user), 2 bad input.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from ecopy.settings import Settings

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
# requests run in a pool of up to 40 threads: enough database connections that a busy minute
# does not open and close them per request
SERVE_POOL = 20


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sv = subparsers.add_parser("serve", parents=[common], help="run the web app")
    sv.add_argument("--host", help="address to listen on (default ECOPY_WEB_HOST, 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port (default ECOPY_WEB_PORT, 8080)")
    sv.add_argument("--store", type=Path, help="store directory (default: S3 or $ECOPY_STORE)")
    sv.add_argument("--workers", type=int, default=1,
                    help="server processes (default 1; one per core for a province)")
    sv.set_defaults(handler=cmd_serve)

    us = subparsers.add_parser("user", help="web app accounts")
    actions = us.add_subparsers(dest="action", required=True)
    for name, handler, text in (("add", cmd_add, "create an account"),
                                ("list", cmd_list, "list accounts"),
                                ("disable", cmd_disable, "disable an account"),
                                ("password", cmd_password, "set a new password"),
                                ("role", cmd_role, "change the role or commune")):
        sp = actions.add_parser(name, parents=[common], help=text)
        sp.add_argument("--store", type=Path, help="store directory")
        sp.set_defaults(handler=handler)
        if name != "list":
            sp.add_argument("username")
        if name in ("add", "password"):
            sp.add_argument("--password-file", type=Path,
                            help="read the password from this file (first line)")
        if name == "role":
            sp.add_argument("--role", help="clerk, certifier, auditor or admin")
            sp.add_argument("--agency", help="5-digit commune code")
        if name == "add":
            sp.add_argument("--role", required=True)
            sp.add_argument("--agency", required=True, help="5-digit commune code")
            sp.add_argument("--full-name", required=True)
            sp.add_argument("--title", default="", help="e.g. Phó Chủ tịch UBND xã")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from ecopy.web.app import create_app
    from ecopy.wiring import open_state

    settings = replace(settings, web_host=args.host or settings.web_host,
                       web_port=args.port or settings.web_port)
    if args.workers < 1:
        print("ecopy: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    options = {"host": settings.web_host, "port": settings.web_port, "log_level": "warning",
               "server_header": False, "proxy_headers": False}
    if args.workers > 1:
        # each process builds its app from the same settings (the environment it inherits)
        if args.store is not None:
            os.environ["ECOPY_STORE"] = str(args.store.absolute())
        open_state(args, settings).db.close()  # the schema is checked once, up front
        uvicorn.run("ecopy.web.app:app_from_environment", factory=True,
                    workers=args.workers, **options)
        return EXIT_OK
    uvicorn.run(create_app(settings, open_state(args, settings, connections=SERVE_POOL)),
                **options)
    return EXIT_OK


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        return args.password_file.read_text(encoding="utf-8").splitlines()[0]
    first = getpass.getpass("Mật khẩu / password: ")
    if first != getpass.getpass("Nhập lại / again: "):
        raise ValueError("the two passwords differ")
    return first


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy import accounts
    from ecopy.wiring import open_state
    from storage.evidence.audit import append_event

    state = open_state(args, settings)
    try:
        account = accounts.create(state.db, args.username, args.full_name, args.role, args.agency,
                                  _password(args), args.title)
    except ValueError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FileExistsError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    append_event(state.store, actor=settings.actor or "ecopy", action="account",
                 object=f"accounts/{account.username}",
                 details={"act": "add", "role": account.role, "agency": account.agency})
    print(f"{account.username}: {account.role}, {account.agency}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy import accounts
    from ecopy.wiring import open_state

    for a in accounts.all_accounts(open_state(args, settings).db):
        print(json.dumps({"username": a.username, "full_name": a.full_name, "role": a.role,
                          "agency": a.agency, "active": a.active}, ensure_ascii=False))
    return EXIT_OK


def _change(args: argparse.Namespace, settings: Settings, act: str) -> int:
    from ecopy import accounts
    from ecopy.wiring import open_state
    from storage.evidence.audit import append_event

    state = open_state(args, settings)
    account = accounts.load(state.db, args.username)
    details: dict[str, str] = {}
    if account is None:
        print(f"ecopy: no user {args.username!r}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        if act == "disable":
            accounts.save(state.db, replace(account, active=False))
        elif act == "role":
            changed = replace(account, role=args.role or account.role,
                              agency=args.agency or account.agency)
            accounts.check_new(changed.username, changed.role, changed.agency,
                               "x" * accounts.MIN_PASSWORD)
            accounts.save(state.db, changed)
            details = {"role": changed.role, "agency": changed.agency}
        else:
            accounts.set_password(state.db, account, _password(args))
    except ValueError as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    append_event(state.store, actor=settings.actor or "ecopy", action="account",
                 object=f"accounts/{account.username}", details={"act": act, **details})
    print(f"{account.username}: {act} done")
    return EXIT_OK


def cmd_disable(args: argparse.Namespace, settings: Settings) -> int:
    return _change(args, settings, "disable")


def cmd_password(args: argparse.Namespace, settings: Settings) -> int:
    return _change(args, settings, "password")


def cmd_role(args: argparse.Namespace, settings: Settings) -> int:
    return _change(args, settings, "role")
