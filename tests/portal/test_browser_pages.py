"""Every portal page in a real browser (Debian's Chromium through Playwright,
the app under uvicorn as in test_browser) at a phone's 390 px and a desktop's
1280 px: no page scrolls sideways (a wide table scrolls inside its own box or
becomes cards), and a department user's pages show no English word except
names they typed or sent (file names, the meeting name) and format names
(CSV, Word…). Data as a city office has it: a finished meeting, a failed
entry job with a long reason, the bundled templates and scripts."""

from __future__ import annotations

import json
import re

import pytest
from playwright import sync_api as playwright_api

from jobs import store
from jobs.db import unit_of_work
from jobs.lifecycle import State, transition
from tests.conftest import Service
from tests.portal.test_browser import _log_in, browser, person, portal_url  # noqa: F401
from tests.support.transcript_job import AUDIO, finished_transcription

pytestmark = pytest.mark.parametrize("service", ["sqlite"], indirect=True)
WIDTHS = (390, 1280)
# Format and unit names a Japanese office reads as they are, file name
# extensions, and OCR (part of the service's Japanese name, 帳票OCR).
FORMATS = "CSV XLSX ZIP Excel Word SRT WebVTT JSON PDF PNG JPEG TIFF WAV MP3 M4A FLAC OGG WebM MP4 KB MB GB B"
EXTENSIONS = "csv xlsx docx txt srt vtt json png pdf"
ALLOWED = frozenset(f"{FORMATS} {EXTENSIONS} OCR".split())
REASON = "入力データの3行目: 支払予定日（2025-13-01）が日付として読めません。正しい日付に直して、もう一度依頼してください。"
RECORDS = "支払予定一覧_2025年4月.csv"


def _failed_entry_job(service: Service, department: str) -> str:
    with unit_of_work(service.runtime.factory) as session:
        job = store.create_job(
            session=session,
            kind="rpa_entry",
            queue="rpa",
            department_code=department,
            submitted_by=None,
            parameters={"invalid_rows": "reject", "dry_run": False},
        )
        store.add_artifact(
            session=session,
            job_id=job.id,
            role="input",
            name=RECORDS,
            sha256="0" * 64,
            size=2048,
            media_type="text/csv",
        )
        transition(session, job.id, State.FAILED, error_code="invalid_input", error_message=REASON)
        return job.id


def _wide(page: playwright_api.Page) -> int:
    """How far the page reaches past the window (0: no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def _english(page: playwright_api.Page, own: tuple[str, ...]) -> set[str]:
    text = page.evaluate(
        "() => { const c = document.body.cloneNode(true);"
        " c.querySelectorAll('code, #error-code').forEach(e => e.remove());"
        " return c.innerText; }"
    )
    for typed in own:
        text = text.replace(typed, "")
    words = re.findall(r"[A-Za-z][A-Za-z0-9_]*", text)
    return {w for w in words if len(w) > 1 and w not in ALLOWED}


def _visit_all(
    page: playwright_api.Page, url: str, paths: list[str], own: tuple[str, ...] = (), english: bool = False
) -> dict[str, object]:
    found: dict[str, object] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for path in paths:
            page.goto(f"{url}{path}")
            over = _wide(page)
            if over > 0:
                found[f"{width}px {path}"] = f"{over}px too wide"
            words = _english(page, own) if english else set()
            if words:
                found[f"{width}px {path} English"] = sorted(words)
    return found


def test_no_page_scrolls_sideways_and_department_pages_are_japanese(
    service: Service,
    portal_url: str,  # noqa: F811
    browser: playwright_api.Browser,  # noqa: F811
) -> None:
    meeting = finished_transcription(service.runtime, "kikikanri")
    failed = _failed_entry_job(service, "kikikanri")
    staff = person(service, "takahashi", "kikikanri", "危機管理室", "高橋 誠")
    ops = person(service, "ito", "digilabo", "デジタル推進課", "伊藤 彩", "operator")
    admin = person(service, "kobayashi", "johoseisaku", "情報政策課", "小林 大輔", "admin")
    page = browser.new_page(locale="ja-JP")
    problems: dict[str, object] = {}

    problems |= _visit_all(page, portal_url, ["/portal/login"], english=True)
    _log_in(page, portal_url, staff)
    page.wait_for_url("**/portal/jobs")
    department_pages = [
        "/portal/jobs",
        "/portal/jobs/new?kind=transcription",
        "/portal/jobs/new?kind=ocr",
        "/portal/jobs/new?kind=rpa_entry",
        f"/portal/jobs/{meeting}",
        f"/portal/jobs/{meeting}/transcript",
        f"/portal/jobs/{failed}",
        "/portal/savings",
        "/portal/no-such-page",
        "/portal/ops/queues",  # refused: the refusal page in Japanese
    ]
    own = ("防災対策検討会議", AUDIO.name, RECORDS)
    problems |= _visit_all(page, portal_url, department_pages, own, english=True)
    page.context.clear_cookies()

    _log_in(page, portal_url, ops)
    page.wait_for_selector("nav.menu")
    operator_pages = [
        "/portal/ops/queues",
        "/portal/ops/jobs",
        "/portal/ops/failed",
        "/portal/ops/review",
        "/portal/ops/glossary",
        "/portal/scripts",
        "/portal/scripts/shishutsu_futan",
        "/portal/scripts/new",
        "/portal/templates",
        "/portal/templates/kyufukin-shinsei",
        "/portal/templates/new",
        "/portal/templates/kyufukin-shinsei/edit",
        f"/portal/jobs/{failed}",
    ]
    problems |= _visit_all(page, portal_url, operator_pages)
    page.context.clear_cookies()

    _log_in(page, portal_url, admin)
    page.wait_for_selector("nav.menu")
    problems |= _visit_all(
        page, portal_url, ["/portal/admin/departments", "/portal/admin/users", "/portal/admin/tokens"]
    )
    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)
