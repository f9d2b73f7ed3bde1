"""Benchmark: migrating N synthetic e-copies from several former units' stores into one.

Generation (not timed): 2-3 LocalStores, one per former commune (old Hà Giang / Tuyên Quang
codes). Each e-copy is a REAL signed PDF: a 1-page unsigned e-copy of samples/birth_cert.jpg is
built once, then every copy is signed anew (certifier + agency PAdES with local-TSA timestamps,
as scripts/bench_sign.py does), so each PDF has its own bytes. Every copy also gets what `ecopy
process` leaves beside it: a distinct original (the sample JPEG plus a per-copy trailer, as a
re-scan would differ), the warehouse metadata, a register entry (allocated like a real
certification, hash-chained), two audit events, and in the source's embedded database (SQLite
beside the store) the catalogue rows and an outbox item. `--signed K` signs only K distinct
PDFs and reuses their bytes for the rest (faster generation; the migration moves the same
number of bytes). The manifest inside the PDF names the bench entry, not the copy's: signatures
verify, the register cross-check would not (not needed to time a byte copy).

Timed, in the same run, over the same sources:
  copytree   shutil.copytree of every source directory (no fsync: the floor of file copying)
  get/put    ObjectStore get + put_if_absent per key (fsync per object, like any store write)
  migrate    storage.migration.migrate.migrate(...) (plan, sha256 of every object, re-homing,
             archive, report, checks of the archived audit chains and register years; the
             sources' database rows into the destination's SQLite and its catalogue checked
             against the evidence)

    taskset -c 1 .venv/bin/python scripts/bench_migrate.py [--copies 10000] [--sources 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_sign import AGENCY, SAMPLE, build_unsigned, ecopy_signer  # noqa: E402

from signing.devpki import ensure_dev_pki  # noqa: E402
from signing.sign import VN_TZ  # noqa: E402
from signing.tsa import local_timestamper  # noqa: E402
from storage.backends import LocalStore  # noqa: E402
from storage.db import Database, sqlite_url  # noqa: E402
from storage.db.catalogue import add_copy, add_register_entry  # noqa: E402
from storage.db.migrate import upgrade  # noqa: E402
from storage.evidence.audit import append_event  # noqa: E402
from storage.evidence.originals import original_key  # noqa: E402
from storage.evidence.register import RegisterEntry, allocate_register_number  # noqa: E402
from storage.evidence.warehouse import file_copy  # noqa: E402
from storage.migration.migrate import Source, migrate  # noqa: E402
from storage.outbox import enqueue  # noqa: E402

# old commune -> new commune (Decision 19/2025), one old commune per source store
COMMUNES = [("00692", "00691"), ("02200", "02215"), ("00697", "00691")]


def generate(root: Path, copies: int, sources: int, signed: int, pki_dir: Path) -> None:
    pki = ensure_dev_pki(pki_dir, agency_name=AGENCY, certifier_name="Nguyễn Văn Thử",
                         certifier_title="Phó Chủ tịch")
    timestamper = local_timestamper(pki.tsa_cert(), pki.tsa_key(), pki.chain())
    unsigned = build_unsigned(1, root / "unsigned.pdf")
    sign = ecopy_signer(pki, unsigned, timestamper)
    scan = SAMPLE.read_bytes()
    pool: list[Path] = []
    stores = [LocalStore(root / f"src-{COMMUNES[i][0]}") for i in range(sources)]
    dbs = [Database(sqlite_url(store.root)) for store in stores]
    for db in dbs:
        upgrade(db)
    t0 = time.perf_counter()
    for n in range(copies):
        store = stores[n % sources]
        agency = COMMUNES[n % sources][0]
        copy_id = uuid.uuid4().hex
        if len(pool) < signed:
            pdf = root / f"signed-{len(pool)}.pdf"
            sign(unsigned.path, pdf)
            pool.append(pdf)
        else:
            pdf = pool[n % len(pool)]
        original = scan + f"\n%scan {n}".encode()
        sha = hashlib.sha256(original).hexdigest()
        store.put(original_key(sha), original)
        now = datetime.now(VN_TZ)

        def make_entry(number: int, prev_hash: str, copy_id: str = copy_id,
                       agency: str = agency, now: datetime = now) -> RegisterEntry:
            return RegisterEntry(agency, AGENCY, now.year, f"01/{now.year}", number,
                                 now.date().isoformat(), "Nguyễn Văn An", "Giấy khai sinh",
                                 "Nguyễn Văn Thử, Phó Chủ tịch", 1, 2000, True, "", copy_id,
                                 prev_hash)

        entry = allocate_register_number(store, agency_code=agency, year=now.year,
                                         make_entry=make_entry)
        person = f"001301{n:06d}"
        pdf_sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
        meta = {"copy_id": copy_id, "person_id": person, "doc_type": "birth_cert",
                "register_entry": json.loads(entry.canonical_bytes()),
                "certified_at": now.isoformat(), "pdf_sha256": pdf_sha,
                "original_sha256": sha}
        key = file_copy(store, person_id=person, doc_type="birth_cert", copy_id=copy_id,
                        pdf_path=pdf, metadata=meta)
        with dbs[n % sources].write() as s:
            add_register_entry(s, json.loads(entry.canonical_bytes()),
                               hashlib.sha256(entry.canonical_bytes()).hexdigest())
            add_copy(s, meta, pdf_key=key)
            enqueue(s, "ecopy", copy_id, {"pdf_key": key}, version=pdf_sha, agency=agency)
        append_event(store, actor="bench", action="certify", object=copy_id,
                     object_sha256=pdf_sha)
        append_event(store, actor="bench", action="file", object=key, object_sha256=pdf_sha)
        if (n + 1) % 1000 == 0:
            print(f"  generated {n + 1}/{copies} ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
    for db in dbs:
        db.close()


def tree_size(paths: list[Path]) -> tuple[int, int]:
    files = [p for root in paths for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def bench_copytree(sources: list[Path], out: Path) -> float:
    t0 = time.perf_counter()
    for src in sources:
        shutil.copytree(src, out / src.name)
    return time.perf_counter() - t0


def bench_get_put(sources: list[Path], out: Path) -> float:
    t0 = time.perf_counter()
    for src in sources:
        store, dest = LocalStore(src), LocalStore(out / src.name)
        for key in store.list(""):
            dest.put_if_absent(key, store.get(key))
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=10_000)
    ap.add_argument("--sources", type=int, default=3, choices=(2, 3))
    ap.add_argument("--signed", type=int, default=0,
                    help="distinct signed PDFs (default: every copy signed)")
    ap.add_argument("--jobs", type=int, default=4, help="migrate: objects in flight")
    ap.add_argument("--workdir", type=Path, help="keep data here (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecopy-bench-migrate-") as tmp:
        base = args.workdir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        signed = args.signed or args.copies
        print(f"generating {args.copies} e-copies in {args.sources} source stores "
              f"({signed} signed distinct PDFs)...", flush=True)
        t0 = time.perf_counter()
        generate(base, args.copies, args.sources, signed, base / "pki")
        print(f"  generation took {time.perf_counter() - t0:.0f} s (not part of the figures)")
        roots = sorted(base.glob("src-*"))
        objects, size = tree_size(roots)
        mb = size / 1e6
        print(f"sources: {objects} objects, {mb:.1f} MB")
        rates = {}
        for name, run in (("copytree", lambda: bench_copytree(roots, base / "copytree")),
                          ("get/put", lambda: bench_get_put(roots, base / "getput"))):
            secs = run()
            shutil.rmtree(base / name.replace("/", ""))  # keep the peak disk use at 2× sources
            rates[name] = secs
            print(f"  {name:<9} {secs:7.1f} s  {objects / secs:8.0f} objects/s  "
                  f"{mb / secs:6.1f} MB/s", flush=True)
        mapping = dict(COMMUNES[:args.sources])
        srcs = [Source(p.name, LocalStore(p), Database(sqlite_url(p))) for p in roots]
        dest_db = Database(sqlite_url(base / "dest"))
        upgrade(dest_db)
        t0 = time.perf_counter()
        result = migrate(srcs, LocalStore(base / "dest"), mapping, jobs=args.jobs,
                         dest_db=dest_db)
        secs = time.perf_counter() - t0
        assert result.complete and not result.conflicts, result.counts()
        assert not any(result.checks.values()), result.checks
        print(f"  {'migrate':<9} {secs:7.1f} s  {objects / secs:8.0f} objects/s  "
              f"{mb / secs:6.1f} MB/s   {result.counts()}")
        for name, base_secs in rates.items():
            print(f"  migrate / {name}: {base_secs / secs:.2f}× the speed "
                  f"({secs / base_secs:.1f}× the time)")
        t0 = time.perf_counter()
        again = migrate(srcs, LocalStore(base / "dest"), mapping, jobs=args.jobs,
                        dest_db=dest_db)
        print(f"  second run (all skipped: {set(again.counts()) == {'skipped-same'}}): "
              f"{time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
