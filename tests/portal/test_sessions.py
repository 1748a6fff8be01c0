"""Portal sessions live on the server: a cookie copied before logout, a
password reset or disabling the user opens nothing afterwards (real app and
database)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from jobs import sessions
from jobs.db import unit_of_work
from jobs.models import User
from tests.conftest import Service
from tests.portal.conftest import COOKIE, Person, login, make_user


def _copy(service: Service, source: TestClient) -> TestClient:
    """A second browser holding a copy of the first one's session cookie."""
    stolen = TestClient(service.api.app)
    stolen.cookies.set(COOKIE, source.cookies[COOKIE])
    return stolen


def _opens(client: TestClient) -> bool:
    return client.get("/portal/jobs", follow_redirects=False).status_code == 200


def _user_id(service: Service, name: str) -> str:
    with unit_of_work(service.runtime.factory) as session:
        return str(session.scalar(select(User.id).where(User.name == name)))


def test_logout_ends_every_session_of_the_user_even_a_copied_cookie(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff = person(dept)
    other_browser = TestClient(service.api.app)
    assert login(other_browser, staff.name).status_code == 303
    copied = _copy(service, staff.client)
    assert _opens(copied) and _opens(other_browser)

    assert staff.post("/portal/logout").status_code == 303
    assert not _opens(copied)
    assert not _opens(other_browser)  # the same user's other session ends too
    assert not _opens(staff.client)
    with unit_of_work(service.runtime.factory) as session:
        assert sessions.count_for(_user_id(service, staff.name), session=session) == 0

    # A logout sent with the ended cookie ends nothing of a new login.
    again = TestClient(service.api.app)
    assert login(again, staff.name).status_code == 303
    token = copied.get("/portal/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    copied.post("/portal/logout", data={"csrf_token": token}, follow_redirects=False)
    assert _opens(again)


def test_password_reset_and_disabling_end_the_users_sessions(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    admin = person(dept, "admin")
    name = make_user(service, dept)
    browser = TestClient(service.api.app)
    assert login(browser, name).status_code == 303
    copied = _copy(service, browser)
    user_id = _user_id(service, name)

    reset = admin.post(f"/portal/admin/users/{user_id}/password", {"password": "Another-Pw-41d9e2"})
    assert reset.status_code == 303
    assert not _opens(copied) and not _opens(browser)

    assert login(browser, name, "Another-Pw-41d9e2").status_code == 303
    copied = _copy(service, browser)
    assert _opens(copied)
    disabled = admin.post(f"/portal/admin/users/{user_id}", {"department": dept, "role": "department"})
    assert disabled.status_code == 303
    assert not _opens(copied) and not _opens(browser)
    with unit_of_work(service.runtime.factory) as session:
        assert sessions.count_for(user_id, session=session) == 0
