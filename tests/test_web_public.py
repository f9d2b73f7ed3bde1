"""Public verify page, a person's warehouse, the register and cancellation pages (issue 7).

One real e-copy is made once by `ecopy process --certify-all` (real OCR and signatures); the
tests drive the web app over that store with TestClient, as anonymous users and as staff of
the certifying commune (99999) and of another one (11111).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from ecopy import accounts
from ecopy.settings import load_settings
from ecopy.web.app import create_app
from ecopy.web.security import AddressLimiter
from pipeline.casework.procedures import procedure
from pipeline.steps.issueqr import parse_issue_qr
from storage.backends import LocalStore
from storage.db.access import of_person
from storage.evidence.audit import read_events
from tests.conftest import CACHED_OCR, CERTIFY_AS, PERSON, SAMPLES, open_state, run_cli, sign_in

PASSWORD = "mật khẩu đủ dài 2026"
REQUESTER = "<script>alert(1)</script> Nguyễn Văn An"
DECISION, REASON = "15/QĐ-UBND", "Bản chính bị <b>tẩy xóa</b>"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> dict:
    """A store holding one certified copy of samples/birth_cert.jpg, and staff accounts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOPY_")}
    env.update(CACHED_OCR)  # not about OCR
    env["ECOPY_PKI_DIR"] = str(pki_dir)
    store_dir = tmp_path_factory.mktemp("web-public-store")
    proc = run_cli(["process", *CERTIFY_AS, str(SAMPLES / "birth_cert.jpg"), "--person-id", PERSON,
                    "--certify-all", "--out", str(store_dir), "--requester", REQUESTER,
                    "--workers", "1", "--json", "--no-progress"], env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["documents"][0]
    assert doc["status"] == "filed", doc
    state = open_state(LocalStore(store_dir))
    for user, role, agency in (("lan", "clerk", "99999"), ("kiem.tra", "auditor", "99999"),
                               ("hoa", "clerk", "11111")):
        accounts.create(state.db, user, f"Người dùng {user}", role, agency, PASSWORD)
    return {"env": env, "dir": store_dir, "copy_id": doc["copy_id"],
            "pdf": state.store.get(doc["ecopy_path"])}  # sealed on disk


def warehouse(c: TestClient, person_id: str):
    """A person's copies, as the form posts them (the ID in the body, never in the URL)."""
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/warehouse").text).group(1)
    return c.post("/warehouse", data={"csrf": token, "person_id": person_id})


def make_app(env: dict[str, str], store_dir: Path, **settings: object):
    app = create_app(replace(load_settings(env), web_secure_cookies=False, **settings),
                     open_state(LocalStore(store_dir)))
    # the limit has its own test
    app.state.verify_limiter = AddressLimiter(10_000, 60, app.state.db)
    return app


@pytest.fixture(scope="module")
def app(made: dict):
    return make_app(made["env"], made["dir"])


def client(app, user: str | None = None, lang: str = "vi") -> TestClient:
    c = TestClient(app, follow_redirects=False)
    c.cookies.set("ecopy_lang", lang)
    if user:
        r = sign_in(c, user, PASSWORD)
        assert r.status_code == 303, r.text
    return c


def upload(c: TestClient, data: bytes, name: str = "ban-sao.pdf"):
    form = c.get("/verify")
    token = re.search(r'name="vtoken" value="([^"]+)"', form.text).group(1)
    return c.post("/verify", data={"vtoken": token},
                  files={"file": (name, data, "application/pdf")})


def verdict(html: str, lang: str) -> str:
    return re.search(rf'data-testid="verdict-{lang}" data-indication="([A-Z-]+)"', html).group(1)


def assert_nothing_private(html: str) -> None:
    """The public report shows the copy and the checks, not the store's other data."""
    assert PERSON not in html  # in the manifest and the warehouse, never on the page
    assert "alert(1)" not in html  # the requester is in the register, not in the report
    assert "warehouse/" not in html and "ECOPY_" not in html


# ------------------------------------------------------------------ public verify page


def test_verify_form_is_public(app) -> None:
    r = client(app).get("/verify")
    assert r.status_code == 200 and 'lang="vi"' in r.text
    assert "Kiểm tra bản sao điện tử" in r.text and 'for="verify-file"' in r.text
    assert "25 MB" in r.text  # the anonymous page's own limit (web_verify_max_bytes)
    cookie = r.headers["set-cookie"]
    assert "ecopy_verify=" in cookie and "HttpOnly" in cookie and "Path=/verify" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_valid_copy_report_in_vietnamese_and_english(app, made: dict) -> None:
    r = upload(client(app), made["pdf"], name="<img src=x onerror=alert(2)>.pdf")
    assert r.status_code == 200
    assert verdict(r.text, "vi") == "TOTAL-PASSED" and verdict(r.text, "en") == "TOTAL-PASSED"
    assert "Kết luận: HỢP LỆ (TOTAL-PASSED)" in r.text
    assert "Nguyễn Văn Thử" in r.text  # the certifier, from the signature
    assert "Số 1, Quyển số 01/" in r.text and "có trong sổ, khớp" in r.text
    assert "<img src=x" not in r.text and "&lt;img src=x onerror=alert(2)&gt;.pdf" in r.text
    assert r.headers["cache-control"] == "no-store"
    assert_nothing_private(r.text)
    # the English report is on the same page (the uploaded file is not kept for a reload) ...
    assert r.text.index('data-testid="verify-report-vi"') < r.text.index("<details")
    assert "Verdict: VALID (TOTAL-PASSED)" in r.text
    # ... and first, in an English page, when the interface is in English
    en = upload(client(app, lang="en"), made["pdf"])
    assert '<html lang="en">' in en.text and verdict(en.text, "en") == "TOTAL-PASSED"
    assert en.text.index('data-testid="verify-report-en"') < en.text.index("<details")
    assert "This electronic copy is VALID" in en.text

    events = [e for e in read_events(LocalStore(made["dir"])) if e["action"] == "verify"]
    assert events[-1]["object"] == made["copy_id"]
    assert events[-1]["actor"] == "web:anonymous"
    assert events[-1]["details"]["indication"] == "TOTAL-PASSED"
    assert PERSON not in json.dumps(events[-1]) and "address" not in events[-1]["details"]


def test_tampered_copy_is_not_valid(app, made: dict) -> None:
    data = bytearray(made["pdf"])
    first = re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)", data)
    at = int(first.group(1)) // 2  # inside the range both signatures cover
    data[at] ^= 0x01
    r = upload(client(app), bytes(data))
    assert r.status_code == 200
    assert verdict(r.text, "vi") == "TOTAL-FAILED"
    assert "KHÔNG HỢP LỆ (TOTAL-FAILED / HASH_FAILURE)" in r.text
    assert "mã băm không khớp" in r.text and "the hash does not match" in r.text


