"""Who may certify at a commune, on what basis, and how they sign (Decree 280/2025 Art 5).

"Người thực hiện chứng thực" is the commune Chairman, or a person the Chairman authorised
(ủy quyền) or assigned (phân công) under local-government law, whose specimen signature was
notified to the provincial Department of Justice. Each certifier is configured: name, position,
basis, the decision that gives an authorised or assigned person the task and its dates, and
the specimen-signature notification. The position must fit the basis (a "Công chức Tư pháp -
Hộ tịch" is no Vice-Chairman), checked when the settings load, so a deployment with a title
its basis does not allow never starts.

The signing form printed above the signature follows the administrative practice of Decree
30/2020 (Annex I): the Chairman signs as "CHỦ TỊCH"; a Vice-Chairman signs in the
Chairman's place, "KT. CHỦ TỊCH" over "PHÓ CHỦ TỊCH"; an authorised person "TUQ. CHỦ TỊCH"
over their position; an assigned person "TL. CHỦ TỊCH" over their position. The first line
names the commune's People's Committee (Mẫu số 01's note: the title with the agency's name).
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipeline.vn.text import fold

# basis code -> (what it is, in Vietnamese; the form's first words)
BASES = {
    "chairman": ("Chủ tịch Ủy ban nhân dân cấp xã", ""),
    "vice_chairman": ("Phó Chủ tịch được phân công", "KT."),
    "authorised": ("người được Chủ tịch ủy quyền", "TUQ."),
    "assigned": ("người được phân công thực hiện nhiệm vụ chứng thực", "TL."),
}
_NEEDS_DECISION = {"vice_chairman", "authorised", "assigned"}


# what a [certifier.key] table may say: the certifier_* key settings of ecopy.settings,
# without their prefix (the deployment's ECOPY_KEY_SOURCE says which kind of key it is)
KEY_SETTINGS = frozenset({
    "p12", "p12_password_env", "p12_password_file", "pkcs11_module", "pkcs11_token",
    "pkcs11_key_label", "pkcs11_pin_env", "pkcs11_pin_file"})


class CertifierError(ValueError):
    """A certifier configured in a way the law does not allow (refused at start-up)."""


@dataclass(frozen=True)
class CertifierEntry:
    name: str  # full name, as on the signing certificate
    position: str  # chức danh, e.g. "Phó Chủ tịch Ủy ban nhân dân xã"
    basis: str  # a key of BASES
    commune: str = ""  # 5-digit code; empty: the deployment's commune
    decision: str = ""  # the authorisation/assignment decision, e.g. "15/QĐ-UBND"
    decision_date: str = ""  # ISO date of that decision
    valid_from: str = ""  # ISO dates the basis holds; empty: open
    valid_until: str = ""
    specimen_notice: str = ""  # the specimen-signature notification to the Justice Department
    certificate_sha256: str = ""  # the signing certificate it is bound to (hex), if pinned
    # the certifier's own key, as (setting, value) pairs from the entry's [certifier.key]
    # table (KEY_SETTINGS): with several certifiers each signs with their own key
    key: tuple[tuple[str, str], ...] = ()

    def problems(self, *, real_keys: bool) -> list[str]:
        """What keeps this person from certifying, whatever the day."""
        out = []
        if not self.name.strip():
            out.append("no name")
        if self.basis not in BASES:
            out.append(f"basis {self.basis!r} is not one of {', '.join(BASES)}")
            return out
        pos = " ".join(fold(self.position).lower().split())
        head = pos.startswith("chu tich")
        vice = pos.startswith("pho chu tich")
        if self.basis == "chairman" and not head:
            out.append(f"position {self.position!r} is not the Chairman's (Chủ tịch …)")
        elif self.basis == "vice_chairman" and not vice:
            out.append(f"position {self.position!r} is not a Vice-Chairman's (Phó Chủ tịch …)")
        elif self.basis in ("authorised", "assigned") and (head or vice or not pos):
            out.append(f"position {self.position!r} does not fit basis {self.basis}: the "
                       "Chairman and Vice-Chairmen sign as such")
        if real_keys and self.basis in _NEEDS_DECISION and not (
                self.decision.strip() and self.decision_date.strip()):
            out.append(f"basis {self.basis} needs the decision that gives the task and its "
                       "date (decision, decision_date)")
        if real_keys and not self.specimen_notice.strip():
            out.append("no specimen-signature notification to the Department of Justice "
                       "(specimen_notice)")
        for label in ("decision_date", "valid_from", "valid_until"):
            value = getattr(self, label)
            if value:
                try:
                    date.fromisoformat(value)
                except ValueError:
                    out.append(f"{label} {value!r} is not a date (YYYY-MM-DD)")
        if len(self.certificate_sha256) not in (0, 64):
            out.append("certificate_sha256 must be 64 hex digits")
        return out

    def holds_on(self, day: date) -> bool:
        """Whether the basis holds on `day` (an authorisation has its dates)."""
        start = date.fromisoformat(self.valid_from) if self.valid_from else date.min
        end = date.fromisoformat(self.valid_until) if self.valid_until else date.max
        return start <= day <= end

    def form(self, agency_name: str) -> tuple[str, ...]:
        """The lines above the signature: the signing form with the commune's committee, then
        the position (the Chairman's one line says both)."""
        prefix = BASES[self.basis][1]
        head = f"{prefix} CHỦ TỊCH {agency_name}".strip()
        lines = [" ".join(head.split()).upper()]
        if self.basis != "chairman":
            lines.append(_position_line(self.position))
        return tuple(lines)


def _position_line(position: str) -> str:
    """The position in capitals, without the committee's name the form's line already holds
    ("Phó Chủ tịch Ủy ban nhân dân xã" prints "PHÓ CHỦ TỊCH")."""
    words = position.split()
    folded = [fold(w).lower() for w in words]
    for i in range(1, len(words)):
        if folded[i] == "ubnd" or folded[i:i + 4] == ["uy", "ban", "nhan", "dan"]:
            words = words[:i]
            break
    return " ".join(words).upper()


def same_person(a: str, b: str) -> bool:
    """Names compared as people write them: case, spacing and Unicode form aside (tone
    marks count: "Hùng" and "Hưng" are two people)."""
    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFC", s).casefold().split())

    return norm(a) == norm(b)


def load_certifiers(path: Path, *, commune: str) -> tuple[CertifierEntry, ...]:
    """`[[certifier]]` tables of a TOML file (docs/certifiers.md)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    known = set(CertifierEntry.__dataclass_fields__)
    out = []
    for i, table in enumerate(data.get("certifier", []), start=1):
        unknown = set(table) - known
        if unknown:
            raise CertifierError(f"{path}: certifier {i}: unknown keys "
                                 f"{', '.join(sorted(unknown))}")
        key = table.pop("key", {})
        if not isinstance(key, dict) or set(key) - KEY_SETTINGS:
            raise CertifierError(f"{path}: certifier {i}: [certifier.key] may only hold "
                                 f"{', '.join(sorted(KEY_SETTINGS))}")
        entry = CertifierEntry(**{k: str(v) for k, v in table.items()},
                               key=tuple(sorted((k, str(v)) for k, v in key.items())))
        if not entry.commune:
            entry = CertifierEntry(**{**entry.__dict__, "commune": commune})
        out.append(entry)
    if not out:
        raise CertifierError(f"{path}: no [[certifier]] table")
    return tuple(out)


def check_certifiers(entries: tuple[CertifierEntry, ...], *, real_keys: bool) -> None:
    """Refuse, at start-up, certifiers the law does not allow."""
    problems = [f"{e.name or '?'} ({e.commune}): {p}" for e in entries
                for p in e.problems(real_keys=real_keys)]
    if problems:
        raise CertifierError("certifiers not allowed to certify: " + "; ".join(problems))


def find_certifier(entries: tuple[CertifierEntry, ...], commune: str, name: str
                   ) -> CertifierEntry | None:
    for e in entries:
        if e.commune == commune and same_person(e.name, name):
            return e
    return None
