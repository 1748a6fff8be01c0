"""Fair share between departments: which waiting job a pool takes next.

Jobs wait in the database (``state = queued``, ``released_at`` None) until the
dispatcher (``queues.fair``) releases them to their pool's Celery queue. It
releases urgent jobs first (oldest first, any department), then one job at a
time from the department chosen by weighted round robin; within a department
jobs keep the order they were submitted in.

The round robin is stride scheduling. Each department has a *pass*; the one
with the lowest pass is served and its pass grows by ``1 / weight``. A
department that was idle comes back at the current virtual time (the pass at
which the last department was served), so it neither catches up for the time
it had nothing waiting nor waits behind a busy department's history. Ties go
to the department served least recently. A department alone is served every
time: it gets the whole pool.

The pure part (``FairState``, ``pick``) is tested on its own; the store
functions take ``session`` and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from jobs.models import Job, utcnow


@dataclass
class FairState:
    """The round robin's memory for one pool (kept in Redis by the dispatcher)."""

    passes: dict[str, float] = field(default_factory=dict)
    # The sequence number of each department's last turn (0: never served).
    served: dict[str, int] = field(default_factory=dict)
    seq: int = 0
    vtime: float = 0.0


def pick(state: FairState, active: Sequence[str], weights: Mapping[str, float]) -> str:
    """The department served next among ``active`` (those with work waiting);
    updates ``state`` for the turn it takes."""
    if not active:
        raise ValueError("no department has work waiting")

    def effective(dept: str) -> float:
        return max(state.passes.get(dept, state.vtime), state.vtime)

    chosen = min(active, key=lambda d: (effective(d), state.served.get(d, 0), d))
    start = effective(chosen)
    weight = weights.get(chosen, 1.0)
    state.passes[chosen] = start + 1.0 / (weight if weight > 0 else 1.0)
    state.vtime = start
    state.seq += 1
    state.served[chosen] = state.seq
    return chosen


# --- the store side ------------------------------------------------------------------


def _unreleased(queue: str) -> ColumnElement[bool]:
    return and_(Job.queue == queue, Job.state == "queued", Job.released_at.is_(None))


def waiting_groups(queue: str, *, session: Session) -> tuple[bool, list[str]]:
    """In one query: whether urgent jobs wait for release on ``queue``, and
    the departments whose normal jobs do."""
    rows = session.execute(
        select(Job.department_code, Job.urgent)
        .where(_unreleased(queue))
        .group_by(Job.department_code, Job.urgent)
    ).all()
    return any(u for _, u in rows), sorted(d for d, u in rows if not u)


def next_urgent(queue: str, *, session: Session) -> Job | None:
    return session.scalar(
        select(Job)
        .where(_unreleased(queue), Job.urgent.is_(True))
        .order_by(Job.submitted_at, Job.id)
        .limit(1)
    )


def next_of(queue: str, department: str, *, session: Session) -> Job | None:
    """The department's oldest waiting normal job: its jobs keep their order."""
    return session.scalar(
        select(Job)
        .where(_unreleased(queue), Job.urgent.is_(False), Job.department_code == department)
        .order_by(Job.submitted_at, Job.id)
        .limit(1)
    )


def mark_released(job_id: str, *, session: Session, now: datetime | None = None) -> bool:
    """Compare-and-set: True when this caller released the job (it was still
    queued and unreleased; a cancelled job is never released)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "queued", Job.released_at.is_(None))
        .values(released_at=now or utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def unrelease(job_id: str, *, session: Session) -> None:
    """The send failed: the job waits for the next pass again."""
    session.execute(update(Job).where(Job.id == job_id, Job.state == "queued").values(released_at=None))


def waiting_by_department(*, session: Session) -> dict[tuple[str, str], tuple[int, datetime | None]]:
    """(queue, department) -> (jobs queued, when the oldest of them was enqueued)."""
    rows = session.execute(
        select(
            Job.queue,
            Job.department_code,
            func.count(),
            func.min(func.coalesce(Job.enqueued_at, Job.submitted_at)),
        )
        .where(Job.state == "queued")
        .group_by(Job.queue, Job.department_code)
    ).all()
    return {(q, d): (int(n), _aware(oldest)) for q, d, n, oldest in rows}


def _aware(value: object) -> datetime | None:
    # min() over a column skips the type's result processing on SQLite.
    if value is None:
        return None
    found = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(found, datetime)
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found
