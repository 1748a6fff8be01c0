"""Per-department quotas checked at intake: jobs waiting, work waiting (OCR
pages, recording minutes), and bytes stored.

A refusal is a ``QuotaExceeded`` (HTTP 429) that names the limit in Japanese
and says when to try again: for waiting jobs, the time the department's
recent jobs took to run, times how far over the limit it is; for storage,
until the retention purge frees the department's oldest finished job. The
check reads only; nothing stored is touched. Store-style: ``session``
keyword, no commit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from jobs.errors import DigilaboError
from jobs.models import Artifact, Job, JobPart, utcnow

PURGEABLE = ("succeeded", "failed", "cancelled")
RETRY_AFTER_MIN_S = 30
RETRY_AFTER_MAX_S = 24 * 3600
# When a department has no finished job to learn from.
DEFAULT_RUN_S = 60.0


class QuotaExceeded(DigilaboError):
    code = "quota_exceeded"
    http_status = 429

    def __init__(self, message: str, *, limit: str, value: int, maximum: int, retry_after_s: int) -> None:
        super().__init__(
            None, message, limit=limit, value=value, maximum=maximum, retry_after_s=retry_after_s
        )
        self.retry_after_s = retry_after_s


# Waiting work per kind's unit: the quota's name and how the message says it.
WORK_LIMITS = {
    "pages": ("queued_pages", "ページ", "処理待ちページ数"),
    "audio_minutes": ("queued_audio_minutes", "分", "処理待ちの録音時間"),
}
# Seconds per unit of work when the department has no finished job to learn from.
DEFAULT_SECONDS_PER_UNIT = 10.0


@dataclass(frozen=True)
class Quota:
    """A department's limits; 0 = none."""

    queued_jobs: int = 0
    stored_bytes: int = 0
    queued_pages: int = 0
    queued_audio_minutes: int = 0

    def work_limit(self, unit: str) -> int:
        return {"pages": self.queued_pages, "audio_minutes": self.queued_audio_minutes}.get(unit, 0)


@dataclass(frozen=True)
class Incoming:
    """What the submission would add: bytes, and its work in the kind's unit."""

    bytes: int = 0
    kind: str = ""
    unit: str = ""
    work: float = 0.0


def queued_jobs(department: str, *, session: Session) -> int:
    query = select(func.count()).select_from(Job)
    return int(session.scalar(query.where(Job.department_code == department, Job.state == "queued")) or 0)


def queued_work(department: str, kind: str, *, session: Session) -> float:
    """The work the department's jobs of ``kind`` still have waiting: queued
    jobs whole, and of a split job running, its share of parts not started."""
    queued = session.scalar(
        select(func.coalesce(func.sum(Job.work_amount), 0.0)).where(
            Job.department_code == department, Job.kind == kind, Job.state == "queued"
        )
    )
    rows = session.execute(
        select(
            Job.work_amount,
            func.count(JobPart.id),
            func.sum(case((JobPart.started_at.is_(None), 1), else_=0)),
        )
        .join(JobPart, and_(JobPart.job_id == Job.id, JobPart.attempt == Job.attempts))
        .where(Job.department_code == department, Job.kind == kind, Job.state == "running")
        .group_by(Job.id, Job.work_amount)
    ).all()
    split = sum((amount or 0.0) * int(left or 0) / int(total) for amount, total, left in rows if total)
    return float(queued or 0.0) + split


