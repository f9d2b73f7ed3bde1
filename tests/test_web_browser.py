"""The web app in a real browser (Debian's chromium through Selenium): a clerk uploads a scan,
checks it, a certifier signs it, anyone verifies it; and what each user must not reach.

Run with ECOPY_SCREENSHOTS=1 to refresh docs/screenshots/ (linked from the README).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from ecopy import accounts
from ecopy.settings import load_settings
from storage.backends import LocalStore
from tests.conftest import PERSON, export_copy, open_state
from tests.support.browser import (
    DESKTOP,
    PHONE,
    ROOT,
    chromium,
    live_server,
    screenshot,
    sign_in,
    wait_for,
    wait_images,
    wait_text,
)

PASSWORD = "mật khẩu đủ dài 2026"
SCAN = ROOT / "samples" / "birth_cert.jpg"
FINAL = ("Sẵn sàng chứng thực", "Cần kiểm tra", "Bị từ chối")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path):
    root = tmp_path_factory.mktemp("web-store")
    state = open_state(LocalStore(root))
    for user, name, role, agency, title in (
            ("lan", "Trần Thị Lan", "clerk", "99999", ""),
            ("chu.tich", "Nguyễn Văn Thử", "certifier", "99999",
             "Phó Chủ tịch Ủy ban nhân dân xã"),
            ("kiem.tra", "Lê Văn Kiểm", "auditor", "99999", ""),
            ("hoa", "Phạm Thị Hoa", "clerk", "11111", "")):
        accounts.create(state.db, user, name, role, agency, PASSWORD, title)
    settings = replace(load_settings({"ECOPY_PKI_DIR": str(pki_dir)}), web_secure_cookies=False,
                       workers=1, store_dir=root)
    with live_server(settings, state) as base:
        yield base, state, root


def _status_text(driver, sha: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f"[data-testid='status-{sha}']").text


def test_upload_review_certify_verify(site, tmp_path: Path) -> None:
    base, _store, root = site
    with chromium(DESKTOP) as d:
        # --- clerk: sign in, open a dossier, upload, watch the status change live
        d.get(f"{base}/dossiers")
        assert "/login" in d.current_url  # anonymous users are sent to sign in
        screenshot(d, "01-login")
        sign_in(d, base, "lan", PASSWORD)
        assert d.current_url.endswith("/dossiers")
        d.find_element(By.ID, "person_id").send_keys(PERSON)
        d.find_element(By.CSS_SELECTOR, "[data-testid='open-dossier']").click()
        wait_for(d, "[data-testid='upload-form']")
        dossier_url = d.current_url
        assert PERSON in d.find_element(By.CSS_SELECTOR, "[data-testid='person']").text
        dossier_code = re.search(r"\b[A-Z2-9]{10}\b", d.find_element(
            By.CSS_SELECTOR, "[data-testid='public-code']").text).group(0)
        d.find_element(By.ID, "files").send_keys(str(SCAN))
        d.find_element(By.ID, "upload-button").click()
        row = wait_for(d, "#documents-body tr[data-sha]")
        sha, case_id = row.get_attribute("data-sha"), row.get_attribute("data-case")
        assert re.fullmatch(r"[0-9a-f]{64}", sha) and re.fullmatch(r"[0-9a-f]{32}", case_id)
        WebDriverWait(d, 180).until(lambda drv: _status_text(drv, sha) in FINAL)
        status = _status_text(d, sha)
        assert status in FINAL[:2], d.find_element(By.CSS_SELECTOR,
                                                   f"[data-testid='message-{sha}']").text
        assert "birth_cert.jpg" in d.find_element(By.CSS_SELECTOR,
                                                  f"[data-testid='name-{sha}']").text
        screenshot(d, "02-dossier-clerk")

        # --- clerk: the review screen; the name is corrected and the paper handed over
        d.get(f"{base}/documents/{case_id}/review")
        name = wait_for(d, "[data-testid='field-full_name']")
        assert d.find_elements(By.CSS_SELECTOR, "img[src*='/pages/1.png']")
        wait_images(d)  # the page image, rendered from the stored original
        Select(d.find_element(By.ID, "doc_type")).select_by_value("birth_cert")
        name.clear()
        name.send_keys("Nguyễn Thị Mai Anh")
        screenshot(d, "03-review")
        d.find_element(By.CSS_SELECTOR, "[data-testid='save']").click()
        wait_for(d, "[data-testid='notice']")
        assert d.find_element(By.CSS_SELECTOR, "[data-testid='field-full_name']"
                              ).get_attribute("value") == "Nguyễn Thị Mai Anh"
        if status == "Cần kiểm tra":  # a paper the machine was unsure of is handed over
            d.find_element(By.CSS_SELECTOR, "[data-testid='mark-reviewed']").click()
            wait_for(d, "[data-testid='notice']")
        d.get(dossier_url)
        wait_text(d, f"[data-testid='status-{sha}']", "Sẵn sàng chứng thực")

        # --- certifier: the queue, the side-by-side preview, approve
        sign_in(d, base, "chu.tich", PASSWORD)
        assert d.current_url.endswith("/certify")
        wait_for(d, f"[data-testid='open-{case_id[:12]}']")
        screenshot(d, "04-certify-queue")
        d.find_element(By.CSS_SELECTOR, f"[data-testid='open-{case_id[:12]}']").click()
        wait_for(d, "[data-testid='preview']")
        wait_images(d)
        assert "Chứng thực bản sao đúng với bản chính" in d.find_element(
            By.CSS_SELECTOR, "[data-testid='statement']").text
        screenshot(d, "05-certify-document")
        d.find_element(By.CSS_SELECTOR, "[data-testid='approve']").click()
        number = wait_for(d, "[data-testid='register-number']", timeout=120)
        assert number.text.strip().startswith("1")
        copy_id = d.find_element(By.CSS_SELECTOR, "[data-testid='copy-id']").text.strip()
        assert re.fullmatch(r"[0-9a-f]{32}", copy_id)
        screenshot(d, "06-certified")

        # --- the person's warehouse and the register, as the auditor (read-only)
        sign_in(d, base, "kiem.tra", PASSWORD)
        d.get(f"{base}/warehouse")  # the ID goes in the form's body, never in the URL
        d.find_element(By.CSS_SELECTOR, "[data-testid='warehouse-person-id']").send_keys(PERSON)
        d.find_element(By.CSS_SELECTOR, "[data-testid='warehouse-open']").click()
        wait_for(d, "[data-testid='warehouse-table']")
        assert PERSON not in d.current_url
        assert copy_id[:8] in d.page_source
        screenshot(d, "07-warehouse")
        d.get(f"{base}/register")
        assert "Nguyễn Thị Mai Anh" in d.page_source or "birth_cert.jpg" in d.page_source
        screenshot(d, "08-register")
        d.get(dossier_url)
        assert not d.find_elements(By.ID, "upload-button")  # auditors cannot upload

        # --- anyone: the QR link and an uploaded copy both verify, in both languages
        d.delete_all_cookies()
        # what the QR code holds: the issue data after '#', read by the page, never sent
        d.get(f"{base}/verify/{copy_id}#hs={dossier_code}&cd={PERSON}&gt=birth_cert")
        result = wait_for(d, "[data-testid='verify-result']")
        assert "HỢP LỆ" in result.text
        WebDriverWait(d, 10).until(lambda drv: (drv.find_element(
            By.CSS_SELECTOR, "[data-testid='verify-follow-dossier']").get_attribute("href")
            or "").endswith(f"/status/{dossier_code}"))
        screenshot(d, "09-verify-public")
        (key,) = [k for k in LocalStore(root).list(f"warehouse/{PERSON}/")
                  if k.endswith(f"/{copy_id}.pdf")]
        export_copy(root, key, tmp_path / "ban-sao.pdf")  # the store seals it
        d.get(f"{base}/verify")
        d.find_element(By.ID, "verify-file").send_keys(str(tmp_path / "ban-sao.pdf"))
        d.find_element(By.CSS_SELECTOR, "[data-testid='verify-submit']").click()
        assert "HỢP LỆ" in wait_for(d, "[data-testid='verify-result']").text
        d.get(f"{base}/lang/en?next=/verify/{copy_id}")
        assert "VALID" in wait_for(d, "[data-testid='verify-result']").text

        # --- another commune's clerk sees nothing of this one
        sign_in(d, base, "hoa", PASSWORD)
        d.get(dossier_url)
        assert "404" in d.find_element(By.TAG_NAME, "h1").text
        assert PERSON not in d.page_source
        d.get(f"{base}/documents/{case_id}/review")
        assert "404" in d.find_element(By.TAG_NAME, "h1").text
        d.get(f"{base}/lang/vi?next=/dossiers")


def test_pages_fit_a_phone(site) -> None:
    base, _store, _root = site
    with chromium(PHONE) as d:
        sign_in(d, base, "lan", PASSWORD)
        wait_for(d, "[data-testid='open-dossier']")
        width = d.execute_script("return document.documentElement.scrollWidth")
        assert width <= PHONE[0] + 1, f"the page is {width}px wide on a {PHONE[0]}px phone"
        screenshot(d, "10-dossiers-phone")
        d.delete_all_cookies()
        d.get(f"{base}/verify")
        wait_for(d, "[data-testid='verify-form']")
        assert d.execute_script("return document.documentElement.scrollWidth") <= PHONE[0] + 1
        screenshot(d, "11-verify-phone")


def test_keyboard_only_sign_in(site) -> None:
    """Skip link first, then the form, without a mouse; every input has a label."""
    base, _store, _root = site
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    with chromium(DESKTOP) as d:
        d.get(f"{base}/verify")
        ActionChains(d).send_keys(Keys.TAB).perform()
        assert d.switch_to.active_element.get_attribute("class") == "skip"
        ActionChains(d).send_keys(Keys.ENTER).perform()
        assert d.switch_to.active_element.get_attribute("id") == "main"
        d.get(f"{base}/login")  # the user name has the focus on arrival
        for field in d.find_elements(By.CSS_SELECTOR, "input:not([type=hidden])"):
            assert d.find_elements(By.CSS_SELECTOR, f"label[for='{field.get_attribute('id')}']")
        ActionChains(d).send_keys("lan", Keys.TAB, PASSWORD, Keys.ENTER).perform()
        WebDriverWait(d, 20).until(lambda drv: drv.current_url.endswith("/dossiers"))


def test_citizen_follows_complains_and_staff_answers(site) -> None:
    """Issue 8 in the browser: the status page by code, a complaint through the public form
    (honeypot hidden, token, minimum fill time), its answer by the clerk, the follow-up page,
    the papers a dossier needs, and the public figures."""
    import time

    from storage.db.dossiers import open_dossier

    base, state, _root = site
    with state.db.write() as s:
        dossier = open_dossier(s, agency="99999", person_id=PERSON,
                               person_name="Nguyễn Thị Mai Anh", date_of_birth="2001-02-05",
                               opened_by="lan", deadlines=state.deadlines)
    with chromium(DESKTOP) as d:
        d.get(f"{base}/status")
        d.find_element(By.CSS_SELECTOR, "[data-testid='status-code']").send_keys(
            dossier.public_code.lower())
        d.find_element(By.CSS_SELECTOR, "[data-testid='status-code']").submit()
        wait_for(d, "[data-testid='status-result']")
        assert "Nguyễn" not in d.page_source and PERSON not in d.page_source
        screenshot(d, "12-status-public")

        d.find_element(By.CSS_SELECTOR, "[data-testid='status-complain']").click()
        wait_for(d, "[data-testid='complaint-form']")
        assert d.find_element(By.CSS_SELECTOR, "[data-testid='complaint-target']"
                              ).get_attribute("value") == dossier.public_code
        assert not d.find_element(By.ID, "c-hp").is_displayed()  # the honeypot
        d.find_element(By.ID, "c-name").send_keys("Lê Thị Khiếu Nại")
        d.find_element(By.ID, "c-phone").send_keys("0912 345 678")
        d.find_element(By.ID, "c-text").send_keys("Hồ sơ của tôi đã quá hẹn trả kết quả.")
        screenshot(d, "13-complaint-form")
        time.sleep(3.2)  # a person takes longer than the minimum fill time
        d.find_element(By.CSS_SELECTOR, "[data-testid='complaint-submit']").click()
        wait_for(d, "[data-testid='complaint-filed']")
        follow_up = d.current_url.split("?")[0]

        sign_in(d, base, "lan", PASSWORD)
        d.get(f"{base}/complaints")
        wait_for(d, "[data-testid='complaints-table']")
        screenshot(d, "14-complaints-staff")
        d.find_element(By.CSS_SELECTOR, "[data-testid='complaints-table'] a").click()
        wait_for(d, "[data-testid='complaint-answer']")
        assert "0912 345 678" in d.page_source  # staff see the contact
        d.find_element(By.ID, "a-text").send_keys("Đã trả kết quả, xin lỗi bà.")
        d.find_element(By.CSS_SELECTOR, "button[value='answer']").click()
        wait_text(d, "[data-testid='complaint-status']", "Đã trả lời")

        d.get(f"{base}/dossiers/{dossier.dossier_id}/papers")
        d.find_element(By.CSS_SELECTOR, "[data-testid='need-marital_status']").click()
        d.find_element(By.CSS_SELECTOR, "[data-testid='papers-check']").click()
        row = wait_for(d, "[data-testid='paper-marital_status']")
        assert row.get_attribute("data-status") == "requested"
        screenshot(d, "15-papers")

        d.delete_all_cookies()
        d.get(follow_up)
        assert "Đã trả kết quả, xin lỗi bà." in wait_for(d, "[data-testid='complaint-answers']"
                                                          ).text
        assert "0912 345 678" not in d.page_source  # nor any contact detail
        d.get(f"{base}/figures")
        wait_for(d, "[data-testid='figures-period']")
        assert "99999" in d.page_source and PERSON not in d.page_source
        screenshot(d, "16-figures")
