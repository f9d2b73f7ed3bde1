"""Builds signers, timestamper and trust from settings (the shell wires; signing/ does the work).

Embedded mode uses the dev PKI, generated once under settings.pki_dir (outside any store) and
marked TEST everywhere it appears.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

from ecopy import SOFTWARE
from ecopy.settings import Settings
from pipeline.assemble import AssembledCopy
from pipeline.certify import CertifyContext
from pipeline.types import Certifier
from signing.devpki import DevPki, ensure_dev_pki
from signing.report_text import VerificationReport
from signing.sign import load_identity, sign_ecopy
from signing.tsa import local_timestamper
from signing.verify import render_text, verify_pdf
from storage.register import find_entry
from storage.store import LocalStore, ObjectStore


def dev_pki(settings: Settings) -> DevPki:
    return ensure_dev_pki(settings.pki_dir, agency_name=settings.agency_name,
                          certifier_name=settings.certifier_name,
                          certifier_title=settings.certifier_title)


def build_certify_context(settings: Settings, store: ObjectStore, *,
                          requester_name: str | None = None) -> CertifyContext:
    pki = dev_pki(settings)
    chain = pki.chain()
    certifier = load_identity(pki.certifier_cert(), pki.certifier_key(), chain, is_test=True)
    agency = load_identity(pki.agency_cert(), pki.agency_key(), chain, is_test=True)
    timestamper = local_timestamper(pki.tsa_cert(), pki.tsa_key(), chain)

    def sign(unsigned: Path, signed: Path, assembled: AssembledCopy) -> None:
        sign_ecopy(unsigned, signed, certifier=certifier, agency=agency, timestamper=timestamper,
                   certifier_box=assembled.certifier_box, agency_box=assembled.agency_box,
                   font_path=settings.font_path, location=settings.agency_name)

    return CertifyContext(
        store=store, agency_code=settings.commune_code, agency_name=settings.agency_name,
        certifier=Certifier(settings.certifier_name, settings.certifier_title), sign=sign,
        font_path=settings.font_path, bold_font_path=settings.bold_font_path, software=SOFTWARE,
        verify_base_url=settings.verify_base_url, test_mode=True, requester_name=requester_name)


def load_certificates(path: Path) -> list[asn1_x509.Certificate]:
    data = path.read_bytes()
    if pem.detect(data):
        return [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
    return [asn1_x509.Certificate.load(data)]


def verify_file(data: bytes, settings: Settings, *, extra_roots: Sequence[Path] = (),
                store_dir: Path | None = None, lang: str = "vi",
                ) -> tuple[VerificationReport, str]:
    roots = [c for p in (*settings.trust_roots, *extra_roots) for c in load_certificates(p)]
    test_roots = []
    pki_state = settings.pki_dir / "pki.json"
    if pki_state.exists():  # this machine's dev PKI: trusted, but every report says TEST
        test_roots.append(dev_pki(settings).root_cert())
    lookup = None
    if store_dir is not None:
        store = LocalStore(store_dir)

        def lookup(entry: dict[str, Any]) -> dict[str, Any] | None:
            raw = find_entry(store, str(entry.get("agency_code")), int(entry.get("year", 0)),
                             int(entry.get("number", 0)))
            return json.loads(raw) if raw else None

    report = verify_pdf(data, trust_roots=roots, test_roots=test_roots, register_lookup=lookup)
    return report, render_text(report, lang)
