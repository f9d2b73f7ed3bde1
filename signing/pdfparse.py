"""A faster reader for PDF hex strings, installed into pyHanko's parser.

Every signature's /Contents is a hex string of tens of kilobytes (the CMS container plus its
zero padding). pyHanko 0.38 reads hex strings one byte per call with comment handling at
each byte; when the agency signs, pyHanko reads the certifier's signature to enforce the
certification rules, and verification reads every signature, so this loop was about a
quarter of the time to sign a one-page copy.

The replacement reads the string in blocks and decodes it with ``binascii``. It only takes
the plain case (hex digits and PDF whitespace, closed by ``>``); anything else (a ``%``
comment, a stray character, a string cut off by the end of the file) rewinds and hands the
string to pyHanko's own reader, so results and errors stay pyHanko's. Equivalence is pinned
by tests/test_signing.py. Hand-written because no library offers it; remove it once
pyHanko's reader is fast.
"""

from __future__ import annotations

import binascii
import os
from typing import BinaryIO

from pyhanko.pdf_utils import generic

_PDF_WHITESPACE = b" \n\r\t\f\x00"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_BLOCK = 16384
_pyhanko_reader = generic.read_hex_string_from_stream


def read_hex_string(stream: BinaryIO) -> generic.ByteStringObject | generic.TextStringObject:
    """Same contract as ``pyhanko.pdf_utils.generic.read_hex_string_from_stream``."""
    start = stream.tell()
    stream.read(1)  # the opening '<'
    parts = []
    while True:
        block = stream.read(_BLOCK)
        if not block:  # no closing '>': let pyHanko raise its usual error
            stream.seek(start)
            return _pyhanko_reader(stream)
        end = block.find(b">")
        if end < 0:
            parts.append(block)
            continue
        parts.append(block[:end])
        stream.seek(end + 1 - len(block), os.SEEK_CUR)
        break
    digits = b"".join(parts).translate(None, _PDF_WHITESPACE)
    if digits.translate(None, _HEX_DIGITS):  # a comment or a non-hex byte: pyHanko decides
        stream.seek(start)
        return _pyhanko_reader(stream)
    if len(digits) % 2:
        digits += b"0"  # ISO 32000-1 7.3.4.3: a missing final digit is 0
    return generic.pdf_string(binascii.unhexlify(digits))


def install() -> None:
    """Make pyHanko's object parser use ``read_hex_string`` (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string