def test_refused_uploads(made: dict, app) -> None:
    c = client(app)
    png = (SAMPLES / "citizen_id.png").read_bytes()
    r = upload(c, png, name="giay-to.pdf")  # named .pdf, but the content is a PNG
    assert r.status_code == 400 and "không phải là tệp PDF" in r.text
    assert 'data-testid="verify-error"' in r.text and "verdict-vi" not in r.text
    assert upload(c, b"").status_code == 400
    # no token, a wrong token, no cookie: a form posted from another site
    assert c.post("/verify", files={"file": ("a.pdf", made["pdf"])}).status_code == 403
    wrong = c.post("/verify", data={"vtoken": "x" * 43}, files={"file": ("a.pdf", made["pdf"])})
    assert wrong.status_code == 403 and "hết hạn" in wrong.text
    stranger = TestClient(app, follow_redirects=False)
    assert stranger.post("/verify", data={"vtoken": "x" * 43},
                         files={"file": ("a.pdf", made["pdf"])}).status_code == 403
    # the anonymous page has a size limit of its own, lower than the staff upload's
    small = make_app(made["env"], made["dir"])
    small.state.settings = replace(small.state.settings, web_verify_max_bytes=100_000)
    big = upload(client(small), made["pdf"])
    assert big.status_code == 413 and "Tệp quá lớn" in big.text


def test_verifications_are_rate_limited(made: dict) -> None:
    limited = make_app(made["env"], made["dir"])
    limited.state.verify_limiter = AddressLimiter(2, 60, limited.state.db, "verify-test")
    c = client(limited)
    assert [c.get(f"/verify/{'0' * 32}").status_code for _ in range(3)] == [404, 404, 429]
    assert "thử lại sau một phút" in c.get(f"/verify/{made['copy_id']}").text


