"""The portal in a real browser (Debian's Chromium through Playwright)
against the app under uvicorn and the service fixture's workers: a
department user submits the sample meeting, watches it finish and downloads
the minutes (and is refused an entry job the service is not set up for); an
operator sees the missing setting and exports the savings as XLSX; logging
out ends a copied session. Screenshots of the main pages go to
docs/screenshots/, from realistic data: named departments and people, the
product's job kinds only."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from playwright import sync_api as playwright_api
from sqlalchemy import select

from config.settings import Settings
from jobs import auth, store
from jobs.db import unit_of_work
from jobs.models import User
from jobs.ocr.kind import SAMPLES as OCR_SAMPLES
from jobs.ocr.kind import sample as ocr_sample
from jobs.rpa import browser as browser_flags
from jobs.rpa.browser import chromium_path
from jobs.rpa.intake_check import UNAVAILABLE_JA
from jobs.rpa.kind import SAMPLES as RPA_SAMPLES
from jobs.transcription.kind import SAMPLES
from jobs.wareki import to_seireki, to_wareki
from tests.conftest import REPO, Service
from tests.integration.helpers import wait_until
from tests.portal.conftest import HOSTILE, PASSWORD

# The same Chromium and flags as the entry worker.
CHROMIUM = chromium_path({})
DATE_LABELS = {"birth_date": "生年月日", "application_date": "申請日"}  # the OCR sample's dates
FLAGS = list(browser_flags.FLAGS)
# The docs' screenshots are refreshed only on request (DIGILABO_SCREENSHOTS=1),
# so a test run leaves the checkout as it was.
SHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("DIGILABO_SCREENSHOTS")
    else Path(os.environ.get("TMPDIR", "/tmp")) / "digilabo-screenshots"
)
OCR_TEMPLATE = OCR_SAMPLES / "kyufukin-shinsei.yaml"
OCR_REFERENCE = OCR_SAMPLES / "kyufukin-shinsei.pdf"
# The browser tests run once, against the SQLite service (the HTTP tests
# cover PostgreSQL); make install provides Chromium and Playwright.
pytestmark = pytest.mark.parametrize("service", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    """One Chromium for the module's tests."""
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def person(
    service: Service, login: str, code: str, department: str, display: str, role: str = "department"
) -> str:
    """A user as a city office has them: a named department and person."""
    with unit_of_work(service.runtime.factory) as session:
        store.ensure_department(code, department, session=session)
        if session.scalar(select(User).where(User.name == login)) is None:
            auth.create_user(
                login,
                session=session,
                department_code=code,
                role=role,
                password=PASSWORD,
                display_name=display,
            )
    return login


