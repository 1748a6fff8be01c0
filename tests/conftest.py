"""Shared fixtures: a real Redis, real databases (SQLite and PostgreSQL), a
real Celery worker subprocess, and the API in-process.

PostgreSQL: the suite creates a throw-away database on the server named by
DIGILABO_TEST_POSTGRES_URL (default: the local server on 127.0.0.1:5432 with
trust auth) and drops it at the end. It is not optional: CI has one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from composition.runtime import Runtime
from config.settings import Settings
from digilabo.embedded import start_redis
from digilabo.stack import Stack
from intake_api.main import create_app
from jobs import auth
from jobs.db import migrate, unit_of_work

REPO = Path(__file__).resolve().parent.parent
TEST_KINDS = "tests.support.echo.kind:ECHO"
POSTGRES_ADMIN_URL = os.environ.get(
    "DIGILABO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session", autouse=True)
def _environment() -> None:
    # Worker subprocesses must import the test kind from this checkout.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    child, url = start_redis(tmp_path_factory.mktemp("redis"), appendonly=False)
    yield url
    child.stop()


def throwaway_postgres_database(prefix: str) -> tuple[str, Callable[[], None]]:
    """A new database on the PostgreSQL server the tests use
    (``DIGILABO_TEST_POSTGRES_URL``), its URL and how to drop it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{POSTGRES_ADMIN_URL.rpartition('/')[0]}/{name}", drop


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url, drop = throwaway_postgres_database("digilabo_test")
    yield url
    drop()


def make_settings(root: Path, database_url: str, redis_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "var_dir": root,
        "database_url": database_url,
        "redis_url": redis_url,
        "extra_job_kinds": [TEST_KINDS],
        "max_upload_bytes": 1024 * 1024,
        "retry_backoff_base": 0.2,
        "retry_backoff_max": 1.0,
        "retry_max": 3,
        # Small enough that a one-minute test recording is split into parts.
        "transcription_part_seconds": 30,
        # And a three-scan OCR batch into three parts of one page.
        "ocr_part_pages": 1,
        # The suite runs as root (CI); its workers must not look for a service user.
        "allow_root": True,
        "run_as": "",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Service:
    """One running service: settings, runtime, API client, worker stack."""

    settings: Settings
    runtime: Runtime
    api: TestClient
    stack: Stack
    backend: str

    def token(self, department: str, role: str = "department") -> dict[str, str]:
        with unit_of_work(self.runtime.factory) as session:
            user = auth.ensure_user(
                f"{department}-{role}-{uuid.uuid4().hex[:6]}",
                session=session,
                department_code=department,
                role=role,
            )
            token = auth.create_token(user, session=session)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session", params=BACKENDS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[Service]:
    """The whole service on one database backend, with a cpu and a gpu worker
    (the gpu pool runs on the CPU here and loads its model on first use)."""
    backend = request.param
    root = tmp_path_factory.mktemp(f"svc-{backend}")
    url = (
        f"sqlite:///{root / 'digilabo.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    # Each backend gets its own Redis database so the two workers never share a queue.
    settings = make_settings(root, url, redis_url.rsplit("/", 1)[0] + ("/1" if backend == "sqlite" else "/2"))
    migrate(settings.database_url)
    stack = Stack(settings, pools=("cpu", "gpu"), log_dir=root / "logs", api=False)
    stack.start()
    runtime = Runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as api:
            yield Service(settings, runtime, api, stack, backend)
    finally:
        stack.stop()
        runtime.close()


@pytest.fixture
def dept() -> str:
    """A department code of this test's own, so tests never share totals."""
    return f"d{uuid.uuid4().hex[:8]}"
