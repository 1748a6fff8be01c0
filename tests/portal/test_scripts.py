"""Entry-script pages and entry jobs over HTTP with the real app and database:
upload with the mistake's line, approval by a second operator (the uploader
refused), departments kept off the script pages and offered approved scripts
only, and an entry job submitted through the form (no rpa worker runs here:
the job is accepted and waits in its queue)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from jobs.db import unit_of_work
from jobs.models import Job
from jobs.rpa.kind import SAMPLES
from tests.conftest import Service
from tests.portal.conftest import HOSTILE, Person

SCRIPT = (SAMPLES / "shishutsu_futan.yaml").read_text(encoding="utf-8")
RECORDS = SAMPLES / "records.csv"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _upload(ops: Person, script_id: str, text: str, action: str = "upload") -> Any:
    return ops.post(
        "/portal/scripts/new",
        {"script_id": script_id, "action": action},
        token_from="/portal/scripts/new",
        files=[("file", ("script.yaml", text.encode(), "application/yaml"))],
    )


def _approve(ops: Person, script_id: str, version: int) -> Any:
    return ops.post(
        f"/portal/scripts/{script_id}/versions/{version}/approve", token_from=f"/portal/scripts/{script_id}"
    )


def test_scripts_upload_approval_and_department_view(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    author, checker, staff = person(f"{dept}o", "operator"), person(f"{dept}p", "operator"), person(dept)
    script_id, pending_id = f"s-{dept}", f"p-{dept}"
    text = SCRIPT.replace("name: 支出負担行為の一括入力", f'name: "{HOSTILE}入力"', 1)
    text = text.replace("# 支出負担行為", f"# {HOSTILE}", 1)

    for path in ("/portal/scripts", "/portal/scripts/new", "/portal/scripts/shishutsu_futan"):
        assert staff.client.get(path).status_code == 403, path
    assert "入力スクリプト" in author.client.get("/portal/jobs").text  # the menu entry
    assert 'href="/portal/scripts"' not in staff.client.get("/portal/jobs").text

    broken = _upload(author, script_id, text.replace("type: integer", "type: integr"))
    assert broken.status_code == 422 and "入力スクリプトの34行目" in broken.text
    assert "integr" in broken.text and '<li class="bad">' in broken.text and HOSTILE not in broken.text
    unreadable = _upload(author, script_id, text.replace("  retries: 3", "  retries: [3"), "validate")
    assert (
        unreadable.status_code == 422
        and "15行目" in unreadable.text
        and "YAMLとして読めません" in unreadable.text
    )
    assert "問題は見つかりませんでした" in _upload(author, script_id, text, "validate").text
    bad_id = _upload(author, HOSTILE, text)
    assert bad_id.status_code == 422 and "スクリプトIDは英小文字" in bad_id.text
    assert HOSTILE not in bad_id.text and ESCAPED in bad_id.text

    saved = _upload(author, script_id, text)
    assert saved.status_code == 303 and saved.headers["location"].endswith("version=1&saved=1")
    page = author.client.get(saved.headers["location"])
    assert "承認待ち" in page.text and "zaimu-standin" in page.text
    # The uploader is not offered the approval they would be refused.
    assert 'id="approve-form"' not in page.text and 'id="own-upload"' in page.text
    assert 'id="approve-form"' in checker.client.get(saved.headers["location"]).text
    # Opening the approval address (e.g. from the address bar) shows the script, not JSON.
    opened = checker.client.get(f"/portal/scripts/{script_id}/versions/1/approve", follow_redirects=False)
    assert (
        opened.status_code == 303 and opened.headers["location"] == f"/portal/scripts/{script_id}?version=1"
    )
    assert HOSTILE not in page.text and ESCAPED in page.text
    again = _upload(author, script_id, text)
    assert again.status_code == 303 and "unchanged=1" in again.headers["location"]

    own = _approve(author, script_id, 1)
    assert own.status_code == 403 and "登録した本人以外の運用担当者が承認してください" in own.text
    assert staff.post(f"/portal/scripts/{script_id}/versions/1/approve").status_code == 403
    approved = _approve(checker, script_id, 1)
    assert approved.status_code == 303 and approved.headers["location"].endswith("approved=1")
    page = checker.client.get(approved.headers["location"])
    assert "承認済み" in page.text and checker.name in page.text and 'id="approve-form"' not in page.text
    assert _approve(checker, script_id, 1).status_code == 409

    # A second version and another script wait for approval: not offered to departments.
    assert _upload(author, script_id, text.replace("concurrency: 2", "concurrency: 1")).status_code == 303
    assert _upload(author, pending_id, text).status_code == 303
    listing = author.client.get("/portal/scripts")
    assert listing.status_code == 200 and HOSTILE not in listing.text
    assert all(s in listing.text for s in (script_id, pending_id, author.name, checker.name, "承認待ち"))
    form = staff.client.get("/portal/jobs/new?kind=rpa_entry").text
    # Offered by name and approved version (第1版), never the pending 第2版.
    assert re.search(rf'value="{script_id}"[^>]*>[^<]*（第1版）</option>', form), form
    assert pending_id not in form and 'value="shishutsu_futan"' in form and HOSTILE not in form
    refused = staff.post(
        "/portal/jobs/new",
        {"kind": "rpa_entry", "script": pending_id, "invalid_rows": "skip"},
        token_from="/portal/jobs/new?kind=rpa_entry",
        files=[("files", (RECORDS.name, RECORDS.read_bytes(), "text/csv"))],
    )
    assert refused.status_code == 422 and "承認済みの入力スクリプト" in refused.text

    missing = author.client.get(f"/portal/scripts/{HOSTILE}")
    assert missing.status_code == 404 and HOSTILE not in missing.text


def test_entry_job_through_the_form(
    service: Service, dept: str, person: Callable[..., Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Intake refuses an entry job whose credential is not configured (test_intake_checks.py).
    monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER", "demo")
    monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD", "demo-password")
    staff = person(dept)
    form = staff.client.get("/portal/jobs/new?kind=rpa_entry").text
    assert "不備のある行を飛ばす" in form and "一件でも不備があれば全体を受け付けない" in form
    assert "確認のみ（登録しない）" in form and 'accept=".csv,.xlsx,.zip"' in form
    answer = staff.post(
        "/portal/jobs/new",
        {"kind": "rpa_entry", "script": "shishutsu_futan", "invalid_rows": "reject", "dry_run": "on"},
        token_from="/portal/jobs/new?kind=rpa_entry",
        files=[("files", (RECORDS.name, RECORDS.read_bytes(), "text/csv"))],
    )
    assert answer.status_code == 303, answer.text
    job_id = answer.headers["location"].rsplit("/", 1)[1]
    job = service.api.get(f"/api/v1/jobs/{job_id}", headers=service.token(dept)).json()
    assert job["kind"] == "rpa_entry" and job["state"] == "queued"
    params = job["parameters"]
    assert (
        re.fullmatch(r"shishutsu_futan@[0-9]+", params["script"]) and params["script_id"] == "shishutsu_futan"
    )
    assert params["invalid_rows"] == "reject" and params["dry_run"] is True and "script_text" not in params
    assert (
        params["script_name"] == "支出負担行為の一括入力"
        and params["target_system"]["name"] == "zaimu-standin"
    )
    assert "credential" not in params["target_system"]

    page = staff.client.get(f"/portal/jobs/{job_id}").text
    assert "一件でも不備があれば全体を受け付けない" in page and "はい（登録しない）" in page
    # No rpa worker here: cancel it, then give it the summary a run leaves, to see the counts.
    assert staff.post(f"/portal/jobs/{job_id}/cancel").status_code == 303
    summary = {"records": 20, "dry_run": False, "entered": 15, "duplicate": 2, "invalid": 2, "failed": 1}
    with unit_of_work(service.runtime.factory) as session:
        stored = session.get(Job, job_id)
        assert stored is not None
        stored.summary = summary
    page = staff.client.get(f"/portal/jobs/{job_id}").text
    assert 'id="record-counts"' in page
    for label, count in (
        ("入力済み", 15),
        ("重複（入力済み）", 2),
        ("対象システムが拒否", 0),
        ("入力データ不備", 2),
    ):
        assert re.search(rf"<dt>{re.escape(label)}</dt><dd>{count}件</dd>", page), label
    assert "<dt>失敗</dt><dd>1件</dd>" in page and "「入力結果（CSV）」" in page
    # The job names the script and the system it enters into (two scripts may look alike).
    assert (
        re.search(r"支出負担行為の一括入力（第[0-9]+版）", page)
        and 'id="target-system">zaimu-standin' in page
    )