@pytest.fixture
def portal_url(service: Service, tmp_path: Path) -> Iterator[str]:
    """uvicorn on a socket this test bound (port 0: the system picks a free one),
    with the product's job kinds only and no entry credential configured."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_CREDENTIAL_")}
    env |= {**service.settings.as_env(), "DIGILABO_EXTRA_JOB_KINDS": "", "PYTHONPATH": str(REPO)}
    env["DIGILABO_MAX_UPLOAD_BYTES"] = str(Settings.model_fields["max_upload_bytes"].default)  # as shipped
    argv = [sys.executable, "-m", "uvicorn", "intake_api.main:create_app", "--factory"]
    argv += ["--fd", str(sock.fileno()), "--no-access-log"]
    log = (tmp_path / "uvicorn.log").open("wb")
    process = subprocess.Popen(argv, env=env, pass_fds=(sock.fileno(),), stdout=log, stderr=log, cwd=REPO)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/portal/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        wait_until(up, 90, "uvicorn to answer")
        assert process.poll() is None, (tmp_path / "uvicorn.log").read_text()
        yield url
    finally:
        process.terminate()
        process.wait(10)
        sock.close()
        log.close()


def _log_in(page, url: str, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/portal/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _refused_entry(page, url: str) -> None:  # type: ignore[no-untyped-def]
    """An entry job whose script's credential is not set: refused at upload,
    the department told to ask Digi-Labo, no setting named."""
    page.goto(f"{url}/portal/jobs/new?kind=rpa_entry")
    page.select_option("select[name=script]", "shishutsu_futan")
    page.set_input_files("input[name=files]", str(RPA_SAMPLES / "records.csv"))
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("#form-error")
    assert page.locator("#form-error").inner_text() == UNAVAILABLE_JA
    assert "DIGILABO_" not in page.content() and "zaimu_demo" not in page.content()


def _escaped_in_the_form(page, url: str) -> None:  # type: ignore[no-untyped-def]
    """A hostile meeting name comes back in the refused form as text, never as a script."""
    page.goto(f"{url}/portal/jobs/new?kind=transcription")
    assert page.locator(".upload-status").is_hidden()  # 「送信中…」 only while sending
    assert "受け付ける形式: WAV、MP3" in page.locator("#file-help").inner_text()
    page.set_input_files("input[name=files]", str(RPA_SAMPLES / "records.csv"))
    page.fill("input[name=meeting_name]", f"防災対策検討会議{HOSTILE}")
    page.click("#job-form button[type=submit]")
    page.wait_for_selector("#form-error")
    assert "<script>" in page.input_value("input[name=meeting_name]")
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0


def test_minutes_from_upload_to_download_and_savings_export(
    service: Service, portal_url: str, browser: playwright_api.Browser
) -> None:
    staff = person(service, "tanaka", "kikaku", "企画課", "田中 美咲")
    ops = person(service, "sato", "digilabo", "デジタル推進課", "佐藤 健一", "operator")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP", accept_downloads=True)
    page.goto(f"{portal_url}/portal/login")
    _shot(page, "login")
    _log_in(page, portal_url, staff)
    page.wait_for_url("**/portal/jobs")
    _escaped_in_the_form(page, portal_url)
    _refused_entry(page, portal_url)

    page.goto(f"{portal_url}/portal/jobs/new?kind=transcription")
    page.set_input_files("input[name=files]", str(SAMPLES / "sample_meeting.flac"))
    page.fill("input[name=meeting_name]", "防災対策検討会議（第3回）")
    page.fill("input[name=meeting_date]", "2025-04-15")
    page.fill("input[name=place]", "本庁舎5階 第1会議室")
    page.fill("textarea[name=attendees]", "危機管理室長\n総務課長")
    page.fill("textarea[name=glossary]", "危機管理室、小倉北区")
    _shot(page, "new-job")
    page.click("#job-form button[type=submit]")
    page.wait_for_url("**/portal/jobs/*-*")
    job_url = page.url

    page.goto(f"{portal_url}/portal/jobs")
    _shot(page, "department-jobs")
    page.goto(job_url)
    # The page polls and reloads itself when the job is done.
    page.wait_for_selector("text=このジョブで削減できた時間", timeout=150_000)
    assert page.locator(".state").first.inner_text() == "完了"
    assert page.locator("#job-department").inner_text() == "企画課"
    assert (
        "令和7年4月15日 (2025年4月15日)" in page.locator("dd", has_text="令和7年4月15日").first.inner_text()
    )
    assert "字幕（SRT）" in page.locator("#result-files").inner_text()
    _shot(page, "job")
    with page.expect_download() as info:
        page.click("a.download:has-text('議事録（Word）')")
    minutes = Path(info.value.path()).read_bytes()
    assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(minutes)).namelist()

    # A second browser with a copy of the session cookie: in until the logout.
    tablet = browser.new_page(viewport={"width": 820, "height": 1180}, locale="ja-JP")
    tablet.context.add_cookies(page.context.cookies())
    tablet.goto(f"{portal_url}/portal/jobs")
    _shot(tablet, "department-jobs-tablet")
    page.click("button:has-text('ログアウト')")
    page.wait_for_url("**/portal/login?done=logout")
    assert page.locator("#flash").inner_text() == "ログアウトしました。"
    tablet.goto(f"{portal_url}/portal/jobs")
    assert "/portal/login" in tablet.url
    tablet.context.close()

    _log_in(page, portal_url, ops)
    page.wait_for_url("**/portal/ops/queues")
    assert "DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER" in page.locator("#setup-problems").inner_text()
    _shot(page, "queues")
    page.goto(f"{portal_url}/portal/ops/jobs")
    _shot(page, "all-jobs")
    page.goto(f"{portal_url}/portal/ops/failed")
    _shot(page, "failed-jobs")
    page.goto(f"{portal_url}/portal/ops/glossary?department=kikaku")
    _shot(page, "glossary")
    page.goto(f"{portal_url}/portal/savings")
    _shot(page, "savings")
    with page.expect_download() as info:
        page.click("#export-xlsx")
    assert info.value.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert {"部署別", "サービス別", "月別"} <= set(book.sheetnames)
    departments = [row[0] for row in book["部署別"].iter_rows(values_only=True)]
    assert "kikaku" in departments
    page.context.close()


def _review_with_keyboard(page, url: str, job_id: str) -> None:  # type: ignore[no-untyped-def]
    """The operator's review: the first field corrected, the others confirmed, Enter only."""
    page.goto(f"{url}/portal/ops/review")
    _shot(page, "review-queue")
    page.click(f"a[href='/portal/jobs/{job_id}/review']")
    page.wait_for_selector("#review-form input.review-value")
    inputs = page.locator("input.review-value")
    count = inputs.count()
    assert count >= 2 and page.evaluate("document.activeElement.id") == "value-0"
    _shot(page, "review")
    page.keyboard.press("Enter")  # confirmed as read
    assert page.evaluate("document.activeElement.id") == "value-1"
    assert page.locator("#review-done").inner_text() == "1"
    page.keyboard.press("Shift+Enter")  # back to the first
    assert page.evaluate("document.activeElement.id") == "value-0"
    page.keyboard.type("髙橋一郎")  # the value is selected on focus: typing replaces it
    page.keyboard.press("Enter")
    # Confirmed up to the first date field (which one the sample leaves for
    # review depends on the OCR engines' readings): 和暦 in its box, 西暦
    # beside it. An impossible day is refused.
    at = next(i for i in range(1, count) if page.locator(f"input[name=seireki_{i}]").count())
    for _ in range(at - 1):
        page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == f"value-{at}"
    shown_seireki = page.locator(f"input[name=seireki_{at}]").input_value()
    read = date(*map(int, re.fullmatch(r"([0-9]+)年([0-9]+)月([0-9]+)日", shown_seireki).groups()))  # type: ignore[union-attr]
    assert page.locator("input.review-value").nth(at).input_value() == to_wareki(read)
    label = DATE_LABELS[page.locator(f"input[name=field_{at}]").input_value()]
    page.keyboard.type("平成15年2月30日")
    for _ in range(count - at):
        page.keyboard.press("Enter")
    page.wait_for_selector(".review-item.invalid .refused")
    # The other decisions were saved; the refused field waits, with its message, not 確認済.
    assert page.locator("input.review-value").count() == 1
    assert label in page.locator(".review-item.invalid .refused").inner_text()
    assert page.locator(".review-item.invalid .review-mark").is_hidden()
    # The boxes agree: what was typed in the 和暦 box, no stale day in the 西暦 box.
    assert page.locator("#value-0").input_value() == "平成15年2月30日"
    assert page.locator("input[name=seireki_0]").input_value() == ""
    page.fill("input[name=seireki_0]", to_seireki(read + timedelta(days=1)))
    page.fill("#value-0", to_wareki(read))  # the 和暦 box as shown: the 西暦 box decides
    page.locator("input[name=seireki_0]").press("Enter")
    page.wait_for_selector("text=確認が終わり、ジョブは完了しました")
    _shot(page, "review-done")


