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
from pipeline.casework.status import claim, save_status
from pipeline.types import DocStatus
from storage.backends import LocalStore
from storage.db.dossiers import PUBLIC_CODE, dossier_by_code, open_dossier
from tests.conftest import open_state, sign_in

PASSWORD = "mật khẩu đủ dài 2026"


def test_status_by_code_without_personal_data(tmp_path: Path, env: dict[str, str]) -> None:
    state = open_state(LocalStore(tmp_path / "store"))
    accounts.create(state.db, "can.bo.lan", "Trần Thị Lan", "clerk", "99999", PASSWORD)
    with state.db.write() as s:
        dossier = open_dossier(s, agency="99999", person_id="001301012345",
                               person_name="Nguyễn Thị Mai Anh", date_of_birth="2001-02-05",
                               opened_by="can.bo.lan", deadlines=state.deadlines)
    assert PUBLIC_CODE.match(dossier.public_code)
    with state.db.read() as s:
        assert dossier_by_code(s, dossier.public_code.lower()) == dossier
        assert dossier_by_code(s, "../../etc/passwd") is None
    sha = "cd" * 32
    case, _ = claim(state, dossier, sha, name="khai-sinh-Nguyen-Thi-Mai-Anh.jpg", size=1,
                    person_id=dossier.person_id, actor="can.bo.lan")
    save_status(state, case["case_id"], DocStatus.READY, actor="ecopy", doc_type="birth_cert",
                fields=[{"name": "full_name", "value": "Nguyễn Thị Mai Anh"}])

    settings = replace(load_settings(env), web_secure_cookies=False)
    client = TestClient(create_app(settings, state), follow_redirects=False)
    page = client.get(f"/status/{dossier.public_code}")  # anonymous
    assert page.status_code == 200
    assert "Giấy khai sinh" in page.text and "Sẵn sàng chứng thực" in page.text
    assert "Đang chờ xử lý" in page.text  # the history
    for private in ("Nguyễn Thị Mai Anh", "001301012345", "khai-sinh", "2001-02-05", "can.bo.lan",
                    sha[:12], case["case_id"][:12]):
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
    sign_in(client, "can.bo.lan", PASSWORD)
    shown = client.get(f"/dossiers/{dossier.dossier_id}")
    assert re.search(rf"\b{dossier.public_code}\b", shown.text)


def test_status_look_ups_are_rate_limited(tmp_path: Path, env: dict[str, str]) -> None:
    state = open_state(LocalStore(tmp_path / "store"))
    client = TestClient(create_app(replace(load_settings(env), web_secure_cookies=False),
                                   state))
    codes = [client.get("/status/ABCDEFGHJK.json").status_code for _ in range(25)]
    assert codes[:20] == [404] * 20 and codes[-1] == 429
