"""What the operators' queue page shows: per queue, jobs waiting and the
oldest of them (from the database), jobs running, and workers answering a
ping. Store-style functions: ``session`` keyword, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.settings import QUEUES
from jobs.models import Job

QUEUE_LABELS = {"gpu": "GPU（文字起こし）", "cpu": "CPU（OCRなど）", "rpa": "RPA（システム入力）"}


@dataclass(frozen=True)
class QueueRow:
    queue: str
    label: str
    waiting: int
    oldest_at: datetime | None
    running: int
    workers: int | None  # None: the ping failed (broker down)

    @property
    def oldest_wait_s(self) -> float:
        return max(0.0, (datetime.now(UTC) - self.oldest_at).total_seconds()) if self.oldest_at else 0.0


def queue_rows(*, session: Session, workers: dict[str, int] | None) -> list[QueueRow]:
    waiting = dict(
        session.execute(
            select(Job.queue, func.count()).where(Job.state == "queued").group_by(Job.queue)
        ).all()
    )
    oldest = dict(
        session.execute(
            select(Job.queue, func.min(func.coalesce(Job.enqueued_at, Job.submitted_at)))
            .where(Job.state == "queued")
            .group_by(Job.queue)
        ).all()
    )
    running = dict(
        session.execute(
            select(Job.queue, func.count()).where(Job.state == "running").group_by(Job.queue)
        ).all()
    )
    return [
        QueueRow(
            queue=q,
            label=QUEUE_LABELS.get(q, q),
            waiting=int(waiting.get(q, 0)),
            oldest_at=_aware(oldest.get(q)),
            running=int(running.get(q, 0)),
            workers=None if workers is None else workers.get(q, 0),
        )
        for q in QUEUES
    ]


def _aware(value: Any) -> datetime | None:
    # min() over a column skips the type's result processing on SQLite.
    if value is None:
        return None
    found: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found


def running_jobs(*, session: Session, limit: int = 100) -> Sequence[Job]:
    return session.scalars(
        select(Job).where(Job.state == "running").order_by(Job.started_at).limit(limit)
    ).all()
