"""The exactly-once gate and the per-target slots, on a real SQLite ledger."""

from __future__ import annotations

from jobs.rpa.ledger import RecordState, SqlRecordLedger

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
