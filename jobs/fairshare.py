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

The pure part (``FairState``, ``choose``, ``charge``, ``take_turns``) is
tested on its own; the store functions take ``session`` and never commit.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TypeVar, cast

from sqlalchemy import ColumnElement, Executable, Table, and_, bindparam, case, func, literal, select, update
from sqlalchemy.orm import Session

from jobs.models import Job, JobPart, utcnow

T = TypeVar("T")


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
    # Whether the last pass found ``spare`` alone with work waiting: then no
    # pass can release anything until its messages fall to the depth, and a
    # task start that sees more in Redis need not wake one.
    alone: bool = False


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


def _unreleased(queue: str | ColumnElement[str]) -> ColumnElement[bool]:
    return and_(Job.queue == queue, Job.state == "queued", Job.released_at.is_(None))


def _parts_waiting(queue: str | ColumnElement[str]) -> ColumnElement[bool]:
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
    rows = session.execute(_groups(), {"queue": queue}).all()
    found: dict[str, Backlog] = {}
    for department, urgent, jobs, parts in rows:
        if not urgent:
            backlog = found.setdefault(department, Backlog())
            backlog.jobs += int(jobs)
            backlog.parts += int(parts)
    return any(u for _, u, _, _ in rows), found


@lru_cache(maxsize=1)
def _groups() -> Executable:
    queue: ColumnElement[str] = bindparam("queue")
    return (
        select(Job.department_code, Job.urgent, func.count(), literal(0))
        .where(_unreleased(queue))
        .group_by(Job.department_code, Job.urgent)
        .union_all(
            select(JobPart.department_code, Job.urgent, literal(0), func.count())
            .where(_parts_waiting(queue))
            .group_by(JobPart.department_code, Job.urgent)
        )
    )


def waiting_items(
    queue: str,
    *,
    session: Session,
    urgent: bool,
    department: str | None = None,
    backlog: Backlog | None = None,
    limit: int | None = None,
) -> list[Waiting]:
    """The oldest waiting jobs and parts, oldest first, at most ``limit``
    (urgent ones of any department, or the normal ones of ``department``).
    A job's parts go in the job's place: a department's work keeps the order
    it was submitted in. ``backlog``: what the department has waiting, so a
    query for nothing is not made."""
    by_department = department is not None
    params = {"queue": queue, "department": department or ""}
    jobs = (
        session.execute(_jobs_waiting(urgent, by_department, limit), params).all()
        if backlog is None or backlog.jobs > 0
        else []
    )
    parts = (
        session.execute(_parts_waiting_in_order(urgent, by_department, limit), params).all()
        if backlog is None or backlog.parts > 0
        else []
    )
    found = [(r[3], r[0], -1, Waiting(r[0], r[1], r[2], urgent)) for r in jobs]
    found += [
        (r[3], r[0], r[6], Waiting(r[0], r[1], r[2], urgent, part_id=r[4], attempt=r[5], index=r[6]))
        for r in parts
    ]
    found.sort(key=lambda f: f[:3])
    return [f[3] for f in found[:limit]]


# The dispatcher runs these on every pass: built once (the queue and the
# department are bound at execution), since building a statement costs more
# CPU than SQLite takes to run it.
@lru_cache(maxsize=64)
def _jobs_waiting(urgent: bool, by_department: bool, limit: int | None) -> Executable:
    where = [_unreleased(bindparam("queue")), Job.urgent.is_(urgent)]
    if by_department:
        where.append(Job.department_code == bindparam("department"))
    return (
        select(Job.id, Job.kind, Job.task_id, Job.submitted_at)
        .where(*where)
        .order_by(Job.submitted_at, Job.id)
        .limit(limit)
    )


