"""Heartbeats and the reaper of lost jobs, on a real SQLite database."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs import store
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.heartbeat import Heartbeat, held_elsewhere, requeue_lost
from jobs.lifecycle import State, transition
from jobs.models import Job, utcnow


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    return session_factory(make_engine(url))


def running_job(factory: sessionmaker[Session], *, beat_ago_s: float, worker: str = "cpu@h-1") -> str:
    with unit_of_work(factory) as session:
        store.ensure_department("a", session=session)
        job = store.create_job(
            session=session, kind="echo", queue="cpu", department_code="a", submitted_by=None, parameters={}
        )
        beat = utcnow() - timedelta(seconds=beat_ago_s)
        transition(
            session, job.id, State.RUNNING, attempts=1, task_id="t-1", worker=worker, heartbeat_at=beat
        )
        return job.id


def get(factory: sessionmaker[Session], job_id: str) -> Job:
    with unit_of_work(factory) as session:
        return store.get_job(job_id, session=session)


def test_a_job_without_a_recent_heartbeat_is_requeued_under_a_new_task(
    factory: sessionmaker[Session],
) -> None:
    lost = running_job(factory, beat_ago_s=120)
    alive = running_job(factory, beat_ago_s=5)
    with unit_of_work(factory) as session:
        requeued = requeue_lost(session=session, timeout_s=60)
    assert [r.job_id for r in requeued] == [lost]
    job = get(factory, lost)
    assert job.state == "queued" and job.task_id == requeued[0].task_id != "t-1"
    assert job.attempts == 1 and requeued[0].attempt == 1  # the delivery makes it attempt 2
    assert "再実行" in job.progress_message
    assert get(factory, alive).state == "running"
    with unit_of_work(factory) as session:
        assert [e.action for e in store.list_audit(session=session, job_id=lost)] == ["requeue"]
        assert requeue_lost(session=session, timeout_s=60) == []  # once only


def test_a_known_dead_worker_s_jobs_are_requeued_at_once(factory: sessionmaker[Session]) -> None:
    job_id = running_job(factory, beat_ago_s=1, worker="cpu@host-42")
    other = running_job(factory, beat_ago_s=1, worker="cpu@host-43")
    with unit_of_work(factory) as session:
        requeued = requeue_lost(session=session, timeout_s=60, dead_workers=["cpu@host-42"])
    assert [r.job_id for r in requeued] == [job_id]
    assert get(factory, other).state == "running"


def test_a_split_job_waiting_for_its_parts_is_left_alone(factory: sessionmaker[Session]) -> None:
    job_id = running_job(factory, beat_ago_s=600)
    with unit_of_work(factory) as session:
        assert requeue_lost(session=session, timeout_s=60, is_split=lambda job: job.id == job_id) == []
    assert get(factory, job_id).state == "running"


def test_a_delivery_of_another_task_does_not_take_a_job_with_a_fresh_heartbeat(
    factory: sessionmaker[Session],
) -> None:
    fresh = get(factory, running_job(factory, beat_ago_s=2))
    stale = get(factory, running_job(factory, beat_ago_s=200))
    assert held_elsewhere(fresh, "t-2", 60)  # the reaper's replacement holds it: skip
    assert not held_elsewhere(fresh, "t-1", 60)  # the same task redelivered: its holder is gone
    assert not held_elsewhere(stale, "t-2", 60)


def test_the_heartbeat_thread_beats_while_the_block_runs_and_stops_after(
    factory: sessionmaker[Session],
) -> None:
    job_id = running_job(factory, beat_ago_s=500)
    with Heartbeat(factory, job_id, 0.1, task_id="t-1") as beating:
        deadline = time.monotonic() + 10
        while beating.beats < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert beating.beats >= 2
    seen = get(factory, job_id).heartbeat_at
    assert seen is not None and (utcnow() - seen).total_seconds() < 5
    time.sleep(0.3)
    assert get(factory, job_id).heartbeat_at == seen  # stopped with the block
    with unit_of_work(factory) as session:
        assert requeue_lost(session=session, timeout_s=60) == []
