"""A small service of real processes for the fault tests: its own Redis
(append-only file on), SQLite, the API in-process and one cpu worker
subprocess that a test can kill and restart."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from composition.runtime import Runtime
from config.settings import Settings
from digilabo.embedded import Child, free_port, python_argv, spawn, start_redis
from intake_api.main import create_app
from jobs import auth
from jobs.db import migrate, unit_of_work
from jobs.models import LedgerEntry
from tests.conftest import make_settings

LIMITS = {"gpu": (20, 30), "cpu": (20, 30), "rpa": (20, 30)}


@dataclass
class Cluster:
    settings: Settings
    runtime: Runtime
    api: TestClient
    headers: dict[str, str]
    root: Path
    redis: Child
    redis_port: int
    worker: Child | None = None

    def start_worker(self, pool: str = "cpu", env: dict[str, str] | None = None) -> Child:
        self.worker = spawn(
            "worker",
            python_argv("-m", "digilabo", "worker", "--pool", pool),
            env={**os.environ, **self.settings.as_env(), **(env or {})},
            log_path=self.root / "worker.log",
        )
        return self.worker

    def kill_worker(self) -> None:
        assert self.worker is not None
        os.killpg(self.worker.process.pid, signal.SIGKILL)  # main process and its children at once
        self.worker.process.wait()

    def restart_redis(self, kill: bool) -> None:
        if kill:
            os.kill(self.redis.process.pid, signal.SIGKILL)
            self.redis.process.wait()
        else:
            self.redis.stop()
        self.redis, _ = start_redis(self.root / "redis", port=self.redis_port)

    def ledger_count(self, job_id: str) -> int:
        with self.runtime.factory() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(LedgerEntry).where(LedgerEntry.job_id == job_id)
                )
                or 0
            )


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Settings can be changed per test with ``@pytest.mark.cluster(**overrides)``."""
    marker = request.node.get_closest_marker("cluster")
    port = free_port()
    redis, url = start_redis(tmp_path / "redis", port=port)
    overrides = {
        "time_limits": LIMITS,
        "visibility_margin_s": 10,
        "broker_restore_interval_s": 1,
        **(marker.kwargs if marker else {}),
    }
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", url, **overrides)
    migrate(settings.database_url)
    runtime = Runtime(settings)
    with unit_of_work(runtime.factory) as session:
        user = auth.ensure_user(f"f-{uuid.uuid4().hex[:6]}", session=session, department_code="faults")
        headers = {"Authorization": f"Bearer {auth.create_token(user, session=session)}"}
    cluster = Cluster(
        settings, runtime, TestClient(create_app(settings, runtime)), headers, tmp_path, redis, port
    )
    try:
        yield cluster
    finally:
        if cluster.worker:
            cluster.worker.stop()
        cluster.redis.stop()
        runtime.close()
