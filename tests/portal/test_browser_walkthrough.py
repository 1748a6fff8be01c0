"""The second walk-through's blocking items in a real browser (Debian's
Chromium through Playwright, the app under uvicorn with the service
fixture's workers, as in test_browser): a meeting sent from the form with
話者を区別する gets speaker names that the editor renames; an admin creates an
API token, the token works against the API, and revoking it from the page
stops it at once."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from docx import Document
from playwright import sync_api as playwright_api

from tests.conftest import Service
from tests.portal.test_browser import _log_in, _shot, browser, person, portal_url  # noqa: F401
from tests.support.speech import VOICES, meeting, write_audio

pytestmark = pytest.mark.parametrize("service", ["sqlite"], indirect=True)
# Two people, two short turns each way: short enough for a quick CPU run.
TURNS = (
    (0, "ただいまから防災対策検討会議を開催します。"),
    (1, "危機管理室から補正予算について説明します。"),
    (0, "ご質問はありますか。"),
)


def test_meeting_with_speakers_gets_names_to_rename(
    service: Service,
    portal_url: str,  # noqa: F811
    browser: playwright_api.Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    staff = person(service, "suzuki", "kiki", "危機管理室", "鈴木 一郎")
    samples, _turns = meeting(TURNS, VOICES, pause_s=0.8)
    audio = write_audio(samples, tmp_path / "防災会議.wav")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP", accept_downloads=True)
    _log_in(page, portal_url, staff)
    page.wait_for_url("**/portal/jobs")
    page.goto(f"{portal_url}/portal/jobs/new?kind=transcription")
    page.set_input_files("input[name=files]", str(audio))
    page.fill("input[name=meeting_name]", "防災対策検討会議")
    page.fill("input[name=meeting_date]", "2025-05-20")
    page.fill("input[name=place]", "本庁舎3階 危機管理室")
    page.check("input[name=diarize]")
    page.select_option("select[name=speakers]", "2")
    _shot(page, "new-job-speakers")
    page.click("#job-form button[type=submit]")
    page.wait_for_url("**/portal/jobs/*-*")
    job_url = page.url
    page.wait_for_selector("text=このジョブで削減できた時間", timeout=180_000)
    facts = page.locator("dl.facts").last.inner_text()
    assert "区別する" in facts and "2人" in facts

    page.click("#edit-transcript-link")
    page.wait_for_selector(".speaker-name")
    boxes = page.locator(".speaker-name")
    names = [boxes.nth(i).input_value() for i in range(boxes.count())]
    assert names == ["話者1", "話者2"]
    assert page.locator(".segment .who").first.inner_text() == "話者1"
    page.fill("input[name=rename_to_0]", "委員長")
    page.fill("input[name=rename_to_1]", "危機管理室長")
    page.click("#save-transcript")
    page.wait_for_selector("#editor-notice")
    whos = page.locator(".segment .who").all_inner_texts()
    assert set(whos) == {"委員長", "危機管理室長"} and whos[0] == "委員長"

    page.goto(job_url)
    with page.expect_download() as info:
        page.click("#result-files a.download:has-text('議事録（Word）')")
    # Saved under the meeting's name and date, not minutes.docx.
    assert info.value.suggested_filename == "防災対策検討会議_2025-05-20_議事録.docx"
    document = Document(io.BytesIO(Path(info.value.path()).read_bytes()))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "委員長" in text and "危機管理室長" in text and "話者1" not in text
    page.close()


def test_token_created_used_and_revoked_in_the_browser(
    service: Service,
    portal_url: str,  # noqa: F811
    browser: playwright_api.Browser,  # noqa: F811
) -> None:
    admin = person(service, "yamada", "joho", "情報政策課", "山田 花子", "admin")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page.on("dialog", lambda dialog: dialog.accept())
    _log_in(page, portal_url, admin)
    page.wait_for_selector("nav.menu")
    page.click("nav.menu >> text=APIトークン")
    page.wait_for_url("**/portal/admin/tokens")
    page.fill("input[name=user_name]", "kaigiroku-renkei")
    page.select_option("select[name=department]", label="情報政策課")
    page.fill("input[name=label]", "会議録システム連携")
    page.click("#create-token")
    page.wait_for_selector("#new-token")
    token = page.locator("#new-token").inner_text()
    assert token.startswith("dl_")

    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{portal_url}/api/v1/jobs", headers=headers, timeout=10).status_code == 200

    page.goto(f"{portal_url}/portal/admin/tokens")
    assert token not in page.content()  # shown once
    row = page.locator("#tokens tbody tr", has_text="会議録システム連携")
    assert row.locator(".token-status").inner_text() == "有効"
    assert row.locator(".token-used").inner_text() != "未使用"
    row.locator("button.revoke").click()
    page.wait_for_selector("text=トークンを取り消しました")
    row = page.locator("#tokens tbody tr", has_text="会議録システム連携")
    assert row.locator(".token-status").inner_text() == "取り消し済み"
    _shot(page, "admin-tokens")
    refused = httpx.get(f"{portal_url}/api/v1/jobs", headers=headers, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
    page.close()


def test_speaker_counts_show_and_are_sent_only_with_speaker_labels(
    service: Service,
    portal_url: str,  # noqa: F811
    browser: playwright_api.Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    """話者の人数, 最少話者数 and 最多話者数 appear when 話者を区別する is
    checked; bounds chosen and then unchecked are not sent (the job has no
    speaker labels), bounds sent with it reach the job."""
    staff = person(service, "takahashi", "fukushi", "福祉課", "高橋 次郎")
    audio = write_audio(np.zeros(8_000, dtype=np.int16), tmp_path / "無音.wav")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    _log_in(page, portal_url, staff)
    page.wait_for_url("**/portal/jobs")

    def request(labels: bool) -> str:
        page.goto(f"{portal_url}/portal/jobs/new?kind=transcription")
        bounds = [page.locator(f"select[name={n}]") for n in ("speakers", "min_speakers", "max_speakers")]
        assert not any(b.is_visible() for b in bounds)
        page.check("input[name=diarize]")
        assert all(b.is_visible() and b.is_enabled() for b in bounds)
        page.select_option("select[name=min_speakers]", "2")
        page.select_option("select[name=max_speakers]", "3")
        if not labels:
            page.uncheck("input[name=diarize]")
            assert not any(b.is_visible() or b.is_enabled() for b in bounds)
        page.set_input_files("input[name=files]", str(audio))
        page.click("#job-form button[type=submit]")
        page.wait_for_url("**/portal/jobs/*-*")
        return page.locator("dl.facts").last.inner_text()

    with_labels = request(labels=True)
    assert "最少話者数" in with_labels and "2人" in with_labels and "3人" in with_labels
    without = request(labels=False)
    assert "区別しない" in without and "最少話者数" not in without and "最多話者数" not in without
    page.close()
