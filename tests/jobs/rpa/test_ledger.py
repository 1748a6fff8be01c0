"""The exactly-once gate and the per-target slots, on a real SQLite ledger."""

from __future__ import annotations

import time

import pytest

from jobs.rpa.ledger import RecordState, SqlRecordLedger
from jobs.rpa.liveness import Timings

T = "zaimu"


def prepared(ledger: SqlRecordLedger, job: str, *refs: str) -> None:
    ledger.prepare(job, [RecordState(i + 2, ref, "pending") for i, ref in enumerate(refs)])


def test_claim_then_entered_makes_later_claims_duplicates(ledger: SqlRecordLedger) -> None:
    prepared(ledger, "job-a", "R1", "R1")
    assert ledger.claim("job-a", 2, T, "R1", 600).kind == "claimed"
    ledger.finish("job-a", 2, T, RecordState(2, "R1", "entered", captured={"v": "1"}), release=False)
    dup = ledger.claim("job-a", 3, T, "R1", 600)
    assert dup.kind == "duplicate" and dup.captured == {"v": "1"} and dup.owner == ("job-a", 2)
    prepared(ledger, "job-b", "R1")
    assert ledger.claim("job-b", 2, T, "R1", 600).kind == "duplicate"


def test_rejected_releases_the_reference(ledger: SqlRecordLedger) -> None:
    prepared(ledger, "job-a", "R1")
    ledger.claim("job-a", 2, T, "R1", 600)
    ledger.finish("job-a", 2, T, RecordState(2, "R1", "rejected", "NG"), release=True)
    prepared(ledger, "job-b", "R1")
    assert ledger.claim("job-b", 2, T, "R1", 600).kind == "claimed"


def test_in_flight_claim_is_reconciled_by_owner_busy_for_others(ledger: SqlRecordLedger) -> None:
    prepared(ledger, "job-a", "R1")
    prepared(ledger, "job-b", "R1")
    ledger.claim("job-a", 2, T, "R1", 600)
    assert ledger.claim("job-a", 2, T, "R1", 600).kind == "reconcile"  # redelivered job-a
    assert ledger.claim("job-b", 2, T, "R1", 600).kind == "busy"
    assert ledger.claim("job-b", 2, T, "R1", 0).kind == "reconcile"  # abandoned: taken over


def test_a_finish_after_a_takeover_leaves_the_new_owners_claim(ledger: SqlRecordLedger) -> None:
    """A job that lost its claim (silent too long, taken over) and then finishes the
    row must neither release nor settle the new owner's claim."""
    prepared(ledger, "slow", "R1", "R2")
    prepared(ledger, "next", "R1", "R2")
    ledger.claim("slow", 2, T, "R1", 600)
    ledger.claim("slow", 3, T, "R2", 600)
    assert ledger.claim("next", 2, T, "R1", 0).kind == "reconcile"
    assert ledger.claim("next", 3, T, "R2", 0).kind == "reconcile"
    ledger.finish("slow", 2, T, RecordState(2, "R1", "rejected", "NG"), release=True)
    ledger.finish("slow", 3, T, RecordState(3, "R2", "entered", captured={"v": "1"}), release=False)
    prepared(ledger, "third", "R1", "R2")
    for number, ref in ((2, "R1"), (3, "R2")):
        claim = ledger.claim("third", number, T, ref, 600)
        assert (claim.kind, claim.owner) == ("busy", ("next", number))  # still next's, in flight
    assert ledger.prepare("slow", [])[3].state == "entered"  # the row itself is recorded


def test_prepare_keeps_existing_states(ledger: SqlRecordLedger) -> None:
    prepared(ledger, "job-a", "R1", "R2")
    ledger.claim("job-a", 2, T, "R1", 600)
    ledger.finish("job-a", 2, T, RecordState(2, "R1", "entered"), release=False)
    states = ledger.prepare("job-a", [RecordState(2, "R1", "pending"), RecordState(3, "R2", "pending")])
    assert states[2].state == "entered" and states[3].state == "pending"


def test_slots_cap_concurrent_jobs_per_target(ledger: SqlRecordLedger) -> None:
    assert ledger.acquire_slot(T, "a", 2, 60) and ledger.acquire_slot(T, "b", 2, 60)
    assert not ledger.acquire_slot(T, "c", 2, 60)
    assert ledger.acquire_slot(T, "a", 2, 60)  # renewing
    ledger.release_slot(T, "a")
    assert ledger.acquire_slot(T, "c", 2, 60)
    assert ledger.acquire_slot(T, "d", 3, -1) and ledger.acquire_slot(T, "e", 3, 60)  # d's lease expired


def test_heartbeat_keeps_a_live_holders_slot_and_claims_a_silent_one_loses_them(
    ledger: SqlRecordLedger,
) -> None:
    prepared(ledger, "live", "R1")
    prepared(ledger, "dead", "R2")
    prepared(ledger, "next", "R1", "R2")
    assert ledger.acquire_slot(T, "live", 2, 1.0) and ledger.acquire_slot(T, "dead", 2, 1.0)
    ledger.claim("live", 2, T, "R1", 1.0)
    ledger.claim("dead", 2, T, "R2", 1.0)
    time.sleep(0.6)
    ledger.heartbeat(T, "live", 1.0)  # only "live" beats
    time.sleep(0.6)
    assert ledger.claim("next", 2, T, "R1", 1.0).kind == "busy"  # beat 0.6 s ago: alive
    takeover = ledger.claim("next", 3, T, "R2", 1.0)
    assert takeover.kind == "reconcile" and takeover.owner == ("dead", 2)
    assert ledger.acquire_slot(T, "next", 2, 1.0)  # the dead holder's slot, not the live one's
    assert not ledger.acquire_slot(T, "other", 2, 1.0)


def test_timings_refuse_a_ttl_shorter_than_two_heartbeats() -> None:
    assert Timings.from_options({}) == Timings()
    assert (
        Timings.from_options(
            {"rpa_timings": {"heartbeat_seconds": 2, "slot_ttl": 4, "stale_seconds": 9}}
        ).slot_ttl
        == 4
    )
    with pytest.raises(ValueError, match="twice"):
        Timings(heartbeat_seconds=10, slot_ttl=15)
