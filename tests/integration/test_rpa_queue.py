"""Bulk entry through the API and a real rpa worker driving Debian's
Chromium against the stand-in financial system: script approval, exactly-once
entry across jobs, and a worker process killed mid-batch."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import httpx

from digilabo.embedded import wait_for
from jobs.rpa.kind import SAMPLES
from tests.integration.helpers import submit, wait_finished, wait_until
from tests.support.entry import Entry, entry_bench  # noqa: F401 - the module's fixture

SCRIPT = SAMPLES / "shishutsu_futan.yaml"


def _valid(row: list[str]) -> bool:
    """The sample's good rows (it also has one the app refuses and one invalid)."""
    try:
        date.fromisoformat(row[1])
    except ValueError:
        return False
    return row[6].isdigit() and int(row[6]) < 10_000_000


def records(prefix: str, count: int) -> bytes:
    """The sample rows, repeated with fresh references."""
    rows = list(csv.reader(io.StringIO((SAMPLES / "records.csv").read_text(encoding="utf-8-sig"))))
    header, body = rows[0], [r for r in rows[1:] if _valid(r)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for i in range(count):
        row = list(body[i % len(body)])
        row[0] = f"{prefix}-{i:04d}"
        writer.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def upload_script(entry: Entry, headers: dict[str, str], script_id: str) -> httpx.Response:
    return entry.service.api.post(
        "/api/v1/scripts",
        headers=headers,
        data={"script_id": script_id},
        files=[("file", ("s.yaml", SCRIPT.read_bytes()))],
    )


def test_only_approved_scripts_run_and_each_record_is_entered_once(entry: Entry, dept: str) -> None:
    api, headers = entry.service.api, entry.service.token(dept)
    uploader, approver = entry.service.token("ops", "operator"), entry.service.token("ops2", "operator")
    script_id = f"s-{dept}"
    assert upload_script(entry, uploader, script_id).json()["status"] == "pending"
    assert upload_script(entry, headers, script_id).status_code == 403
    body = records(f"R{dept[1:5].upper()}", 12)
    refused = submit(api, headers, [("records.csv", body)], {"script": script_id}, kind="rpa_entry")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "script_not_approved"
    assert api.post(f"/api/v1/scripts/{script_id}/versions/1/approve", headers=uploader).status_code == 403
    assert (
        api.post(f"/api/v1/scripts/{script_id}/versions/1/approve", headers=approver).json()["status"]
        == "approved"
    )

    job_id = submit(api, headers, [("records.csv", body)], {"script": script_id}, kind="rpa_entry").json()[
        "id"
    ]
    job = wait_finished(api, headers, job_id, timeout=180)
    assert job["state"] == "succeeded", job
    assert job["parameters"]["script"] == f"{script_id}@1" and "script_text" not in job["parameters"]
    assert job["summary"]["entered"] == 12 and job["saved_seconds"] == 12 * 54.0
    table = api.get(f"/api/v1/jobs/{job_id}/artifacts/results.csv", headers=headers).content.decode(
        "utf-8-sig"
    )
    assert table.count(",入力済み,") == 12 and "entered" not in table  # people read Japanese statuses
    rows = api.get(f"/api/v1/jobs/{job_id}/artifacts/results.json", headers=headers).json()["rows"]
    assert Counter(r["state"] for r in rows) == {"entered": 12}
    refs = Counter(e["reference"] for e in entry.entries())
    assert all(refs[f"R{dept[1:5].upper()}-{i:04d}"] == 1 for i in range(12))

    again = wait_finished(
        api,
        headers,
        submit(api, headers, [("records.csv", body)], {"script": script_id}, kind="rpa_entry").json()["id"],
        timeout=180,
    )
    assert again["summary"].get("duplicate") == 12 and again["summary"].get("entered", 0) == 0
    assert Counter(e["reference"] for e in entry.entries()) == refs


def test_bad_script_is_refused_with_its_line(entry: Entry) -> None:
    operator = entry.service.token("ops", "operator")
    broken = SCRIPT.read_text(encoding="utf-8").replace("  - goto: /entry", "  - type_text: /entry")
    response = entry.service.api.post(
        "/api/v1/scripts",
        headers=operator,
        data={"script_id": "broken"},
        files=[("file", ("b.yaml", broken.encode()))],
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_script" and error["details"]["line"] > 1 and "行目" in error["message"]


def test_worker_killed_mid_batch_resumes_without_double_entry(
    entry: Entry, dept: str, tmp_path: Path
) -> None:
    api, headers = entry.service.api, entry.service.token(dept)
    prefix = f"K{uuid.uuid4().hex[:5].upper()}"
    job_id = submit(
        api, headers, [("records.csv", records(prefix, 30))], {"script": "shishutsu_futan"}, kind="rpa_entry"
    ).json()["id"]
    wait_until(
        lambda: sum(e["reference"].startswith(prefix) for e in entry.entries()) >= 5,
        120,
        "a few records entered",
    )
    children = subprocess.run(["pgrep", "-P", str(entry.worker.process.pid)], capture_output=True, text=True)
    pool = [int(p) for p in children.stdout.split()]
    assert pool, "no pool process"
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    job = wait_finished(api, headers, job_id, timeout=240)
    assert job["state"] == "succeeded", job
    assert job["attempts"] >= 2
    refs = Counter(e["reference"] for e in entry.entries() if e["reference"].startswith(prefix))
    assert len(refs) == 30 and set(refs.values()) == {1}, refs
    wait_for(lambda: entry.worker.alive(), 5, "the worker main process to survive")