def stored_bytes(department: str, *, session: Session) -> int:
    """Bytes of the department's files still kept (the same file in two jobs
    counts twice: each job keeps it)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Artifact.size), 0))
        .join(Job, Job.id == Artifact.job_id)
        .where(Job.department_code == department, Artifact.purged_at.is_(None))
    )
    return int(total or 0)


def check(
    department: str,
    quota: Quota,
    *,
    session: Session,
    incoming_bytes: int = 0,
    retention_days: int = 90,
    incoming: Incoming | None = None,
) -> None:
    """Raise QuotaExceeded when one more job of ``incoming_bytes`` (and
    ``incoming`` work) would go past a limit."""
    if incoming is not None:
        incoming_bytes = incoming.bytes
        _check_work(department, quota, incoming, session=session)
    if quota.queued_jobs:
        waiting = queued_jobs(department, session=session)
        if waiting >= quota.queued_jobs:
            after = _clamp(_mean_run_s(department, session=session) * (waiting - quota.queued_jobs + 1))
            raise QuotaExceeded(
                f"部署の処理待ちジョブが上限（{quota.queued_jobs}件）に達しています"
                f"（現在{waiting}件）。約{_minutes(after)}分後に再度お試しください。",
                limit="queued_jobs",
                value=waiting,
                maximum=quota.queued_jobs,
                retry_after_s=after,
            )
    if quota.stored_bytes:
        kept = stored_bytes(department, session=session)
        if kept + incoming_bytes > quota.stored_bytes:
            after = _clamp(_until_purge_s(department, retention_days, session=session))
            raise QuotaExceeded(
                f"部署の保存容量が上限（{_size(quota.stored_bytes)}）を超えます"
                f"（保存中{_size(kept)}、今回{_size(incoming_bytes)}）。"
                f"不要なジョブの結果を整理するか、約{_hours(after)}時間後に再度お試しください。",
                limit="stored_bytes",
                value=kept + incoming_bytes,
                maximum=quota.stored_bytes,
                retry_after_s=after,
            )


def _check_work(department: str, quota: Quota, incoming: Incoming, *, session: Session) -> None:
    limit = quota.work_limit(incoming.unit)
    if not limit or incoming.unit not in WORK_LIMITS:
        return
    name, unit_ja, what = WORK_LIMITS[incoming.unit]
    waiting = queued_work(department, incoming.kind, session=session)
    if waiting + incoming.work <= limit:
        return
    if incoming.work > limit:
        message = (
            f"このジョブだけで{what}の上限（{limit}{unit_ja}）を超えます"
            f"（今回{_amount(incoming.work)}{unit_ja}）。ファイルを分けて登録してください。"
        )
        after = RETRY_AFTER_MAX_S
    else:
        over = waiting + incoming.work - limit
        after = _clamp(over * _seconds_per_unit(department, incoming.kind, session=session))
        message = (
            f"部署の{what}が上限（{limit}{unit_ja}）を超えます（待ち{_amount(waiting)}{unit_ja}、"
            f"今回{_amount(incoming.work)}{unit_ja}）。約{_minutes(after)}分後に再度お試しください。"
        )
    raise QuotaExceeded(
        message, limit=name, value=math.ceil(waiting + incoming.work), maximum=limit, retry_after_s=after
    )


def _seconds_per_unit(department: str, kind: str, *, session: Session, recent: int = 20) -> float:
    """Run seconds per unit of work of the department's recent jobs of ``kind``."""
    rows = session.execute(
        select(Job.started_at, Job.finished_at, Job.work_amount)
        .where(
            Job.department_code == department,
            Job.kind == kind,
            Job.work_amount > 0,
            Job.started_at.is_not(None),
            Job.finished_at.is_not(None),
        )
        .order_by(Job.finished_at.desc())
        .limit(recent)
    ).all()
    spans = [((f - s).total_seconds(), float(w or 0.0)) for s, f, w in rows if s and f and f >= s]
    work = sum(w for _, w in spans)
    return sum(t for t, _ in spans) / work if work else DEFAULT_SECONDS_PER_UNIT


def _amount(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _mean_run_s(department: str, *, session: Session, recent: int = 20) -> float:
    rows = session.execute(
        select(Job.started_at, Job.finished_at)
        .where(
            Job.department_code == department,
            Job.started_at.is_not(None),
            Job.finished_at.is_not(None),
        )
        .order_by(Job.finished_at.desc())
        .limit(recent)
    ).all()
    spans = [(f - s).total_seconds() for s, f in rows if s and f and f >= s]
    return sum(spans) / len(spans) if spans else DEFAULT_RUN_S


def _until_purge_s(department: str, retention_days: int, *, session: Session) -> float:
    oldest = session.scalar(
        select(func.min(Job.finished_at))
        .join(Artifact, Artifact.job_id == Job.id)
        .where(Job.department_code == department, Job.state.in_(PURGEABLE), Artifact.purged_at.is_(None))
    )
    if oldest is None:
        return float(RETRY_AFTER_MAX_S)
    if isinstance(oldest, str):  # min() skips the column type on SQLite
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return (oldest + timedelta(days=retention_days) - utcnow()).total_seconds()


def _clamp(seconds: float) -> int:
    return int(min(RETRY_AFTER_MAX_S, max(RETRY_AFTER_MIN_S, math.ceil(seconds))))


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def _hours(seconds: int) -> int:
    return max(1, math.ceil(seconds / 3600))


def _size(n: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n}B"
