"""Real Chromium against a tiny frame-based site (tests/jobs/rpa/frames_site.py):
steps inside frames, a code chosen in a ``window.open`` search window,
re-login when the session ends mid-batch (each row entered once), and a
paged 照会 list where only the exact reference counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.rpa.core import run
from jobs.rpa.ledger import SqlRecordLedger
from tests.jobs.rpa.conftest import PASSWORD, USER, Jobs, StandIn, read_results
from tests.jobs.rpa.frames_site import Site, serve

SCRIPT = """
version: 1
name: フレームとポップアップ
baseline_seconds_per_record: 10
check_before_entry: {check}
target:
  name: frames-site
  base_url: http://127.0.0.1:9
  credential: zaimu_demo
  timeout_seconds: {timeout}
  max_processing_seconds: 0.2
  retries: {retries}
  login:
    - goto: /login
    - fill: {{selector: "[name=user]", value: "{{{{ credential.user }}}}"}}
    - fill: {{selector: "[name=password]", value: "{{{{ credential.password }}}}"}}
    - click: {{selector: "[name=btnLogin]", navigation: true}}
  logged_in: {{selector: frameset}}
  validation_messages: {{selector: ".err:has-text('【E0')"}}
  session_expired: {{selector: "a:has-text('ログイン画面へ'), [name=btnLogin]"}}
records:
  reference: [reference]
  columns:
    - {{name: reference, header: 整理番号, type: string, required: true}}
    - {{name: code, header: 科目, type: string, required: true}}
steps:
  - goto: /main
  - frame: {{name: menu, steps: [{{click: {{selector: "a:text-is('入力')"}}}}]}}
  - frame:
      name: main
      steps:
        - wait_for: {{text: 画面：入力}}
        - popup:
            selector: "button:text-is('検索')"
            steps:
              - click: {{selector: "tr:has(td:first-child:text-is('{{{{ row.code }}}}')) a"}}
        - fill: {{selector: "[name=ref]", value: "{{{{ row.reference }}}}"}}
        - click: {{selector: "[name=go]", navigation: true, submit: true}}
        - expect: {{text: 登録しました。}}
        - capture: {{column: voucher, selector: body, pattern: "V-[0-9]{{4}}"}}
lookup:
  steps:
    - goto: /main
    - frame: {{name: menu, steps: [{{click: {{selector: "a:text-is('照会')"}}}}]}}
    - frame:
        name: main
        steps:
          - wait_for: {{selector: "[name=ref]"}}
          - fill: {{selector: "[name=ref]", value: "{{{{ row.reference }}}}"}}
          - click: {{selector: "input[value='検索']", navigation: true}}
  found: {{selector: "table.list tr:has(td)", cell: "td:nth-child(2)", text: "{{{{ row.reference }}}}"}}
  next_page: {{selector: "a:has-text('次へ')"}}
  capture:
    - {{column: voucher, selector: "td:nth-child(1)"}}
