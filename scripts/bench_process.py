"""Benchmark: a 50-page scanned PDF through `ecopy process`, against bare tesseract.

Prints pages/s for ecopy (everything: intake, render, OSD, OCR, classify, extract, PDF/A
assembly, two signatures, filing) and for the limit we approach, bare page-parallel tesseract
(one process per core, OMP_THREAD_LIMIT=1) on the same page images, measured in the same run,
plus the peak RSS of ecopy's main process and of its whole process tree.

    .venv/bin/python scripts/bench_process.py [--pages 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pikepdf
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "birth_cert.jpg"


def make_scan_pdf(out: Path, pages: int) -> None:
    """A scanner-style PDF: each page one 300-dpi JPEG (the bundled sample), A4."""
    jpeg = SAMPLE.read_bytes()
    with Image.open(SAMPLE) as img:
        width, height = img.size
        components = len(img.getbands())
    pdf = pikepdf.new()
    w_pt, h_pt = width / 300 * 72, height / 300 * 72
    for _ in range(pages):
        image = pikepdf.Stream(pdf, jpeg, Type=pikepdf.Name.XObject,
                               Subtype=pikepdf.Name.Image, Width=width, Height=height,
                               ColorSpace=pikepdf.Name.DeviceRGB if components == 3
                               else pikepdf.Name.DeviceGray,
                               BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode)
        page = pikepdf.Page(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, w_pt, h_pt],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))))
        draw = f"q {w_pt:.2f} 0 0 {h_pt:.2f} 0 0 cm /Im0 Do Q".encode()
        page.obj.Contents = pdf.make_stream(draw)
        pdf.pages.append(page)
    pdf.save(out)


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process and all its descendants, from /proc.

    Summed RSS counts pages shared by the forked workers once per process; PSS splits shared
    pages between their users, so its sum is the memory the tree really holds.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent = int(fh.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    rss = pss = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def run_ecopy(pdf: Path, workers: int, store: Path, env: dict[str, str]) -> dict:
    cmd = [sys.executable, "-m", "ecopy.cli", "process", str(pdf), "--person-id", "001301012345",
           "--out", str(store), "--json", "--workers", str(workers), "--certify-all",
           "--certify-as", "Nguyễn Văn Thử"]  # the default settings' TEST certifier signs
    peak_rss = peak_pss = 0.0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_pss
        while not stop.is_set():
            rss, pss = tree_memory_mb(proc.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    main_peak = _peak_of_finished_child()
    docs = json.loads(out)["documents"]
    return {"seconds": elapsed, "status": [d["status"] for d in docs],
            "peak_tree_rss_mb": peak_rss, "peak_tree_pss_mb": peak_pss,
            "peak_main_mb": main_peak}


def _peak_of_finished_child() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_bare_tesseract(pdf: Path, pages: int, workers: int, workdir: Path) -> float:
    """The limit: poppler renders, then one single-threaded tesseract per core (not timed: the
    render); only the OCR is timed, so the ratio shows ecopy's whole overhead on top of it."""
    subprocess.run(["pdfimages", "-j", str(pdf), str(workdir / "pg")], check=True)
    images = sorted(workdir.glob("pg-*.jpg"))[:pages]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def ocr(img: Path) -> None:
        subprocess.run(["tesseract", str(img), str(img.with_suffix("")), "-l", "vie+eng",
                        "tsv"], env=env, check=True, capture_output=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(ocr, images))
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecopy-bench-") as tmp:
        tmpdir = Path(tmp)
        pdf = tmpdir / "scan.pdf"
        make_scan_pdf(pdf, args.pages)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
        env["ECOPY_PKI_DIR"] = str(tmpdir / "pki")
        ecopy = run_ecopy(pdf, args.workers, tmpdir / "store", env)
        bare = run_bare_tesseract(pdf, args.pages, args.workers, tmpdir)
    ecopy_pps = args.pages / ecopy["seconds"]
    bare_pps = args.pages / bare
    print(f"pages: {args.pages} (300 dpi A4 colour JPEG), workers: {args.workers}")
    print(f"ecopy process:          {ecopy['seconds']:7.1f} s  {ecopy_pps:6.3f} pages/s  "
          f"result: {','.join(ecopy['status'])}")
    print(f"bare tesseract (limit): {bare:7.1f} s  {bare_pps:6.3f} pages/s")
    print(f"ratio ecopy / bare:     {ecopy_pps / bare_pps:6.2f}×")
    print(f"peak memory: main process RSS {ecopy['peak_main_mb']:.0f} MB; whole process tree "
          f"(main, forkserver, pool workers, tesseract) PSS {ecopy['peak_tree_pss_mb']:.0f} MB, "
          f"summed RSS {ecopy['peak_tree_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
