"""Builds signers, timestamper and trust from settings (the shell wires; signing/ does the work).

Embedded mode uses the dev PKI, generated once under settings.pki_dir (outside any store) and
marked TEST everywhere it appears.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ecopy import SOFTWARE
from ecopy.settings import (
    Settings,
    SettingsProblem,
    require_public_verify_url,
    signing_certifier,
)
from pipeline.steps.assemble import AssembledCopy
from pipeline.steps.certify import CertifyContext
from pipeline.types import Certifier
from signing.devpki import DevPki, ensure_dev_pki
from signing.report_text import VerificationReport
from signing.revocation import load_crls
from signing.sign import sign_ecopy
from signing.tsa import local_timestamper
from signing.verify import render_text, verify_pdf
from storage.backends import ObjectStore
from storage.evidence.audit import append_event
from storage.evidence.cancellations import find_cancellation, public_item
from storage.evidence.register import find_entry
from storage.state import State


def timestamper_for(settings: Settings) -> Any:
    """The configured RFC 3161 TSA (``tsa_url``), else the dev PKI's local TEST TSA."""
    from signing.keys import http_timestamper

    if settings.tsa_url:
        return http_timestamper(settings.tsa_url)
    pki = dev_pki(settings)
    return local_timestamper(pki.tsa_cert(), pki.tsa_key(), pki.chain())


def dev_pki(settings: Settings) -> DevPki:
    return ensure_dev_pki(settings.pki_dir, agency_name=settings.agency_name,
                          certifier_name=settings.certifier_name,
                          certifier_title=settings.certifier_title)


def build_certify_context(settings: Settings, state: State, *,
                          requester_name: str | None = None) -> CertifyContext:
    # Key sources (dev PKI, PKCS#12, PKCS#11) are built from settings here, once per process.
    from signing.keys import key_source_for
    from signing.sign import agency_stamp_lines
    from signing.trust import load_certificate_files

    intermediates = load_certificate_files(settings.intermediates)
    certifier, agency = (
        key_source_for(settings, role, dev_pki=lambda: dev_pki(settings),
                       intermediates=intermediates).load(environ=os.environ)
        for role in ("certifier", "agency"))
    who = signing_certifier(settings)
    _check_binding(who, certifier)
    timestamper = timestamper_for(settings)
    test_mode = settings.key_source == "dev" or certifier.is_test or agency.is_test
    if not test_mode:  # a legally valid copy's QR must lead the public to its verification
        require_public_verify_url(settings)

    extend = _level_extender(settings, timestamper)

    def sign(unsigned: Path, signed: Path, assembled: AssembledCopy) -> None:
        sign_ecopy(unsigned, signed, certifier=certifier, agency=agency, timestamper=timestamper,
                   certifier_box=assembled.certifier_box, agency_box=assembled.agency_box,
                   font_path=settings.font_path, location=settings.agency_name,
                   durable=False)  # certify copies it into the store, which syncs
        if extend is not None:
            extend(signed)

    return CertifyContext(
        state=state, agency_code=settings.commune_code, agency_name=settings.agency_name,
        certifier=Certifier(who.name, who.position, who.form(settings.agency_name)), sign=sign,
        font_path=settings.font_path, bold_font_path=settings.bold_font_path, software=SOFTWARE,
        verify_base_url=settings.verify_base_url, test_mode=test_mode,
        requester_name=requester_name, actor=settings.actor or "ecopy",
        book=settings.register_book or None,
        agency_stamp=tuple(agency_stamp_lines(agency.display_name)))


def _check_binding(who: Any, identity: Any) -> None:
    """The signing certificate must be the certifier's own: its subject names them and, when
    the configuration pins it, its SHA-256 is the pinned one (Decree 23/2025 Art 16: the key
    matches its holder)."""
    from pipeline.casework.certifiers import same_person

    cert = identity.signer.signing_cert
    if not same_person(identity.display_name, who.name):
        raise SettingsProblem(
            f"Chứng thư ký của người chứng thực mang tên {identity.display_name!r}, không phải "
            f"{who.name!r}. / The certifier's signing certificate is issued to "
            f"{identity.display_name!r}, not to {who.name!r}.")
    if who.certificate_sha256 and (cert is None or hashlib.sha256(cert.dump()).hexdigest()
                                   != who.certificate_sha256.lower()):
        raise SettingsProblem(
            f"Chứng thư ký không phải chứng thư đã đăng ký cho {who.name!r}. / The signing "
            f"certificate is not the one registered for {who.name!r} (certificate_sha256).")


