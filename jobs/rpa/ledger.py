"""The record ledger: every state change of a record is committed on its own,
before and after the browser touches the target, so a crash at any point
leaves a truthful trail.

``claim`` is the exactly-once gate: a record may be typed only while its
reference row in ``rpa_references`` names this job and row as the owner.

Races between workers: on SQLite every transaction starts with BEGIN IMMEDIATE
(``jobs.db``), so they are serialised. PostgreSQL runs them side by side under
READ COMMITTED, so rows that are read and then changed are read FOR UPDATE (a
second worker waits, then sees the first one's change), and a row two workers
both found missing and both inserted makes one of them fail with a unique
violation: that transaction is rolled back and run again, and then finds the row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, cast

from sqlalchemy import Connection, Engine, Executable, Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs.db import unit_of_work
from jobs.rpa.models import RpaRecord, RpaReference, RpaTargetSlot

REC, REF = cast(Table, RpaRecord.__table__), cast(Table, RpaReference.__table__)
FINAL_STATES = frozenset({"entered", "duplicate", "rejected", "invalid", "failed"})
ClaimKind = Literal["claimed", "duplicate", "reconcile", "busy"]


@dataclass(frozen=True)
class RecordState:
    number: int
    reference: str
    state: str
    message: str = ""
    captured: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    captured: dict[str, Any] = field(default_factory=dict)
    owner: tuple[str, int] | None = None


class RecordLedger(Protocol):
    def prepare(self, job_id: str, rows: Iterable[RecordState]) -> dict[int, RecordState]:
        """Insert the rows a job does not have yet; return all of its rows."""

    def claim(self, job_id: str, number: int, target: str, reference: str, stale_after: float) -> Claim:
        """Try to become the one entry of ``reference`` on ``target``."""

    def finish(self, job_id: str, number: int, target: str, state: RecordState, *, release: bool) -> None:
        """Record a row's final state; ``release`` frees the reference for a later job."""

    def acquire_slot(self, target: str, holder: str, limit: int, ttl: float) -> bool:
        """Take (or renew) one of ``limit`` concurrent slots on ``target``."""

    def release_slot(self, target: str, holder: str) -> None: ...

    def heartbeat(self, target: str, holder: str, ttl: float) -> None:
        """The live job says so: its slot is renewed, its in-flight claims kept fresh."""


# The dialects whose insert has ON CONFLICT DO NOTHING (the same API in both).
_UPSERTS: dict[str, Any] = {"sqlite": sqlite, "postgresql": postgresql}


def _now() -> datetime:
    return datetime.now(UTC)


def _in_flight(conn: Connection, job_id: str, number: int, now: datetime) -> None:
    """The record is being typed: one more attempt."""
    conn.execute(
        update(REC)
        .where(REC.c.job_id == job_id, REC.c.row_number == number)
        .values(state="in_flight", attempts=REC.c.attempts + 1, updated_at=now)
    )


def _state(rec: RpaRecord) -> RecordState:
    return RecordState(
        rec.row_number, rec.reference, rec.state, rec.message, dict(rec.captured), rec.attempts
    )


