"""`ecopy model`: the document-type model, learned again from clerks' corrections.

    ecopy model show [VERSION]        the model in use (or VERSION): figures, threshold, data
    ecopy model list                  bundled and stored versions; * marks the one in use
    ecopy model retrain [--activate]  base corpus + every corrected type -> doctype-N
    ecopy model activate VERSION      use VERSION from the next document on (role admin)

Models live in the store (models/doctype/<version>.npz, never overwritten); the one in use
is named in the database (pointer "doctype_model"); with none, the model bundled with ecopy
is used. Each
document's classification, record and manifest name the model version and digest that
classified it. Retraining and activation are audited.

Exit codes: 0 done, 1 refused (role, nothing to learn), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ecopy.settings import Settings

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
ACTIVATORS = ("admin",)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    mp = subparsers.add_parser("model", help="the document-type model (retrain, activate)")
    actions = mp.add_subparsers(dest="action", required=True)
    for name, handler, text in (("show", cmd_show, "the model in use, or one version"),
                                ("list", cmd_list, "bundled and stored versions"),
                                ("retrain", cmd_retrain, "learn from clerks' corrections"),
                                ("activate", cmd_activate, "use a version (role admin)")):
        sp = actions.add_parser(name, parents=[common], help=text)
        sp.add_argument("--store", type=Path, help="store directory (default: S3 or "
                                                   "$ECOPY_STORE)")
        sp.add_argument("--json", action="store_true")
        sp.set_defaults(handler=handler)
        if name in ("show", "activate"):
            sp.add_argument("version", nargs="?" if name == "show" else None,
                            help="a model version, e.g. doctype-2")
        if name == "retrain":
            sp.add_argument("--activate", action="store_true",
                            help="also use the new model from now on (role admin)")


def _summary(model: Any, active: str) -> dict[str, Any]:
    meta = model.meta
    return {"version": model.version, "sha256": model.sha256, "active": model.version == active,
            "threshold": round(model.threshold, 4), "temperature": round(model.temperature, 4),
            "trained_on": {k: v for k, v in meta.get("trained_on", {}).items() if k != "digest"},
            "corrections": meta.get("corrections", 0), "out_of_fold": meta.get("out_of_fold")}


def _print(summary: dict[str, Any]) -> None:
    oof = summary["out_of_fold"] or {}
    mark = " (đang dùng / in use)" if summary["active"] else ""
    print(f"{summary['version']}{mark}  sha256 {summary['sha256'][:16]}")
    print(f"  trained on {summary['trained_on'].get('documents')} documents "
          f"({summary['corrections']} clerk corrections)")
    print(f"  out-of-fold accuracy {oof.get('accuracy')}, answered {oof.get('answered_accuracy')}"
          f" at abstention {oof.get('abstention')}; abstains below {summary['threshold']}")
    if oof.get("corrections_accuracy") is not None:
        print(f"  corrected documents right out-of-fold: {oof['corrections_accuracy']}")


def _active_version(state: Any) -> str:
    from pipeline.doctypes.model import active_pointer, bundled_model

    return (active_pointer(state.db) or {}).get("version", bundled_model().version)


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_state
    from pipeline.doctypes.model import load_version

    state = open_state(args, settings)
    store = state.store
    active = _active_version(state)
    try:
        model = load_version(store, args.version or active)
    except KeyError:
        print(f"ecopy: no model {args.version!r} in {store.describe()}", file=sys.stderr)
        return EXIT_USAGE
    summary = _summary(model, active)
    if args.json:
        print(json.dumps({**summary, "meta": model.meta}, ensure_ascii=False, indent=2))
    else:
        _print(summary)
    return EXIT_OK


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_state
    from pipeline.doctypes.model import bundled_model, load_version, stored_versions

    state = open_state(args, settings)
    store = state.store
    active = _active_version(state)
    versions = [bundled_model().version, *(v for v in stored_versions(store)
                                           if v != bundled_model().version)]
    rows = [_summary(load_version(store, v), active) for v in versions]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    for row in [] if args.json else rows:
        oof = row["out_of_fold"] or {}
        print(f"{'*' if row['active'] else ' '} {row['version']:12} {row['sha256'][:12]}  "
              f"corrections {row['corrections']:4}  accuracy {oof.get('accuracy')}  "
              f"threshold {row['threshold']}")
    return EXIT_OK


def _may_activate(settings: Settings) -> bool:
    if settings.role in ACTIVATORS:
        return True
    print(f"ecopy: Vai trò {settings.role or '(không có)'!r} không được đổi mô hình phân loại; "
          f"chỉ admin. / Role {settings.role or '(none)'!r} may not activate a model "
          "(ECOPY_ROLE admin).", file=sys.stderr)
    return False


def _audit(store: Any, settings: Settings, act: str, model: Any, details: dict) -> None:
    from pipeline.doctypes.model import model_key
    from storage.evidence.audit import append_event

    append_event(store, actor=settings.actor or "ecopy", action="model",
                 object=model_key(model.version), object_sha256=model.sha256,
                 details={"act": act, "version": model.version, **details})


def cmd_retrain(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_state
    from pipeline.doctypes.model import NothingToLearn, activate, retrain

    if args.activate and not _may_activate(settings):
        return EXIT_REFUSED
    state = open_state(args, settings)
    store = state.store
    try:
        model, corrections = retrain(store, state.db)
    except NothingToLearn:
        print("ecopy: Chưa có sửa loại giấy tờ nào để học; mô hình giữ nguyên. / No clerk "
              "has corrected a document type yet; nothing to learn from.", file=sys.stderr)
        return EXIT_REFUSED
    _audit(store, settings, "retrain", model, {"corrections": len(corrections),
                                               "out_of_fold": model.meta["out_of_fold"]})
    if args.activate:
        activate(store, state.db, model.version, settings.actor or "ecopy")
        _audit(store, settings, "activate", model, {})
    summary = _summary(model, _active_version(state))
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print(summary)
        if not args.activate:
            print(f"  not in use yet: ecopy model activate {model.version}")
    return EXIT_OK


def cmd_activate(args: argparse.Namespace, settings: Settings) -> int:
    from ecopy.wiring import open_state
    from pipeline.doctypes.model import activate, load_version

    if not _may_activate(settings):
        return EXIT_REFUSED
    state = open_state(args, settings)
    store = state.store
    try:
        model = load_version(store, args.version)
    except KeyError:
        print(f"ecopy: no model {args.version!r} in {store.describe()}", file=sys.stderr)
        return EXIT_USAGE
    pointer = activate(store, state.db, model.version, settings.actor or "ecopy")
    _audit(store, settings, "activate", model, {"previous": pointer["previous"]})
    print(json.dumps(pointer, ensure_ascii=False, indent=2) if args.json
          else f"{model.version} in use from the next document (was {pointer['previous']})")
    return EXIT_OK
