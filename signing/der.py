"""DER helpers around asn1crypto.

asn1crypto re-encodes a structure built from Python values on *every* ``dump()``: the
"mutated" mark set when a field is assigned is never cleared. A CMS signature is dumped
several times while it is built (signed attributes for signing, the SignerInfo, the whole
SignedData for the placeholder), so a value built once and dumped many times paid for full
re-encoding each time; profiling put this at about a third of an e-copy's signing time.
``frozen`` re-parses the encoding once: the result carries its bytes and dumps for free.
"""

from __future__ import annotations

from typing import TypeVar

from asn1crypto import core

T = TypeVar("T", bound=core.Asn1Value)


def frozen(value: T) -> T:
    """The same value, parsed back from its DER encoding so later dumps reuse the bytes."""
    return type(value).load(value.dump())
