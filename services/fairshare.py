"""Sharing the pools between departments, for API routes, portal pages and
CLI commands alike: quotas at intake, marking a job 至急, each department's
share of the waiting work (the operators' queue page)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
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
from jobs.registry import JobKind
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
        queued_pages=settings.quota(department, "queued_pages"),
        queued_audio_minutes=settings.quota(department, "queued_audio_minutes"),
    )


def check_quota(
    settings: Settings,
    department: str,
    staged: Sequence[StagedInput],
    *,
    session: Session,
    kind: JobKind | None = None,
    work: float | None = None,
) -> None:
    """Refuse the submission (HTTP 429) past a quota; counted by department
    and limit. ``work``: what the job holds in its ``kind``'s quota unit."""
    incoming = quotas.Incoming(
        bytes=sum(s.blob.size for s in staged),
        kind=kind.name if kind else "",
        unit=kind.quota_unit if kind else "",
        work=work or 0.0,
    )
    try:
        quotas.check(
            department,
            quota_for(settings, department),
            session=session,
            incoming=incoming,
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
    share: float  # of the pool's waiting jobs and parts
    weight: float
    oldest_wait_s: float
    # Parts of split jobs not started yet, and the work waiting in each unit.
    parts: int = 0
    pages: float = 0.0
    audio_minutes: float = 0.0


def shares(
    settings: Settings,
    *,
    session: Session,
    now: datetime | None = None,
    units: Mapping[str, str] | None = None,
) -> list[DepartmentShare]:
    """Each department's waiting jobs and parts per pool, its share of the
    pool's, and its waiting work in pages and recording minutes (``units``:
    each kind's quota unit)."""
    now = now or datetime.now(UTC)
    rows = fairshare.waiting_by_department(session=session)
    work: dict[tuple[str, str], dict[str, float]] = {}
    for (queue, department, kind), (parts, amount) in fairshare.waiting_work(session=session).items():
        entry = work.setdefault((queue, department), {"parts": 0.0})
        entry["parts"] += parts
        unit = (units or {}).get(kind, "")
        if unit:
            entry[unit] = entry.get(unit, 0.0) + amount
    keys = sorted(set(rows) | {k for k, v in work.items() if v["parts"]})
    totals: dict[str, float] = {}
    for key in keys:
        totals[key[0]] = (
            totals.get(key[0], 0) + rows.get(key, (0, None))[0] + work.get(key, {}).get("parts", 0)
        )
    found = []
    for queue, department in keys:
        count, oldest = rows.get((queue, department), (0, None))
        extra = work.get((queue, department), {})
        waiting = count + int(extra.get("parts", 0))
        found.append(
            DepartmentShare(
                queue=queue,
                department=department,
                waiting=count,
                share=waiting / totals[queue] if totals[queue] else 0.0,
                weight=settings.department_weight(department),
                oldest_wait_s=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
                parts=int(extra.get("parts", 0)),
                pages=extra.get("pages", 0.0),
                audio_minutes=extra.get("audio_minutes", 0.0),
            )
        )
    return found
