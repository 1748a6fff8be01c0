"""Tokens (expiry, revocation, the admin API, the CLI), portal login
throttling, and the audit of who created which token or user."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from jobs import auth, store
from jobs.db import unit_of_work
from jobs.models import ApiToken, utcnow
from tests.conftest import REPO, Service
from tests.portal.conftest import PASSWORD, login, make_user

pytestmark = pytest.mark.parametrize("service", ["sqlite"], indirect=True)

DIGILABO = str(Path(sys.executable).parent / "digilabo")


def test_admin_creates_lists_and_revokes_tokens_over_the_api(service: Service, dept: str) -> None:
    api, admin = service.api, service.token("ops", "admin")
    assert api.get("/api/v1/tokens", headers=service.token(dept, "operator")).status_code == 403
    name = f"{dept}-robot"
    created = api.post(
        "/api/v1/tokens",
        headers=admin,
        json={"user_name": name, "department_code": dept, "label": "夜間連携", "expires_in": "90d"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    token, token_id = body["token"], body["id"]
    assert body["status"] == "active" and body["expires_at"] is not None
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/jobs", headers=headers).status_code == 200
    listed = {t["id"]: t for t in api.get("/api/v1/tokens", headers=admin, params={"user_name": name}).json()}
    assert set(listed) == {token_id} and "token" not in listed[token_id]

    revoked = api.delete(f"/api/v1/tokens/{token_id[:8]}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = api.get("/api/v1/jobs", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_revoked"
    assert "取り消されています" in refused.json()["error"]["message"]
    bad = api.post(
        "/api/v1/tokens",
        headers=admin,
        json={"user_name": name, "department_code": dept, "expires_in": "soon"},
    )
    assert bad.status_code == 400 and "90d" in bad.json()["error"]["message"]
    with unit_of_work(service.runtime.factory) as session:
        actions = [(e.action, e.detail.get("token_id")) for e in store.list_audit(session=session, limit=50)]
    assert ("token_create", token_id) in actions and ("token_revoke", token_id) in actions
    assert not any(token in str(e) for e in actions)


def test_an_expired_token_is_refused_with_a_japanese_message(service: Service, dept: str) -> None:
    with unit_of_work(service.runtime.factory) as session:
        token, info = auth.issue_token(
            f"{dept}-old", session=session, actor=auth.CLI, department_code=dept, lifetime=timedelta(days=1)
        )
    headers = {"Authorization": f"Bearer {token}"}
    assert service.api.get("/api/v1/jobs", headers=headers).status_code == 200
    with unit_of_work(service.runtime.factory) as session:
        session.execute(
            update(ApiToken).where(ApiToken.id == info.id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    refused = service.api.get("/api/v1/jobs", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_expired"
    assert "有効期限が切れています" in refused.json()["error"]["message"]


def test_cli_token_create_list_revoke_and_user_create_are_audited(service: Service, dept: str) -> None:
    env = {**os.environ, **service.settings.as_env(), "PYTHONPATH": str(REPO)}
    run = {"env": env, "capture_output": True, "text": True, "timeout": 60}
    name = f"{dept}-cli"
    created = subprocess.run(
        [DIGILABO, "token", "create", "--department", dept, "--name", name, "--expires", "2w"], **run
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    listed = subprocess.run([DIGILABO, "token", "list", "--user", name], **run)
    assert listed.returncode == 0 and "active" in listed.stdout and token not in listed.stdout
    with unit_of_work(service.runtime.factory) as session:
        (info,) = auth.list_tokens(session=session, user_name=name)
    assert info.expires_at is not None and timedelta(days=13) < info.expires_at - utcnow() <= timedelta(
        days=14
    )
    revoked = subprocess.run([DIGILABO, "token", "revoke", info.id], **run)
    assert revoked.returncode == 0 and info.id in revoked.stdout
    assert service.api.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    user = subprocess.run(
        [DIGILABO, "user", "create", f"{dept}-person", "--department", dept, "--password-stdin"],
        input=PASSWORD + "\n",
        **run,
    )
    assert user.returncode == 0, user.stderr
    with unit_of_work(service.runtime.factory) as session:
        events = [e for e in store.list_audit(session=session, limit=50) if e.actor_name == "cli"]
    done = {(e.action, e.detail.get("user") or e.detail.get("token_id")) for e in events}
    assert {("token_create", name), ("token_revoke", info.id), ("user_create", f"{dept}-person")} <= done


def test_login_is_throttled_per_user_even_with_the_right_password(service: Service, dept: str) -> None:
    from fastapi.testclient import TestClient

    name = make_user(service, dept)
    client = TestClient(service.api.app)
    limit = service.settings.login_max_failures_per_user
    for _ in range(limit):
        assert login(client, name, "wrong-password-1").status_code == 401
    refused = login(client, name)
    assert refused.status_code == 429
    assert "ログインの失敗が続いたため" in refused.text and "分後" in refused.text
    assert login(TestClient(service.api.app), make_user(service, dept)).status_code == 303  # others may
    with unit_of_work(service.runtime.factory) as session:
        actions = [e.action for e in store.list_audit(session=session, limit=20) if e.actor_name == name]
    assert actions.count("login_failed") == limit and "login_throttled" in actions


def test_login_throttling_per_address_and_its_window(service: Service) -> None:
    from jobs import throttle

    limits = throttle.LoginLimits(window_s=600, per_user=5, per_address=3)
    address = f"192.0.2.{uuid.uuid4().int % 250}"
    now = utcnow()
    with unit_of_work(service.runtime.factory) as session:
        for i in range(3):  # three names from one address
            throttle.record_failure(f"guess-{uuid.uuid4().hex[:6]}-{i}", address, session=session, now=now)
    with unit_of_work(service.runtime.factory) as session:
        with pytest.raises(throttle.LoginThrottled) as caught:
            throttle.check_login("anyone", address, session=session, limits=limits, now=now)
        assert caught.value.details["scope"] == "address" and caught.value.details["retry_after_s"] == 600
        later = now + timedelta(seconds=601)
        throttle.check_login("anyone", address, session=session, limits=limits, now=later)  # window passed
