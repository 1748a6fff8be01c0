"""Putting a job on its queue."""

from __future__ import annotations

from celery import Celery

from digilabo.settings import Settings
from jobs.registry import JobKind
from queues.app import RUN_JOB


def enqueue(app: Celery, settings: Settings, kind: JobKind, job_id: str) -> str:
    """Send the job's task to its pool's queue with its time limits; returns
    the task id. Only the job id travels: files stay in the artifact store."""
    soft, hard = settings.time_limit(kind.queue)
    soft, hard = min(soft, kind.soft_time_limit), min(hard, kind.time_limit)
    result = app.send_task(
        RUN_JOB,
        args=[job_id],
        queue=kind.queue,
        exchange=kind.queue,
        routing_key=kind.queue,
        soft_time_limit=soft,
        time_limit=hard,
    )
    return str(result.id)
