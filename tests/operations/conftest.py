"""Services of real processes for the backup, restore and upgrade tests:
each has its own var/ (SQLite) or its own PostgreSQL database, its own Redis,
the API in-process and, once started, a cpu worker subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from composition.runtime import Runtime
from config.settings import Settings
from digilabo.embedded import Child, start_redis
from digilabo.stack import Stack
from intake_api.main import create_app
from jobs import auth
from jobs.db import unit_of_work
from tests.conftest import make_settings, throwaway_postgres_database


@dataclass
class Site:
    """One installation: its settings, and (once opened) its API and worker."""

    settings: Settings
    redis: Child
    stack: Stack | None = None
    runtime: Runtime | None = None
    api: TestClient | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def open(self, *, worker: bool = True, pools: tuple[str, ...] = ("cpu",)) -> Site:
        """Migrate, start the workers of ``pools`` (if asked) and the API in-process."""
        self.stack = Stack(self.settings, pools=pools if worker else (), api=False)
        self.stack.start()
        self.runtime = Runtime(self.settings)
        self.api = TestClient(create_app(self.settings, self.runtime))
        with unit_of_work(self.runtime.factory) as session:
            user = auth.ensure_user(f"ops-{uuid.uuid4().hex[:6]}", session=session, department_code="kanri")
            self.headers = {"Authorization": f"Bearer {auth.create_token(user, session=session)}"}
        return self

    def close(self) -> None:
        if self.stack:
            self.stack.stop()
            self.stack = None
        if self.runtime:
            self.runtime.close()
            self.runtime = None


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    """``sites(name, backend, **settings)``: a new, empty installation under
    tmp_path/name (``settings`` override the test defaults)."""
    made: list[Site] = []
    cleanups: list[Callable[[], None]] = []

    def make(name: str, backend: str, **overrides: object) -> Site:
        root = tmp_path / name
        if backend == "sqlite":
            url = f"sqlite:///{root / 'var' / 'digilabo.db'}"
        else:
            url, drop = throwaway_postgres_database("digilabo_ops")
            cleanups.append(drop)
        redis, redis_url = start_redis(root / "redis", appendonly=False)
        settings = make_settings(root / "var", url, redis_url, **{"reaper_interval_s": 1.0, **overrides})
        site = Site(settings, redis)
        made.append(site)
        return site

    yield make
    for site in made:
        site.close()
        site.redis.stop()
    for cleanup in cleanups:
        cleanup()


Sites = Callable[..., Site]


def cli(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    """A `digilabo` command run against ``site``'s settings."""
    return subprocess.run(
        [sys.executable, "-m", "digilabo", *args],
        env={**os.environ, **site.settings.as_env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
