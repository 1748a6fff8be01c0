"""End to end over HTTP with a real Redis, a real Celery worker subprocess
and a real database (SQLite and PostgreSQL): submit → worker → succeeded →
artifacts → ledger → savings in JSON, CSV and XLSX."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from jobs.models import AuditEvent, LedgerEntry
from tests.conftest import Service
from tests.integration.helpers import submit, wait_finished


def test_submit_runs_on_worker_and_counts_savings(service: Service, dept: str) -> None:
    api, headers = service.api, service.token(dept)
    ids = []
    for text in ("一行目\nline two\n", "a\nb\nc\n"):
        response = submit(api, headers, [("memo.txt", text.encode())])
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    jobs = [wait_finished(api, headers, job_id) for job_id in ids]
    assert [j["state"] for j in jobs] == ["succeeded", "succeeded"], jobs
    assert jobs[0]["progress"] == 1.0 and jobs[0]["attempts"] == 1
    assert jobs[0]["saved_seconds"] == 2 * 60.0 and jobs[1]["saved_seconds"] == 3 * 60.0

    out = jobs[0]["outputs"][0]
    download = api.get(out["url"], headers=headers)
    assert download.status_code == 200
    assert download.content.decode() == "一行目\nLINE TWO\n"
    assert out["size"] == len(download.content)

    with service.runtime.factory() as session:
        entries = session.scalars(select(LedgerEntry).where(LedgerEntry.department_code == dept)).all()
        assert sorted(e.job_id for e in entries) == sorted(ids)
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.job_id == ids[0])))
        assert {"submit", "view", "download"} <= actions

    savings = api.get("/api/v1/savings", headers=headers, params={"group_by": "department,service"}).json()
    assert savings["rows"] == [
        {
            "department": dept,
            "department_name": dept,
            "service": "echo",
            "service_label": "大文字化（テスト用）",
            "unit_label": "行",
            "unit": "行",
            "saved_seconds": 300.0,
            "saved_hours": round(300 / 3600, 3),
            "units": 5.0,
            "jobs": 2,
        }
    ]
    assert savings["total_seconds"] == sum(j["saved_seconds"] for j in jobs)
    assert savings["target_hours"] == 30_000
    assert savings["fiscal_year_label"].endswith("年度)")

    csv_body = api.get(
        "/api/v1/savings/export", headers=headers, params={"format": "csv", "group_by": "department,service"}
    ).content
    assert csv_body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(csv_body.decode("utf-8-sig"))))
    assert rows[0][0] == "部署コード" and rows[-1][0] == "合計"
    header = rows[0]
    assert float(rows[1][header.index("削減時間（秒）")]) == 300.0
    assert float(rows[-1][header.index("削減時間（秒）")]) == 300.0

    xlsx = api.get("/api/v1/savings/export", headers=headers, params={"format": "xlsx"})
    book = load_workbook(io.BytesIO(xlsx.content))
    assert {"部署別", "サービス別", "月別", "年度別"} <= set(book.sheetnames)
    for sheet in (book["部署別"], book["年度別"]):
        values = [list(r) for r in sheet.iter_rows(values_only=True)]
        head = next(r for r in values if r and r[0] in ("部署コード", "年度"))
        assert values[-1][0] == "合計"
        assert values[-1][head.index("削減時間（秒）")] == 300.0


def test_delivered_twice_does_not_count_twice(service: Service, dept: str) -> None:
    """A redelivered task sees the finished state and does nothing."""
    api, headers = service.api, service.token(dept)
    job_id = submit(api, headers, [("a.txt", b"x\n")]).json()["id"]
    assert wait_finished(api, headers, job_id)["state"] == "succeeded"
    result = service.runtime.runner.run(job_id, task_id="again")
    assert result.skipped
    with service.runtime.factory() as session:
        count = session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.job_id == job_id)
        )
    assert count == 1


def test_input_error_fails_job_with_reason(service: Service, dept: str) -> None:
    api, headers = service.api, service.token(dept)
    job_id = submit(api, headers, [("a.txt", b"x\n")], {"fail": "input"}).json()["id"]
    job = wait_finished(api, headers, job_id)
    assert job["state"] == "failed"
    assert job["error_code"] == "bad_text"
    assert "読み取れません" in job["error_message"]
    assert job["saved_seconds"] is None


def test_transient_errors_retry_with_backoff_then_succeed(service: Service, dept: str, tmp_path) -> None:
    api, headers = service.api, service.token(dept)
    job_id = submit(
        api, headers, [("a.txt", b"x\n")], {"transient_times": 2, "trace_dir": str(tmp_path)}
    ).json()["id"]
    job = wait_finished(api, headers, job_id)
    assert job["state"] == "succeeded", job
    assert job["attempts"] == 3
    assert len((tmp_path / f"{job_id}.runs").read_text().split()) == 3


def test_transient_errors_give_up_after_retry_max(service: Service, dept: str, tmp_path) -> None:
    api, headers = service.api, service.token(dept)
    job_id = submit(
        api, headers, [("a.txt", b"x\n")], {"transient_times": 99, "trace_dir": str(tmp_path)}
    ).json()["id"]
    job = wait_finished(api, headers, job_id)
    assert job["state"] == "failed" and job["error_code"] == "retries_exhausted"
    assert len((tmp_path / f"{job_id}.runs").read_text().split()) == service.settings.retry_max + 1


def test_cancel_running_job_and_retry_it(service: Service, dept: str, tmp_path) -> None:
    api, headers = service.api, service.token(dept)
    job_id = submit(api, headers, [("a.txt", b"x\n")], {"sleep": 5, "trace_dir": str(tmp_path)}).json()["id"]
    from tests.integration.helpers import wait_until

    wait_until(
        lambda: api.get(f"/api/v1/jobs/{job_id}", headers=headers).json()["state"] == "running",
        what="job to start",
    )
    cancelled = api.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    job = wait_finished(api, headers, job_id)
    assert job["state"] == "cancelled"
    # A succeeded job cannot be cancelled or retried: 409 with the reason.
    again = api.post(f"/api/v1/jobs/{job_id}/retry", headers=headers)
    assert again.status_code == 202
    job = wait_finished(api, headers, job_id, timeout=60)
    assert job["state"] == "succeeded"
    conflict = api.post(f"/api/v1/jobs/{job_id}/cancel", headers=headers)
    assert conflict.status_code == 409
    assert "完了" in conflict.json()["error"]["message"]


def test_department_baseline_override_applies_to_new_jobs(service: Service, dept: str) -> None:
    api, headers = service.api, service.token(dept)
    operator = service.token("ops", role="operator")
    update = api.put(
        f"/api/v1/departments/{dept}",
        headers=operator,
        json={"name": "総務課", "baseline_overrides": {"echo": 90}},
    )
    assert update.status_code == 200 and update.json()["baseline_overrides"] == {"echo": 90.0}
    assert api.put(f"/api/v1/departments/{dept}", headers=headers, json={"name": "x"}).status_code == 403
    bad = api.put(f"/api/v1/departments/{dept}", headers=operator, json={"baseline_overrides": {"echo": -1}})
    assert bad.status_code == 422
    job_id = submit(api, headers, [("a.txt", b"1\n2\n")]).json()["id"]
    job = wait_finished(api, headers, job_id)
    assert job["saved_seconds"] == 180.0 and job["summary"]["seconds_per_unit"] == 90.0
    savings = api.get("/api/v1/savings", headers=headers).json()
    assert savings["rows"][0]["department_name"] == "総務課"
