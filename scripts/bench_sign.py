"""Benchmark: certified e-copies per second per core, signing path only (no OCR).

Per e-copy: register number allocation (create-if-absent in a LocalStore), both PAdES
signatures with RFC 3161 timestamps (local TSA of the dev PKI), and filing the signed PDF and
its metadata in the person's warehouse. The unsigned copies (1 page and 50 pages of
samples/birth_cert.jpg, PDF/A-3 with statement page and manifest) are built once, up front.

Side by side, in the same run and single-threaded (= one core): ecopy's path (key sources
from signing.keys, identities built once, cached key, placeholder sized without a trial
signature) and a naive integration of pyHanko's stock signer (``SimpleSigner.load`` from the
PEM files and a new ``PdfSigner`` for each of the two signatures, default placeholder sizing
and stamp), doing the same register allocation and filing. Both use the same timestamper, and both
profit from the process-wide speed-ups of ``signing`` (frozen TSA tokens, the hex-string
reader); the ratio shows what the signer-side work adds (docs/decisions.md).

    .venv/bin/python scripts/bench_sign.py [--seconds 8] [--pages 1 50]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.steps.assemble import AssembledCopy, build_ecopy  # noqa: E402
from pipeline.types import Certification, Certifier, OcrPage, PageScan  # noqa: E402
from signing.devpki import DevPki, ensure_dev_pki  # noqa: E402
from signing.keys import DevKeySource  # noqa: E402
from signing.sign import VN_TZ, agency_stamp_lines, sign_ecopy  # noqa: E402
from signing.tsa import local_timestamper  # noqa: E402
from storage.backends import LocalStore  # noqa: E402
from storage.evidence.register import RegisterEntry, allocate_register_number  # noqa: E402
from storage.evidence.warehouse import file_copy  # noqa: E402

SAMPLE = ROOT / "samples" / "birth_cert.jpg"
FONT = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")
AGENCY = "Ủy ban nhân dân xã Thử Nghiệm"
PERSON = "001301012345"


def build_unsigned(pages: int, out: Path) -> AssembledCopy:
    with Image.open(SAMPLE) as img:
        w, h = img.size
    scans = [(PageScan(i, str(SAMPLE), "jpeg", w, h, 300.0), OcrPage(i, w, h, 0, (), 0.0, "b"))
             for i in range(pages)]
    entry = RegisterEntry("99999", AGENCY, 2026, "01/2026", 1, "2026-11-23", "Nguyễn Văn An",
                          "Giấy khai sinh", "Nguyễn Văn Thử, Phó Chủ tịch", 1, 2000, True, "",
                          "bench", "")
    cert = Certification(entry, Certifier("Nguyễn Văn Thử", "Phó Chủ tịch"),
                         "http://127.0.0.1:8080/verify/bench", True)
    return build_ecopy(scans, cert, {"doc_type": "giay_khai_sinh"}, out, font_path=FONT,
                       agency_stamp=agency_stamp_lines(AGENCY))


def certify_one(store: LocalStore, copy: AssembledCopy, workdir: Path,
                sign: Callable[[Path, Path], None]) -> None:
    """Register allocation → two signatures → filing, as pipeline.steps.certify does it."""
    copy_id = uuid.uuid4().hex
    now = datetime.now(VN_TZ)

    def make_entry(number: int, prev_hash: str) -> RegisterEntry:
        return RegisterEntry("99999", AGENCY, now.year, f"01/{now.year}", number,
                             now.date().isoformat(), "Nguyễn Văn An", "Giấy khai sinh",
                             "Nguyễn Văn Thử, Phó Chủ tịch", 1, 2000, True, "", copy_id,
                             prev_hash)

    entry = allocate_register_number(store, agency_code="99999", year=now.year,
                                     make_entry=make_entry)
    signed = workdir / f"{copy_id}.pdf"
    sign(copy.path, signed)
    sha = hashlib.sha256(signed.read_bytes()).hexdigest()
    file_copy(store, person_id=PERSON, doc_type="giay_khai_sinh", copy_id=copy_id,
              pdf_path=signed, metadata={"copy_id": copy_id, "number": entry.number,
                                         "pdf_sha256": sha})
    signed.unlink()


def ecopy_signer(pki: DevPki, copy: AssembledCopy, timestamper) -> Callable[[Path, Path], None]:
    certifier = DevKeySource(pki, "certifier").load()  # once per process
    agency = DevKeySource(pki, "agency").load()

    def sign(src: Path, dst: Path) -> None:
        sign_ecopy(src, dst, certifier=certifier, agency=agency, timestamper=timestamper,
                   certifier_box=copy.certifier_box, agency_box=copy.agency_box, font_path=FONT,
                   durable=False)  # as ecopy.keys does: the store write syncs
    return sign


def stock_signer(pki: DevPki, copy: AssembledCopy, timestamper) -> Callable[[Path, Path], None]:
    """What a naive integration does: load the signer from PEM files for each signature."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter

    chain = [str(pki.cert_path("intermediate")), str(pki.cert_path("root"))]

    def box(b):
        return tuple(round(v) for v in b[1])

    def one(src: Path, dst: Path, role: str, field: str, certify: bool, page: int, rect) -> None:
        signer = signers.SimpleSigner.load(str(pki.key_path(role)), str(pki.cert_path(role)),
                                           ca_chain_files=chain)
        meta = signers.PdfSignatureMetadata(
            field_name=field, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES,
            certify=certify, docmdp_permissions=MDPPerm.FILL_FORMS)
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            w = IncrementalPdfFileWriter(fin)
            n = int(w.root["/Pages"]["/Count"])
            signers.PdfSigner(meta, signer, timestamper=timestamper,
                              new_field_spec=SigFieldSpec(field, on_page=page % n, box=rect),
                              ).sign_pdf(w, output=fout)

    def sign(src: Path, dst: Path) -> None:
        mid = dst.with_suffix(".rev2.pdf")
        one(src, mid, "certifier", "CertifierSignature", True, copy.certifier_box[0],
            box(copy.certifier_box))
        one(mid, dst, "agency", "AgencySignature", False, copy.agency_box[0],
            box(copy.agency_box))
        mid.unlink()
    return sign


