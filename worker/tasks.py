"""The one Celery task: a thin wrapper over ``jobs.runner.JobRunner``.

It maps what only Celery knows — retries, time limits, which worker — onto
job states. Everything else happens in the runner.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.worker.request import Request

from composition.runtime import Runtime
from jobs import fairshare, store
from jobs.db import unit_of_work
from jobs.fanout import run_part
from jobs.heartbeat import Heartbeat
from jobs.runner import RunResult
from queues.app import HOUSEKEEPING, RUN_JOB, RUN_PART, VERIFY_STORE
from queues.dispatch import enqueue_parts
from queues.fair import client_for, wake, wake_at_task_start
from queues.retry import RETRYABLE, backoff
from queues.unsent import send_followups

log = logging.getLogger(__name__)


def time_limit_message(seconds: float | None) -> str:
    minutes = max(1, round((seconds or 0) / 60))
    return f"処理時間の上限（{minutes}分）を超えたため中止しました。ファイルを分けて再度お試しください。"


def register_tasks(app: Celery, runtime: Callable[[], Runtime]) -> None:
    """Register the task on ``app``; ``runtime`` gives this process's Runtime
    (created lazily in each pool process, after the fork)."""

    class JobRequest(Request):  # type: ignore[misc]
        """Runs in the worker's main process. A hard time limit kills the
        pool process before the task can say anything, so the job is marked
        failed from here."""

        def on_timeout(self, soft: bool, timeout: float) -> None:
            super().on_timeout(soft, timeout)
            if soft:
                return
            job_id = str(self.args[0]) if self.args else ""
            log.warning("job %s: hard time limit (%ss) reached, process killed", job_id, timeout)
            if job_id:
                runtime().runner.fail(job_id, "time_limit", time_limit_message(timeout))

    class JobTask(Task):  # type: ignore[misc]
        Request = JobRequest

    def guarded(
        task: Task,
        job_id: str,
        work: Callable[[], RunResult],
        *,
        part: bool = False,
        attempt: int | None = None,
    ) -> str:
        """Map what only Celery knows (time limits, retries) onto job states.
        A part's retry leaves the job running: its other parts go on. The job
        has a heartbeat while the work runs (a part beats for its attempt)."""
        rt = runtime()
        runner = rt.runner
        started = time.monotonic()
        nudge(rt, (task.request.delivery_info or {}).get("routing_key") or "", started=True)
        beating = Heartbeat(
            rt.factory,
            job_id,
            rt.settings.heartbeat_interval_s,
            task_id=None if part else task.request.id,
            attempt=attempt,
        )
        try:
            with beating:
                result = work()
            observe(rt, job_id, result, time.monotonic() - started, part=part)
            if result.state == "succeeded" and not result.skipped:
                followups(rt, job_id)
            return result.state
        except SoftTimeLimitExceeded:
            log.warning("job %s: soft time limit reached", job_id)
            return runner.fail(job_id, "time_limit", time_limit_message(task.request.timelimit[1])).state
        except RETRYABLE as exc:
            retries = task.request.retries
            if retries >= rt.settings.retry_max:
                log.warning("job %s: giving up after %d retries: %s", job_id, retries, exc)
                return runner.fail(
                    job_id,
                    "retries_exhausted",
                    f"一時的なエラーが続いたため、{retries}回再試行した後に中止しました。時間をおいて再実行してください。",
                ).state
            delay = backoff(retries, base=rt.settings.retry_backoff_base, cap=rt.settings.retry_backoff_max)
            if not part:
                runner.requeue(job_id, f"一時的なエラーのため{delay:.0f}秒後に再試行します。", delay)
            log.info(
                "job %s: transient error (%s), retry %d in %.0fs",
                job_id,
                type(exc).__name__,
                retries + 1,
                delay,
            )
            raise task.retry(exc=exc, countdown=delay, max_retries=rt.settings.retry_max) from exc
        except Exception as exc:
            return runner.fail_unexpected(job_id, exc).state

    @app.task(name=RUN_JOB, bind=True, base=JobTask, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def run_job(self: Task, job_id: str) -> str:
        def work() -> RunResult:
            rt = runtime()
            result = rt.runner.run(job_id, task_id=self.request.id or "", worker=self.request.hostname or "")
            if result.parts:
                send_parts(self.app, rt, job_id, result)
            return result

        return guarded(self, job_id, work)

    @app.task(name=RUN_PART, bind=True, base=JobTask, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def run_part_task(self: Task, job_id: str, attempt: int, index: int) -> str:
        return guarded(
            self,
            job_id,
            lambda: run_part(runtime().runner, job_id, attempt, index),
            part=True,
            attempt=attempt,
        )

    @app.task(name=HOUSEKEEPING, acks_late=True)  # type: ignore[untyped-decorator]
    def housekeeping() -> dict[str, object]:
        return runtime().housekeeping()

    @app.task(name=VERIFY_STORE, acks_late=True)  # type: ignore[untyped-decorator]
    def verify_store() -> dict[str, int]:
        return runtime().verify_store()

    _ = run_job, run_part_task, housekeeping, verify_store


def send_parts(app: Celery, rt: Runtime, job_id: str, result: RunResult) -> None:
    """A job just split: under fair dispatch its parts wait in the database
    and the dispatcher sends them in their department's turns (urgent jobs'
    parts first); under direct dispatch they all go to the queue at once."""
    with unit_of_work(rt.factory) as session:
        job = store.get_job(job_id, session=session)
        kind = rt.registry.get(job.kind)
        if rt.settings.dispatch_mode == "fair":
            fairshare.add_parts(job, result.attempt, result.parts, session=session)
    if rt.settings.dispatch_mode == "fair":
        nudge(rt, kind.queue)
    else:
        enqueue_parts(app, rt.settings, kind, job_id, result.attempt, result.parts)


def nudge(rt: Runtime, queue: str, *, started: bool = False) -> None:
    """Wake the fair dispatcher (never fails the task: it also wakes on its
    own). ``started``: a task of ``queue`` began, which leaves room for the
    next pick, unless the messages still waiting fill it
    (``wake_at_task_start``)."""
    if rt.settings.dispatch_mode != "fair":
        return
    try:
        client = client_for(rt.settings)
        if started and queue:
            wake_at_task_start(client, queue, rt.settings.dispatch_depth)
        else:
            wake(client, queue)
    except Exception as exc:
        log.warning("dispatcher not woken: %s", exc)


def followups(rt: Runtime, job_id: str) -> None:
    """A job that succeeded here (its last part, or a job needing no review)
    may have made follow-up jobs in that commit: start them now. Never
    fails the task (the reaper or the dispatcher starts them anyway)."""
    try:
        with rt.factory() as session:
            kind = rt.registry.get(store.get_job(job_id, session=session).kind)
    except Exception as exc:
        log.warning("job %s: follow-up jobs not looked for: %s", job_id, exc)
        return
    if kind.on_success is not None:
        send_followups(rt.celery, rt.settings, rt.registry, rt.factory, job_id)


def observe(rt: Runtime, job_id: str, result: RunResult, seconds: float, *, part: bool) -> None:
    """Record the delivery in this worker's metrics (never fails the task)."""
    if result.skipped:
        return
    try:
        from monitoring.metrics import OUTCOMES, worker_metrics

        metrics = worker_metrics()
        with rt.factory() as session:
            job = store.get_job(job_id, session=session)
        metrics.run_seconds.labels(job.kind).observe(seconds)
        if not part and job.started_at and job.enqueued_at:
            waited = max(0.0, (job.started_at - job.enqueued_at).total_seconds())
            metrics.wait_seconds.labels(job.kind).observe(waited)
            metrics.department_wait_seconds.labels(job.queue, job.department_code).observe(waited)
        if result.state in OUTCOMES:
            metrics.observe_outcome(job.kind, job.department_code, result.state, job.summary or {})
        metrics.memory.labels(metrics.pool).set(resident_bytes())
    except Exception as exc:  # metrics must never break a job
        log.warning("job %s: metrics not recorded: %s", job_id, exc)


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def task_names(app: Celery) -> list[str]:
    return sorted(n for n in app.tasks if n.startswith("digilabo."))
