"""OCR into entry (「確認後に入力」) end to end: a real cpu worker reads three
pages (two 給付金支給申請書 and a blank page), a person reviews them over the
API, the entry job is created by itself and a real rpa worker types the two
confirmed forms into stand-in system A with Chromium. The blank page is never
typed; a script mapping a field the template lacks is refused at approval."""

from __future__ import annotations

import io
from collections import Counter

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from jobs.db import unit_of_work
from jobs.models import AuditEvent, Job
from jobs.ocr.kind import SAMPLES as OCR_SAMPLES
from jobs.ocr_entry import reference_for
from jobs.rpa.kind import SAMPLES as RPA_SAMPLES
from tests.integration.helpers import submit, wait_finished
from tests.support.entry import Entry, entry_bench  # noqa: F401 - the module's fixture

# The sample script of system A, its records read from the 給付金 form: the
# applicant is the payee, the amount applied for is paid, the budget codes
# are the same for every form (a benefits payment).
MAPPING = """
from_ocr:
  template: kyufukin-shinsei
  columns:
    reference: $reference
    entry_date: {date}
    kan: {{value: "02"}}
    kou: {{value: "01"}}
    moku: {{value: "02"}}
    setsu: {{value: "08"}}
    amount: amount
    payee: name
    purpose: {{value: 給付金の支給}}
"""


def script_text(date_field: str) -> bytes:
    text = (RPA_SAMPLES / "shishutsu_futan.yaml").read_text(encoding="utf-8")
    return (text + MAPPING.format(date=date_field)).encode("utf-8")


def blank_page() -> bytes:
    out = io.BytesIO()
    Image.new("L", (1240, 1754), 255).save(out, format="PNG")
    return out.getvalue()


def approve(entry: Entry, script_id: str, body: bytes) -> tuple[int, dict]:
    api = entry.service.api
    uploader, approver = entry.service.token("ops", "operator"), entry.service.token("ops2", "operator")
    row = api.post(
        "/api/v1/scripts", headers=uploader, data={"script_id": script_id}, files=[("file", ("s.yaml", body))]
    ).json()
    response = api.post(f"/api/v1/scripts/{script_id}/versions/{row['version']}/approve", headers=approver)
    return response.status_code, response.json()


def confirm_all(api: TestClient, headers: dict[str, str], job_id: str, seconds: float) -> dict:
    """A person confirms every flagged field over the API, as read; the answer."""
    pending = api.get(f"/api/v1/jobs/{job_id}/review", headers=headers).json()["pending"]
    decisions = [{"form": i["form"], "field": i["field"], "confirm": True} for i in pending]
    body = {"corrections": decisions, "seconds_spent": seconds}
    answer: dict = api.post(f"/api/v1/jobs/{job_id}/review", headers=headers, json=body).json()
    return answer


def test_reviewed_forms_are_entered_once_and_the_pair_saves_once(entry: Entry, dept: str) -> None:
    api, headers = entry.service.api, entry.service.token(dept)
    script_id = f"ocr-{dept}"

    status, body = approve(entry, script_id, script_text("shinsei_bi"))
    assert status == 422 and "shinsei_bi" in body["error"]["message"], body
    assert approve(entry, script_id, script_text("application_date"))[1]["status"] == "approved"

    scans = [(p.name, p.read_bytes()) for p in sorted(OCR_SAMPLES.glob("scan-*"))[:2]]
    scans.append(("blank.png", blank_page()))
    wrong = submit(
        api,
        headers,
        scans[:1],
        {"template": "kyufukin-shinsei", "entry_script": "shishutsu_futan"},
        kind="ocr",
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "script_not_for_ocr"
    sent = submit(
        api, headers, scans, {"template": "kyufukin-shinsei", "entry_script": script_id}, kind="ocr"
    )
    assert sent.status_code == 202, sent.text
    ocr = wait_finished(api, headers, sent.json()["id"], timeout=240)
    assert ocr["state"] == "needs_review", ocr
    assert ocr["entry_script"] == f"{script_id}@2" and ocr["entry_job_id"] is None
    assert "確認が終わると" in ocr["entry_note"]

    assert confirm_all(api, headers, ocr["id"], 60)["state"] == "succeeded"

    ocr = api.get(f"/api/v1/jobs/{ocr['id']}", headers=headers).json()
    assert ocr["entry_job_id"] and ocr["summary"]["entry_rows"] == 2
    assert [s["file"] for s in ocr["summary"]["entry_skipped"]] == ["blank.png"]
    job = wait_finished(api, headers, ocr["entry_job_id"], timeout=180)
    assert job["state"] == "succeeded", job
    assert job["source_job_id"] == ocr["id"] and job["summary"]["entered"] == 2
    with unit_of_work(entry.service.runtime.factory) as session:
        # Released by the fair dispatcher like any job, made by the system (audited).
        assert session.get(Job, job["id"]).released_at is not None
        made = session.scalar(select(AuditEvent).where(AuditEvent.job_id == job["id"]))
        assert made.action == "entry_from_ocr" and made.detail["source_job_id"] == ocr["id"]

    # Every confirmed form entered exactly once, with its reviewed values.
    forms = api.get(f"/api/v1/jobs/{ocr['id']}/artifacts/forms.json", headers=headers).json()["forms"]
    assert len([f for f in forms if f["status"] == "ok"]) == 2
    expected = {
        reference_for(ocr["id"], f["index"]): f["fields"]["name"]["value"]
        for f in forms
        if f["status"] == "ok"
    }
    typed = [e for e in entry.entries() if e["reference"].startswith(reference_for(ocr["id"], 0)[:8])]
    assert Counter(e["reference"] for e in typed) == Counter(list(expected))
    assert {e["reference"]: e["payee"] for e in typed} == expected

    # Each job's saving counted once; the review time counts against the pair.
    per_form, per_record = ocr["summary"]["seconds_per_unit"], 54.0
    assert ocr["saved_seconds"] == 2 * per_form - 60 and job["saved_seconds"] == 2 * per_record
    ocr = api.get(f"/api/v1/jobs/{ocr['id']}", headers=headers).json()
    assert ocr["pair_saved_seconds"] == job["pair_saved_seconds"] == 2 * per_form + 2 * per_record - 60
    rows = api.get("/api/v1/savings", headers=headers, params={"group_by": "department,service"}).json()
    mine = {r["service"]: r["saved_seconds"] for r in rows["rows"] if r["department"] == dept}
    assert mine == {"ocr": 2 * per_form - 60, "rpa": 2 * per_record}
