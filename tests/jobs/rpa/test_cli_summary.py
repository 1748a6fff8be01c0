"""``digilabo rpa`` says what happened: the summary line, and exit 1 when a
row failed for a system reason (a real process against stand-in system B)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobs.rpa.conftest import (
    SCRIPT_B,
    StandIn,
    fast_script,
    read_results,
    record,
    start_standin,
    write_records,
)
from tests.jobs.rpa.test_cli_resume import DIGILABO, cli_env


@pytest.fixture
def system_b(tmp_path: Path) -> Iterator[StandIn]:
    yield from start_standin(tmp_path / "system-b", "b")


def test_a_row_failing_for_a_system_reason_exits_1_with_the_summary_line(
    system_b: StandIn, tmp_path: Path
) -> None:
    system_b.switches(fail_submits=[2, 3])  # row 2's both attempts get a 500
    script = tmp_path / "b.yaml"
    script.write_text(fast_script(SCRIPT_B, retries="1"), encoding="utf-8")
    rows = [record(1), record(2), record(3, 金額="20000000"), record(4, 起票日="2025-13-01")]
    argv = [*DIGILABO, "rpa", "--records", str(write_records(tmp_path / "r.csv", rows))]
    argv += ["--script", str(script), "--unapproved", "-o", str(tmp_path / "o.json")]
    done = subprocess.run(
        argv, env=cli_env(tmp_path, system_b.url), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 1, done.stdout + done.stderr
    line = "入力 1件 / 入力済み 0件 / 対象システムが拒否 1件 / 入力前に不備 1件 / 失敗（システム・セッション） 1件 / 未到達 0件 / 再ログイン 0回"
    assert line in done.stdout
    states = {r["reference"]: r["state"] for r in read_results(tmp_path / "o.json")}
    assert states == {"T-00001": "entered", "T-00002": "failed", "T-00003": "rejected", "T-00004": "invalid"}
