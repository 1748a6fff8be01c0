"""Putting a job on its queue."""

from __future__ import annotations

from uuid import uuid4

from celery import Celery

from config.settings import Settings
from jobs.registry import JobKind
from queues.app import RUN_JOB, RUN_PART

# Message priorities on the Redis transport, where 0 is served first (kombu
# keeps one list per step 0, 3, 6, 9): urgent jobs go ahead of everything
# already waiting in the pool's queue.
URGENT_PRIORITY = 0
NORMAL_PRIORITY = 3
# The fair dispatcher's spare messages of a department alone in its pool:
# served after every normal message, so a job released later for another
# department that arrives still goes first (``queues.fair``).
SPARE_PRIORITY = 6


def _limits(settings: Settings, kind: JobKind) -> tuple[int, int]:
    soft, hard = settings.time_limit(kind.queue)
    return min(soft, kind.soft_time_limit), min(hard, kind.time_limit)


def new_task_id() -> str:
    """A task id chosen before sending, so it is stored with the job in the
    same transaction that accepts it (one write instead of two)."""
    return str(uuid4())


def enqueue(
    app: Celery,
    settings: Settings,
    kind: JobKind,
    job_id: str,
    *,
    task_id: str | None = None,
    priority: int | None = None,
) -> str:
    """Send the job's task to its pool's queue with its time limits; returns
    the task id. Only the job id travels: files stay in the artifact store."""
    return _send(app, settings, kind, RUN_JOB, [job_id], task_id, priority)


def enqueue_parts(
    app: Celery, settings: Settings, kind: JobKind, job_id: str, attempt: int, count: int
) -> None:
    """One task per part of a split job, on the kind's queue, so any free
    worker of the pool takes the next part (direct dispatch; under fair
    dispatch the parts wait in the database and go one by one, ``send_part``)."""
    for index in range(count):
        _send(app, settings, kind, RUN_PART, [job_id, attempt, index])


def send_part(
    app: Celery,
    settings: Settings,
    kind: JobKind,
    job_id: str,
    attempt: int,
    index: int,
    *,
    task_id: str,
    priority: int | None = None,
) -> str:
    """One part's task, released by the fair dispatcher."""
    return _send(app, settings, kind, RUN_PART, [job_id, attempt, index], task_id, priority)


def _send(
    app: Celery,
    settings: Settings,
    kind: JobKind,
    name: str,
    args: list[object],
    task_id: str | None = None,
    priority: int | None = None,
) -> str:
    soft, hard = _limits(settings, kind)
    # Named by its queue alone, the task goes through kombu's anonymous
    # exchange straight into the pool's list: one Redis round trip. Through
    # the pool's direct exchange kombu would first read the exchange's
    # bindings from Redis (SMEMBERS) on every send, and a message sent after
    # those bindings were lost (a flushed or restarted Redis, while this
    # process believes the queue declared) would be routed to no queue.
    result = app.send_task(
        name,
        args=args,
        task_id=task_id,
        queue=kind.queue,
        soft_time_limit=soft,
        time_limit=hard,
        priority=NORMAL_PRIORITY if priority is None else priority,
    )
    return str(result.id)
