"""``digilabo rpa`` as a real process against stand-in system C with its
faults on — HTTP 500 on the 2nd 登録 and a session that ends every 25
pages (a row takes about 11, so the batch runs into the end again and
again) — killed mid-batch (SIGKILL, its Chromium with it) and run again: the
next run finishes within two minutes, every record in the target exactly
once, and no row is reported as refused by the target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobs.rpa.conftest import (
    PASSWORD,
    REPO,
    USER,
    StandIn,
    read_results,
    record,
    start_standin,
    wait_until,
    write_records,
)

pytestmark = pytest.mark.faults
DIGILABO = [sys.executable, "-m", "digilabo"]
SCRIPT_C = REPO / "jobs" / "rpa" / "samples" / "zaimu_c.yaml"


def cli_env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    env.update(
        DIGILABO_VAR_DIR=str(tmp_path / "var"),
        DIGILABO_RPA_TARGET_URLS=json.dumps({"zaimu-c": url}),
        DIGILABO_CREDENTIAL_ZAIMU_C_DEMO_USER=USER,
        DIGILABO_CREDENTIAL_ZAIMU_C_DEMO_PASSWORD=PASSWORD,
        # Short liveness figures so the test is quick; the defaults are 5 s / 30 s / 30 s.
        DIGILABO_RPA_HEARTBEAT_SECONDS="2",
        DIGILABO_RPA_SLOT_TTL="8",
        DIGILABO_RPA_STALE_SECONDS="8",
    )
    return env


@pytest.fixture
def system_c(tmp_path: Path) -> Iterator[StandIn]:
    yield from start_standin(tmp_path / "system-c", "c")


def test_cli_run_on_system_c_with_faults_killed_and_finished_by_the_next_run(
    system_c: StandIn, tmp_path: Path
) -> None:
    system_c.switches(fail_submits=[2], session_requests=25)
    records = write_records(tmp_path / "r.csv", [record(n) for n in range(1, 7)])
    env = cli_env(tmp_path, system_c.url)
    base = [*DIGILABO, "rpa", "--records", str(records)]
    first = subprocess.Popen(
        [*base, "--script", str(SCRIPT_C), "--unapproved", "-o", str(tmp_path / "first.csv")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes its Chromium too
    )
    try:
        wait_until(lambda: len(system_c.entries()) >= 2, 150, "the first run to enter two records")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    before = {e["reference"] for e in system_c.entries()}
    assert len(before) < 6
    started = time.monotonic()
    again = subprocess.run(
        [*base, "--script", "zaimu_c", "-o", str(tmp_path / "again.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    took = time.monotonic() - started
    assert again.returncode == 0, again.stdout + again.stderr
    assert took < 120, took
    assert Counter(e["reference"] for e in system_c.entries()) == {f"T-{n:05d}": 1 for n in range(1, 7)}
    results = {r["reference"]: r for r in read_results(tmp_path / "again.json")}
    states = Counter(r["state"] for r in results.values())
    assert states["entered"] + states["duplicate"] == 6, results
    assert not any(r["state"] == "rejected" for r in results.values())
    for ref in before:  # what the killed run entered: known from the ledger, or found by the look-up
        assert results[ref]["state"] == "duplicate" or "照合" in results[ref]["message"], results[ref]
    print(f"system C: CLI re-run after SIGKILL finished in {took:.0f}s: {dict(states)}")