def test_qr_link_opens_the_report(app, made: dict, tmp_path: Path) -> None:
    from pipeline.vn.cardqr import read_qr_codes

    pdf = tmp_path / "copy.pdf"
    pdf.write_bytes(made["pdf"])
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", "-f", "2", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=60)
    urls = [text for page in sorted(tmp_path.glob("page*.png"))
            for text, _box in read_qr_codes(page)]
    assert len(urls) == 1 and urlsplit(urls[0]).path.endswith(f"/verify/{made['copy_id']}")
    issue = parse_issue_qr(urls[0])  # Circular 01/2023: what the issued result's QR carries
    assert issue["copy_id"] == made["copy_id"] and issue["cd"] == PERSON
    assert issue["gt"] == "birth_cert" and issue["ht"] == "ecopy"
    assert issue["tthc"] == procedure("").code and re.fullmatch(r"\d{8}T\d{6}\+0700", issue["tg"])
    assert "hs" not in issue  # made by `ecopy process`, outside any dossier
    r = client(app).get(urlsplit(urls[0]).path)
    assert r.status_code == 200 and verdict(r.text, "vi") == "TOTAL-PASSED"
    assert made["copy_id"] in r.text and "Giấy khai sinh" in r.text
    assert_nothing_private(r.text)
    report = client(app).get(f"/verify/{made['copy_id']}/report.pdf")
    assert report.status_code == 200 and report.content.startswith(b"%PDF")
    assert report.headers["content-disposition"].startswith("attachment")
    # the code typed in by hand leads to the same page
    typed = client(app).get(f"/verify?copy_id=%20{made['copy_id'].upper()}%20")
    assert typed.headers["location"] == f"/verify/{made['copy_id']}"


def test_unknown_copy_is_a_404_page(app) -> None:
    c = client(app)
    r = c.get(f"/verify/{'a' * 32}")
    assert r.status_code == 404 and "Không có bản sao này" in r.text
    assert "Traceback" not in r.text
    for bad in ("..%2F..%2Fetc%2Fpasswd", "<script>x</script>", "A" * 300):
        r = c.get(f"/verify/{bad}")
        assert r.status_code == 404 and "<script>x" not in r.text
    assert c.get("/verify?copy_id=<b>").status_code == 400


# ------------------------------------------------------------------ staff pages


