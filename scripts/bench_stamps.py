"""Benchmark: the secret-stamp reader on good papers and on stamped ones (issue 16 point 2).

The page OCR's text rule was measured on the remembered tesseract output of the corpus and the
samples (none of their 3,299 lines matches). This measures the image path,
pipeline.steps.stamps.stamp_words, which looks for boxed red regions and reads them on their own:

- false positives: good papers whose stamp words alone make pipeline.steps.classify.refusal_mark
  refuse them. The papers are the bundled samples, every colour image of the corpus (real
  scans: their red seals and marks are what a false alarm comes from), and ``--per-type``
  synthetic papers of each document type with their red seals (scripts/synthdocs.py, condition
  "ok", mildly degraded);
- detection: the same synthetic papers with a secret or no-copy mark of the generator
  ("classified"), and the sample birth certificate with a boxed red "MẬT" turned at every
  angle from 0 to 345 degrees in steps of 15;
- time: stamp_words per page, pages with and without a boxed red region.

    .venv/bin/python scripts/bench_stamps.py [--per-type 10] [--seed 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scripts package (synthdocs) sits at the repository root

from pipeline.steps.classify import refusal_mark  # noqa: E402
from pipeline.steps.stamps import stamp_regions, stamp_words  # noqa: E402
from pipeline.types import OcrPage  # noqa: E402
from scripts.synthdocs import DOC_TYPES, make_document  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
BOLD = Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf")


def refused(path: Path) -> tuple[str | None, float, bool]:
    """(the refusal mark the stamp words make, seconds, whether a boxed red region was seen)."""
    with Image.open(path) as img:
        img.load()
        page = img.convert("RGB") if img.mode not in ("RGB", "L", "1") else img
        start = time.perf_counter()
        words = stamp_words(page, lang="vie+eng", timeout=60)
        spent = time.perf_counter() - start
        boxed = page.mode == "RGB" and bool(stamp_regions(page))
    ocr = OcrPage(0, page.width, page.height, 0, tuple(words), 0.0, "stamps")
    return refusal_mark([ocr]), spent, boxed


def turned_stamp(out: Path, angle: int) -> Path:
    page = Image.open(ROOT / "samples" / "birth_cert.jpg").convert("RGB")
    font = ImageFont.truetype(str(BOLD), 110)
    width = int(ImageDraw.Draw(page).textlength("MẬT", font=font))
    stamp = Image.new("RGBA", (width + 80, 190), (0, 0, 0, 0))
    draw = ImageDraw.Draw(stamp)
    draw.rectangle((4, 4, width + 75, 185), outline=(200, 20, 30, 255), width=10)
    draw.text((40, 30), "MẬT", font=font, fill=(200, 20, 30, 255))
    stamp = stamp.rotate(angle, expand=True, resample=Image.BICUBIC)
    page.paste(stamp, (page.width - stamp.width - 180, 620), stamp)
    page.save(out, dpi=(300, 300), quality=92)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-type", type=int, default=10)
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecopy-bench-stamps-") as tmp:
        work = Path(tmp)
        for sub in ("ok", "classified"):
            (work / sub).mkdir()
        good = sorted(ROOT.glob("samples/*.jpg")) + sorted(ROOT.glob("samples/*.png"))
        good += sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg",
                                                                             ".png"))
        stamped = []
        for index in range(args.per_type):
            for doc_type in DOC_TYPES:
                stem = f"{doc_type}-{index}"
                ok = make_document(work / "ok", stem, doc_type, index, seed=args.seed,
                                   condition="ok")
                good.append(work / "ok" / ok["file"])
                bad = make_document(work / "classified", stem, doc_type, index,
                                    seed=args.seed, condition="classified")
                stamped.append((work / "classified" / bad["file"], bad["degradations"][0]))
        turned = [turned_stamp(work / f"mat-{a:03d}.jpg", a) for a in range(0, 360, 15)]

        false_alarms, times = [], {True: [], False: []}
        for path in good:
            try:
                mark, spent, boxed = refused(path)
            except (OSError, ValueError, Image.DecompressionBombError):  # bombs, broken files
                continue
            times[boxed].append(spent)
            if mark:
                false_alarms.append((path, mark))
        read_synth = sum(refused(p)[0] is not None for p, _ in stamped)
        read_turned = [a for a, p in zip(range(0, 360, 15), turned, strict=True)
                       if refused(p)[0] is not None]
    checked = len(times[True]) + len(times[False])
    print(f"good papers: {checked} ({len(good) - checked} unreadable corpus files left out), "
          f"refused by the stamp reader: {len(false_alarms)} "
          f"({100 * len(false_alarms) / max(1, checked):.1f} %)")
    for path, mark in false_alarms:
        print(f"  false alarm: {path.name}: {mark!r}")
    print(f"synthetic papers with a secret or no-copy mark: {len(stamped)}, refused: "
          f"{read_synth} ({100 * read_synth / max(1, len(stamped)):.0f} %)")
    print(f"the sample with a boxed 'MẬT' at {len(turned)} angles (0-345 degrees): refused at "
          f"{len(read_turned)}; missed at "
          f"{sorted(set(range(0, 360, 15)) - set(read_turned)) or 'none'}")
    for boxed, label in ((False, "without"), (True, "with")):
        if times[boxed]:
            print(f"time per page {label} a boxed red region: median "
                  f"{1000 * statistics.median(times[boxed]):.0f} ms over {len(times[boxed])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