@lru_cache(maxsize=64)
def _parts_waiting_in_order(urgent: bool, by_department: bool, limit: int | None) -> Executable:
    where = [_parts_waiting(bindparam("queue")), Job.urgent.is_(urgent)]
    if by_department:
        where.append(JobPart.department_code == bindparam("department"))
    return (
        select(Job.id, Job.kind, JobPart.task_id, Job.submitted_at, JobPart.id, JobPart.attempt, JobPart.idx)
        .where(*where)
        .order_by(Job.submitted_at, Job.id, JobPart.idx)
        .limit(limit)
    )


def take_turns(
    state: FairState,
    active: Sequence[str],
    room: int,
    weights: Mapping[str, float],
    fetch: Callable[[str, int], Sequence[T]],
) -> list[tuple[str, T]]:
    """Up to ``room`` turns of the round robin among ``active``, each with
    the department's next waiting item, ``state`` charged for each turn.
    ``fetch(department, n)``: the department's oldest ``n`` waiting items,
    asked once per department (for the room left then, which is all it can
    still get); a department whose items run out leaves uncharged."""
    active = list(active)
    waiting: dict[str, deque[T]] = {}
    turns: list[tuple[str, T]] = []
    while room > 0 and active:
        department = choose(state, active)
        if department not in waiting:
            waiting[department] = deque(fetch(department, room))
        if not waiting[department]:
            active.remove(department)  # nothing (more) of its own: no turn taken, none charged
            continue
        charge(state, department, weights)
        turns.append((department, waiting[department].popleft()))
        room -= 1
    return turns


def claim(items: Sequence[Waiting], *, session: Session, now: datetime | None = None) -> list[Waiting]:
    """Compare-and-set, in the caller's transaction: the items this caller
    released (a job still queued and unreleased, a part unreleased; a
    cancelled job is never released), in their order. Two statements
    whatever the number of items."""
    params = {"now": now or utcnow()}
    job_ids = [i.job_id for i in items if i.part_id is None]
    part_ids = [i.part_id for i in items if i.part_id is not None]
    jobs: set[str] = set(session.scalars(_claim_jobs(), params | {"ids": job_ids})) if job_ids else set()
    parts: set[int] = set(session.scalars(_claim_parts(), params | {"ids": part_ids})) if part_ids else set()
    return [i for i in items if (i.job_id in jobs if i.part_id is None else i.part_id in parts)]


# Built once, on the tables (not the ORM classes): the ORM's bulk UPDATE
# path, and building the statement anew, cost a pass more CPU than the
# claim's SQL takes to run (the pass runs beside the worker's consumer).
@lru_cache(maxsize=1)
def _claim_jobs() -> Executable:
    jobs = cast(Table, Job.__table__)
    return (
        update(jobs)
        .where(
            jobs.c.id.in_(bindparam("ids", expanding=True)),
            jobs.c.state == "queued",
            jobs.c.released_at.is_(None),
        )
        .values(released_at=bindparam("now", type_=jobs.c.released_at.type))
        .returning(jobs.c.id)
    )


@lru_cache(maxsize=1)
def _claim_parts() -> Executable:
    parts = cast(Table, JobPart.__table__)
    return (
        update(parts)
        .where(parts.c.id.in_(bindparam("ids", expanding=True)), parts.c.released_at.is_(None))
        .values(released_at=bindparam("now", type_=parts.c.released_at.type))
        .returning(parts.c.id)
    )


def unrelease(items: Sequence[Waiting], *, session: Session) -> None:
    """Their sends failed: they wait for the next pass again (a job only
    while still queued)."""
    job_ids = [i.job_id for i in items if i.part_id is None]
    part_ids = [i.part_id for i in items if i.part_id is not None]
    if job_ids:
        session.execute(
            update(Job).where(Job.id.in_(job_ids), Job.state == "queued").values(released_at=None),
            execution_options={"synchronize_session": False},
        )
    if part_ids:
        session.execute(
            update(JobPart).where(JobPart.id.in_(part_ids)).values(released_at=None),
            execution_options={"synchronize_session": False},
        )


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
