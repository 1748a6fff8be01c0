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

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, case, func, literal, select, update
from sqlalchemy.orm import Session

from jobs.models import Job, JobPart, utcnow


@dataclass
class FairState:
    """The round robin's memory for one pool (kept in Redis by the dispatcher)."""

    passes: dict[str, float] = field(default_factory=dict)
    # The sequence number of each department's last turn (0: never served).
    served: dict[str, int] = field(default_factory=dict)
    seq: int = 0
    vtime: float = 0.0
    # The department whose spare messages (``queues.fair``) wait in Redis.
    spare: str = ""


def choose(state: FairState, active: Sequence[str]) -> str:
    """The department served next among ``active`` (those with work waiting):
    the lowest pass, then the one served least recently (never: first), then
    the code. ``state`` is left as it was: ``charge`` it once the department's
    job is released, so a department found to have nothing left after all is
    not charged a turn it did not take."""
    if not active:
        raise ValueError("no department has work waiting")
    return min(active, key=lambda d: (_effective(state, d), state.served.get(d, 0), d))


def charge(state: FairState, department: str, weights: Mapping[str, float]) -> None:
    """``department`` took a turn: its pass grows by ``1 / weight``."""
    start = _effective(state, department)
    weight = weights.get(department, 1.0)
    state.passes[department] = start + 1.0 / (weight if weight > 0 else 1.0)
    state.vtime = start
    state.seq += 1
    state.served[department] = state.seq


def _effective(state: FairState, department: str) -> float:
    return max(state.passes.get(department, state.vtime), state.vtime)


# --- the store side ------------------------------------------------------------------


def _unreleased(queue: str) -> ColumnElement[bool]:
    return and_(Job.queue == queue, Job.state == "queued", Job.released_at.is_(None))


def _parts_waiting(queue: str) -> ColumnElement[bool]:
    """Parts not yet released of an attempt still running (a cancelled,
    failed or superseded attempt's parts are never sent)."""
    return and_(
        JobPart.queue == queue,
        JobPart.released_at.is_(None),
        Job.id == JobPart.job_id,
        Job.state == "running",
        Job.attempts == JobPart.attempt,
    )


@dataclass(frozen=True)
class Waiting:
    """A job, or one part of a split job, waiting for its release."""

    job_id: str
    kind: str
    task_id: str | None
    urgent: bool
    # For a part: its row, its attempt and its index in the job's plan.
    part_id: int | None = None
    attempt: int = 0
    index: int = 0


@dataclass
class Backlog:
    """A department's normal work waiting for release on one pool."""

    jobs: int = 0
    parts: int = 0


def waiting_groups(queue: str, *, session: Session) -> tuple[bool, dict[str, Backlog]]:
    """Whether urgent work (jobs or parts of urgent jobs) waits for release
    on ``queue``, and how many normal jobs and parts each department has
    waiting (one query; the dispatcher then asks only for what exists)."""
    rows = session.execute(
        select(Job.department_code, Job.urgent, func.count(), literal(0))
        .where(_unreleased(queue))
        .group_by(Job.department_code, Job.urgent)
        .union_all(
            select(JobPart.department_code, Job.urgent, literal(0), func.count())
            .where(_parts_waiting(queue))
            .group_by(JobPart.department_code, Job.urgent)
        )
    ).all()
    found: dict[str, Backlog] = {}
    for department, urgent, jobs, parts in rows:
        if not urgent:
            backlog = found.setdefault(department, Backlog())
            backlog.jobs += int(jobs)
            backlog.parts += int(parts)
    return any(u for _, u, _, _ in rows), found


def next_waiting(
    queue: str,
    *,
    session: Session,
    urgent: bool,
    department: str | None = None,
    backlog: Backlog | None = None,
) -> Waiting | None:
    """The oldest waiting job or part (urgent ones of any department, or the
    normal ones of ``department``). A job's parts go in the job's place:
    a department's work keeps the order it was submitted in. ``backlog``:
    what the department has waiting, so a query for nothing is not made."""
    job_where = [_unreleased(queue), Job.urgent.is_(urgent)]
    part_where = [_parts_waiting(queue), Job.urgent.is_(urgent)]
    if department is not None:
        job_where.append(Job.department_code == department)
        part_where.append(JobPart.department_code == department)
    job = (
        session.execute(
            select(Job.id, Job.kind, Job.task_id, Job.submitted_at)
            .where(*job_where)
            .order_by(Job.submitted_at, Job.id)
            .limit(1)
        ).first()
        if backlog is None or backlog.jobs > 0
        else None
    )
    part = (
        session.execute(
            select(
                Job.id, Job.kind, JobPart.task_id, Job.submitted_at, JobPart.id, JobPart.attempt, JobPart.idx
            )
            .where(*part_where)
            .order_by(Job.submitted_at, Job.id, JobPart.idx)
            .limit(1)
        ).first()
        if backlog is None or backlog.parts > 0
        else None
    )
    if part is not None and (job is None or (part[3], part[0]) < (job[3], job[0])):
        return Waiting(part[0], part[1], part[2], urgent, part_id=part[4], attempt=part[5], index=part[6])
    if job is not None:
        return Waiting(job[0], job[1], job[2], urgent)
    return None


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


