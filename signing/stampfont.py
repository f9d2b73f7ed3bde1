"""The font of the signature stamps: Vietnamese text, embedded, fast.

pyHanko's default stamp font is Courier, which is neither embedded (PDF/A needs that) nor
has Vietnamese glyphs, so stamps use an embedded TrueType subset. Two costs made this the
slowest part of signing a short copy, and both are paid once per process here instead of
once per signature:

* parsing a full TrueType font and subsetting it (``_vietnamese_font_subset``);
* subsetting again to the glyphs a stamp uses, and compressing that font program
  (``_StampGlyphAccumulator``): the result only depends on the set of characters used, and
  a signer's stamps differ only in digits, so the digits and the punctuation of a timestamp
  are always included and the compressed program is reused.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from fontTools import subset, ttLib
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.writer import BasePdfFileWriter

FONT_SIZE = 10  # Decree 30/2020: Times New Roman 10 pt on the agency signature

# Everything Vietnamese text on a stamp can need: ASCII, Latin-1 (À Á Â Ã È …), from Latin
# Extended-A only Ă ă Đ đ Ĩ ĩ Ũ ũ, Ơ ơ Ư ư, the five tone marks as combining characters,
# Latin Extended Additional (Ạ…ỹ) and typographic punctuation. Kept this small on purpose: the
# fewer glyphs, the faster each signature's font is parsed.
_VIETNAMESE_RANGES = (
    (0x20, 0x7F), (0xA0, 0x100), (0x102, 0x104), (0x110, 0x112), (0x128, 0x12A), (0x168, 0x16A),
    (0x1A0, 0x1A2), (0x1AF, 0x1B1), (0x300, 0x302), (0x303, 0x304), (0x309, 0x30A), (0x323, 0x324),
    (0x1EA0, 0x1EFA), (0x2010, 0x2027),
)  # fmt: skip


@functools.lru_cache(maxsize=4)
def _vietnamese_font_subset(path: str, mtime_ns: int) -> bytes:
    """The stamp font cut down once per process to the Vietnamese repertoire.

    Parsing a full TrueType font's layout tables and subsetting it took ~100 ms per signature;
    this smaller font (no GSUB/GPOS: Vietnamese in NFC uses precomposed glyphs) makes the
    per-signature subset a few milliseconds. The em is rescaled to 1000 units (see below).
    ``mtime_ns`` keys the cache so a replaced font file is picked up.
    """
    options = subset.Options()
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "FFTM"]
    options.hinting = False
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.glyph_names = True  # post table names: fontTools then skips deriving them from cmap
    font = ttLib.TTFont(path)
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=[c for lo, hi in _VIETNAMESE_RANGES for c in range(lo, hi)])
    subsetter.subset(font)
    # pyHanko 0.38 writes /W widths in font units unscaled, which is only right for a
    # 1000-unit em; Liberation has 2048, so glyphs came out spaced twice too wide.
    scale_upem(font, 1000)
    out = BytesIO()
    font.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class StampFontFactory(FontEngineFactory):
    """Like GlyphAccumulatorFactory (embedded subset, ToUnicode), from the cached font bytes."""

    font_bytes: bytes
    font_size: int = FONT_SIZE
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.font_bytes).hexdigest())

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: generic.StreamObject | None = None
    ) -> _StampGlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        return _StampGlyphAccumulator(
            font_digest=self.digest,
            writer=writer,
            font_handle=BytesIO(self.font_bytes),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


def stamp_font(font_path: str | Path) -> StampFontFactory:
    """The stamp font for ``font_path``, subset to Vietnamese once per process."""
    path = Path(font_path)
    return _factory(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _factory(path: str, mtime_ns: int) -> StampFontFactory:
    return StampFontFactory(_vietnamese_font_subset(path, mtime_ns))


# Characters every timestamp line may need; always in the subset so that a signer's stamps
# share one font program whatever the date.
_ALWAYS_INCLUDED = "0123456789:+-T "
_FONT_PROGRAMS: dict[tuple[str, frozenset[str]], bytes] = {}
_MAX_FONT_PROGRAMS = 256


class _StampGlyphAccumulator(GlyphAccumulator):
    """GlyphAccumulator that reuses the compressed font program of an earlier, identical
    subset. Cache key: the font's digest and the set of characters shaped."""

    def __init__(self, *, font_digest: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._font_digest = font_digest
        self._chars: set[str] = set()
        self.shape(_ALWAYS_INCLUDED)
        cidfont = self.cidfont_obj
        if not hasattr(cidfont, "set_font_file"):  # pragma: no cover - pyHanko API guard
            raise RuntimeError("pyHanko's CIDFont no longer has set_font_file")
        cidfont.set_font_file = self._set_font_file  # type: ignore[method-assign]

    def shape(self, txt: str, with_actual_text: bool = True):
        self._chars.update(txt)
        return super().shape(txt, with_actual_text)

    def _key(self) -> tuple[str, frozenset[str]]:
        return self._font_digest, frozenset(self._chars)

    def _extract_subset(self, options: subset.Options | None = None) -> None:
        if self._key() not in _FONT_PROGRAMS:
            super()._extract_subset(options)

    def _set_font_file(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        key = self._key()
        program = _FONT_PROGRAMS.get(key)
        if program is None:
            out = BytesIO()
            self.tt.save(out)  # the subset: _extract_subset ran because the key was new
            fresh = generic.StreamObject(stream_data=out.getvalue())
            fresh.compress()
            program = fresh.encoded_data
            if len(_FONT_PROGRAMS) >= _MAX_FONT_PROGRAMS:
                _FONT_PROGRAMS.clear()
            _FONT_PROGRAMS[key] = program
        stream = generic.StreamObject(
            {generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode")},
            encoded_data=program,
        )
        ref = writer.add_object(stream)
        descriptor = self.cidfont_obj[generic.pdf_name("/FontDescriptor")].get_object()
        descriptor[generic.pdf_name("/FontFile2")] = ref
        return ref
