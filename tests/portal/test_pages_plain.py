"""Small portal pages over HTTP (both databases): the operator docs served
inside the portal (operators only, nothing else under docs/), unknown
addresses as a Japanese page instead of JSON, ログアウトしました, the favicon."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Service
from tests.portal.conftest import Person


def test_operator_docs_inside_the_portal(dept: str, person: Callable[..., Person]) -> None:
    ops, staff = person(dept, "operator"), person(dept)
    page = ops.client.get("/portal/docs/rpa")
    assert page.status_code == 200 and "<h1>" in page.text and "<table>" in page.text
    assert "入力スクリプトの書き方" in page.text and "<script>" not in page.text.split("<main>")[1]
    assert ops.client.get("/portal/docs/ocr").status_code == 200
    assert 'href="/portal/docs/rpa"' in ops.client.get("/portal/scripts/new").text
    assert 'href="/portal/docs/ocr"' in ops.client.get("/portal/templates/new").text
    assert ops.client.get("/portal/docs/security").status_code == 404
    assert ops.client.get("/portal/docs/..%2Fpyproject.toml").status_code == 404
    assert staff.client.get("/portal/docs/rpa").status_code == 403


def test_unknown_address_is_a_japanese_page_and_logout_says_so(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff = person(dept)
    missing = staff.client.get("/portal/no-such-page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "このページは見つかりません" in missing.text and 'id="error-code"' in missing.text
    direct = staff.client.get("/portal/logout")  # a form's address opened directly
    assert direct.status_code == 405 and "直接開けません" in direct.text
    # The API keeps answering JSON.
    assert TestClient(service.api.app).get("/api/v1/nothing").json()["error"]["code"] == "not_found"
    out = staff.post("/portal/logout")
    assert out.headers["location"] == "/portal/login?done=logout"
    assert "ログアウトしました" in staff.client.get(out.headers["location"]).text
    assert 'rel="icon" href="/portal/static/favicon.svg"' in staff.client.get("/portal/login").text
    assert staff.client.get("/portal/static/favicon.svg").headers["content-type"].startswith("image/svg")
