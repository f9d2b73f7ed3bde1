"""`ecopy extend FILE... [--lta] [--out DIR]`: B-T e-copies → B-LT (DSS), optionally B-LTA.

Revocation data comes from, in this order of preference:
* ``--crl FILE`` (DER or PEM; repeatable), when given;
* otherwise, when this machine holds the dev PKI, CRLs signed on the spot by its CAs (the
  embedded deployment holds the CA keys; no network needed);
* and, unless ``--offline``, whatever the certificates' CRL DP / AIA OCSP URLs serve.
Revocation is REQUIRED while extending: a copy is only written when every certificate of
every signature and timestamp has revocation data, so the result verifies offline.

Exit codes: 0 every file extended, 1 at least one failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "extend",
        parents=[common],
        help="add long-term validation data (PAdES B-LT) and archive timestamps (B-LTA)",
    )
    p.add_argument("files", nargs="+", type=Path, help="signed e-copies (PDF)")
    p.add_argument("--lta", action="store_true", help="also add a document timestamp (B-LTA)")
    p.add_argument("--out", type=Path, help="output directory (default: replace each file)")
    p.add_argument(
        "--crl",
        type=Path,
        action="append",
        default=[],
        help="CRL file (DER/PEM) to embed; repeatable",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="never fetch CRL/OCSP from the URLs in the certificates",
    )
    p.add_argument(
        "--trust",
        type=Path,
        action="append",
        default=[],
        help="extra trusted root certificate (PEM/DER); repeatable",
    )
    p.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    p.set_defaults(handler=cmd_extend)


def cmd_extend(args: argparse.Namespace, settings: Any) -> int:
    from ecopy.keys import dev_pki, timestamper_for
    from signing.ltv import extend_to_level
    from signing.revocation import RevocationAuthority, load_crls
    from signing.trust import load_certificate_files

    try:
        roots = load_certificate_files([*settings.trust_roots, *map(Path, args.trust)])
        crls = load_crls(args.crl)
    except (OSError, ValueError) as exc:
        print(f"ecopy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    pki = dev_pki(settings)
    roots.append(pki.root_cert())
    if not args.crl:
        crls = RevocationAuthority(pki.directory).crls()
    timestamper = timestamper_for(settings)  # ECOPY_TSA_URL, like signing
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for source in args.files:
        target = (args.out / source.name) if args.out is not None else source
        result: dict[str, Any] = {"file": str(source), "out": str(target)}
        try:
            level = extend_to_level(source, target, "B-LTA" if args.lta else "B-LT",
                                    roots=roots, crls=crls, fetching=not args.offline,
                                    timestamper=timestamper)
            result.update(ok=True, level=level)
        except Exception as exc:  # one bad file must not stop the batch
            result.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
        results.append(result)
        if not args.json:
            if result["ok"]:
                print(f"{source} → {target}: {result['level']}")
            else:
                print(f"{source}: {result['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps({"results": results}, ensure_ascii=False, indent=2))
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_FAILED
