"""Real Chromium against stand-in system B, through its sample script
(written from the screen description only): a confirm dialog before 登録,
labels in <th>, a tree menu, a dependent select, one URL for every POST."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from jobs.rpa.core import run
from tests.jobs.rpa.conftest import (
    SCRIPT_B,
    Jobs,
    fast_script,
    read_results,
    record,
    script_text,
    write_records,
)
from tests.jobs.rpa.test_entry import by_state


def test_confirm_dialog_accepted_and_each_voucher_from_its_own_registration(
    jobs_b: Jobs, tmp_path: Path
) -> None:
    rows = [record(n) for n in range(1, 5)] + [record(5, 金額="20000000")]
    records = write_records(tmp_path / "r.csv", rows)
    outcome = run(jobs_b.context(script_text(SCRIPT_B), records))
    entries = jobs_b.standin.entries()
    results = {r["reference"]: r for r in read_results(outcome)}
    assert by_state(results.values()) == {"entered": 4, "rejected": 1}
    assert "E2001" in results["T-00005"]["message"]
    vouchers = {e["reference"]: e["voucher_no"] for e in entries}
    assert len(entries) == 4 and set(vouchers) == {f"T-{n:05d}" for n in range(1, 5)}
    for ref, voucher in vouchers.items():
        # From its own 登録: no look-up message, and the target stored what the row said.
        assert results[ref]["voucher_no"] == voucher and results[ref]["message"] == ""
    first = next(e for e in entries if e["reference"] == "T-00001")
    assert (first["kou"], first["setsu"], first["amount"]) == ("01", "08", 1001)


def test_faults_on_b_500_and_commit_then_hang_each_entered_once(jobs_b: Jobs, tmp_path: Path) -> None:
    jobs_b.standin.switches(fail_submits=[2], timeout_submits=[4], hang_seconds=5)
    records = write_records(tmp_path / "r.csv", [record(n) for n in range(1, 6)])
    outcome = run(jobs_b.context(fast_script(SCRIPT_B), records))
    refs = Counter(e["reference"] for e in jobs_b.standin.entries())
    assert len(refs) == 5 and set(refs.values()) == {1}
    results = {r["reference"]: r for r in read_results(outcome)}
    assert by_state(results.values()) == {"entered": 5}
    hung = next(r for r in results.values() if "照合" in r["message"])
    assert hung["voucher_no"] == next(
        e["voucher_no"] for e in jobs_b.standin.entries() if e["reference"] == hung["reference"]
    )


def test_check_before_entry_finds_rows_another_tool_entered(jobs_b: Jobs, tmp_path: Path) -> None:
    """The project's ledger knows nothing of T-00002 (entered by another
    tool): the look-up before typing makes it a duplicate with its voucher."""
    records = write_records(tmp_path / "r.csv", [record(n) for n in range(1, 4)])
    run(jobs_b.context(script_text(SCRIPT_B), write_records(tmp_path / "one.csv", [record(2)])))
    with jobs_b.ledger.factory() as s:  # forget it: as if entered by another tool
        from sqlalchemy import delete

        from jobs.rpa.models import RpaReference

        s.execute(delete(RpaReference))
        s.commit()
    outcome = run(jobs_b.context(script_text(SCRIPT_B, check_before_entry="true"), records))
    results = {r["reference"]: r for r in read_results(outcome)}
    assert by_state(results.values()) == {"entered": 2, "duplicate": 1}
    entries = jobs_b.standin.entries()
    assert Counter(e["reference"] for e in entries) == {"T-00001": 1, "T-00002": 1, "T-00003": 1}
    assert results["T-00002"]["voucher_no"] == next(
        e["voucher_no"] for e in entries if e["reference"] == "T-00002"
    )
    assert "照会" in results["T-00002"]["message"]


def test_unexpected_confirm_fails_the_row_with_its_text_and_enters_nothing(
    jobs_b: Jobs, tmp_path: Path
) -> None:
    """The script as a new operator would first write it, without the dialog option."""
    text = fast_script(SCRIPT_B).replace(
        "      dialog: {type: confirm, text: 登録してよろしいですか？, accept: true}\n", ""
    )
    assert "dialog:" not in text
    records = write_records(tmp_path / "r.csv", [record(1)])
    outcome = run(jobs_b.context(text, records))
    (result,) = read_results(outcome)
    assert result["state"] == "failed" and outcome.needs_review
    assert "想定外のダイアログ" in result["message"] and "登録してよろしいですか？" in result["message"]
    assert jobs_b.standin.entries() == []  # dismissed, never confirmed