class SqlRecordLedger:
    """The ledger on the service database (SQLite or PostgreSQL)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        bind = factory.kw.get("bind")
        if not isinstance(bind, Engine):
            raise TypeError("the ledger's session factory must be bound to an engine")
        self.engine = bind

    def _insert_if_new(self, values: dict[str, Any]) -> Executable | None:
        """INSERT ... ON CONFLICT DO NOTHING where the database has it: a new
        reference is claimed without reading it first (one statement fewer)."""
        dialect = _UPSERTS.get(self.engine.dialect.name)
        if dialect is None:
            return None
        statement: Executable = (
            dialect.insert(REF).values(values).on_conflict_do_nothing().returning(REF.c.job_id)
        )
        return statement

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One committed transaction on a plain connection: claim, finish and the
        heartbeat run on every record's path (or every few seconds) and need
        none of the ORM's session, identity map or flush. On SQLite the
        engine's ``begin`` hook still sends BEGIN IMMEDIATE (``jobs.db``)."""
        with self.engine.begin() as conn:
            yield conn

    def prepare(self, job_id: str, rows: Iterable[RecordState]) -> dict[int, RecordState]:
        with unit_of_work(self.factory) as session:
            known = {
                r.row_number: r for r in session.scalars(select(RpaRecord).where(RpaRecord.job_id == job_id))
            }
            for row in rows:
                if row.number not in known:
                    rec = RpaRecord(
                        job_id=job_id,
                        row_number=row.number,
                        reference=row.reference,
                        state=row.state,
                        message=row.message,
                        captured={},
                        attempts=0,
                    )
                    session.add(rec)
                    known[row.number] = rec
            session.flush()
            return {n: _state(r) for n, r in sorted(known.items())}

    def claim(self, job_id: str, number: int, target: str, reference: str, stale_after: float) -> Claim:
        try:
            return self._claim(job_id, number, target, reference, stale_after)
        except IntegrityError:
            # Another job inserted the same reference between our read and write.
            return self._claim(job_id, number, target, reference, stale_after)

    # claim and finish run on every record's path: plain statements on a
    # connection, without the ORM; each is still one committed transaction,
    # before and after the browser touches the target.

    def _claim(self, job_id: str, number: int, target: str, reference: str, stale_after: float) -> Claim:
        with self._transaction() as conn:
            now = _now()
            new_ref = {
                "target": target,
                "reference": reference,
                "state": "in_flight",
                "job_id": job_id,
                "row_number": number,
                "captured": {},
                "updated_at": now,
            }
            insert_new = self._insert_if_new(new_ref)
            # The usual case, a reference nobody has claimed: inserted at once.
            # On a clash nothing is written and the row is read below (PostgreSQL
            # first waits for a concurrent inserter to commit). RETURNING says
            # whether it was written (psycopg's rowcount may be -1 here).
            if insert_new is not None and conn.execute(insert_new).first() is not None:
                _in_flight(conn, job_id, number, now)
                return Claim("claimed")
            # FOR UPDATE: two jobs taking over the same stale claim at once would
            # otherwise both see it stale, both write, and both type the record.
            ref = conn.execute(
                select(REF.c.state, REF.c.job_id, REF.c.row_number, REF.c.captured, REF.c.updated_at)
                .where(REF.c.target == target, REF.c.reference == reference)
                .with_for_update()
            ).one_or_none()
            if ref is None:
                conn.execute(insert(REF).values(new_ref))
                _in_flight(conn, job_id, number, now)
                return Claim("claimed")
            owner = (ref.job_id, ref.row_number)
            if ref.state == "entered":
                return Claim("duplicate", dict(ref.captured), owner)
            # One job enters its rows one at a time: an unfinished claim of its own
            # is a dead delivery's, never a live one.
            mine = owner[0] == job_id
            if not mine and now - ref.updated_at < timedelta(seconds=stale_after):
                return Claim("busy", owner=owner)
            # Our own unfinished claim (a crash) or an abandoned one: we own it now.
            conn.execute(
                update(REF)
                .where(REF.c.target == target, REF.c.reference == reference)
                .values(job_id=job_id, row_number=number, updated_at=now)
            )
            _in_flight(conn, job_id, number, now)
            return Claim("reconcile", owner=owner)

    def finish(self, job_id: str, number: int, target: str, state: RecordState, *, release: bool) -> None:
        with self._transaction() as conn:
            now = _now()
            reference = conn.execute(
                update(REC)
                .where(REC.c.job_id == job_id, REC.c.row_number == number)
                .values(state=state.state, message=state.message, captured=state.captured, updated_at=now)
                .returning(REC.c.reference)
            ).scalar_one()
            # Written only while the reference is still this row's: the owner is in
            # the WHERE, so nothing is written when another job has taken the claim
            # over (PostgreSQL re-checks the WHERE once it holds the row's lock, as
            # the SELECT ... FOR UPDATE that stood here did, one statement more).
            owned = (
                REF.c.target == target,
                REF.c.reference == reference,
                REF.c.job_id == job_id,
                REF.c.row_number == number,
            )
            if state.state in ("entered", "duplicate"):  # duplicate here: found in the target itself
                conn.execute(
                    update(REF).where(*owned).values(state="entered", captured=state.captured, updated_at=now)
                )
            elif release:
                conn.execute(delete(REF).where(*owned))

    def acquire_slot(self, target: str, holder: str, limit: int, ttl: float) -> bool:
        # Each unique violation means another worker took a slot number that looked
        # free; there are only ``limit`` of them, so this ends.
        for _ in range(max(limit, 0) + 1):
            try:
                return self._acquire_slot(target, holder, limit, ttl)
            except IntegrityError:
                continue  # rolled back: look at the slots again
        return False

    def _acquire_slot(self, target: str, holder: str, limit: int, ttl: float) -> bool:
        with unit_of_work(self.factory) as session:
            now = _now()
            # FOR UPDATE (in slot order, so two workers cannot deadlock): two workers
            # must not both take the same expired slot. Rows that do not exist yet
            # cannot be locked; a clash on one of those is the IntegrityError above.
            query = (
                select(RpaTargetSlot)
                .where(RpaTargetSlot.target == target)
                .order_by(RpaTargetSlot.slot)
                .with_for_update()
            )
            slots = {s.slot: s for s in session.scalars(query)}
            expires = now + timedelta(seconds=ttl)
            held = next((s for s in slots.values() if s.holder == holder), None)
            free = held or next((s for s in slots.values() if s.expires_at < now and s.slot < limit), None)
            if free is not None:
                free.holder, free.expires_at = holder, expires
                return True
            unused = next((i for i in range(limit) if i not in slots), None)
            if unused is None:
                return False
            session.add(RpaTargetSlot(target=target, slot=unused, holder=holder, expires_at=expires))
            return True

    def release_slot(self, target: str, holder: str) -> None:
        with unit_of_work(self.factory) as session:
            session.execute(
                delete(RpaTargetSlot).where(RpaTargetSlot.target == target, RpaTargetSlot.holder == holder)
            )

    def heartbeat(self, target: str, holder: str, ttl: float) -> None:
        with self._transaction() as conn:
            now = _now()
            conn.execute(
                update(RpaTargetSlot)
                .where(RpaTargetSlot.target == target, RpaTargetSlot.holder == holder)
                .values(expires_at=now + timedelta(seconds=ttl))
            )
            conn.execute(
                update(RpaReference)
                .where(
                    RpaReference.target == target,
                    RpaReference.job_id == holder,
                    RpaReference.state == "in_flight",
                )
                .values(updated_at=now)
            )