def _draw_field(page, url: str, template_id: str) -> None:  # type: ignore[no-untyped-def]
    """A new field drawn with the mouse on the reference page, saved as version 2."""
    page.goto(f"{url}/portal/templates/{template_id}/edit")
    page.wait_for_function("document.querySelector('#canvas img').naturalWidth > 0")
    canvas = page.locator("#canvas").bounding_box()
    assert canvas

    def at(x_mm: float, y_mm: float) -> tuple[float, float]:
        return canvas["x"] + canvas["width"] * x_mm / 210, canvas["y"] + canvas["height"] * y_mm / 297

    page.mouse.move(*at(20, 232))
    page.mouse.down()
    page.mouse.move(*at(120, 244), steps=8)
    page.mouse.up()
    row = page.locator("#field-rows tr").last
    assert row.locator("input[name^=name_]").input_value() == "field_1"
    assert abs(float(row.locator("input[name^=w_]").input_value()) - 100) <= 1
    row.locator("input[name^=name_]").fill("extra_note")
    row.locator("input[name^=label_]").fill("追記欄")
    _shot(page, "template-edit")
    page.click("#save-template")
    page.wait_for_selector("text=第2版として保存しました")
    assert page.locator("table.fields tbody tr").count() == 14
    assert "extra_note" in page.locator("table.fields").inner_text()


