"""Department pages over HTTP against the real app, database and workers:
login and sessions, CSRF, a generic job through the form, progress JSON,
the job page with downloads (audited), escaping, other departments' 404s."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from jobs import store
from jobs.db import unit_of_work
from tests.conftest import Service
from tests.integration.helpers import wait_until
from tests.portal.conftest import HOSTILE, PASSWORD, Person, login, make_user


def test_login_session_cookie_and_logout(service: Service, dept: str) -> None:
    client = TestClient(service.api.app)
    first = client.get("/portal/jobs", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/portal/login?next=/portal/jobs")

    name = make_user(service, dept)
    wrong = login(client, name, "not-the-password")
    assert wrong.status_code == 401
    assert "利用者名またはパスワードが正しくありません" in wrong.text

    ok = login(client, name)
    assert ok.status_code == 303 and ok.headers["location"] == "/portal/jobs"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    page = client.get("/portal/jobs")
    assert page.status_code == 200 and f"{dept}課のジョブ" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]

    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/portal/logout", data={"csrf_token": token}, follow_redirects=False)
    assert client.get("/portal/jobs", follow_redirects=False).status_code == 303


def test_https_cookie_is_secure_and_next_is_kept_on_site(service: Service, dept: str) -> None:
    client = TestClient(service.api.app, base_url="https://testserver")
    page = client.get("/portal/login?next=//evil.example/x")
    assert "evil.example" not in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = client.post(
        "/portal/login",
        data={"name": make_user(service, dept), "password": PASSWORD, "csrf_token": token, "next": "//evil"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/portal/jobs"
    assert "secure" in answer.headers["set-cookie"].lower()


def test_forms_refuse_a_missing_or_wrong_csrf_token(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff = person(dept)
    answer = staff.client.post(
        "/portal/jobs/new",
        data={"kind": "echo", "csrf_token": "forged"},
        files=[("files", ("a.txt", b"x", "text/plain"))],
    )
    assert answer.status_code == 400 and "不正な送信" in answer.text
    login_page = TestClient(service.api.app).post("/portal/login", data={"name": "x", "password": "y"})
    assert login_page.status_code == 400


def test_generic_job_from_form_to_download(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff = person(dept)
    hostile_name = f"{HOSTILE}.txt"
    answer = staff.post(
        "/portal/jobs/new",
        {
            "kind": "echo",
            "param_name_0": "note",
            "param_value_0": HOSTILE,
            "param_name_1": "sleep",
            "param_value_1": "0",
        },
        token_from="/portal/jobs/new?kind=echo",
        files=[("files", (hostile_name, b"hello portal\n", "text/plain"))],
    )
    assert answer.status_code == 303, answer.text
    job_url = answer.headers["location"]
    job_id = job_url.rsplit("/", 1)[1]

    def finished() -> bool:
        jobs = staff.client.get(f"/portal/api/jobs?ids={job_id}").json()["jobs"]
        return bool(jobs and jobs[0]["finished"])

    wait_until(finished, 60, "the echo job")
    page = staff.client.get(job_url)
    assert page.status_code == 200
    assert "完了" in page.text and "このジョブで削減できた時間" in page.text and "1分" in page.text
    # The department by its name, times in 和暦 with 西暦 beside them.
    assert f'<dd id="job-department">{dept}課</dd>' in page.text
    assert re.search(
        r"<dd>令和[0-9元]+年[0-9]+月[0-9]+日 \([0-9]{4}年[0-9]+月[0-9]+日\) [0-9]{2}:[0-9]{2}</dd>", page.text
    )
    assert HOSTILE not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text

    listing = staff.client.get("/portal/jobs")
    assert job_id in listing.text and HOSTILE not in listing.text

    with unit_of_work(service.runtime.factory) as session:
        outputs = store.list_artifacts(job_id, session=session, role="output")
        output_name = outputs[0].name
    download = staff.client.get(f"/portal/jobs/{job_id}/files/{output_name}")
    assert download.status_code == 200 and download.content == b"HELLO PORTAL\n"
    # The file the person sent is linked from the page too.
    link = re.search(rf'href="(/portal/jobs/{job_id}/inputs/[^"]+)"', page.text)
    assert link is not None
    original = staff.client.get(html.unescape(link.group(1)))
    assert original.status_code == 200 and original.content == b"hello portal\n"
    with unit_of_work(service.runtime.factory) as session:
        events = store.list_audit(session=session, job_id=job_id, action="download")
        assert [e.actor_name for e in events] == [staff.name, staff.name]


def test_form_errors_are_japanese_and_escaped(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff = person(dept)
    answer = staff.post(
        "/portal/jobs/new",
        {"kind": "transcription", "meeting_name": HOSTILE, "meeting_date": "2025-13-45"},
        token_from="/portal/jobs/new?kind=transcription",
        files=[("files", ("会議.flac", b"not audio at all", "audio/flac"))],
    )
    assert answer.status_code == 422
    assert "YYYY-MM-DD" in answer.text
    assert HOSTILE not in answer.text and "&lt;script&gt;" in answer.text
    empty = staff.post("/portal/jobs/new", {"kind": "echo"}, token_from="/portal/jobs/new?kind=echo")
    assert empty.status_code == 422 and "ファイルが添付されていません" in empty.text


def test_other_departments_jobs_are_not_found(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    owner = person(dept)
    answer = owner.post(
        "/portal/jobs/new",
        {"kind": "echo"},
        token_from="/portal/jobs/new?kind=echo",
        files=[("files", ("a.txt", b"a\n", "text/plain"))],
    )
    job_id = answer.headers["location"].rsplit("/", 1)[1]
    stranger = person(f"{dept}x")
    assert stranger.client.get(f"/portal/jobs/{job_id}").status_code == 404
    assert "見つかりません" in stranger.client.get(f"/portal/jobs/{job_id}").text
    assert stranger.client.get(f"/portal/jobs/{job_id}/files/a.upper.txt").status_code == 404
    assert stranger.client.get(f"/portal/jobs/{job_id}/inputs/a.txt").status_code == 404
    assert stranger.client.get(f"/portal/api/jobs?ids={job_id}").json() == {"jobs": []}
    assert job_id not in stranger.client.get("/portal/jobs").text
    cancel = stranger.post(f"/portal/jobs/{job_id}/cancel")
    assert cancel.status_code == 404
    assert stranger.client.get("/portal/ops/queues").status_code == 403
