"""Scheduled housekeeping: the retention purge and the stuck-job reaper.

Retention: inputs and outputs of jobs that finished more than
``retention_days`` ago are deleted from the artifact store; their rows stay
(marked ``purged_at``) so the job history, the ledger and the audit log keep
their figures, which hold no personal content. A blob shared with a job still
inside its retention period is kept until that one expires too.

Reaper: a job still ``running`` well past its hard time limit lost its worker
(the host died, so nothing gave the message back yet); it is failed with a
reason a person can act on. A late redelivery then finds it finished.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import store
from jobs.artifacts import ArtifactStore
from jobs.errors import InvalidTransition
from jobs.lifecycle import State, transition
from jobs.models import Artifact, Job, utcnow
from jobs.store import SYSTEM

log = logging.getLogger(__name__)

PURGEABLE = (State.SUCCEEDED.value, State.FAILED.value, State.CANCELLED.value)
REAPED_JA = "処理中にワーカーが停止したため中断しました。再実行してください。"


@dataclass(frozen=True)
class PurgeResult:
    jobs: int
    artifacts: int
    blobs_deleted: int


def purge_expired(
    *, session: Session, artifacts: ArtifactStore, retention_days: int, now: datetime | None = None
) -> PurgeResult:
    """Mark expired artifacts purged and delete blobs nobody else needs.
    Blobs are deleted after the rows are flushed; the caller commits."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    rows = session.execute(
        select(Artifact, Job.id)
        .join(Job, Job.id == Artifact.job_id)
        .where(Job.state.in_(PURGEABLE), Job.finished_at < cutoff, Artifact.purged_at.is_(None))
    ).all()
    moment = now or utcnow()
    jobs: set[str] = set()
    digests: set[str] = set()
    for artifact, job_id in rows:
        artifact.purged_at = moment
        jobs.add(job_id)
        digests.add(artifact.sha256)
    session.flush()
    still_used = (
        set(
            session.scalars(
                select(Artifact.sha256).where(Artifact.sha256.in_(digests), Artifact.purged_at.is_(None))
            )
        )
        if digests
        else set()
    )
    deleted = 0
    for digest in sorted(digests - still_used):
        artifacts.delete(digest)
        deleted += 1
    for job_id in sorted(jobs):
        shutil.rmtree(artifacts.work_dir / job_id, ignore_errors=True)
        store.audit("purge", session=session, viewer=SYSTEM, job_id=job_id, retention_days=retention_days)
    if jobs:
        log.info("purged %d artifacts of %d jobs (%d blobs deleted)", len(rows), len(jobs), deleted)
    return PurgeResult(len(jobs), len(rows), deleted)


def reap_overdue(
    *, session: Session, limits: dict[str, float], grace_s: float = 600.0, now: datetime | None = None
) -> list[str]:
    """Fail jobs running longer than their kind's hard limit (``limits`` by
    kind, seconds) plus ``grace_s``. Returns the reaped job ids."""
    moment = now or utcnow()
    reaped = []
    for job in session.scalars(select(Job).where(Job.state == State.RUNNING.value)).all():
        limit = limits.get(job.kind)
        if limit is None or job.started_at is None:
            continue
        if (moment - job.started_at).total_seconds() <= limit + grace_s:
            continue
        try:
            transition(
                session,
                job.id,
                State.FAILED,
                attempt=job.attempts,
                error_code="worker_lost",
                error_message=REAPED_JA,
            )
        except InvalidTransition:
            continue
        store.audit("reap", session=session, viewer=SYSTEM, job_id=job.id)
        log.warning("job %s: running past its time limit, marked failed", job.id)
        reaped.append(job.id)
    return reaped
