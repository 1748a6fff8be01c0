"""Who sees what, and bad input: a clear 4xx with a Japanese message that
changes nothing."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import select, update

from jobs import auth
from jobs.db import unit_of_work
from jobs.models import ApiToken, AuditEvent, Job
from tests.conftest import Service
from tests.integration.helpers import blob_names, counts, submit, wait_finished


def test_other_department_gets_404_and_operator_sees_all(service: Service, dept: str) -> None:
    api = service.api
    owner, stranger = service.token(dept), service.token(dept + "x")
    operator = service.token("digilabo", role="operator")
    job_id = submit(api, owner, [("a.txt", b"secret\n")]).json()["id"]
    job = wait_finished(api, owner, job_id)
    assert job["state"] == "succeeded", job
    url = job["outputs"][0]["url"]

    for path in (f"/api/v1/jobs/{job_id}", url):
        denied = api.get(path, headers=stranger)
        assert denied.status_code == 404, path
        assert denied.json()["error"]["code"] == "not_found"
    assert api.post(f"/api/v1/jobs/{job_id}/cancel", headers=stranger).status_code == 404
    assert api.post(f"/api/v1/jobs/{job_id}/retry", headers=stranger).status_code == 404
    listed = api.get("/api/v1/jobs", headers=stranger).json()
    assert job_id not in [j["id"] for j in listed["data"]]
    stranger_savings = api.get("/api/v1/savings", headers=stranger, params={"department": dept}).json()
    assert stranger_savings["rows"] == []

    assert api.get(f"/api/v1/jobs/{job_id}", headers=operator).status_code == 200
    assert api.get(url, headers=operator).content == b"SECRET\n"
    everyone = api.get("/api/v1/jobs", headers=operator, params={"department": dept}).json()
    assert [j["id"] for j in everyone["data"]] == [job_id]
    # One query per action: every poll of the job while it ran is a "view",
    # and on a slow machine those alone can fill a page of the log.
    for action in ("submit", "view", "download"):
        audit = api.get("/api/v1/audit", headers=operator, params={"job_id": job_id, "action": action}).json()
        assert audit and all(e["job_id"] == job_id for e in audit), action
    assert api.get("/api/v1/audit", headers=owner).status_code == 403


def test_job_list_filters(service: Service, dept: str) -> None:
    api, headers = service.api, service.token(dept)
    ok = submit(api, headers, [("a.txt", b"x\n")]).json()["id"]
    bad = submit(api, headers, [("a.txt", b"x\n")], {"fail": "input"}).json()["id"]
    wait_finished(api, headers, ok), wait_finished(api, headers, bad)
    failed = api.get("/api/v1/jobs", headers=headers, params={"state": "failed"}).json()
    assert [j["id"] for j in failed["data"]] == [bad]
    today = api.get("/api/v1/jobs", headers=headers, params={"kind": "echo"}).json()
    assert {j["id"] for j in today["data"]} == {ok, bad} and today["count"] == 2
    future = api.get("/api/v1/jobs", headers=headers, params={"submitted_from": "2999-01-01"}).json()
    assert future["count"] == 0
    wrong = api.get("/api/v1/jobs", headers=headers, params={"state": "done"})
    assert wrong.status_code == 422 and "state" in wrong.json()["error"]["message"]


@pytest.mark.parametrize(
    ("form", "files", "status", "code"),
    [
        ({"kind": "nope"}, [("a.txt", b"x")], 422, "unknown_kind"),
        ({"kind": "echo"}, [], 422, "invalid_request"),
        ({"kind": "echo"}, [("a.txt", b"")], 422, "empty_file"),
        ({"kind": "echo"}, [("a.txt", b"x" * (1024 * 1024 + 1))], 413, "file_too_large"),
        ({"kind": "echo"}, [("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)], 422, "unsupported_media_type"),
        ({"kind": "echo", "parameters": "{not json"}, [("a.txt", b"x")], 422, "invalid_parameters"),
        ({"kind": "echo", "parameters": "[1]"}, [("a.txt", b"x")], 422, "invalid_parameters"),
        (
            {"kind": "echo", "parameters": json.dumps({"sleep": -1})},
            [("a.txt", b"x")],
            422,
            "invalid_parameters",
        ),
        ({"kind": "echo"}, [("a.txt", b"x"), ("a.txt", b"y")], 422, "duplicate_filename"),
        ({"kind": "echo"}, [(f"{i}.txt", b"x") for i in range(4)], 422, "too_many_files"),
        ({"kind": "echo", "params": "{}"}, [("a.txt", b"x")], 422, "unknown_field"),
    ],
)
def test_bad_submission_is_refused_and_changes_nothing(
    service: Service, dept: str, form: dict[str, str], files: list[tuple[str, bytes]], status: int, code: str
) -> None:
    headers = service.token(dept)
    before, blobs = counts(service.runtime), blob_names(service.runtime)
    response = service.api.post(
        "/api/v1/jobs",
        headers=headers,
        data=form,
        files=[("files", (n, b, "application/octet-stream")) for n, b in files] or None,
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert any("\u3040" <= ch <= "\u9fff" for ch in error["message"]), error  # a Japanese message
    assert counts(service.runtime) == before
    assert blob_names(service.runtime) <= blobs


def test_a_misspelt_field_names_the_expected_one(service: Service, dept: str) -> None:
    answer = service.api.post(
        "/api/v1/jobs",
        headers=service.token(dept),
        data={"kind": "echo", "params": json.dumps({"sleep": 0})},
        files=[("files", ("a.txt", b"x", "text/plain"))],
    )
    error = answer.json()["error"]
    assert answer.status_code == 422 and error["details"]["expected"] == "parameters", error
    assert "params" in error["message"] and "parameters" in error["message"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer dl_wrong", "Basic abc", "Bearer " + "x" * 300])
def test_bad_token_is_401(service: Service, header: str | None) -> None:
    before = counts(service.runtime)
    headers = {"Authorization": header} if header else {}
    response = service.api.post(
        "/api/v1/jobs", headers=headers, data={"kind": "echo"}, files=[("files", ("a.txt", b"x"))]
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert service.api.get("/api/v1/jobs", headers=headers).status_code == 401
    assert counts(service.runtime) == before


def test_unknown_job_and_artifact_are_404(service: Service, dept: str) -> None:
    headers = service.token(dept)
    assert service.api.get("/api/v1/jobs/not-a-job", headers=headers).status_code == 404
    job_id = submit(service.api, headers, [("a.txt", b"x\n")]).json()["id"]
    wait_finished(service.api, headers, job_id)
    missing = service.api.get(f"/api/v1/jobs/{job_id}/artifacts/../../etc/passwd", headers=headers)
    assert missing.status_code == 404


def test_health_openapi_and_kinds(service: Service, dept: str) -> None:
    health = service.api.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    spec = service.api.get("/openapi.json").json()
    assert {"/api/v1/jobs", "/api/v1/savings", "/api/v1/savings/export", "/healthz"} <= set(spec["paths"])
    kinds = service.api.get("/api/v1/kinds", headers=service.token(dept)).json()
    assert "echo" in [k["name"] for k in kinds]


def test_savings_rejects_unknown_grouping(service: Service, dept: str) -> None:
    response = service.api.get("/api/v1/savings", headers=service.token(dept), params={"group_by": "colour"})
    assert response.status_code == 422
    assert "colour" in response.json()["error"]["message"]


def test_token_use_is_recorded_at_most_once_a_minute(service: Service, dept: str) -> None:
    headers = service.token(dept)
    digest = auth.hash_token(headers["Authorization"].split()[1])

    def last_used() -> datetime | None:
        with service.runtime.factory() as session:
            return session.scalar(select(ApiToken.last_used_at).where(ApiToken.token_hash == digest))

    assert last_used() is None
    assert service.api.get("/api/v1/kinds", headers=headers).status_code == 200
    first = last_used()
    assert first is not None
    assert service.api.get("/api/v1/kinds", headers=headers).status_code == 200
    assert last_used() == first  # within the minute: no write
    with unit_of_work(service.runtime.factory) as session:
        earlier = first - auth.TOUCH_EVERY
        session.execute(update(ApiToken).where(ApiToken.token_hash == digest).values(last_used_at=earlier))
    assert service.api.get("/api/v1/kinds", headers=headers).status_code == 200
    latest = last_used()
    assert latest is not None and latest >= first


def test_the_task_id_stored_at_submit_is_the_one_the_worker_runs(service: Service, dept: str) -> None:
    headers = service.token(dept)
    job_id = submit(service.api, headers, [("a.txt", b"x\n")]).json()["id"]
    with service.runtime.factory() as session:
        stored = session.scalar(select(Job.task_id).where(Job.id == job_id))
    assert stored
    assert wait_finished(service.api, headers, job_id)["state"] == "succeeded"
    with service.runtime.factory() as session:
        # The runner records the delivered task's id when it starts the job.
        assert session.scalar(select(Job.task_id).where(Job.id == job_id)) == stored


def test_the_uploaded_file_can_be_downloaded_by_its_department_only(service: Service, dept: str) -> None:
    headers = service.token(dept)
    body = f"元の依頼ファイル {dept}\n".encode()
    job = wait_finished(service.api, headers, submit(service.api, headers, [("依頼.txt", body)]).json()["id"])
    url = job["inputs"][0]["url"]
    assert url == f"/api/v1/jobs/{job['id']}/inputs/依頼.txt"
    download = service.api.get(url, headers=headers)
    assert download.status_code == 200 and download.content == body
    assert service.api.get(url, headers=service.token(f"x{dept}")).status_code == 404
    # An output's name is not an input's: each has its own URL.
    assert service.api.get(url.replace("/inputs/", "/artifacts/"), headers=headers).status_code == 404
    with service.runtime.factory() as session:
        details = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.job_id == job["id"], AuditEvent.action == "download")
        ).all()
    assert [(d["name"], d["role"]) for d in details] == [("依頼.txt", "input")]
