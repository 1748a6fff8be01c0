"""The job state machine. Every state change goes through ``transition``.

Transitions are compare-and-set updates (``UPDATE … WHERE state IN (…)``), so
two processes racing on one job — a redelivered task beside a slow original,
a cancel beside a finish — cannot both win.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from jobs.errors import InvalidTransition, NotFound
from jobs.models import Job, utcnow


class State(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    CANCELLED = "cancelled"


# target -> states it may be entered from.
ALLOWED: dict[State, frozenset[State]] = {
    # queued again: a transient error scheduled a retry, or an operator retried.
    State.QUEUED: frozenset({State.RUNNING, State.FAILED, State.CANCELLED}),
    # running from running: a redelivered task after its worker died.
    State.RUNNING: frozenset({State.QUEUED, State.RUNNING}),
    State.SUCCEEDED: frozenset({State.RUNNING, State.NEEDS_REVIEW}),
    State.FAILED: frozenset({State.QUEUED, State.RUNNING, State.NEEDS_REVIEW}),
    State.NEEDS_REVIEW: frozenset({State.RUNNING}),
    State.CANCELLED: frozenset({State.QUEUED, State.RUNNING, State.NEEDS_REVIEW}),
}

# States after which a delivered task has nothing left to do.
FINISHED: frozenset[State] = frozenset({State.SUCCEEDED, State.FAILED, State.NEEDS_REVIEW, State.CANCELLED})


def can_transition(current: str, target: str) -> bool:
    return State(current) in ALLOWED[State(target)]


def transition(
    session: Session,
    job_id: str,
    target: State,
    *,
    now: datetime | None = None,
    attempt: int | None = None,
    **fields: Any,
) -> Job:
    """Move a job to ``target`` if its current state allows it.

    Extra ``fields`` are written in the same UPDATE. Raises InvalidTransition
    (with the state found) when the job is elsewhere, NotFound when absent.
    With ``attempt``, only that attempt may move the job (a superseded
    delivery still running must not finish a job retried since).
    The caller commits.
    """
    now = now or utcnow()
    values: dict[str, Any] = {"state": target.value, **fields}
    if target is State.RUNNING:
        values.setdefault("started_at", now)
        values.setdefault("heartbeat_at", now)
        values.setdefault("finished_at", None)
        values.setdefault("error_code", None)
        values.setdefault("error_message", None)
    elif target is State.QUEUED:
        values.setdefault("enqueued_at", now)
        values.setdefault("finished_at", None)
        values.setdefault("progress", 0.0)
    elif target in FINISHED:
        values.setdefault("finished_at", now)
    sources = [s.value for s in ALLOWED[target]]
    guard = [Job.id == job_id, Job.state.in_(sources)]
    if attempt is not None:
        guard.append(Job.attempts == attempt)
    result = session.execute(
        update(Job).where(*guard).values(**values).execution_options(synchronize_session=False)
    )
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidTransition(job_id, job.state, target.value)
    return job
