"""A worker process killed with SIGKILL in the middle of a job: Celery gives
the message back (acks_late + reject_on_worker_lost), the job runs again,
finishes once and is counted once."""

from __future__ import annotations

import os
import signal

from sqlalchemy import func, select

from jobs.models import Artifact, LedgerEntry
from tests.conftest import Service
from tests.integration.helpers import submit, wait_finished, wait_until


def test_sigkill_mid_job_is_redelivered_and_counted_once(service: Service, dept: str, tmp_path) -> None:
    api, headers = service.api, service.token(dept)
    trace = tmp_path / "x"
    trace.mkdir()
    job_id = submit(api, headers, [("a.txt", b"one\ntwo\n")], {"sleep": 4, "trace_dir": str(trace)}).json()[
        "id"
    ]
    runs = trace / f"{job_id}.runs"
    first_pid = int(wait_until(lambda: runs.exists() and runs.read_text().split(), what="first run")[0])
    wait_until(
        lambda: api.get(f"/api/v1/jobs/{job_id}", headers=headers).json()["progress"] > 0,
        what="the job to report progress",
    )
    os.kill(first_pid, signal.SIGKILL)

    job = wait_finished(api, headers, job_id, timeout=90)
    assert job["state"] == "succeeded", job
    pids = [int(p) for p in runs.read_text().split()]
    assert len(pids) == 2 and pids[0] == first_pid and pids[1] != first_pid
    assert job["attempts"] == 2
    assert job["saved_seconds"] == 2 * 60.0
    with service.runtime.factory() as session:
        entries = session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.job_id == job_id)
        )
        outputs = session.scalar(
            select(func.count())
            .select_from(Artifact)
            .where(Artifact.job_id == job_id, Artifact.role == "output")
        )
    assert entries == 1 and outputs == 1
    assert service.stack.dead_children() == []
