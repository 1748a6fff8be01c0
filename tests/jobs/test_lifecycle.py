"""The state machine, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs import store
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.errors import InvalidTransition
from jobs.lifecycle import State, can_transition, transition


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    return session_factory(make_engine(url))


def new_job(factory: sessionmaker[Session]) -> str:
    with unit_of_work(factory) as session:
        store.ensure_department("a", session=session)
        job = store.create_job(
            session=session, kind="echo", queue="cpu", department_code="a", submitted_by=None, parameters={}
        )
        return job.id


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("queued", "running", True),
        ("running", "succeeded", True),
        ("running", "running", True),  # redelivery after a worker died
        ("succeeded", "running", False),
        ("succeeded", "queued", False),
        ("failed", "queued", True),  # retry
        ("cancelled", "queued", True),
        ("queued", "succeeded", False),
        ("needs_review", "succeeded", True),
    ],
)
def test_allowed_transitions(current: str, target: str, allowed: bool) -> None:
    assert can_transition(current, target) is allowed


def test_transition_sets_times_and_refuses_bad_moves(factory: sessionmaker[Session]) -> None:
    job_id = new_job(factory)
    with unit_of_work(factory) as session:
        job = transition(session, job_id, State.RUNNING, attempts=1)
        assert job.started_at is not None and job.finished_at is None
        job = transition(session, job_id, State.SUCCEEDED)
        assert job.finished_at is not None
    with unit_of_work(factory) as session, pytest.raises(InvalidTransition) as caught:
        transition(session, job_id, State.CANCELLED)
    assert caught.value.details["current"] == "succeeded"
    assert "完了" in caught.value.message


def test_only_the_current_attempt_may_finish(factory: sessionmaker[Session]) -> None:
    job_id = new_job(factory)
    with unit_of_work(factory) as session:
        transition(session, job_id, State.RUNNING, attempts=2)
    with unit_of_work(factory) as session, pytest.raises(InvalidTransition):
        transition(session, job_id, State.SUCCEEDED, attempt=1)
    with unit_of_work(factory) as session:
        assert transition(session, job_id, State.SUCCEEDED, attempt=2).state == "succeeded"
