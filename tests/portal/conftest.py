"""Portal fixtures: users with passwords, a browser-like client per person
(its own cookie jar) against the service fixture's real app and database."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from jobs import auth, store
from jobs.db import unit_of_work
from tests.conftest import Service

PASSWORD = "Portal-Pw-8c1e7d"
HOSTILE = "<script>alert(1)</script>"
COOKIE = "digilabo_session"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Person:
    name: str
    department: str
    role: str
    client: TestClient

    def csrf(self, path: str = "/portal/jobs/new") -> str:
        page = self.client.get(path)
        found = CSRF_RE.search(page.text)
        assert found, f"no CSRF token on {path}: {page.status_code}"
        return found.group(1)

    def post(self, path: str, data: dict[str, str] | None = None, *, token_from: str = "", **kwargs: object):  # type: ignore[no-untyped-def]
        body = {"csrf_token": self.csrf(token_from or "/portal/savings"), **(data or {})}
        return self.client.post(path, data=body, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def make_user(service: Service, department: str, role: str = "department", name: str = "") -> str:
    name = name or f"{department}-{role}-{uuid.uuid4().hex[:6]}"
    with unit_of_work(service.runtime.factory) as session:
        store.ensure_department(department, f"{department}課", session=session)
        auth.create_user(name, session=session, department_code=department, role=role, password=PASSWORD)
    return name


def login(client: TestClient, name: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get("/portal/login")
    token = CSRF_RE.search(page.text)
    assert token
    return client.post(
        "/portal/login",
        data={"name": name, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


@pytest.fixture
def person(service: Service) -> Callable[..., Person]:
    """A logged-in person of a department and role, with a client of their own."""

    def make(department: str, role: str = "department") -> Person:
        name = make_user(service, department, role)
        client = TestClient(service.api.app)
        answer = login(client, name)
        assert answer.status_code == 303, answer.text
        return Person(name, department, role, client)

    return make