def _level_extender(settings: Settings, timestamper: Any) -> Callable[[Path], None] | None:
    """Extend each copy right after it is signed: B-LT by default (ECOPY_PADES_LEVEL), so the
    copy carries the revocation status its verification requires, offline and for good.

    With the dev PKI the revocation evidence is a CRL its CAs sign on the spot; with real keys
    it is fetched from the URLs in the certificates (a CA that cannot be reached fails the
    signing, and the paper stays ready to certify again).
    """
    if settings.pades_level == "B-T":
        return None
    from signing.ltv import extend_to_level
    from signing.revocation import RevocationAuthority
    from signing.trust import trust_anchors

    roots = trust_anchors(list(settings.trust_roots), include_gov_root=settings.include_gov_root)
    crls: list = []
    if settings.key_source == "dev":
        pki = dev_pki(settings)
        roots.append(pki.root_cert())
        crls = RevocationAuthority(pki.directory).crls()

    def extend(path: Path) -> None:
        extend_to_level(path, path, settings.pades_level, roots=roots, crls=crls,
                        fetching=settings.key_source != "dev", timestamper=timestamper)

    return extend


Lookup = Callable[[Any], "dict[str, Any] | None"]


def store_lookups(store: ObjectStore) -> tuple[Lookup, Lookup]:
    """The register and cancellation checks of a verification, answered from the store."""

    def lookup(entry: dict[str, Any]) -> dict[str, Any] | None:
        raw = find_entry(store, str(entry.get("agency_code")), int(entry.get("year", 0)),
                         int(entry.get("number", 0)))
        return json.loads(raw) if raw else None

    def cancelled(copy_id: str) -> dict[str, Any] | None:
        # what the published list shows, never the person or the officer who recorded it
        found = find_cancellation(store, copy_id)
        return public_item(found) if found else None

    return lookup, cancelled


def check_pdf(data: bytes, settings: Settings, *, lookups: tuple[Lookup, Lookup] | None,
              extra_roots: Sequence[Path] = (), revocation: str = "require",
              crl_files: Sequence[Path] = (), fetching: bool = False) -> VerificationReport:
    """The verification itself, without recording it: what the web app runs in a child
    process (ecopy.web.isolation) for a file an anonymous visitor uploaded."""
    from signing.trust import load_certificate_files, trust_anchors

    # configured roots, --trust, and the shipped Government Cipher Committee root
    roots = trust_anchors([*settings.trust_roots, *extra_roots],
                          include_gov_root=settings.include_gov_root)
    # This machine's dev PKI root: trusted, but every report says TEST. Read, never created or
    # re-issued: verifying must not change keys.
    dev_root = settings.pki_dir / "root.cert.pem"
    test_roots = load_certificate_files([dev_root]) if dev_root.is_file() else []
    lookup, cancelled = lookups or (None, None)
    return verify_pdf(data, trust_roots=roots, test_roots=test_roots, register_lookup=lookup,
                      cancellation_lookup=cancelled, revocation=revocation,
                      crls=load_crls(list(crl_files)), fetching=fetching)


def record_verification(store: ObjectStore, settings: Settings,
                        report: VerificationReport) -> None:
    """A check against the register is an act worth recording (no person data)."""
    append_event(store, actor=settings.actor or "ecopy", action="verify",
                 object=str((report.register_entry or {}).get("copy_id", "")),
                 object_sha256=report.document_sha256,
                 details={"indication": report.indication,
                          "sub_indication": report.sub_indication})


def verify_file(data: bytes, settings: Settings, *, extra_roots: Sequence[Path] = (),
                store: ObjectStore | None = None, lang: str = "vi", revocation: str = "require",
                crl_files: Sequence[Path] = (), fetching: bool = False,
                ) -> tuple[VerificationReport, str]:
    report = check_pdf(data, settings, lookups=store_lookups(store) if store else None,
                       extra_roots=extra_roots, revocation=revocation, crl_files=crl_files,
                       fetching=fetching)
    if store is not None:
        record_verification(store, settings, report)
    return report, render_text(report, lang)
