"""``digilabo rpa`` as a real process against stand-in system B: an
unapproved script file is refused, and a run killed mid-batch (SIGKILL, its
Chromium with it) is finished by the next run within two minutes, with every
record in the target exactly once."""

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
    SCRIPT_B,
    USER,
    StandIn,
    read_results,
    record,
    start_standin,
    wait_until,
    write_records,
)

DIGILABO = [sys.executable, "-m", "digilabo"]


@pytest.fixture
def system_b(tmp_path: Path) -> Iterator[StandIn]:
    yield from start_standin(tmp_path / "system-b", "b")


def cli_env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    env.update(
        DIGILABO_VAR_DIR=str(tmp_path / "var"),
        DIGILABO_RPA_TARGET_URLS=json.dumps({"saishutsu-b": url}),
        DIGILABO_CREDENTIAL_SAISHUTSU_DEMO_USER=USER,
        DIGILABO_CREDENTIAL_SAISHUTSU_DEMO_PASSWORD=PASSWORD,
        # Short liveness figures so the test is quick; the defaults are 5 s / 30 s / 30 s.
        DIGILABO_RPA_HEARTBEAT_SECONDS="2",
        DIGILABO_RPA_SLOT_TTL="8",
        DIGILABO_RPA_STALE_SECONDS="8",
    )
    return env


def test_unapproved_script_file_is_refused_unless_dry_run_or_said_so(tmp_path: Path) -> None:
    records = write_records(tmp_path / "r.csv", [record(1)])
    env = cli_env(tmp_path, "http://127.0.0.1:9")
    argv = [
        *DIGILABO,
        "rpa",
        "--records",
        str(records),
        "--script",
        str(SCRIPT_B),
        "-o",
        str(tmp_path / "o.json"),
    ]
    refused = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert (
        refused.returncode == 2 and "承認されていない" in refused.stderr and "--unapproved" in refused.stderr
    )
    # Said so: it goes on (and fails to log in to the closed port), with the warning first.
    warned = subprocess.run([*argv, "--unapproved"], env=env, capture_output=True, text=True, timeout=120)
    assert "UNAPPROVED" in warned.stderr and "警告" in warned.stderr
    assert warned.returncode == 1 and "ログインできませんでした" in warned.stderr


def test_cli_run_killed_mid_batch_is_finished_by_the_next_run(system_b: StandIn, tmp_path: Path) -> None:
    system_b.switches(delay_ms=400)  # every screen a little slow: the kill lands mid-batch
    records = write_records(tmp_path / "r.csv", [record(n) for n in range(1, 7)])
    env = cli_env(tmp_path, system_b.url)
    base = [*DIGILABO, "rpa", "--records", str(records)]
    first = subprocess.Popen(
        [*base, "--script", str(SCRIPT_B), "--unapproved", "-o", str(tmp_path / "first.csv")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes its Chromium too
    )
    try:
        wait_until(lambda: len(system_b.entries()) >= 2, 120, "the first run to enter two records")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    before = {e["reference"] for e in system_b.entries()}
    assert len(before) < 6
    started = time.monotonic()
    again = subprocess.run(
        [*base, "--script", "saishutsu_b", "-o", str(tmp_path / "again.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    took = time.monotonic() - started
    assert again.returncode == 0, again.stdout + again.stderr
    assert took < 120, took
    refs = Counter(e["reference"] for e in system_b.entries())
    assert refs == {f"T-{n:05d}": 1 for n in range(1, 7)}
    results = {r["reference"]: r for r in read_results(tmp_path / "again.json")}
    states = Counter(r["state"] for r in results.values())
    assert states["entered"] + states["duplicate"] == 6, states
    for ref in before:  # what the killed run entered: known from the ledger, or found by the look-up
        assert results[ref]["state"] == "duplicate" or "照合" in results[ref]["message"], results[ref]
    print(f"CLI re-run after SIGKILL finished in {took:.0f}s: {dict(states)}")
