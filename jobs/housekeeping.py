"""Scheduled housekeeping: the retention purge and the stuck-job reaper.

Retention: inputs and outputs of jobs that finished more than
``retention_days`` ago are deleted from the artifact store; their rows stay
(marked ``purged_at``) so the job history, the ledger and the audit log keep
their figures, which hold no personal content. A blob shared with a job still
inside its retention period is kept until that one expires too.

Blobs nobody references: a blob is content-addressed and stored before the
transaction that records it (an upload before its job is accepted, an output
before its job is finished), so a refused upload or a job cancelled while it
ran leaves one behind. The one who stored it deletes it at once
(``discard_unreferenced``); the hourly sweep (``sweep_orphan_blobs``) removes
what a crash left, once it is older than any transaction could still be open.

Reaper: a job still ``running`` well past its hard time limit lost its worker
(the host died, so nothing gave the message back yet); it is failed with a
reason a person can act on. A late redelivery then finds it finished.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import store
from jobs.artifacts import ArtifactStore, StoredBlob
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
    deleted = 0
    for digest in sorted(digests - _live(session, digests)):
        artifacts.delete(digest)
        deleted += 1
    for job_id in sorted(jobs):
        shutil.rmtree(artifacts.work_dir / job_id, ignore_errors=True)
        store.audit("purge", session=session, viewer=SYSTEM, job_id=job_id, retention_days=retention_days)
    if jobs:
        log.info("purged %d artifacts of %d jobs (%d blobs deleted)", len(rows), len(jobs), deleted)
    return PurgeResult(len(jobs), len(rows), deleted)


def _live(session: Session, digests: set[str]) -> set[str]:
    """The digests some artifact not yet purged still refers to."""
    if not digests:
        return set()
    query = select(Artifact.sha256).where(Artifact.sha256.in_(digests), Artifact.purged_at.is_(None))
    return set(session.scalars(query))


def discard_unreferenced(blobs: Sequence[StoredBlob], artifacts: ArtifactStore, *, session: Session) -> None:
    """Remove blobs a refused upload or an abandoned result stored, unless a
    live artifact uses the same content."""
    live = _live(session, {b.sha256 for b in blobs})
    for blob in blobs:
        if blob.sha256 not in live:
            artifacts.delete(blob.sha256)


def sweep_orphan_blobs(
    *, session: Session, artifacts: ArtifactStore, older_than_s: float = 3600.0, now: float | None = None
) -> int:
    """Delete stored blobs that no live artifact refers to and that nobody
    stored or reused in the last ``older_than_s`` (an upload is stored before
    its job's transaction commits). Returns how many were deleted."""
    cutoff = (time.time() if now is None else now) - older_than_s
    old = {digest: path for digest, path, mtime in artifacts.blobs() if mtime < cutoff}
    deleted = 0
    names = sorted(old)
    for start in range(0, len(names), 500):  # bounded IN lists
        batch = set(names[start : start + 500])
        for digest in sorted(batch - _live(session, batch)):
            old[digest].unlink(missing_ok=True)
            deleted += 1
    if deleted:
        log.warning("deleted %d stored files no job refers to", deleted)
    return deleted


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
