"""Public processing status: a citizen follows a dossier with its code, and sees nothing
personal (Res. 131/NQ-CP; issue 8, point 3)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from pipeline.types import DocStatus
from storage.backends import LocalStore
from storage.dossiers import PUBLIC_CODE, dossier_by_code, link_document, open_dossier
from storage.records import update_record

PASSWORD = "mật khẩu đủ dài 2026"


def test_status_by_code_without_personal_data(tmp_path: Path, env: dict[str, str]) -> None:
    store = LocalStore(tmp_path / "store")
    accounts.create(store, "can.bo.lan", "Trần Thị Lan", "clerk", "99999", PASSWORD)
    dossier = open_dossier(store, agency="99999", person_id="001301012345",
                           person_name="Nguyễn Thị Mai Anh", date_of_birth="2001-02-05",
                           opened_by="can.bo.lan")
    assert PUBLIC_CODE.match(dossier.public_code)
    assert dossier_by_code(store, dossier.public_code.lower()) == dossier
    assert dossier_by_code(store, "../../etc/passwd") is None
    sha = "cd" * 32
    link_document(store, dossier, sha, "khai-sinh-Nguyen-Thi-Mai-Anh.jpg", "can.bo.lan")
    update_record(store, sha, DocStatus.RECEIVED, name="khai-sinh-Nguyen-Thi-Mai-Anh.jpg")
    update_record(store, sha, DocStatus.READY, doc_type="birth_cert",
                  fields=[{"name": "full_name", "value": "Nguyễn Thị Mai Anh"}])

    settings = replace(load_settings(env), web_secure_cookies=False)
    client = TestClient(create_app(settings, store), follow_redirects=False)
    page = client.get(f"/status/{dossier.public_code}")  # anonymous
    assert page.status_code == 200
    assert "Giấy khai sinh" in page.text and "Sẵn sàng chứng thực" in page.text
    assert "Đang chờ xử lý" in page.text  # the history
    for private in ("Nguyễn Thị Mai Anh", "001301012345", "khai-sinh", "2001-02-05", "can.bo.lan",
                    sha[:12]):
        assert private not in page.text, private
    data = client.get(f"/status/{dossier.public_code}.json").json()
    assert [d["status"] for d in data["documents"]] == ["ready"]
    assert [h["status"] for h in data["documents"][0]["history"]] == ["received", "ready"]
    assert "Nguyễn" not in json.dumps(data, ensure_ascii=False)
    assert client.get("/status/ABCDEFGHJK").status_code == 404
    assert client.get("/status/ABCDEFGHJK.json").status_code == 404
    assert client.get(f"/status?code={dossier.public_code.lower()}").headers["location"] == \
        f"/status/{dossier.public_code}"

    # the clerk sees the code to hand to the citizen
    client.post("/login", data={"username": "can.bo.lan", "password": PASSWORD, "next": "/"})
    shown = client.get(f"/dossiers/{dossier.dossier_id}")
    assert re.search(rf"\b{dossier.public_code}\b", shown.text)


def test_status_look_ups_are_rate_limited(tmp_path: Path, env: dict[str, str]) -> None:
    store = LocalStore(tmp_path / "store")
    client = TestClient(create_app(replace(load_settings(env), web_secure_cookies=False),
                                   store))
    codes = [client.get("/status/ABCDEFGHJK.json").status_code for _ in range(25)]
    assert codes[:20] == [404] * 20 and codes[-1] == 429
