"""Sending the jobs that are queued in the database but were never sent:
jobs a restore put back, and jobs another job's success hook made (the entry
job of 「確認後に入力」, created in the OCR job's last transaction, by a
worker or by a person's last review).

Under fair dispatch the dispatcher releases every unreleased job, these
included: a follow-up only wakes it. Under direct dispatch nothing else would
send them, so they are sent here: at once by whoever committed the
transaction that made them (``send_followups``), and by every reaper pass
(``send_unsent``) in case that process died between its commit and the send.
``jobs.restore.claim_unsent`` claims each one with a compare-and-set, so each
is sent once however many of these run.
"""

from __future__ import annotations

import logging

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs.db import unit_of_work
from jobs.lifecycle import State, transition
from jobs.registry import Registry
from jobs.restore import claim_unsent
from queues.dispatch import enqueue
from queues.fair import client_for, wake

log = logging.getLogger(__name__)

UNSENT_JA = "処理キューに登録できませんでした。時間をおいて再実行してください。"


def send_or_fail(
    app: Celery,
    settings: Settings,
    registry: Registry,
    factory: sessionmaker[Session],
    job_id: str,
    kind: str,
    task_id: str,
) -> bool:
    """Send one claimed job's task; a broker that refuses fails the job with
    a reason (the department can retry it) instead of leaving it queued with
    nobody to send it."""
    try:
        enqueue(app, settings, registry.get(kind), job_id, task_id=task_id)
        return True
    except Exception as exc:
        log.error("job %s: claimed but not sent: %s", job_id, exc)
        with unit_of_work(factory) as session:
            transition(session, job_id, State.FAILED, error_code="queue_unavailable", error_message=UNSENT_JA)
        return False


def send_unsent(
    app: Celery,
    settings: Settings,
    registry: Registry,
    factory: sessionmaker[Session],
    *,
    source_job_id: str | None = None,
) -> list[str]:
    """Claim and send the unsent jobs (only those made from
    ``source_job_id`` when given); returns the ids sent. Nothing under fair
    dispatch: the dispatcher sends them in their department's turn, and
    sending them here too would send twice."""
    if settings.dispatch_mode == "fair":
        return []
    with unit_of_work(factory) as session:
        claimed = claim_unsent(session=session, source_job_id=source_job_id)
    return [
        item.job_id
        for item in claimed
        if send_or_fail(app, settings, registry, factory, item.job_id, item.kind, item.task_id)
    ]


def send_followups(
    app: Celery,
    settings: Settings,
    registry: Registry,
    factory: sessionmaker[Session],
    source_job_id: str,
) -> list[str]:
    """After the commit in which ``source_job_id`` succeeded: start the jobs
    its success hook made. Never raises (the source job has succeeded; a
    reaper pass or the dispatcher's own timer sends them anyway)."""
    try:
        if settings.dispatch_mode == "fair":
            wake(client_for(settings))
            return []
        sent = send_unsent(app, settings, registry, factory, source_job_id=source_job_id)
        for job_id in sent:
            log.info("job %s: made by job %s, sent to its queue", job_id, source_job_id)
        return sent
    except Exception as exc:
        log.warning("job %s: follow-up jobs not sent now (the reaper sends them): %s", source_job_id, exc)
        return []
