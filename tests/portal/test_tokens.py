"""The admin token page over HTTP (both databases): a token created in the
portal is shown once, works against the API, shows its last use, is revoked
from the page and refused at once; every step audited; an existing user keeps
their department and role; departments and operators are refused the page."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from jobs.db import unit_of_work
from jobs.models import AuditEvent, User
from tests.conftest import Service
from tests.portal.conftest import HOSTILE, Person, make_user

TOKEN_RE = re.compile(r'<code id="new-token" class="secret">(dl_[^<]+)</code>')


def test_token_created_used_and_revoked_from_the_page(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    admin = person(dept, "admin")
    made = admin.post(
        "/portal/admin/tokens",
        {"user_name": f"{dept}-system", "department": dept, "role": "department", "label": HOSTILE},
        token_from="/portal/admin/tokens",
    )
    assert made.status_code == 200, made.text
    token = TOKEN_RE.search(made.text)
    assert token, made.text
    assert "no-store" in made.headers["cache-control"]
    assert HOSTILE not in made.text and "&lt;script&gt;" in made.text

    api = TestClient(service.api.app)
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert api.get("/api/v1/jobs", headers=headers).status_code == 200

    listing = admin.client.get("/portal/admin/tokens")
    assert token.group(1) not in listing.text  # shown once only
    row = re.search(r'<tr data-token="([^"]+)">(.*?)</tr>', listing.text, re.S)
    assert row and "有効" in row.group(2) and "未使用" not in row.group(2)
    assert "90日" in listing.text  # the default lifetime offered

    revoked = admin.post(f"/portal/admin/tokens/{row.group(1)}/revoke", token_from="/portal/admin/tokens")
    assert revoked.status_code == 303
    after = admin.client.get(revoked.headers["location"])
    assert "トークンを取り消しました" in after.text and "取り消し済み" in after.text
    refused = api.get("/api/v1/jobs", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"

    with unit_of_work(service.runtime.factory) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_name == admin.name).order_by(AuditEvent.id)
        ).all()
    assert [a for a in actions if a.startswith("token_")] == ["token_create", "token_revoke"]


def test_existing_user_keeps_department_and_role(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    admin = person(dept, "admin")
    staff = make_user(service, f"{dept}x")
    made = admin.post(
        "/portal/admin/tokens",
        {"user_name": staff, "department": dept, "role": "admin", "lifetime": "30d"},
        token_from="/portal/admin/tokens",
    )
    assert made.status_code == 200 and TOKEN_RE.search(made.text)
    with unit_of_work(service.runtime.factory) as session:
        user = session.scalar(select(User).where(User.name == staff))
        assert user is not None and (user.department_code, user.role) == (f"{dept}x", "department")
    bad = admin.post(
        "/portal/admin/tokens", {"user_name": staff, "lifetime": "9999d"}, token_from="/portal/admin/tokens"
    )
    assert bad.status_code == 422 and "有効期限" in bad.text


def test_only_admins_see_the_token_page(dept: str, person: Callable[..., Person]) -> None:
    for role in ("department", "operator"):
        who = person(dept, role)
        page = who.client.get("/portal/admin/tokens")
        assert page.status_code == 403 and "管理者のみ" in page.text
        assert "APIトークン" not in page.text