def test_anonymous_users_are_sent_to_login(app, made: dict) -> None:
    c = client(app)
    for path in ("/warehouse", "/access", "/register",
                 "/register/export?year=2026&format=csv", f"/copies/{made['copy_id']}.pdf",
                 "/cancellations"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    public = c.get("/cancellations/public.json")
    assert public.status_code == 200 and public.json()["count"] == 0


def test_warehouse_lists_and_serves_own_agency_copies(app, made: dict) -> None:
    for user in ("lan", "kiem.tra"):
        c = client(app, user)
        page = warehouse(c, PERSON)
        assert page.status_code == 200
        assert f'data-testid="copy-{made["copy_id"]}"' in page.text
        assert "Giấy khai sinh" in page.text and "Nguyễn Thị Mai Anh" in page.text
        assert f'href="/verify/{made["copy_id"]}"' in page.text
        pdf = c.get(f"/copies/{made['copy_id']}.pdf")
        assert pdf.status_code == 200 and pdf.content == made["pdf"]
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-disposition"].startswith("attachment;")
    c = client(app, "lan")
    assert warehouse(c, "0013").status_code == 400
    assert c.get(f"/warehouse/{PERSON}").status_code == 404  # no personal ID in a URL
    assert c.get("/warehouse/..%2F..%2Faccounts").status_code == 404
    assert c.get("/copies/..%2Faccounts%2Flan.pdf").status_code == 404
    app.state.access_log.flush()  # written a moment after the page, here at once
    with app.state.db.read() as s:  # reads are in the access log, not the audit chain
        read = {r.what for r in of_person(s, PERSON) if r.actor == "lan"}
    assert {"warehouse", "copy"} <= read


def test_other_commune_sees_nothing(app, made: dict) -> None:
    c = client(app, "hoa")  # clerk of commune 11111; the copy is commune 99999's
    page = warehouse(c, PERSON)
    assert page.status_code == 200 and 'data-testid="warehouse-empty"' in page.text
    assert made["copy_id"] not in page.text and "Nguyễn Thị Mai Anh" not in page.text
    assert c.get(f"/copies/{made['copy_id']}.pdf").status_code == 404
    register = c.get("/register")
    assert 'data-testid="register-empty"' in register.text and "Nguyễn Văn An" not in register.text
    rows = list(csv.reader(io.StringIO(
        c.get("/register/export?year=2026&format=csv").content.decode("utf-8-sig"))))
    assert len(rows) == 1  # the header only
    # the public verify page still answers for any copy (it shows what the copy carries)
    assert verdict(c.get(f"/verify/{made['copy_id']}").text, "vi") == "TOTAL-PASSED"


def test_register_page_and_exports(app, made: dict) -> None:
    c = client(app, "kiem.tra")  # auditors read the register too
    page = c.get("/register")
    assert page.status_code == 200 and 'data-testid="register-row-1"' in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Nguyễn Văn An" in page.text
    assert 'data-testid="register-chain" data-ok="true"' in page.text
    assert "nguyên vẹn" in page.text and 'scope="col"' in page.text
    year = re.search(r'register-year.*?<option value="(\d{4})" selected', page.text, re.S)[1]
    assert c.get(f"/register?year={year}&month=13").status_code == 400

    exported = c.get(f"/register/export?year={year}&format=csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Số thứ tự/số chứng thực"  # Mẫu số 19, word for word
    assert rows[1][0] == "1" and rows[1][2] == REQUESTER and rows[1][3] == "Giấy khai sinh"
    assert rows[1][7] == "X"
    # the same bytes as `ecopy register export`
    out = made["dir"].parent / "register.csv"
    proc = run_cli(["register", "export", "--commune", "99999", "--year", year, "--format",
                    "csv", "--out", str(out), "--store", str(made["dir"])], made["env"])
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == exported.content
    pdf = c.get(f"/register/export?year={year}&month={rows[1][1][3:5]}&format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert f"-{year}-{rows[1][1][3:5]}.pdf" in pdf.headers["content-disposition"]
    assert c.get(f"/register/export?year={year}&format=exe").status_code == 400


def test_cancelled_copy(made: dict, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    shutil.copytree(made["dir"], store_dir)
    env = {**made["env"], "ECOPY_ACTOR": "nguyen.van.thu", "ECOPY_ROLE": "certifier"}
    proc = run_cli(["cancel", made["copy_id"], "--decision", DECISION, "--reason", REASON,
                    "--decision-date", "2026-11-20", "--store", str(store_dir)], env)
    assert proc.returncode == 0, proc.stderr
    app = make_app(made["env"], store_dir)

    r = upload(client(app), made["pdf"])
    assert verdict(r.text, "vi") == "TOTAL-FAILED"
    assert "KHÔNG HỢP LỆ (TOTAL-FAILED / CANCELLED)" in r.text and "ĐÃ BỊ HỦY" in r.text
    assert DECISION in r.text and "Bản chính bị &lt;b&gt;tẩy xóa&lt;/b&gt;" in r.text
    assert "nguyen.van.thu" not in r.text  # who recorded the decision is not published
    assert_nothing_private(r.text)
    assert verdict(client(app).get(f"/verify/{made['copy_id']}").text, "en") == "TOTAL-FAILED"
    printable = tmp_path / "report.pdf"
    printable.write_bytes(client(app).get(f"/verify/{made['copy_id']}/report.pdf").content)
    text = subprocess.run(["pdftotext", str(printable), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert DECISION in text and "CANCELLED" in text
    assert PERSON not in text and "nguyen.van.thu" not in text and "warehouse/" not in text

    listing = client(app).get("/cancellations/public.json").json()
    assert [c["copy_id"] for c in listing["cancellations"]] == [made["copy_id"]]
    assert PERSON not in json.dumps(listing) and "nguyen.van.thu" not in json.dumps(listing)
    staff = client(app, "lan")
    page = staff.get("/cancellations")
    assert f'data-testid="cancellation-{made["copy_id"]}"' in page.text
    assert DECISION in page.text and "20/11/2026" in page.text
    assert "Đã hủy (15/QĐ-UBND)" in warehouse(staff, PERSON).text
    assert "Đã hủy theo Quyết định số 15/QĐ-UBND" in staff.get("/register").text
    other = client(app, "hoa").get("/cancellations")
    assert 'data-testid="cancellations-empty"' in other.text and DECISION not in other.text
