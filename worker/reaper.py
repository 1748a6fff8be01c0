"""The reaper of lost jobs, run by every worker's main process (and by
``digilabo up``'s supervisor when it restarts a worker it saw die).

Each pass moves the running jobs whose heartbeat stopped back to queued
(``jobs.heartbeat.requeue_lost``) and sends their new tasks. Any number of
workers on any number of hosts may run it: the database decides which one
requeues a job.

Each pass also sends the jobs left queued and unsent (``queues.unsent``: a
restore's, or an entry job whose maker died before sending it, under direct
dispatch): one reaper claims each, so each is sent once.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Collection

from composition.runtime import Runtime
from jobs.db import unit_of_work
from jobs.heartbeat import Requeued, requeue_lost
from jobs.models import Job
from jobs.runner import PLAN_FILE
from queues.unsent import send_or_fail, send_unsent

log = logging.getLogger(__name__)


def reap_once(runtime: Runtime, dead_workers: Collection[str] = ()) -> list[str]:
    """One pass; returns the ids of the jobs requeued."""

    def is_split(job: Job) -> bool:
        return (runtime.artifacts.work_dir / job.id / f"attempt-{job.attempts}" / PLAN_FILE).exists()

    with unit_of_work(runtime.factory) as session:
        requeued = requeue_lost(
            session=session,
            timeout_s=runtime.settings.heartbeat_timeout_s,
            dead_workers=dead_workers,
            is_split=is_split,
        )
    for item in requeued:
        _send(runtime, item)
    return [r.job_id for r in requeued]


def send_restored(runtime: Runtime) -> list[str]:
    """Send the jobs queued and never sent (a restore's, or an entry job
    whose maker died before sending it); returns their ids. Under fair
    dispatch they wait unreleased like any new job and the dispatcher sends
    them in turn; sending them here too would send twice."""
    sent = send_unsent(runtime.celery, runtime.settings, runtime.registry, runtime.factory)
    for job_id in sent:
        log.info("job %s: queued but never sent (restored, or made by another job), sent now", job_id)
    return sent


def _send(runtime: Runtime, item: Requeued) -> None:
    send_or_fail(
        runtime.celery,
        runtime.settings,
        runtime.registry,
        runtime.factory,
        item.job_id,
        item.kind,
        item.task_id,
    )


def start_reaper(runtime: Callable[[], Runtime], interval_s: float) -> threading.Event:
    """A daemon thread that reaps every ``interval_s`` (with jitter, so the
    workers of a cluster spread out); set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        first = True  # restored jobs are sent at once: they have waited since the backup
        while first or not stop.wait(interval_s * random.uniform(0.8, 1.2)):
            try:
                send_restored(runtime())
                if not first:
                    reap_once(runtime())
            except Exception as exc:  # a database or broker blip: try again next time
                log.warning("reaper pass failed: %s", exc)
            first = False

    threading.Thread(target=loop, name="reaper", daemon=True).start()
    return stop
