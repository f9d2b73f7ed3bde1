"""`ecopy storage init`: prepare the S3 bucket as the system of record.

Creates the bucket (ECOPY_S3_BUCKET) with versioning and S3 object lock, and sets a default
retention (WORM) so that no object version — originals, e-copies, register entries, audit
events, records — can be deleted or overwritten in place before it expires. Overwritable
objects (document records, the register and audit head hints) keep every version: history
grows, nothing is lost. Object lock can only be switched on when a bucket is created; an
existing bucket without it is reported, not silently accepted.

Exit codes: 0 ready, 1 the server cannot provide what was asked, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from ecopy.settings import Settings

EXIT_OK, EXIT_UNSUPPORTED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    st = subparsers.add_parser("storage", help="object storage administration")
    actions = st.add_subparsers(dest="action", required=True)
    init = actions.add_parser("init", parents=[common],
                              help="create the bucket with versioning and object lock (WORM)")
    init.add_argument("--retention-days", type=int, default=3650,
                      help="default retention of every object version (default 10 years)")
    init.add_argument("--mode", choices=("GOVERNANCE", "COMPLIANCE"), default="COMPLIANCE",
                      help="COMPLIANCE: nobody can shorten it; GOVERNANCE: privileged users can")
    init.add_argument("--no-lock", action="store_true",
                      help="versioning only (servers or buckets without object lock)")
    init.add_argument("--json", action="store_true")
    init.set_defaults(handler=cmd_init)


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import s3_store
    from storage.backends.s3 import StoreFeatureUnsupported, StoreUnavailable

    if not settings.s3_endpoint:
        print("ecopy: storage init needs ECOPY_S3_ENDPOINT (a local directory needs no init)",
              file=sys.stderr)
        return EXIT_USAGE
    store = s3_store(settings)
    result = {"store": store.describe(), "versioning": False, "object_lock": False}
    try:
        store.ensure_bucket(versioning=True, object_lock=not args.no_lock)
        result["versioning"] = store.versioning_enabled()
        if not args.no_lock:
            store.set_retention_default(args.mode, args.retention_days)
            result.update(object_lock=True, retention={"mode": args.mode,
                                                       "days": args.retention_days})
    except (StoreFeatureUnsupported, StoreUnavailable) as exc:
        result["error"] = str(exc)
        print(json.dumps(result, ensure_ascii=False, indent=2) if args.json
              else f"ecopy: {exc}", file=sys.stdout if args.json else sys.stderr)
        return EXIT_UNSUPPORTED
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        lock = (f"object lock {args.mode} {args.retention_days} days" if result["object_lock"]
                else "no object lock")
        print(f"{result['store']}: versioning on, {lock}")
    return EXIT_OK
