"""`ecopy storage init`: prepare the S3 bucket as the system of record;
`ecopy storage keys`: which key-encryption key sealed how many objects (docs/encryption.md);
`ecopy storage users`: one S3 identity per service, from the matrix in ecopy/s3policy.py:
the matrix, the MinIO policies and the `mc` script that sets the users up, or a SeaweedFS
identities file (docs/security.md, "One S3 identity per service").

Creates the bucket (ECOPY_S3_BUCKET) with versioning and S3 object lock, and locks the
evidence only (docs/retention.md): no version of an e-copy, register entry, refusal,
cancellation or audit event — nor of an original once a copy is issued or a refusal recorded
from it — can be deleted or overwritten in place before its retention expires. The bucket has
no default retention: uploads that were refused (``originals/``, ``documents/``) stay
deletable, so `ecopy retention run` can remove them on their date. The retention is recorded
in the bucket (storage/object-lock.json), and every process writes evidence under it; run
init before starting them. Run again on a bucket an older init gave a default retention:
that is removed (objects written under it keep theirs). Overwritable objects (the register
and audit head hints) keep every version. Object lock can only be switched on when a bucket
is created; an existing bucket without it is reported, not silently accepted.

Exit codes: 0 ready, 1 the server cannot provide what was asked, 2 bad input; for `keys`,
1 when some object is sealed with a KEK this deployment does not hold, or its header is damaged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from ecopy.settings import Settings

EXIT_OK, EXIT_UNSUPPORTED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    st = subparsers.add_parser("storage", help="object storage administration")
    actions = st.add_subparsers(dest="action", required=True)
    init = actions.add_parser("init", parents=[common],
                              help="create the bucket with versioning and object lock "
                                   "(WORM) for the evidence")
    init.add_argument("--retention-days", type=int, default=3650,
                      help="retention of every evidence object version (default 10 years)")
    init.add_argument("--mode", choices=("GOVERNANCE", "COMPLIANCE"), default="COMPLIANCE",
                      help="COMPLIANCE: nobody can shorten it; GOVERNANCE: privileged users can")
    init.add_argument("--no-lock", action="store_true",
                      help="versioning only (servers or buckets without object lock)")
    init.add_argument("--json", action="store_true")
    init.set_defaults(handler=cmd_init)
    keys = actions.add_parser("keys", parents=[common],
                              help="how many objects each key-encryption key sealed")
    keys.add_argument("--store", type=Path, help="store directory (default: S3 or $ECOPY_STORE)")
    keys.add_argument("--prefix", action="append", default=[],
                      help="count only keys under this prefix; repeatable (default: every "
                           "sealed prefix)")
    keys.add_argument("--json", action="store_true")
    keys.set_defaults(handler=cmd_keys)
    users = actions.add_parser("users", parents=[common],
                               help="one S3 identity per service: the matrix, its MinIO "
                                    "policies, a SeaweedFS identities file")
    users.add_argument("--print-minio-policies", metavar="DIR", type=Path,
                       help="write one IAM policy per service (ecopy-<service>.json) and "
                            "setup-minio-users.sh (mc commands, keys read from secret files)")
    users.add_argument("--seaweedfs-config", metavar="FILE", type=Path,
                       help="write a `weed -s3.config` identities file (mode 0600) with the "
                            "keys in --secrets-dir")
    users.add_argument("--secrets-dir", type=Path, default=Path("secrets"),
                       help="s3_<service>_access_key and _secret_key files, and the root's "
                            "s3_access_key, s3_secret_key (default ./secrets)")
    users.add_argument("--bucket", help="the bucket the policies name (default "
                                        "ECOPY_S3_BUCKET)")
    users.add_argument("--json", action="store_true", help="the matrix as JSON")
    users.set_defaults(handler=cmd_users)


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import s3_store
    from storage.backends.keyspace import DELETABLE_PREFIXES
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
            store.lock_evidence(args.mode, args.retention_days)
            result.update(object_lock=True, retention={"mode": args.mode,
                                                       "days": args.retention_days},
                          locked="evidence", deletable=list(DELETABLE_PREFIXES))
    except (StoreFeatureUnsupported, StoreUnavailable) as exc:
        result["error"] = str(exc)
        print(json.dumps(result, ensure_ascii=False, indent=2) if args.json
              else f"ecopy: {exc}", file=sys.stdout if args.json else sys.stderr)
        return EXIT_UNSUPPORTED
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        lock = (f"object lock {args.mode} {args.retention_days} days on evidence; uploads "
                f"({', '.join(DELETABLE_PREFIXES)}) deletable on their retention date"
                if result["object_lock"] else "no object lock")
        print(f"{result['store']}: versioning on, {lock}")
    return EXIT_OK


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Reads each object's envelope header only (a ranged GET on S3), never its contents."""
    from ecopy.wiring import open_store
    from storage.backends.envelope import SealError
    from storage.backends.sealed import SEALED_PREFIXES

    store = open_store(args, settings)
    counts: Counter[str] = Counter()
    plain = damaged = 0
    for prefix in args.prefix or SEALED_PREFIXES:
        for key in store.list(prefix):
            try:
                kek_id = store.kek_id_of(key)
            except SealError:
                damaged += 1
                continue
            except KeyError:  # removed since the listing
                continue
            if kek_id is None:
                plain += 1
            else:
                counts[kek_id] += 1
    keyring = store.keyring
    current = keyring.current.kek_id if keyring.current is not None else ""
    held = set(keyring.ids())
    unknown = sorted(set(counts) - held)
    result = {
        "store": store.describe(), "current": current, "held": sorted(held),
        "sealed": dict(sorted(counts.items())), "plain": plain, "damaged": damaged,
        "unknown": unknown,
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(f"{result['store']}: {sum(counts.values())} sealed, {plain} plain (made before "
              f"sealing), {damaged} with a damaged header")
        for kek_id in sorted(held | set(counts)):
            role = ("current" if kek_id == current else "previous" if kek_id in held
                    else "NOT HELD: these objects cannot be read")
            print(f"  {kek_id}  {counts.get(kek_id, 0):>9}  {role}")
    return EXIT_UNSUPPORTED if unknown or damaged else EXIT_OK


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from ecopy import s3policy

    bucket = args.bucket or settings.s3_bucket
    if args.print_minio_policies is not None:
        out = args.print_minio_policies
        out.mkdir(parents=True, exist_ok=True)
        for name, text in s3policy.minio_files(bucket).items():
            (out / name).write_text(text, encoding="utf-8")
        (out / s3policy.SETUP_SCRIPT).chmod(0o755)
        print(f"{out}: {len(s3policy.SERVICES)} policies for the bucket {bucket} and "
              f"{s3policy.SETUP_SCRIPT}")
    if args.seaweedfs_config is not None:
        def key(name: str) -> str:
            return (args.secrets_dir / name).read_text(encoding="utf-8").strip()

        try:
            credentials = {s.name: (key(s.access_key_secret), key(s.secret_key_secret))
                           for s in s3policy.SERVICES}
            root = ((key("s3_access_key"), key("s3_secret_key"))
                    if (args.secrets_dir / "s3_access_key").is_file() else None)
        except OSError as exc:
            print(f"ecopy: {exc}", file=sys.stderr)
            return EXIT_USAGE
        config = s3policy.seaweedfs_config(bucket, credentials, admin=root)
        fd = os.open(args.seaweedfs_config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(config, fh, indent=1)
        print(f"{args.seaweedfs_config}: {len(credentials)} identities for the bucket {bucket}")
    if args.print_minio_policies is None and args.seaweedfs_config is None:
        if args.json:
            print(json.dumps(s3policy.matrix(), ensure_ascii=False, indent=2))
        else:
            print(s3policy.markdown_table(), end="")
    return EXIT_OK