# --- parts of split jobs -----------------------------------------------------------------


def add_parts(job: Job, attempt: int, count: int, *, session: Session) -> None:
    """The parts of a job just split, waiting for the dispatcher (each with
    the task id it will be sent under)."""
    now = utcnow()
    session.add_all(
        JobPart(
            job_id=job.id,
            attempt=attempt,
            idx=index,
            queue=job.queue,
            department_code=job.department_code,
            task_id=str(uuid.uuid4()),
            created_at=now,
        )
        for index in range(count)
    )


def mark_part_released(part_id: int, *, session: Session, now: datetime | None = None) -> bool:
    """Compare-and-set, as ``mark_released``."""
    result = session.execute(
        update(JobPart)
        .where(JobPart.id == part_id, JobPart.released_at.is_(None))
        .values(released_at=now or utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def unrelease_part(part_id: int, *, session: Session) -> None:
    session.execute(update(JobPart).where(JobPart.id == part_id).values(released_at=None))


def mark_part_started(job_id: str, attempt: int, index: int, *, session: Session) -> None:
    """A part's task began (no row: the part was sent directly)."""
    session.execute(
        update(JobPart)
        .where(JobPart.job_id == job_id, JobPart.attempt == attempt, JobPart.idx == index)
        .values(started_at=utcnow())
    )


def lost_parts(queue: str, before: datetime, *, session: Session) -> list[Waiting]:
    """Parts released before ``before`` that never started while their
    attempt still runs: their send was lost. Stamped released again now."""
    rows = session.execute(
        select(Job.id, Job.kind, JobPart.task_id, Job.urgent, JobPart.id, JobPart.attempt, JobPart.idx).where(
            JobPart.queue == queue,
            JobPart.released_at.is_not(None),
            JobPart.released_at < before,
            JobPart.started_at.is_(None),
            Job.id == JobPart.job_id,
            Job.state == "running",
            Job.attempts == JobPart.attempt,
        )
    ).all()
    ids = [r[4] for r in rows]
    if ids:
        session.execute(update(JobPart).where(JobPart.id.in_(ids)).values(released_at=utcnow()))
    return [Waiting(r[0], r[1], r[2], bool(r[3]), part_id=r[4], attempt=r[5], index=r[6]) for r in rows]


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


def waiting_work(*, session: Session) -> dict[tuple[str, str, str], tuple[int, float]]:
    """(queue, department, kind) -> (parts waiting to start, work waiting in
    the kind's quota unit): queued jobs' whole work, and a running split
    job's share of parts not started yet."""
    found: dict[tuple[str, str, str], tuple[int, float]] = {}
    queued = session.execute(
        select(Job.queue, Job.department_code, Job.kind, func.coalesce(func.sum(Job.work_amount), 0.0))
        .where(Job.state == "queued")
        .group_by(Job.queue, Job.department_code, Job.kind)
    ).all()
    for queue, department, kind, work in queued:
        found[(queue, department, kind)] = (0, float(work or 0.0))
    split = session.execute(
        select(
            Job.queue,
            Job.department_code,
            Job.kind,
            Job.work_amount,
            func.count(JobPart.id),
            func.sum(case((JobPart.started_at.is_(None), 1), else_=0)),
        )
        .join(JobPart, and_(JobPart.job_id == Job.id, JobPart.attempt == Job.attempts))
        .where(Job.state == "running")
        .group_by(Job.id, Job.queue, Job.department_code, Job.kind, Job.work_amount)
    ).all()
    for queue, department, kind, amount, total, left in split:
        if not left:
            continue
        parts, work = found.get((queue, department, kind), (0, 0.0))
        found[(queue, department, kind)] = (
            parts + int(left),
            work + (amount or 0.0) * int(left) / int(total),
        )
    return found


def _aware(value: object) -> datetime | None:
    # min() over a column skips the type's result processing on SQLite.
    if value is None:
        return None
    found = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(found, datetime)
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found
