"""Finding a copy by its id: through its pointer, and by a scan for copies filed before."""

from __future__ import annotations

from pathlib import Path

from storage.backends import LocalStore
from storage.evidence.cancellations import find_copy
from storage.evidence.warehouse import file_copy, pointer_key

COPY = "0123456789abcdef0123456789abcdef"


class CountingStore(LocalStore):
    listed = 0

    def list(self, prefix: str):
        self.listed += 1
        return super().list(prefix)


def test_a_filed_copy_is_found_by_its_pointer_without_a_listing(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "store")
    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(b"%PDF-1.7 test")
    key = file_copy(store, person_id="001301012345", doc_type="birth_cert", copy_id=COPY,
                    pdf_path=pdf, metadata={"copy_id": COPY, "doc_type": "birth_cert"})
    assert key == f"warehouse/001301012345/birth_cert/{COPY}.pdf"
    assert store.exists(pointer_key(COPY))
    found = find_copy(store, COPY)
    assert found == (key.removesuffix(".pdf") + ".json", {"copy_id": COPY,
                                                          "doc_type": "birth_cert"})
    assert store.listed == 0
    assert find_copy(store, "f" * 32) is None


def test_copies_filed_before_pointers_and_bad_pointers(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    meta_key = f"warehouse/001301012345/citizen_id/{COPY}.json"
    store.put(meta_key, b'{"copy_id": "%s"}' % COPY.encode())
    assert find_copy(store, COPY) == (meta_key, {"copy_id": COPY})  # no pointer: scanned
    store.put(pointer_key(COPY), b'{"key": "accounts/admin.json"}')  # not a warehouse key
    assert find_copy(store, COPY) == (meta_key, {"copy_id": COPY})
    store.put(pointer_key(COPY), b"not json")
    assert find_copy(store, COPY) == (meta_key, {"copy_id": COPY})
