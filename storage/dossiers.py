"""Dossiers: a citizen's request at one commune office, and the documents uploaded for it.

    dossiers/<agency>/<dossier_id>/dossier.json         who, opened by whom and when (immutable)
    dossiers/<agency>/<dossier_id>/documents/<sha256>   one link per document (create-if-absent)
    documents/<sha256>/dossiers/<agency>-<dossier_id>   the reverse link, for access checks
    public-status/<code>.json                            the dossier's public status code

Links are separate immutable objects rather than a list inside dossier.json, so two uploads to
one dossier at the same moment never overwrite each other. A document belongs to every dossier
it was uploaded to (the same scan brought to two communes is stored once); an agency may see a
document only when one of its own dossiers links it (`agencies_of_document`).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from storage.backends import ObjectStore

DOSSIER_ID = re.compile(r"^\d{8}-[0-9a-f]{8}$")  # yyyymmdd-random
AGENCY = re.compile(r"^\d{5}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PUBLIC_CODE = re.compile(f"^[{CODE_ALPHABET}]{{10}}$")


def check_sha(sha256: str) -> str:
    if not SHA256.match(sha256):
        raise ValueError("bad document reference")
    return sha256


@dataclass(frozen=True)
class Dossier:
    dossier_id: str
    agency: str  # commune code of the office that opened it
    person_id: str  # 12-digit personal ID; "" when the citizen has none (name + birth date)
    person_name: str
    date_of_birth: str  # ISO date, "" when unknown
    opened_by: str
    opened_at: str
    note: str = ""
    # given to the citizen: anyone holding it may follow the processing status (no login);
    # 10 characters of an alphabet without look-alikes, 50 bits: not guessable
    public_code: str = ""
    # the administrative procedure (code in pipeline/data/procedures.json; "" = certifying
    # copies from originals) and how the dossier came in: "counter" (at the one-stop desk)
    # or "online" (submitted through the portal): both feed the per-commune figures
    procedure: str = ""
    channel: str = "counter"
    # set by `ecopy migrate` when a province/commune merger re-homed the dossier: the commune
    # code it was opened under (its register entries keep that code)
    former_agency: str = ""

    @property
    def key(self) -> str:
        return dossier_prefix(self.agency, self.dossier_id) + "dossier.json"


def dossier_prefix(agency: str, dossier_id: str) -> str:
    if not AGENCY.match(agency) or not DOSSIER_ID.match(dossier_id):
        raise ValueError("bad dossier reference")
    return f"dossiers/{agency}/{dossier_id}/"


def open_dossier(store: ObjectStore, *, agency: str, person_id: str, person_name: str,
                 date_of_birth: str, opened_by: str, note: str = "", procedure: str = "",
                 channel: str = "counter") -> Dossier:
    now = datetime.now(UTC)
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
        dossier = Dossier(f"{now:%Y%m%d}-{secrets.token_hex(4)}", agency, person_id,
                          person_name, date_of_birth, opened_by,
                          now.isoformat(timespec="seconds"), note, code, procedure, channel)
        pointer = json.dumps({"agency": agency, "dossier_id": dossier.dossier_id}).encode()
        if not store.put_if_absent(f"public-status/{code}.json", pointer):
            continue  # the code is taken: draw another
        data = json.dumps(asdict(dossier), ensure_ascii=False, indent=2).encode("utf-8")
        if store.put_if_absent(dossier.key, data):
            return dossier


def dossier_by_code(store: ObjectStore, code: str) -> Dossier | None:
    """The dossier a public status code names (codes are case-insensitive for citizens)."""
    code = code.strip().upper()
    if not PUBLIC_CODE.match(code):
        return None
    try:
        pointer = json.loads(store.get(f"public-status/{code}.json"))
    except KeyError:
        return None
    return load_dossier(store, pointer["agency"], pointer["dossier_id"])


def load_dossier(store: ObjectStore, agency: str, dossier_id: str) -> Dossier | None:
    try:
        data = store.get(dossier_prefix(agency, dossier_id) + "dossier.json")
    except (KeyError, ValueError):
        return None
    return Dossier(**json.loads(data))


def list_dossiers(store: ObjectStore, agency: str) -> list[Dossier]:
    """The agency's dossiers, newest first."""
    if not AGENCY.match(agency):
        return []
    found = [Dossier(**json.loads(store.get(key))) for key in store.list(f"dossiers/{agency}/")
             if key.endswith("/dossier.json")]
    return sorted(found, key=lambda d: d.opened_at, reverse=True)


def link_document(store: ObjectStore, dossier: Dossier, sha256: str, name: str,
                  by: str) -> bool:
    """Attach a stored original to the dossier; False when it was attached already."""
    check_sha(sha256)
    link = json.dumps({"sha256": sha256, "name": name, "by": by,
                       "at": datetime.now(UTC).isoformat(timespec="seconds")},
                      ensure_ascii=False).encode("utf-8")
    added = store.put_if_absent(dossier_prefix(dossier.agency, dossier.dossier_id)
                                + f"documents/{sha256}", link)
    store.put_if_absent(f"documents/{sha256}/dossiers/{dossier.agency}-{dossier.dossier_id}",
                        link)
    return added


def dossier_documents(store: ObjectStore, dossier: Dossier) -> list[dict]:
    """{"sha256", "name", "by", "at"} for each document of the dossier, in upload order."""
    prefix = dossier_prefix(dossier.agency, dossier.dossier_id) + "documents/"
    links = [json.loads(store.get(key)) for key in store.list(prefix)]
    return sorted(links, key=lambda link: (link["at"], link["name"]))


def dossiers_of_document(store: ObjectStore, sha256: str) -> list[tuple[str, str]]:
    """(agency, dossier_id) of every dossier the document was uploaded to."""
    out = []
    for key in store.list(f"documents/{check_sha(sha256)}/dossiers/"):
        agency, _, dossier_id = key.rsplit("/", 1)[1].partition("-")
        out.append((agency, dossier_id))
    return out


def agencies_of_document(store: ObjectStore, sha256: str) -> set[str]:
    return {agency for agency, _ in dossiers_of_document(store, sha256)}