"""


def script(check: bool = False, timeout: int = 4, retries: int = 1) -> str:
    return SCRIPT.format(check="true" if check else "false", timeout=timeout, retries=retries)


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(USER, PASSWORD) as running:
        yield running


@pytest.fixture
def jobs_f(tmp_path: Path, site: Site, ledger: SqlRecordLedger) -> Jobs:
    # The Jobs helper only needs the site's URL from its stand-in.
    return Jobs(tmp_path, StandIn(site.url, None), ledger, {"frames-site": site.url})  # type: ignore[arg-type]


def records(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("整理番号,科目\n" + "".join(f"{r},{c}\n" for r, c in rows), encoding="utf-8-sig")
    return path


def test_frames_and_a_search_window_enter_each_row(jobs_f: Jobs, site: Site, tmp_path: Path) -> None:
    rows = [("T-1", "0201"), ("T-2", "0301"), ("T-3", "0201")]
    outcome = run(jobs_f.context(script(), records(tmp_path / "r.csv", rows)))
    assert [(e["ref"], e["code"]) for e in site.entries] == rows  # the code came from the window
    results = {r["reference"]: r for r in read_results(outcome)}
    assert {k: r["voucher"] for k, r in results.items()} == {e["ref"]: e["voucher"] for e in site.entries}
    assert outcome.summary["summary_line"].startswith("入力 3件 / 入力済み 0件")
    assert outcome.summary["relogins"] == 0


def test_a_missing_code_in_the_window_fails_that_row_and_the_next_goes_on(
    jobs_f: Jobs, site: Site, tmp_path: Path
) -> None:
    rows = [("T-1", "9999"), ("T-2", "0301")]
    outcome = run(jobs_f.context(script(timeout=2, retries=0), records(tmp_path / "r.csv", rows)))
    results = {r["reference"]: r for r in read_results(outcome)}
    assert results["T-1"]["state"] == "failed" and results["T-2"]["state"] == "entered"
    assert "応答がありません（click）" in results["T-1"]["message"]  # the 選択 link never came
    assert [e["ref"] for e in site.entries] == ["T-2"]
    assert "失敗（システム・セッション） 1件" in outcome.summary["summary_line"]


def test_session_ending_mid_batch_logs_in_again_and_enters_each_row_once(
    jobs_f: Jobs, site: Site, tmp_path: Path
) -> None:
    # A login takes three pages (frameset, menu, home), a row six (the same, entry,
    # window, 登録), the look-up five: a session ends at the second row's 登録 (sent,
    # not stored: looked up after the re-login, then typed again) and at later rows' start.
    site.expire_after = 14
    rows = [(f"T-{n}", "0201") for n in range(1, 6)]
    outcome = run(jobs_f.context(script(), records(tmp_path / "r.csv", rows)))
    assert Counter(e["ref"] for e in site.entries) == {r: 1 for r, _ in rows}
    results = read_results(outcome)
    assert Counter(r["state"] for r in results) == {"entered": 5}
    assert outcome.summary["relogins"] >= 2 and site.logins == outcome.summary["relogins"] + 1
    assert f"再ログイン {outcome.summary['relogins']}回" in outcome.summary["summary_line"]
    assert not any(r["state"] == "rejected" for r in results)


def test_look_up_matches_the_exact_reference_across_pages(jobs_f: Jobs, site: Site, tmp_path: Path) -> None:
    """T-12 is on the third page behind its look-alikes (newest first, two a
    page); T-1 is a prefix of all of them but was never entered."""
    for n, ref in enumerate(["T-12", "T-120", "T-121", "T-1200", "T-1201"], start=1):
        site.entries.append({"ref": ref, "code": "0201", "voucher": f"V-{n:04d}"})
    rows = [("T-12", "0201"), ("T-1", "0301")]
    outcome = run(jobs_f.context(script(check=True), records(tmp_path / "r.csv", rows)))
    results = {r["reference"]: r for r in read_results(outcome)}
    assert results["T-12"]["state"] == "duplicate" and results["T-12"]["voucher"] == "V-0001"
    assert results["T-1"]["state"] == "entered"
    assert Counter(e["ref"] for e in site.entries)["T-1"] == 1 and len(site.entries) == 6


def test_dry_run_stops_before_the_submit_inside_a_frame(jobs_f: Jobs, site: Site, tmp_path: Path) -> None:
    outcome = run(jobs_f.context(script(), records(tmp_path / "r.csv", [("T-1", "0201")]), dry_run=True))
    assert site.entries == [] and outcome.summary.get("checked") == 1


def test_a_row_that_never_fits_in_a_session_fails_as_a_session_problem(
    jobs_f: Jobs, site: Site, tmp_path: Path
) -> None:
    """Sessions of five pages, a row of six: after two re-logins the row fails
    with the session named (never 対象システムが拒否), nothing entered twice."""
    site.expire_after = 5
    outcome = run(jobs_f.context(script(), records(tmp_path / "r.csv", [("T-1", "0201")])))
    (result,) = read_results(outcome)
    assert result["state"] == "failed" and "セッションが繰り返し切れた" in result["message"]
    assert outcome.summary["relogins"] == 2 and site.entries == []
    assert "失敗（システム・セッション） 1件" in outcome.summary["summary_line"] and outcome.needs_review
