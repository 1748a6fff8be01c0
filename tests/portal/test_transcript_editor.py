"""The transcript editor over HTTP: the API (GET/PUT /api/v1/jobs/{id}/transcript),
the portal page and its form, department isolation, CSRF, the bounded editing
time in the ledger, and the recording served in byte ranges for the play
buttons. Real app, real SQLite, real artifact store; the finished job comes
from tests.support.transcript_job (no recognition run)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from urllib.parse import unquote

import pytest
from docx import Document

from jobs import store
from jobs.db import unit_of_work
from services.transcripts import MAX_SECONDS_PER_EDIT
from tests.conftest import Service
from tests.portal.conftest import Person
from tests.support.transcript_job import AUDIO, SECONDS_PER_UNIT, UNITS, finished_transcription

pytestmark = pytest.mark.parametrize("service", ["sqlite"], indirect=True)
SAVING = UNITS * SECONDS_PER_UNIT


def _docx_text(body: bytes) -> str:
    return "\n".join(p.text for p in Document(io.BytesIO(body)).paragraphs)


def test_api_reads_edits_and_counts_the_bounded_time(service: Service, dept: str) -> None:
    job_id = finished_transcription(service.runtime, dept)
    staff, other, ops = service.token(dept), service.token(f"{dept}x"), service.token(f"{dept}o", "operator")
    url = f"/api/v1/jobs/{job_id}/transcript"

    got = service.api.get(url, headers=staff).json()
    assert got["speakers"] == ["話者1", "話者2"] and len(got["transcript"]["segments"]) == 4
    assert got["audio_url"] == f"/api/v1/jobs/{job_id}/inputs/{AUDIO.name}"
    assert service.api.get(url, headers=other).status_code == 404
    assert service.api.get(url, headers=ops).status_code == 200

    edits = [
        {"op": "text", "index": 0, "text": "小倉北区の避難所について報告します。"},
        {"op": "rename", "from": "話者1", "to": "危機管理室長"},
    ]
    body = {"edits": edits, "seconds_spent": 300.0, "version": got["version"]}
    assert service.api.put(url, json=body, headers=other).status_code == 404
    saved = service.api.put(url, json=body, headers=staff)
    assert saved.status_code == 200, saved.text
    assert saved.json()["speakers"] == ["危機管理室長", "話者2"] and saved.json()["human_seconds"] == 300.0
    # The same version again: someone changed the transcript since, nothing is saved.
    stale = service.api.put(url, json=body, headers=staff)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "transcript_changed"

    answer = service.api.get(f"/api/v1/jobs/{job_id}/artifacts/minutes.docx", headers=staff)
    docx = answer.content
    # Saved under the meeting's name (RFC 5987), minutes.docx for old clients.
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=\"minutes.docx\"; filename*=UTF-8''")
    assert unquote(disposition.split("''", 1)[1]).startswith("防災対策検討会議_")
    text = _docx_text(docx)
    assert "危機管理室長" in text and "小倉北区の避難所" in text and "話者1" not in text
    srt = service.api.get(f"/api/v1/jobs/{job_id}/artifacts/transcript.srt", headers=staff).text
    assert "危機管理室長" in srt
    job = service.api.get(f"/api/v1/jobs/{job_id}", headers=staff).json()
    assert job["saved_seconds"] == SAVING - 300.0

    # A page left open all night: one edit is credited MAX_SECONDS_PER_EDIT at most.
    night = {"edits": [{"op": "merge", "index": 2}], "seconds_spent": 50_000.0}
    merged = service.api.put(url, json=night, headers=staff).json()
    assert len(merged["transcript"]["segments"]) == 3
    assert merged["human_seconds"] == 300.0 + MAX_SECONDS_PER_EDIT
    job = service.api.get(f"/api/v1/jobs/{job_id}", headers=staff).json()
    assert job["saved_seconds"] == SAVING - 300.0 - MAX_SECONDS_PER_EDIT

    # A wrong edit or none at all saves nothing and counts no time.
    for wrong in ([{"op": "merge", "index": 9}], []):
        refused = service.api.put(url, json={"edits": wrong, "seconds_spent": 60}, headers=staff)
        assert refused.status_code == 422
    assert service.api.get(url, headers=staff).json()["human_seconds"] == 300.0 + MAX_SECONDS_PER_EDIT


def test_only_a_finished_transcription_is_editable(service: Service, dept: str) -> None:
    with unit_of_work(service.runtime.factory) as session:
        store.ensure_department(dept, session=session)
        queued = store.create_job(
            session=session,
            kind="transcription",
            queue="gpu",
            department_code=dept,
            submitted_by=None,
            parameters={},
        ).id
    answer = service.api.get(f"/api/v1/jobs/{queued}/transcript", headers=service.token(dept))
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_editable"


def test_the_recording_is_served_in_byte_ranges(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    job_id = finished_transcription(service.runtime, dept)
    whole = AUDIO.read_bytes()
    api_url = f"/api/v1/jobs/{job_id}/inputs/{AUDIO.name}"
    staff = service.token(dept)
    part = service.api.get(api_url, headers={**staff, "Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == whole[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(whole)}"
    assert part.headers["accept-ranges"] == "bytes"
    tail = service.api.get(api_url, headers={**staff, "Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == whole[-500:]
    beyond = service.api.get(api_url, headers={**staff, "Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416
    assert service.api.get(api_url, headers=staff).content == whole

    # The portal's copy, which the editor's <audio> element plays from.
    page = person(dept).client
    portal = page.get(f"/portal/jobs/{job_id}/inputs/{AUDIO.name}", headers={"Range": "bytes=0-99"})
    assert portal.status_code == 206 and portal.content == whole[:100]
    assert person(f"{dept}x").client.get(f"/portal/jobs/{job_id}/inputs/{AUDIO.name}").status_code == 404


def test_portal_editor_form(service: Service, dept: str, person: Callable[..., Person]) -> None:
    job_id = finished_transcription(service.runtime, dept)
    staff, other = person(dept), person(f"{dept}x")
    editor = f"/portal/jobs/{job_id}/transcript"
    assert f'href="{editor}"' in staff.client.get(f"/portal/jobs/{job_id}").text
    assert other.client.get(editor).status_code == 404

    page = staff.client.get(editor)
    assert page.status_code == 200 and f'src="/portal/jobs/{job_id}/inputs/{AUDIO.name}"' in page.text
    assert len(re.findall(r'class="play" data-start="', page.text)) == 4
    version = re.search(r'name="version" value="([0-9a-f]+)"', page.text)
    assert version
    form = {
        "version": version.group(1),
        "seconds_spent": "90",
        "rename_from_0": "話者1",
        "rename_to_0": "危機管理室長",
        "rename_from_1": "話者2",
        "rename_to_1": "話者2",
        "text_1": "令和7年度の補正予算を説明します。",
        "action": "split-2",
        "split_at": "4",
    }
    forged = staff.client.post(editor, data=form, follow_redirects=False)  # no CSRF token
    assert forged.status_code == 400 and "有効期限が切れたか" in forged.text
    saved = staff.post(editor, form)
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=saved")
    shown = staff.client.get(saved.headers["location"]).text
    assert "保存しました" in shown and "令和7年度の補正予算" in shown and "危機管理室長" in shown
    assert len(re.findall(r'class="play" data-start="', shown)) == 5  # 避難所は / 三か所です。

    got = service.api.get(f"/api/v1/jobs/{job_id}/transcript", headers=service.token(dept)).json()
    texts = [s["text"] for s in got["transcript"]["segments"]]
    assert texts[2:4] == ["避難所は", "三か所です。"] and got["human_seconds"] == 90.0

    # A refused edit (a split with no position) shows the page again with what was typed.
    refused = staff.post(editor, {"text_0": "直した文", "action": "split-0", "split_at": "x"})
    assert refused.status_code == 422 and "分割する位置" in refused.text and "直した文" in refused.text
    # Saved from a second tab on the older version: the page again, with what
    # was typed and a Japanese message, nothing saved.
    stale = staff.post(editor, {**form, "text_0": "古い版からの修正", "action": "save"})
    assert stale.status_code == 409 and "ほかの人がこの文字起こしを保存しました" in stale.text
    assert (
        "古い版からの修正" in stale.text
        and "transcript_changed" not in stale.text.split("<main>")[1].split("</main>")[0]
    )
    unchanged = staff.post(editor, {"action": "save"})
    assert unchanged.headers["location"].endswith("done=unchanged")
