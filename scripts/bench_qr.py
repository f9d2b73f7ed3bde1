"""Benchmark: how often a copy's QR code decodes from a rendering of its page (issue 16 point 8).

Draws the QR of ``--copies`` random copy payloads (the issue QR of pipeline.steps.issueqr: a
verify address, a 32-hex copy id, the person's ID, the time) exactly as the assembler draws
it (pipeline.steps.assemble._draw_qr, with the 4-module quiet zone), at a random offset on a page,
renders each with poppler at several resolutions and decodes it with OpenCV's two QR
detectors, as tests/test_copy_layout.py does. The same payloads are drawn with 0.5 mm
modules, the earlier size, as the baseline of this run.

    .venv/bin/python scripts/bench_qr.py [--copies 60] [--dpi 120,144,150,200,300]
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.steps import assemble


def payload(rng: random.Random) -> str:
    copy_id = f"{rng.getrandbits(128):032x}"
    when = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:" \
           f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}%2B07:00"
    return (f"https://chungthuc.example.gov.vn/verify?id={copy_id}&cd=001301012345"
            f"&ma=1.000001&tt=Giay%20khai%20sinh&ht=ecopy&tg={when}")


def page_with_qr(text: str, module: float, rng: random.Random) -> bytes:
    count = assemble._qr_matrix(text)[0]
    side = (count + 2 * assemble.QR_QUIET) * module
    width, height = 595.0 + rng.uniform(0, 5), 200.0 + rng.uniform(0, 5)
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=(width, height))
    top = assemble.BAND_PAD + rng.uniform(0, 3)
    assemble._draw_qr(canvas, text, assemble.BAND_PAD + rng.uniform(0, 3),
                      height - top - side, side)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


def decodes(pdf: bytes, dpi: int, text: str) -> bool:
    png = subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-gray", "-"], input=pdf,
                         capture_output=True, check=True).stdout
    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        value, _points, _ = detector.detectAndDecode(image)
        if value == text:
            return True
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=60)
    ap.add_argument("--dpi", default="120,144,150,200,300")
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    resolutions = [int(d) for d in args.dpi.split(",")]
    sizes = {"0.5 mm (baseline)": 0.5 * mm,
             f"{assemble.QR_MODULE / mm:.1f} mm (ecopy)": assemble.QR_MODULE}
    print(f"QR codes of {args.copies} random copy payloads decoded by OpenCV, per rendering "
          "resolution")
    print(f"{'module':<22}" + "".join(f"{d:>9} dpi" for d in resolutions))
    read: dict[str, list[int]] = {}
    for label, module in sizes.items():
        rng = random.Random(args.seed)  # the same payloads and offsets for both sizes
        counts = [0] * len(resolutions)
        for _ in range(args.copies):
            text = payload(rng)
            pdf = page_with_qr(text, module, rng)
            for i, dpi in enumerate(resolutions):
                counts[i] += decodes(pdf, dpi, text)
        read[label] = counts
        print(f"{label:<22}" + "".join(f"{c:>9}/{args.copies}" for c in counts))
    ours = read[list(sizes)[1]]
    print("all read at 150 dpi" if 150 not in resolutions
          or ours[resolutions.index(150)] == args.copies else "NOT all read at 150 dpi")
    return 0 if 150 not in resolutions or ours[resolutions.index(150)] == args.copies else 1


if __name__ == "__main__":
    sys.exit(main())
