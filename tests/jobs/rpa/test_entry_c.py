"""Real Chromium against stand-in system C (frameset, search windows, era
date boxes, 全角 摘要, 確認 token, session expiry, paged prefix 照会) through
its sample script ``zaimu_c.yaml``, written from the screen description only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.rpa.core import run
from jobs.rpa.ledger import SqlRecordLedger
from tests.jobs.rpa.conftest import (
    PASSWORD,
    REPO,
    USER,
    Jobs,
    StandIn,
    read_results,
    record,
    script_text,
    start_standin,
    write_records,
)

SCRIPT_C = REPO / "jobs" / "rpa" / "samples" / "zaimu_c.yaml"
SCRIPT_C_KEYS = REPO / "jobs" / "rpa" / "samples" / "zaimu_c_keys.yaml"


@pytest.fixture
def standin_c(tmp_path: Path) -> Iterator[StandIn]:
    yield from start_standin(tmp_path / "system-c", "c")


@pytest.fixture
def jobs_c(
    tmp_path: Path, standin_c: StandIn, ledger: SqlRecordLedger, monkeypatch: pytest.MonkeyPatch
) -> Jobs:
    monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_C_DEMO_USER", USER)
    monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_C_DEMO_PASSWORD", PASSWORD)
    return Jobs(tmp_path, standin_c, ledger, {"zaimu-c": standin_c.url})


def test_system_c_faults_and_session_expiry_each_row_entered_once(jobs_c: Jobs, tmp_path: Path) -> None:
    """A 500 on the 2nd 登録, the 4th 登録 stored then hung, and a session that
    ends every 20 pages (a row takes about 11): re-login, look up what may
    have been sent, and every record is in the target once."""
    jobs_c.standin.switches(fail_submits=[2], timeout_submits=[4], hang_seconds=5, session_requests=20)
    rows = [record(n) for n in range(1, 5)]
    outcome = run(
        jobs_c.context(script_text(SCRIPT_C, timeout_seconds="4"), write_records(tmp_path / "r.csv", rows))
    )
    refs = Counter(e["reference"] for e in jobs_c.standin.entries())
    results = read_results(outcome)
    assert refs == {f"T-{n:05d}": 1 for n in range(1, 5)}, [(r["reference"], r["message"]) for r in results]
    assert Counter(r["state"] for r in results) == {"entered": 4}
    assert outcome.summary["relogins"] >= 2
    assert not any(r["state"] == "rejected" for r in results)


def test_system_c_entered_through_frames_and_windows_then_found_exactly_across_pages(
    jobs_c: Jobs, tmp_path: Path
) -> None:
    """First run: three records through the frameset and both search windows
    (one dated 令和元年, one 件名 in 半角). Second run, the ledger forgotten (as if
    entered by another tool), look-ups first: 照会 matches by prefix, newest
    first, two a page here, so K-12 sits on page 2 behind K-121 and K-120; K-1
    is a prefix of all of them and is new."""
    first = [
        record(1, 整理番号="K-12", 起票日="2019-05-01", 件名="ｶﾞｽ代 No.1"),
        record(2, 整理番号="K-120"),
        record(3, 整理番号="K-121"),
    ]
    outcome = run(jobs_c.context(script_text(SCRIPT_C), write_records(tmp_path / "a.csv", first)))
    results = {r["reference"]: r for r in read_results(outcome)}
    entries = {e["reference"]: e for e in jobs_c.standin.entries()}
    assert Counter(r["state"] for r in results.values()) == {"entered": 3}, results
    assert {k: r["voucher_no"] for k, r in results.items()} == {
        k: e["voucher_no"] for k, e in entries.items()
    }
    k12 = entries["K-12"]
    assert (k12["entry_date"], k12["purpose"], k12["payee_code"]) == (
        "2019-05-01",
        "ガス代　Ｎｏ．１",
        "1000001",
    )
    assert k12["lines"][0]["budget_code"] == "02010108"

    jobs_c.standin.switches(page_size=2)
    with jobs_c.ledger.factory() as s:
        from sqlalchemy import delete

        from jobs.rpa.models import RpaReference

        s.execute(delete(RpaReference))
        s.commit()
    again = [record(1, 整理番号="K-12"), record(5, 整理番号="K-1")]
    script = script_text(SCRIPT_C, check_before_entry="true")
    outcome = run(jobs_c.context(script, write_records(tmp_path / "b.csv", again)))
    results = {r["reference"]: r for r in read_results(outcome)}
    assert results["K-12"]["state"] == "duplicate" and results["K-1"]["state"] == "entered"
    assert results["K-12"]["voucher_no"] == k12["voucher_no"]
    refs = Counter(e["reference"] for e in jobs_c.standin.entries())
    assert refs == {"K-12": 1, "K-120": 1, "K-121": 1, "K-1": 1}


def test_system_c_by_keys_and_a_hover_menu(jobs_c: Jobs, tmp_path: Path) -> None:
    """Switches keys=on and menu=hover: F4 opens the search windows, F9 is
    確認, F12 登録, and the menu's links show only under the mouse."""
    jobs_c.standin.switches(keys="on", menu="hover")
    rows = [record(1), record(2)]
    outcome = run(jobs_c.context(script_text(SCRIPT_C_KEYS), write_records(tmp_path / "r.csv", rows)))
    results = {r["reference"]: r for r in read_results(outcome)}
    assert Counter(r["state"] for r in results.values()) == {"entered": 2}, results
    entries = {e["reference"]: e for e in jobs_c.standin.entries()}
    assert {k: r["voucher_no"] for k, r in results.items()} == {
        k: e["voucher_no"] for k, e in entries.items()
    }
