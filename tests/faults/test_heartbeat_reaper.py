"""Heartbeats and the reaper with a separate ``digilabo worker`` (as on
another host): a live job past the heartbeat timeout is left alone; a job
whose whole worker was killed is requeued by the next worker's reaper long
before Redis's visibility timeout would give its message back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jobs import store
from tests.faults.conftest import Cluster
from tests.integration.helpers import submit, wait_finished, wait_until

pytestmark = [
    pytest.mark.faults,
    # Heartbeat every second, lost after 5 s; Redis would redeliver after 150 s.
    pytest.mark.cluster(
        heartbeat_interval_s=1, heartbeat_timeout_s=5, reaper_interval_s=1, visibility_margin_s=120
    ),
]


def test_a_job_longer_than_the_timeout_keeps_its_worker_and_a_lost_one_is_requeued(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start_worker()
    trace = tmp_path / "trace"
    trace.mkdir()
    params = {"sleep": 8, "trace_dir": str(trace)}
    alive = submit(cluster.api, cluster.headers, [("a.txt", b"a\n")], params).json()["id"]
    job = wait_finished(cluster.api, cluster.headers, alive, timeout=90)
    assert job["state"] == "succeeded" and job["attempts"] == 1  # beat all along: never requeued

    lost = submit(cluster.api, cluster.headers, [("b.txt", b"b\n")], params).json()["id"]
    wait_until(lambda: (trace / f"{lost}.runs").exists(), 30, "the job to start")
    cluster.kill_worker()
    killed = time.monotonic()
    cluster.start_worker()
    job = wait_finished(cluster.api, cluster.headers, lost, timeout=120)
    recovered = time.monotonic() - killed
    visibility = cluster.settings.longest_hard_limit + cluster.settings.visibility_margin_s
    assert job["state"] == "succeeded" and job["attempts"] == 2, job
    assert recovered < visibility - 30, recovered
    assert cluster.ledger_count(lost) == 1
    assert len((trace / f"{lost}.runs").read_text().split()) == 2
    with cluster.runtime.factory() as session:
        assert [e.action for e in store.list_audit(session=session, job_id=lost)].count("requeue") == 1
    print(
        f"\nwhole worker killed: requeued and finished {recovered:.1f}s later (visibility {visibility:.0f}s)"
    )
