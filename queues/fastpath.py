"""Fair dispatch's fast path: a job sent to an idle pool is released by
intake itself, in the transaction that accepts it, instead of waiting for
a dispatcher pass.

It applies only when the pool's Redis queue holds no message at all and the
new job is the only work waiting for release on the pool: then a pass would
release exactly this job (at the spare priority, its department alone, or
at the urgent one) and charge its department the same turn, which is what
the fast path does. It holds the dispatchers' lock from the check to the
send (taken without waiting: a pass under way means work is moving, and the
job simply waits for it), so no pass interleaves with it. Crash safety is the
dispatcher's: the job is marked released in the accepting commit and sent
after it; a failed send unmarks it and wakes the dispatcher; a process
killed in between leaves it released but unsent, for ``resend_lost``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from celery import Celery
from redis.lock import Lock
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs import fairshare
from jobs.db import unit_of_work
from jobs.models import Job, utcnow
from jobs.registry import JobKind
from queues.dispatch import SPARE_PRIORITY, enqueue
from queues.fair import LOCK_KEY, LOCK_TTL_S, depth_and_state, load_state, save_and_unlock

log = logging.getLogger(__name__)


class Release:
    """A job marked released at intake, under the dispatchers' lock: send it
    after the commit (``send``), or give the lock back (``abandon``)."""

    def __init__(self, client: redis.Redis, lock: Lock, job: Job, raw_state: bytes | None) -> None:
        self.client, self.lock, self.raw_state = client, lock, raw_state
        self.job_id, self.queue, self.department = job.id, job.queue, job.department_code

    def send(
        self,
        celery: Celery,
        settings: Settings,
        kind: JobKind,
        task_id: str,
        factory: sessionmaker[Session],
    ) -> bool:
        """Send the committed job at the spare priority, its department
        charged a turn as by a pass (True); or unmark it (False: the caller
        wakes the dispatcher). The lock is given back either way (with the
        turn's record, in one round trip)."""
        try:
            enqueue(celery, settings, kind, self.job_id, task_id=task_id, priority=SPARE_PRIORITY)
        except Exception as exc:
            log.error("job %s: not sent to its queue, it waits for the dispatcher: %s", self.job_id, exc)
            try:
                with unit_of_work(factory) as session:
                    fairshare.unrelease(
                        [fairshare.Waiting(self.job_id, kind.name, task_id, False)], session=session
                    )
            finally:
                self.abandon()
            return False
        log.info("job %s: job released at intake (idle pool)", self.job_id)
        try:
            state = load_state(self.raw_state)
            state.spare, state.alone = self.department, True
            fairshare.charge(state, self.department, settings.department_weights)
            save_and_unlock(self.client, self.lock, {self.queue: state})
        except Exception as exc:  # sent all the same: only the turn's record is lost
            log.warning("job %s: sent, its department's turn not recorded: %s", self.job_id, exc)
            if self.lock.local.token is not None:
                self.abandon()
        return True

    def abandon(self) -> None:
        _give_back(self.lock)


@dataclass(frozen=True)
class AtIntake:
    """What intake does after the commit: send ``release``; else wake the
    dispatcher, unless ``wake`` is False: the job's department is the one
    whose spare messages wait in the pool's Redis queue, so no pass could
    release it now (its department alone: topped up from ``dispatch_depth``;
    not alone: the normal room is taken) and the wake-up of the task start
    that takes one of them releases it in its turn."""

    release: Release | None = None
    wake: bool = True


def claim_at_intake(client: redis.Redis, job: Job, *, session: Session) -> AtIntake:
    """In the transaction accepting ``job``, as its last step: mark it
    released when its pool is idle (see the module). Urgent jobs wait for
    the dispatcher (released in their own order). Redis being away is no
    error here: the caller's wake-up reports it."""
    if job.urgent:
        return AtIntake()
    try:
        # The common case in a busy pool: one round trip, no lock.
        depth, raw = depth_and_state(client, job.queue, with_state=True)
        if sum(depth):
            return AtIntake(wake=load_state(raw).spare != job.department_code)
        lock = client.lock(LOCK_KEY, timeout=LOCK_TTL_S, blocking_timeout=0)
        if not lock.acquire(blocking=False):
            return AtIntake()
    except redis.RedisError:
        return AtIntake()
    release: Release | None = None
    try:
        # Again under the lock: a pass that was sending has finished.
        depth, raw = depth_and_state(client, job.queue, with_state=True)
        session.flush()
        urgent, backlogs = fairshare.waiting_groups(job.queue, session=session)
        mine = backlogs.get(job.department_code)
        if not sum(depth) and not urgent and len(backlogs) == 1 and mine and mine.jobs + mine.parts == 1:
            job.released_at = utcnow()
            release = Release(client, lock, job, raw)
        return AtIntake(release=release)
    finally:
        if release is None:
            _give_back(lock)


def _give_back(lock: Lock) -> None:
    try:
        lock.release()
    except redis.RedisError as exc:
        log.warning("dispatch lock not released (it expires): %s", exc)
