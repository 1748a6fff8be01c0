"""Two workers racing on the ledger, on PostgreSQL (READ COMMITTED, no
serialising BEGIN IMMEDIATE as on SQLite).

Each test stops both threads right after their first read of the table under
test, so both decide on the same picture; only then do they write. A
barrier that times out means the second reader was blocked by the first
one's row lock, which is the serialisation being tested for.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, event, select

from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.rpa.ledger import RecordState, SqlRecordLedger
from jobs.rpa.models import RpaReference, RpaTargetSlot

T = TypeVar("T")


@pytest.fixture(scope="module")
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    # The migrations, not create_all: the service tests share this database and
    # migrate it too, which fails on tables create_all made first.
    migrate(postgres_url)
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_ledger(pg_engine: Engine) -> SqlRecordLedger:
    return SqlRecordLedger(session_factory(pg_engine))


def race(engine: Engine, table: str, *calls: Callable[[], T]) -> list[T]:
    """Run ``calls`` in threads, each held after its first SELECT on ``table``
    until all have read (or 2 s have passed: someone is blocked on a lock)."""
    barrier = threading.Barrier(len(calls), timeout=2)
    waited = threading.local()

    def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        reads = statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement
        if reads and not getattr(waited, "done", False):
            waited.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()

    event.listen(engine, "after_cursor_execute", hold)
    try:
        with ThreadPoolExecutor(len(calls)) as pool:
            return [f.result(timeout=30) for f in [pool.submit(c) for c in calls]]
    finally:
        event.remove(engine, "after_cursor_execute", hold)


def slot_rows(ledger: SqlRecordLedger, target: str) -> list[tuple[int, str]]:
    with unit_of_work(ledger.factory) as session:
        rows = session.scalars(select(RpaTargetSlot).where(RpaTargetSlot.target == target))
        return sorted((r.slot, r.holder) for r in rows)


def test_two_workers_take_the_two_free_slots(pg_engine: Engine, pg_ledger: SqlRecordLedger) -> None:
    target = f"t-{uuid.uuid4().hex[:8]}"
    # Both see no slot rows and both pick slot 0: one insert hits the unique key.
    got = race(
        pg_engine,
        "rpa_target_slots",
        lambda: pg_ledger.acquire_slot(target, "job-a", 2, 60),
        lambda: pg_ledger.acquire_slot(target, "job-b", 2, 60),
    )
    assert got == [True, True]
    rows = slot_rows(pg_ledger, target)
    assert [s for s, _ in rows] == [0, 1] and {h for _, h in rows} == {"job-a", "job-b"}


def assert_one_slot_one_winner(pg_engine: Engine, pg_ledger: SqlRecordLedger, target: str) -> None:
    """Two workers race for a target with one slot: exactly one holds it."""
    got = race(
        pg_engine,
        "rpa_target_slots",
        lambda: pg_ledger.acquire_slot(target, "job-a", 1, 60),
        lambda: pg_ledger.acquire_slot(target, "job-b", 1, 60),
    )
    assert sorted(got) == [False, True]
    assert [h for _, h in slot_rows(pg_ledger, target)] == ["job-a" if got[0] else "job-b"]


def test_one_free_slot_goes_to_exactly_one_worker(pg_engine: Engine, pg_ledger: SqlRecordLedger) -> None:
    assert_one_slot_one_winner(pg_engine, pg_ledger, f"t-{uuid.uuid4().hex[:8]}")


def test_an_expired_slot_goes_to_exactly_one_worker(pg_engine: Engine, pg_ledger: SqlRecordLedger) -> None:
    target = f"t-{uuid.uuid4().hex[:8]}"
    assert pg_ledger.acquire_slot(target, "job-dead", 1, -1)  # a lease that has run out
    assert_one_slot_one_winner(pg_engine, pg_ledger, target)


def claim_race(pg_engine: Engine, pg_ledger: SqlRecordLedger, ref: str) -> list[str]:
    """Jobs ``job-a-<ref>`` and ``job-b-<ref>`` claim row 2's reference at once:
    the two claim kinds, sorted."""
    got = race(
        pg_engine,
        "rpa_references",
        lambda: pg_ledger.claim(f"job-a-{ref}", 2, "zaimu", ref, 600).kind,
        lambda: pg_ledger.claim(f"job-b-{ref}", 2, "zaimu", ref, 600).kind,
    )
    return sorted(got)


def test_two_jobs_claiming_one_new_reference(pg_engine: Engine, pg_ledger: SqlRecordLedger) -> None:
    ref = f"R-{uuid.uuid4().hex[:8]}"
    for job in ("job-a", "job-b"):
        pg_ledger.prepare(f"{job}-{ref}", [RecordState(2, ref, "pending")])
    assert claim_race(pg_engine, pg_ledger, ref) == ["busy", "claimed"]


def test_a_stale_claim_is_taken_over_by_exactly_one_job(
    pg_engine: Engine, pg_ledger: SqlRecordLedger
) -> None:
    ref = f"R-{uuid.uuid4().hex[:8]}"
    for job in ("dead", "job-a", "job-b"):
        pg_ledger.prepare(f"{job}-{ref}", [RecordState(2, ref, "pending")])
    assert pg_ledger.claim(f"dead-{ref}", 2, "zaimu", ref, 600).kind == "claimed"
    with unit_of_work(pg_ledger.factory) as session:
        stale = session.get_one(RpaReference, ("zaimu", ref))
        stale.updated_at = datetime.now(UTC) - timedelta(hours=1)
    # Both would see the dead job's claim as stale; only one may take it over
    # (and reconcile, then type), the other must see the new owner's fresh claim.
    assert claim_race(pg_engine, pg_ledger, ref) == ["busy", "reconcile"]


def test_heartbeat_renews_the_holders_slot_and_claims_on_postgres(pg_ledger: SqlRecordLedger) -> None:
    target, live, other = f"t-{uuid.uuid4().hex[:8]}", str(uuid.uuid4()), str(uuid.uuid4())
    pg_ledger.prepare(live, [RecordState(2, "R1", "pending")])
    pg_ledger.prepare(other, [RecordState(2, "R1", "pending")])
    assert pg_ledger.acquire_slot(target, live, 1, -1)  # already expired...
    assert pg_ledger.claim(live, 2, target, "R1", 600).kind == "claimed"
    with unit_of_work(pg_ledger.factory) as session:  # the claim as if taken a minute ago
        ref = session.get_one(RpaReference, (target, "R1"))
        ref.updated_at = datetime.now(UTC) - timedelta(seconds=60)
    pg_ledger.heartbeat(target, live, 60)  # ...until the live job beats
    assert not pg_ledger.acquire_slot(target, other, 1, 60)
    assert pg_ledger.claim(other, 2, target, "R1", 30).kind == "busy"
