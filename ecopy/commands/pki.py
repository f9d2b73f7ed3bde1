"""`ecopy pki show` / `ecopy pki check`: the signing keys, certificates and trust in use.

Never prints a secret: key sources describe themselves by file paths, env var NAMES, token
and key labels. `check` exits 1 when a certificate is expired or expires within 90 days, a
key is weak (or cannot be loaded), or a signer's chain does not reach a trusted root.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from ecopy.settings import Settings

EXPIRY_DAYS = 90

_T = {
    "title": ("Cấu hình khóa ký và tin cậy", "Signing keys and trust"),
    "source": ("Nguồn khóa", "Key source"),
    "certifier": ("Người thực hiện chứng thực", "Certifier"),
    "agency": ("Cơ quan chứng thực", "Certifying agency"),
    "config": ("Cấu hình", "Configuration"),
    "cert": ("Chứng thư", "Certificate"),
    "roots": ("Chứng thư gốc tin cậy", "Trust roots"),
    "intermediates": ("Chứng thư trung gian", "Intermediates"),
    "tsa": ("Máy chủ dấu thời gian (TSA)", "Timestamp authority (TSA)"),
    "local_tsa": ("TSA nội bộ THỬ NGHIỆM (dev PKI)", "local TEST TSA (dev PKI)"),
    "none": ("(không có)", "(none)"),
    "shipped": ("đi kèm phần mềm", "shipped"),
    "configured": ("đã cấu hình", "configured"),
    "test_root": ("gốc THỬ NGHIỆM của dev PKI", "dev PKI TEST root"),
    "gov_off": ("không dùng (include_gov_root = false)", "not used (include_gov_root = false)"),
    "subject": ("Chủ thể", "Subject"),
    "issuer": ("Cấp bởi", "Issuer"),
    "serial": ("Số hiệu", "Serial"),
    "valid": ("Hiệu lực", "Valid"),
    "key": ("Khóa", "Key"),
    "sha256": ("SHA-256", "SHA-256"),
    "load_error": ("Không nạp được khóa", "Cannot load key"),
    "expired": ("đã hết hạn", "expired"),
    "not_yet_valid": ("chưa có hiệu lực", "not yet valid"),
    "expiring": ("sắp hết hạn", "expires soon"),
    "days": ("ngày", "days"),
    "no_chain": ("Chuỗi chứng thư không dẫn tới chứng thư gốc tin cậy nào",
                 "The certificate chain does not lead to a trusted root"),
    "ok": ("Không phát hiện vấn đề.", "No problems found."),
    "problems": ("Vấn đề", "Problems"),
    "warnings": ("Lưu ý", "Warnings"),
}


def _t(key: str, lang: str) -> str:
    vi, en = _T[key]
    return en if lang == "en" else vi


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    pki = subparsers.add_parser("pki", help="signing keys, certificates and trust roots")
    actions = pki.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", parents=[common],
                              help="key source, signer certificates, roots, TSA (no secrets)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_pki_show)
    check = actions.add_parser("check", parents=[common],
                               help="exit 1 on expired/expiring certificates, weak keys or a "
                                    "chain that does not reach a trusted root")
    check.add_argument("--json", action="store_true")
    check.add_argument("--within-days", type=int, default=EXPIRY_DAYS)
    check.set_defaults(handler=cmd_pki_check)


def inspect(settings: Settings, *, within_days: int = EXPIRY_DAYS,
            now: datetime | None = None) -> dict[str, Any]:
    """Everything `show` and `check` print, as plain data (no secrets)."""
    from ecopy.keys import dev_pki
    from signing.keys import KeySourceError, identity_warnings, key_source_for
    from signing.trust import (
        chain_to_root,
        describe_certificate,
        expiry_warnings,
        gov_root,
        load_certificate_files,
    )

    moment = now or datetime.now(UTC)
    problems: list[dict[str, Any]] = []
    warnings: list[dict[str, str]] = []
    intermediates = load_certificate_files(settings.intermediates)
    configured_roots = load_certificate_files(settings.trust_roots)
    roots: list[dict[str, Any]] = [
        {**describe_certificate(c), "origin": "configured"} for c in configured_roots
    ]
    anchors = list(configured_roots)
    if settings.include_gov_root:
        anchors.append(gov_root())
        roots.append({**describe_certificate(gov_root()), "origin": "shipped",
                      "label": "Government Cipher Committee root"})
    pki = None
    if settings.key_source == "dev" or not settings.tsa_url:
        pki = dev_pki(settings)
        anchors.append(pki.root_cert())
        roots.append({**describe_certificate(pki.root_cert()), "origin": "test_root"})
    checked = [*configured_roots, *intermediates]
    if settings.include_gov_root:
        checked.append(gov_root())
    signers = []
    for role in ("certifier", "agency"):
        entry: dict[str, Any] = {"role": role}
        try:
            source = key_source_for(settings, role, dev_pki=lambda: dev_pki(settings),
                                    intermediates=intermediates)
            entry["source"] = source.describe()
            identity = source.load()
        except KeySourceError as exc:  # includes WeakKey; messages never hold secrets
            entry["error"] = {"code": exc.code, "vi": exc.message_vi, "en": exc.message_en}
            problems.append({"code": exc.code, "role": role, "vi": exc.message_vi,
                             "en": exc.message_en})
            signers.append(entry)
            continue
        cert = identity.signer.signing_cert
        entry["certificate"] = describe_certificate(cert)
        entry["warnings"] = identity_warnings(identity)
        warnings.extend({**w, "role": role} for w in entry["warnings"])
        checked.append(cert)
        pool = [*intermediates, *identity.signer.cert_registry]
        if chain_to_root(cert, pool, anchors) is None:
            problems.append({"code": "no_chain", "role": role,
                             "vi": f"{_t('no_chain', 'vi')}: {cert.subject.human_friendly}",
                             "en": f"{_t('no_chain', 'en')}: {cert.subject.human_friendly}"})
        signers.append(entry)
    if settings.tsa_url:
        tsa: dict[str, Any] = {"url": settings.tsa_url}
    else:
        assert pki is not None
        tsa = {"local_test": True, "certificate": describe_certificate(pki.tsa_cert())}
        checked.append(pki.tsa_cert())
    seen: set[str] = set()
    for w in expiry_warnings(checked, moment, within_days):
        if w["serial"] + w["subject"] in seen:
            continue
        seen.add(w["serial"] + w["subject"])
        vi = f"{w['subject']} (số hiệu {w['serial']}): {_t(w['status'], 'vi')}, " \
             f"{w['not_after']} ({w['days_left']} {_t('days', 'vi')})"
        en = f"{w['subject']} (serial {w['serial']}): {_t(w['status'], 'en')}, " \
             f"{w['not_after']} ({w['days_left']} {_t('days', 'en')})"
        problems.append({"code": f"cert_{w['status']}", **w, "vi": vi, "en": en})
    return {
        "key_source": settings.key_source,
        "signers": signers,
        "trust_roots": roots,
        "intermediates": [describe_certificate(c) for c in intermediates],
        "tsa": tsa,
        "problems": problems,
        "warnings": warnings,
    }


def _cert_lines(d: dict[str, Any], lang: str, indent: str = "    ") -> list[str]:
    key = f"{d['key_type']} {d['key_size']}" + (f" ({d['curve']})" if d.get("curve") else "")
    return [
        f"{indent}{_t('subject', lang)}: {d['subject']}",
        f"{indent}{_t('issuer', lang)}: {d['issuer']}",
        f"{indent}{_t('serial', lang)}: {d['serial']}",
        f"{indent}{_t('valid', lang)}: {d['not_before']} → {d['not_after']}",
        f"{indent}{_t('key', lang)}: {key}",
        f"{indent}{_t('sha256', lang)}: {d['sha256']}",
    ]


def render(info: dict[str, Any], lang: str, *, with_details: bool = True) -> str:
    out = [f"== {_t('title', lang)} ==", f"{_t('source', lang)}: {info['key_source']}"]
    if with_details:
        for s in info["signers"]:
            out.append(f"{_t(s['role'], lang)}:")
            if "source" in s:
                conf = ", ".join(f"{k}={v}" for k, v in s["source"].items() if k != "role")
                out.append(f"  {_t('config', lang)}: {conf}")
            if "certificate" in s:
                out.append(f"  {_t('cert', lang)}:")
                out.extend(_cert_lines(s["certificate"], lang))
            if "error" in s:
                err = s["error"]["en" if lang == "en" else "vi"]
                out.append(f"  {_t('load_error', lang)}: {err}")
        out.append(f"{_t('roots', lang)}:")
        for r in info["trust_roots"]:
            label = r.get("label", "")
            out.append(f"  - [{_t(r['origin'], lang)}] {label}".rstrip())
            out.extend(_cert_lines(r, lang))
        if not any(r["origin"] == "shipped" for r in info["trust_roots"]):
            out.append(f"  - Government Cipher Committee root: {_t('gov_off', lang)}")
        out.append(f"{_t('intermediates', lang)}:")
        for c in info["intermediates"]:
            out.extend(_cert_lines(c, lang, "  "))
        if not info["intermediates"]:
            out.append(f"  {_t('none', lang)}")
        tsa = info["tsa"]
        out.append(f"{_t('tsa', lang)}: {tsa.get('url') or _t('local_tsa', lang)}")
        if "certificate" in tsa:
            out.extend(_cert_lines(tsa["certificate"], lang))
    msg = "en" if lang == "en" else "vi"
    if info["warnings"]:
        out.append(f"{_t('warnings', lang)}:")
        out.extend(f"  ! {w[msg]}" + (f" [{w['role']}]" if w.get("role") else "")
                   for w in info["warnings"])
    if info["problems"]:
        out.append(f"{_t('problems', lang)}:")
        out.extend(f"  ✗ {p[msg]}" for p in info["problems"])
    else:
        out.append(_t("ok", lang))
    return "\n".join(out)


def cmd_pki_show(args: argparse.Namespace, settings: Settings) -> int:
    info = inspect(settings)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
    else:
        print(render(info, settings.lang))
    return 0


def cmd_pki_check(args: argparse.Namespace, settings: Settings) -> int:
    info = inspect(settings, within_days=args.within_days)
    if args.json:
        print(json.dumps({k: info[k] for k in ("key_source", "problems", "warnings")},
                         ensure_ascii=False, indent=2))
    else:
        print(render(info, settings.lang, with_details=False))
    return 1 if info["problems"] else 0
