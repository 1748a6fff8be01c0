"""The transcript editor in a real browser (Debian's Chromium through
Playwright, the app under uvicorn as in test_browser): a department user
plays a segment from the recording (streamed with range requests), corrects
its text, renames a speaker, saves, and finds the new minutes.docx and the
editing time taken off the job's saving. The finished job is made from a
known transcript (tests.support.transcript_job), not by a recognition run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from docx import Document
from playwright import sync_api as playwright_api

from tests.conftest import Service
from tests.portal.conftest import make_user
from tests.portal.test_browser import CHROMIUM, FLAGS, _log_in, _shot, portal_url  # noqa: F401
from tests.support.transcript_job import SECONDS_PER_UNIT, UNITS, finished_transcription

pytestmark = pytest.mark.parametrize("service", ["sqlite"], indirect=True)
FIXED = "令和7年度の補正予算を説明します。"


def _edit_and_save(page) -> None:  # type: ignore[no-untyped-def]
    page.click(".segment[data-segment='1'] button.play")
    # The recording plays from the segment's start (the browser fetched it in ranges).
    page.wait_for_function("() => document.getElementById('recording').currentTime > 6.2", timeout=20_000)
    page.fill("#text-1", FIXED)
    page.fill("input[name=rename_to_0]", "危機管理室長")
    page.wait_for_timeout(1500)  # some editing time to count
    _shot(page, "transcript-editor")
    page.click("#save-transcript")
    page.wait_for_selector("#editor-notice")


def test_edit_rename_save_then_new_minutes_and_adjusted_saving(
    service: Service,
    dept: str,
    portal_url: str,  # noqa: F811
) -> None:
    staff = make_user(service, dept, name=f"{dept}-sato")
    job_id = finished_transcription(service.runtime, dept)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*FLAGS, "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_page(
                viewport={"width": 1280, "height": 900}, locale="ja-JP", accept_downloads=True
            )
            _log_in(page, portal_url, staff)
            page.wait_for_url("**/portal/jobs")
            page.goto(f"{portal_url}/portal/jobs/{job_id}")
            page.click("#edit-transcript-link")
            page.wait_for_url(f"**/portal/jobs/{job_id}/transcript")
            _edit_and_save(page)

            assert page.locator("#text-1").input_value() == FIXED
            assert page.locator("input[name=rename_to_0]").input_value() == "危機管理室長"
            spent = float(page.locator("#human-time").get_attribute("data-seconds") or "0")
            saved = float(page.locator("#saved-time").get_attribute("data-seconds") or "0")
            assert 1.5 <= spent < 120
            assert saved == pytest.approx(UNITS * SECONDS_PER_UNIT - spent, abs=0.2)

            page.goto(f"{portal_url}/portal/jobs/{job_id}")
            with page.expect_download() as info:
                page.click("#result-files a.download:has-text('議事録（Word）')")
            document = Document(io.BytesIO(Path(info.value.path()).read_bytes()))
            text = "\n".join(p.text for p in document.paragraphs)
            assert FIXED in text and "危機管理室長" in text and "話者1" not in text and "0は7年度" not in text
        finally:
            browser.close()
