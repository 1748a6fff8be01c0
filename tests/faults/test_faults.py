"""Fault tests with real processes: the whole worker killed, Redis killed.

The Redis here keeps an append-only file, and the visibility timeout is made
short (hard limit 30 s + 10 s margin) so that redelivery after a lost worker
takes seconds instead of hours; the figures are in docs/reliability.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.conftest import Cluster
from tests.integration.helpers import submit, wait_finished, wait_until

pytestmark = pytest.mark.faults


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
