"""Sharing the pools between departments, for API routes, portal pages and
CLI commands alike: quotas at intake, marking a job 至急, each department's
share of the waiting work (the operators' queue page)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from composition.runtime import Runtime
from config.settings import Settings
from jobs import fairshare, quotas, store
from jobs.db import unit_of_work
from jobs.errors import DigilaboError, Forbidden
from jobs.intake import StagedInput
from jobs.lifecycle import State
from jobs.models import Job
from jobs.store import Viewer
from monitoring.metrics import api_metrics
from queues.fair import client_for, wake

log = logging.getLogger(__name__)

URGENT_FORBIDDEN_JA = "至急にできるのはDigi-Labo運用担当だけです。"
NOT_WAITING_JA = "処理待ちのジョブだけを至急にできます（このジョブは「{state}」です）。"


class NotWaiting(DigilaboError):
    """Only a job still waiting can be put ahead."""

    code = "not_waiting"
    http_status = 409


def quota_for(settings: Settings, department: str) -> quotas.Quota:
    return quotas.Quota(
        queued_jobs=settings.quota(department, "queued_jobs"),
        stored_bytes=settings.quota(department, "stored_bytes"),
    )


def check_quota(
    settings: Settings, department: str, staged: Sequence[StagedInput], *, session: Session
) -> None:
    """Refuse the submission (HTTP 429) past a quota; counted by department and limit."""
    try:
        quotas.check(
            department,
            quota_for(settings, department),
            session=session,
            incoming_bytes=sum(s.blob.size for s in staged),
            retention_days=settings.retention_days,
        )
    except quotas.QuotaExceeded as exc:
        api_metrics().quota_refused.labels(department, exc.details["limit"]).inc()
        log.info("department %s refused at its %s quota", department, exc.details["limit"])
        raise


def require_operator(viewer: Viewer) -> None:
    if not viewer.sees_all:
        raise Forbidden(None, URGENT_FORBIDDEN_JA)


def raise_urgent(job: Job, viewer: Viewer, *, session: Session) -> None:
    """Mark a waiting job 至急 in the caller's transaction; the audit log
    names who raised it."""
    require_operator(viewer)
    if job.state != State.QUEUED:
        label = {"running": "処理中"}.get(job.state, job.state)
        raise NotWaiting(None, NOT_WAITING_JA.format(state=label), state=job.state)
    job.urgent = True
    store.audit("urgent", session=session, viewer=viewer, job_id=job.id, released=job.released_at is not None)


def mark_urgent(job_id: str, runtime: Runtime, viewer: Viewer) -> str:
    """Mark an existing job 至急 (a transaction of its own, then the
    dispatcher is woken); returns its state."""
    require_operator(viewer)
    with unit_of_work(runtime.factory) as session:
        job = store.get_job(job_id, session=session, viewer=viewer)
        raise_urgent(job, viewer, session=session)
        state = job.state
    wake_dispatcher(runtime.settings)
    return state


def wake_dispatcher(settings: Settings, queue: str = "") -> None:
    try:
        wake(client_for(settings), queue)
    except Exception as exc:  # the dispatcher also passes on its own every few seconds
        log.warning("dispatcher not woken: %s", exc)


@dataclass(frozen=True)
class DepartmentShare:
    queue: str
    department: str
    waiting: int
    share: float  # of the pool's waiting jobs
    weight: float
    oldest_wait_s: float


def shares(settings: Settings, *, session: Session, now: datetime | None = None) -> list[DepartmentShare]:
    """Each department's waiting jobs per pool, and its share of the pool's."""
    now = now or datetime.now(UTC)
    rows = fairshare.waiting_by_department(session=session)
    totals: dict[str, int] = {}
    for (queue, _), (count, _) in rows.items():
        totals[queue] = totals.get(queue, 0) + count
    return [
        DepartmentShare(
            queue=queue,
            department=department,
            waiting=count,
            share=count / totals[queue] if totals[queue] else 0.0,
            weight=settings.department_weight(department),
            oldest_wait_s=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        )
        for (queue, department), (count, oldest) in sorted(rows.items())
    ]
