"""The one place a job ends with its outcome: the state transition and, when
the job succeeded, its savings in the time-saved ledger, in the caller's
transaction. The runner calls it when a core finishes, a kind's review hook
when a person finishes the review."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jobs import ledger
from jobs.artifacts import ArtifactStore
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
    artifacts: ArtifactStore | None = None,
    **updates: Any,
) -> Job:
    """Move the job to ``target`` (succeeded or needs_review), guarded by
    ``attempt`` when given; a succeeded job gets its primary ledger entry and
    the kind's success hook (which needs ``artifacts``)."""
    job = transition(session, job_id, target, attempt=attempt, **updates)
    if target is State.SUCCEEDED:
        record_savings(session, job, kind, tz=tz)
        if kind.on_success is not None and artifacts is not None:
            kind.on_success(session, job, artifacts)
    return job


def record_savings(session: Session, job: Job, kind: JobKind, *, tz: str) -> None:
    """The job's primary ledger entry from the units and seconds per unit
    its summary carries. A job made from another one (an entry job from a
    reviewed OCR job) also bears the review time its source could not."""
    summary = job.summary or {}
    carried = ledger.uncovered_human_seconds(job.source_job_id, session=session) if job.source_job_id else 0.0
    ledger.record_job(
        job,
        session=session,
        service=kind.service,
        unit_name=kind.unit_name,
        units=float(summary.get("units", 0.0)),
        seconds_per_unit=float(summary.get("seconds_per_unit", kind.default_seconds_per_unit)),
        tz=tz,
        carried_seconds=carried,
        reason=f"確認時間（元のジョブ {job.source_job_id}）{carried:.0f}秒を差し引き" if carried else "",
    )