def measure(name: str, store: LocalStore, copy: AssembledCopy, workdir: Path,
            sign: Callable[[Path, Path], None], seconds: float, min_runs: int) -> float:
    certify_one(store, copy, workdir, sign)  # warm-up (caches, imports)
    runs = 0
    start = time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < seconds:
        certify_one(store, copy, workdir, sign)
        runs += 1
    rate = runs / (time.perf_counter() - start)
    print(f"  {name:<32} {runs:4d} copies  {rate:7.2f} e-copies/s/core"
          f"  ({1000 / rate:6.1f} ms each)", flush=True)
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    ap.add_argument("--pages", type=int, nargs="+", default=[1, 50])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecopy-bench-") as tmp:
        base = Path(tmp)
        pki = ensure_dev_pki(base / "pki", agency_name=AGENCY, certifier_name="Nguyễn Văn Thử",
                             certifier_title="Phó Chủ tịch")
        timestamper = local_timestamper(pki.tsa_cert(), pki.tsa_key(), pki.chain())
        results = {}
        for pages in args.pages:
            t0 = time.perf_counter()
            copy = build_unsigned(pages, base / f"unsigned-{pages}.pdf")
            size = copy.path.stat().st_size / 1e6
            print(f"{pages}-page copy ({copy.page_count} PDF pages, {size:.1f} MB), built once"
                  f" in {time.perf_counter() - t0:.2f} s:")
            rates = {}
            for name, factory in (("ecopy (signing.keys identities)", ecopy_signer),
                                  ("pyHanko stock SimpleSigner", stock_signer)):
                store = LocalStore(base / f"store-{pages}-{name.split()[0]}")
                work = base / "work"
                work.mkdir(exist_ok=True)
                rates[name] = measure(name, store, copy, work,
                                      factory(pki, copy, timestamper), args.seconds, 3)
            ours, stock = rates.values()
            print(f"  ratio ecopy / stock: {ours / stock:.2f}×")
            results[pages] = ours
        if 1 in results:
            goal = "met" if results[1] >= 30 else "NOT met"
            print(f"goal ≥ 30 single-page e-copies/s/core: {goal} ({results[1]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
