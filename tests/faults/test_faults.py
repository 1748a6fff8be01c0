"""Fault tests with real processes: the whole worker killed, Redis killed.

The Redis here keeps an append-only file, and the visibility timeout is made
short (hard limit 30 s + 10 s margin) so that redelivery after a lost worker
takes seconds instead of hours; the figures are in docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from digilabo.embedded import Child, free_port, python_argv, spawn, start_redis
from digilabo.runtime import Runtime
from digilabo.settings import Settings
from intake_api.main import create_app
from jobs import auth
from jobs.db import migrate, unit_of_work
from jobs.models import LedgerEntry
from tests.conftest import make_settings
from tests.integration.helpers import submit, wait_finished, wait_until

pytestmark = pytest.mark.faults

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

    def start_worker(self) -> Child:
        env = {**os.environ, **self.settings.as_env()}
        self.worker = spawn(
            "worker",
            python_argv("-m", "digilabo", "worker", "--pool", "cpu"),
            env=env,
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
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    port = free_port()
    redis, url = start_redis(tmp_path / "redis", port=port)
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        url,
        time_limits=LIMITS,
        visibility_margin_s=10,
        broker_restore_interval_s=1,
    )
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


def test_whole_worker_killed_and_restarted_redelivers_after_visibility_timeout(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start_worker()
    trace = tmp_path / "trace"
    trace.mkdir()
    running = submit(
        cluster.api, cluster.headers, [("a.txt", b"x\ny\n")], {"sleep": 4, "trace_dir": str(trace)}
    ).json()["id"]
    wait_until(lambda: (trace / f"{running}.runs").exists(), 30, "the job to start")
    cluster.kill_worker()
    killed_at = time.monotonic()
    waiting = [submit(cluster.api, cluster.headers, [("b.txt", b"z\n")]).json()["id"] for _ in range(2)]
    cluster.start_worker()
    for job_id in waiting:  # queued jobs do not wait for the visibility timeout
        assert wait_finished(cluster.api, cluster.headers, job_id, timeout=60)["state"] == "succeeded"
    job = wait_finished(cluster.api, cluster.headers, running, timeout=120)
    redelivered_after = time.monotonic() - killed_at
    assert job["state"] == "succeeded" and job["attempts"] == 2
    assert cluster.ledger_count(running) == 1
    visibility = cluster.settings.longest_hard_limit + cluster.settings.visibility_margin_s
    assert visibility - 5 < redelivered_after < visibility + 40, redelivered_after
    print(f"redelivery after a lost worker: {redelivered_after:.0f}s (visibility timeout {visibility:.0f}s)")


def test_redis_killed_with_jobs_queued_loses_none(cluster: Cluster) -> None:
    ids = [
        submit(cluster.api, cluster.headers, [("a.txt", f"{i}\n".encode())]).json()["id"] for i in range(4)
    ]
    time.sleep(1.5)  # appendfsync everysec: the AOF has them after a second
    cluster.restart_redis(kill=True)
    cluster.start_worker()
    for job_id in ids:
        job = wait_finished(cluster.api, cluster.headers, job_id, timeout=60)
        assert job["state"] == "succeeded" and job["attempts"] == 1
        assert cluster.ledger_count(job_id) == 1


def test_redis_restarted_while_a_job_runs_finishes_it_once(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start_worker()
    trace = tmp_path / "trace"
    trace.mkdir()
    job_id = submit(
        cluster.api, cluster.headers, [("a.txt", b"x\n")], {"sleep": 5, "trace_dir": str(trace)}
    ).json()["id"]
    wait_until(lambda: (trace / f"{job_id}.runs").exists(), 30, "the job to start")
    cluster.restart_redis(kill=True)
    job = wait_finished(cluster.api, cluster.headers, job_id, timeout=90)
    assert job["state"] == "succeeded"
    # Whatever Redis remembers of the delivery, a later redelivery finds the
    # job finished: wait past the visibility timeout and check nothing ran again.
    time.sleep(cluster.settings.longest_hard_limit + cluster.settings.visibility_margin_s + 5)
    assert cluster.ledger_count(job_id) == 1
    runs = (trace / f"{job_id}.runs").read_text().split()
    assert len(runs) == 1, runs
    after = submit(cluster.api, cluster.headers, [("b.txt", b"y\n")]).json()["id"]
    assert wait_finished(cluster.api, cluster.headers, after, timeout=60)["state"] == "succeeded"
