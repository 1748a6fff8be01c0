"""The Celery app: JSON only, one queue per worker pool, late acks.

Built by ``make_celery(settings)``; nothing here runs at import time. The
intake side sends tasks by name (``send_task``), so it never imports the
worker's code; the worker side registers the tasks on the same app.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue  # type: ignore[attr-defined]

from config.settings import QUEUES, Settings

RUN_JOB = "digilabo.run_job"
RUN_PART = "digilabo.run_part"
HOUSEKEEPING = "digilabo.housekeeping"
VERIFY_STORE = "digilabo.verify_store"
DAY_S = 86400.0


def task_queues() -> tuple[Queue, ...]:
    # Each pool has its own direct exchange and routing key, so a pool can be
    # moved to another broker vhost or bound elsewhere without touching others.
    return tuple(
        Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]
        for name in QUEUES
    )


def make_celery(settings: Settings, *, redis_url: str | None = None) -> Celery:
    url = redis_url or settings.redis_url
    if not url:
        raise RuntimeError("no Redis URL: set DIGILABO_REDIS_URL or run 'digilabo up'")
    app = Celery("digilabo", broker=url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        event_serializer="json",
        # The database is the job store; Celery results would be a second,
        # disagreeing copy.
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_queues=task_queues(),
        task_default_queue="cpu",
        task_default_exchange="cpu",
        task_default_routing_key="cpu",
        task_create_missing_queues=False,
        # Reliability: ack after the work, give the message back if the
        # worker process dies, take one message at a time.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A long job must never be redelivered while its first worker is
        # still on it: Redis waits the longest hard limit plus a margin.
        broker_transport_options={
            "visibility_timeout": settings.longest_hard_limit + settings.visibility_margin_s,
            "unacked_restore_interval": settings.broker_restore_interval_s,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,
        # No "task-sent" event: nothing consumes it, and it was a second
        # publish for every job intake or the fair dispatcher sends.
        task_send_sent_event=False,
        timezone="UTC",
        enable_utc=True,
        # Celery beat (started by `digilabo up`, or `digilabo beat`): retention
        # purge and stuck-job reaper on the cpu pool, hourly.
        beat_schedule={
            "housekeeping": {
                "task": HOUSEKEEPING,
                "schedule": settings.housekeeping_interval_s,
                "options": {
                    "queue": "cpu",
                    "exchange": "cpu",
                    "routing_key": "cpu",
                    "expires": settings.housekeeping_interval_s,
                },
            },
            # Every stored file against its row's hash (jobs.verify), daily;
            # the exporter shows the result and the alerts watch it.
            "verify-store": {
                "task": VERIFY_STORE,
                "schedule": DAY_S,
                "options": {"queue": "cpu", "exchange": "cpu", "routing_key": "cpu", "expires": DAY_S},
            },
        },
    )
    return app
