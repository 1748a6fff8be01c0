"""Who sees what, and bad input: a clear 4xx with a Japanese message that
changes nothing."""

from __future__ import annotations

import json

import pytest

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
    audit = api.get("/api/v1/audit", headers=operator, params={"job_id": job_id}).json()
    assert {"submit", "view", "download"} <= {e["action"] for e in audit}
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
