"""Heartbeats of running jobs, and the reaper that requeues the lost ones.

A worker writes ``jobs.heartbeat_at`` every few seconds, from a thread of its
own, while a job's core runs (``Heartbeat``). A job still ``running`` whose
heartbeat is older than the timeout lost its worker: the host died, or the
whole worker was killed, so nothing gave its message back to the broker
(Redis would only after its visibility timeout, hours later). The reaper
(``requeue_lost``) moves such a job back to ``queued`` under a new task id;
the caller sends that task after the commit, and the delivery starts the
next attempt. Everything is in the database, so a reaper on any host sees the
jobs of every host, and two reapers racing on one job cannot both win (the
transition is a compare-and-set on the attempt).

A split job (``jobs.fanout``) is left alone while its parts wait in the queue:
its parts heartbeat it while they run, but nothing does between them, so
the reaper would mistake a busy queue for a dead worker.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from jobs import store
from jobs.db import unit_of_work
from jobs.errors import InvalidTransition
from jobs.lifecycle import State, transition
from jobs.models import Job, utcnow
from jobs.store import SYSTEM

log = logging.getLogger(__name__)

REQUEUED_JA = "処理していたワーカーが応答しなくなったため、自動で再実行を待っています。"


def beat(
    job_id: str,
    *,
    session: Session,
    task_id: str | None = None,
    attempt: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Record that the job is alive; False when it is no longer running
    under this task (or attempt), so the caller may stop beating."""
    guard = [Job.id == job_id, Job.state == State.RUNNING.value]
    if task_id is not None:
        guard.append(Job.task_id == task_id)
    if attempt is not None:
        guard.append(Job.attempts == attempt)
    result = session.execute(
        update(Job)
        .where(*guard)
        .values(heartbeat_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def is_stale(job: Job, timeout_s: float, now: datetime | None = None) -> bool:
    """True when a running job's last sign of life is older than the timeout."""
    seen = job.heartbeat_at or job.started_at
    return seen is None or ((now or utcnow()) - seen).total_seconds() > timeout_s


def held_elsewhere(job: Job, task_id: str, timeout_s: float, now: datetime | None = None) -> bool:
    """A delivery of another task (a stale message the reaper replaced, or
    the replacement of one still running) finds the job running under a
    task whose heartbeat is fresh: that one owns the job, this one must not
    start a second attempt. A redelivery of the same task means its first
    holder is gone (the broker gives a message back only then)."""
    return (
        job.state == State.RUNNING.value
        and bool(task_id)
        and job.task_id is not None
        and job.task_id != task_id
        and not is_stale(job, timeout_s, now)
    )


@dataclass(frozen=True)
class Requeued:
    job_id: str
    kind: str
    task_id: str
    attempt: int


def requeue_lost(
    *,
    session: Session,
    timeout_s: float,
    dead_workers: Collection[str] = (),
    is_split: Callable[[Job], bool] = lambda _job: False,
    now: datetime | None = None,
) -> list[Requeued]:
    """Move running jobs whose heartbeat stopped (or whose worker is known
    dead, by its node name) back to queued under a new task id. The caller
    commits, then sends each task; the next delivery is the next attempt."""
    moment = now or utcnow()
    cutoff = moment - timedelta(seconds=timeout_s)
    query = select(Job).where(Job.state == State.RUNNING.value)
    lost = [Job.heartbeat_at < cutoff, Job.heartbeat_at.is_(None) & (Job.started_at < cutoff)]
    if dead_workers:
        lost.append(Job.worker.in_(list(dead_workers)))
    requeued = []
    for job in session.scalars(query.where(or_(*lost))).all():
        if is_split(job):
            continue
        attempt, task_id = job.attempts, str(uuid.uuid4())
        try:
            transition(
                session,
                job.id,
                State.QUEUED,
                now=moment,
                attempt=attempt,
                task_id=task_id,
                heartbeat_at=None,
                progress_message=REQUEUED_JA,
            )
        except InvalidTransition:
            continue  # finished, cancelled or taken over meanwhile
        store.audit("requeue", session=session, viewer=SYSTEM, job_id=job.id, attempt=attempt)
        log.warning("job %s: worker lost during attempt %d, requeued", job.id, attempt)
        requeued.append(Requeued(job.id, job.kind, task_id, attempt))
    return requeued


class Heartbeat:
    """A thread that beats for one job while the ``with`` block runs.

    Database errors are logged and retried at the next beat: a briefly
    locked database must not stop the job, only delay its heartbeat."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        job_id: str,
        interval_s: float,
        *,
        task_id: str | None = None,
        attempt: int | None = None,
    ) -> None:
        self.factory, self.job_id, self.interval_s = factory, job_id, interval_s
        self.task_id, self.attempt = task_id, attempt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id[:8]}", daemon=True)
        self.beats = 0

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                with unit_of_work(self.factory) as session:
                    beat(self.job_id, session=session, task_id=self.task_id, attempt=self.attempt)
                self.beats += 1
            except Exception as exc:
                log.warning("job %s: heartbeat not written: %s", self.job_id, exc)