def test_ocr_review_with_the_keyboard_and_a_box_drawn_on_a_template(
    service: Service, portal_url: str, tmp_path: Path, browser: playwright_api.Browser
) -> None:
    staff = person(service, "suzuki", "fukushi", "福祉課", "鈴木 花子")
    ops = person(service, "ito", "digilabo", "デジタル推進課", "伊藤 誠", "operator")
    params, scans = ocr_sample()
    template_id = "kyufukin-shinsei-2"
    definition = tmp_path / "template.yaml"
    text = OCR_TEMPLATE.read_text(encoding="utf-8").replace("id: kyufukin-shinsei", f"id: {template_id}")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    try:
        _log_in(page, portal_url, staff)
        page.wait_for_url("**/portal/jobs")
        page.goto(f"{portal_url}/portal/jobs/new?kind=ocr")
        page.select_option("select[name=template]", params["template"])
        page.set_input_files("input[name=files]", [str(p) for p in scans])
        page.click("#job-form button[type=submit]")
        page.wait_for_url("**/portal/jobs/*-*")
        job_id = page.url.rsplit("/", 1)[1]
        page.wait_for_selector("#review-link", timeout=150_000)  # the page reloads when it stops
        _shot(page, "ocr-job")
        page.click("button:has-text('ログアウト')")

        _log_in(page, portal_url, ops)
        page.wait_for_url("**/portal/ops/queues")
        _review_with_keyboard(page, portal_url, job_id)
        job = service.api.get(f"/api/v1/jobs/{job_id}", headers=service.token("fukushi")).json()
        manual = job["summary"]["forms_read"] * job["summary"]["seconds_per_unit"]
        assert job["state"] == "succeeded" and manual - 120 < job["saved_seconds"] < manual

        page.goto(f"{portal_url}/portal/templates/new")
        definition.write_text(text.replace("type: postal_code", "type: zipcode"), encoding="utf-8")
        page.set_input_files("input[name=definition]", str(definition))
        page.set_input_files("input[name=reference]", str(OCR_REFERENCE))
        page.click("button[value=upload]")
        page.wait_for_selector("#problems")
        assert "行目" in page.locator("#problems").inner_text()
        _shot(page, "template-upload")
        definition.write_text(text, encoding="utf-8")
        page.set_input_files("input[name=definition]", str(definition))
        page.set_input_files("input[name=reference]", str(OCR_REFERENCE))
        page.click("button[value=upload]")
        page.wait_for_selector("text=第1版として保存しました")
        _shot(page, "template")
        page.goto(f"{portal_url}/portal/templates")
        page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
        _shot(page, "templates")
        _draw_field(page, portal_url, template_id)
    finally:
        page.context.close()
