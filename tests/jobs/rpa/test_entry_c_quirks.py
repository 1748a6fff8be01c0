"""System C's sample script (written from its screen description alone)
against quirks it must take without a change: pages and forms in EUC-JP,
sessions that end by time in the middle of the batch, a commit that hangs,
and records the script's filters refuse before anything is typed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from jobs.rpa.core import run
from tests.jobs.rpa.conftest import REPO, Jobs, read_results, record, script_text, write_records

SCRIPT_C = REPO / "jobs" / "rpa" / "samples" / "zaimu_c.yaml"


def test_euc_jp_time_expiry_hang_and_rows_refused_before_typing(jobs_c: Jobs, tmp_path: Path) -> None:
    """Sessions end 12 s after their login: eight rows take more than that
    even on an idle machine (about 2 s a row, plus the 4 s step timeout of
    the hung commit), so the batch runs into the end at least once; a row
    gets up to two re-logins, so it would fail only if one row took longer
    than a whole session (2-8 s a row on a loaded machine). The 2nd
    登録 is stored but answered only after the step timeout; two
    records cannot be converted for the screen and are refused before typing,
    each naming its column and the rule."""
    jobs_c.standin.switches(charset="euc-jp", session_seconds=12, timeout_submits=[2], hang_seconds=6)
    good = [record(n, 件名=f"ｶﾞｽ代 No.{n}") for n in range(1, 9)]
    too_long = record(31, 件名="事務用品の購入" * 8)  # 56 全角 characters: 摘要 holds 50, never cut
    too_old = record(32, 起票日="1850-01-01")  # before 明治: no 和暦 for it
    records = write_records(tmp_path / "r.csv", [*good, too_long, too_old])
    outcome = run(jobs_c.context(script_text(SCRIPT_C, timeout_seconds="4"), records))
    results = {r["reference"]: r for r in read_results(outcome)}
    entries = jobs_c.standin.entries()
    assert Counter(e["reference"] for e in entries) == {f"T-{n:05d}": 1 for n in range(1, 9)}, results
    assert Counter(r["state"] for r in results.values()) == {"entered": 8, "invalid": 2}
    for e in entries:
        assert results[e["reference"]]["voucher_no"] == e["voucher_no"]
    first = next(e for e in entries if e["reference"] == "T-00001")
    assert first["purpose"] == "ガス代　Ｎｏ．１"  # 全角, and EUC-JP on the wire
    assert "件名" in results["T-00031"]["message"] and "truncate" in results["T-00031"]["message"]
    assert "起票日" in results["T-00032"]["message"] and "wareki" in results["T-00032"]["message"]
    assert outcome.summary["relogins"] >= 1
