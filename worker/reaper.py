"""The reaper of lost jobs, run by every worker's main process (and by
``digilabo up``'s supervisor when it restarts a worker it saw die).

Each pass moves the running jobs whose heartbeat stopped back to queued
(``jobs.heartbeat.requeue_lost``) and sends their new tasks. Any number of
workers on any number of hosts may run it: the database decides which one
requeues a job.

Each pass also sends the jobs a restore left queued and unsent
(``jobs.restore.claim_unsent``): one reaper claims each, so each is sent once.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Collection

from composition.runtime import Runtime
from jobs.db import unit_of_work
from jobs.heartbeat import Requeued, requeue_lost
from jobs.lifecycle import State, transition
from jobs.models import Job
from jobs.restore import claim_unsent
from jobs.runner import PLAN_FILE
from queues.dispatch import enqueue

log = logging.getLogger(__name__)

UNSENT_JA = "処理キューに再登録できませんでした。時間をおいて再実行してください。"


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
    """Send the jobs a restore put back in the queue; returns their ids.
    Under fair dispatch they wait unreleased like any new job and the
    dispatcher sends them in turn; sending them here too would send twice."""
    if runtime.settings.dispatch_mode == "fair":
        return []
    with unit_of_work(runtime.factory) as session:
        claimed = claim_unsent(session=session)
    for item in claimed:
        log.info("job %s: restored from a backup, sent to its queue", item.job_id)
        _send(runtime, Requeued(item.job_id, item.kind, item.task_id, 0))
    return [c.job_id for c in claimed]


def _send(runtime: Runtime, item: Requeued) -> None:
    try:
        kind = runtime.registry.get(item.kind)
        enqueue(runtime.celery, runtime.settings, kind, item.job_id, task_id=item.task_id)
    except Exception as exc:
        log.error("job %s: requeued but not sent: %s", item.job_id, exc)
        with unit_of_work(runtime.factory) as session:
            transition(
                session, item.job_id, State.FAILED, error_code="queue_unavailable", error_message=UNSENT_JA
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
