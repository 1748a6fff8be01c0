"""The one place a job ends with its outcome: the state transition and, when
the job succeeded, its savings in the time-saved ledger, in the caller's
transaction. The runner calls it when a core finishes, a kind's review hook
when a person finishes the review."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jobs import ledger
from jobs.lifecycle import State, transition
from jobs.models import Job
from jobs.registry import JobKind


def finish_job(
    session: Session,
    job_id: str,
    kind: JobKind,
    target: State,
    *,
    tz: str,
    attempt: int | None = None,
    **updates: Any,
) -> Job:
    """Move the job to ``target`` (succeeded or needs_review), guarded by
    ``attempt`` when given; a succeeded job gets its primary ledger entry."""
    job = transition(session, job_id, target, attempt=attempt, **updates)
    if target is State.SUCCEEDED:
        record_savings(session, job, kind, tz=tz)
    return job


def record_savings(session: Session, job: Job, kind: JobKind, *, tz: str) -> None:
    """The job's primary ledger entry from the units and seconds per unit
    its summary carries."""
    summary = job.summary or {}
    ledger.record_job(
        job,
        session=session,
        service=kind.service,
        unit_name=kind.unit_name,
        units=float(summary.get("units", 0.0)),
        seconds_per_unit=float(summary.get("seconds_per_unit", kind.default_seconds_per_unit)),
        tz=tz,
    )
