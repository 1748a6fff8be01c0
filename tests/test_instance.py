"""One ``digilabo up`` per state folder (``digilabo.instance``): the lock,
the record of its children, and the leftovers of one that was killed."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from digilabo.embedded import Child, python_argv, spawn, wait_for
from digilabo.instance import AlreadyRunning, Instance, identity, recorded, stop_leftovers
from digilabo.stack import Stack

SLEEP = "import time; time.sleep(120)"
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"


def child(name: str, code: str, tmp_path: Path) -> Child:
    return spawn(name, python_argv("-c", code), env=dict(os.environ), log_path=tmp_path / f"{name}.log")


def test_a_second_holder_is_refused_with_the_first_ones_pid_and_api(tmp_path: Path) -> None:
    first = Instance(tmp_path / "var")
    assert first.acquire() is None  # nothing ran here before
    sleeper = child("worker-cpu", SLEEP, tmp_path)
    try:
        first.record("http://127.0.0.1:8123", [sleeper], Stack.worker_node)
        before = first.record_path.read_bytes()
        with pytest.raises(AlreadyRunning) as refused:
            Instance(tmp_path / "var").acquire()
        assert refused.value.pid == os.getpid()
        assert f"PID {os.getpid()}, API http://127.0.0.1:8123" in str(refused.value)
        assert first.record_path.read_bytes() == before  # the refused one wrote nothing
        assert first.record_path.stat().st_mode & 0o777 == 0o600
        first.release()
        previous = Instance(tmp_path / "var").acquire()
    finally:
        sleeper.stop()
    assert previous is not None and previous["api_url"] == "http://127.0.0.1:8123"
    (process,) = recorded(previous)
    assert (process.name, process.pid) == ("worker-cpu", sleeper.process.pid)
    assert process.node.startswith("cpu@") and process.node.endswith(f"-{sleeper.process.pid}")
    assert "time.sleep(120)" in process.cmdline


def test_leftovers_still_running_are_stopped_and_others_left_alone(tmp_path: Path) -> None:
    """A killed ``up``'s children outlived it (as without the parent-death
    signal): the next ``up`` stops them, with KILL for one that ignores TERM,
    but never a process that only got a recorded pid back."""
    instance = Instance(tmp_path / "var")
    instance.acquire()
    quiet, stubborn, bystander = (
        child("beat", SLEEP, tmp_path),
        child("worker-gpu", STUBBORN, tmp_path),
        child("bystander", SLEEP, tmp_path),
    )
    try:
        wait_for(lambda: "ready" in (tmp_path / "worker-gpu.log").read_text(), 30, "the stubborn child")
        instance.record("", [quiet, stubborn, bystander], Stack.worker_node)
        leftovers = recorded(instance.read())
        # The bystander's pid now belongs to "another process": another start time.
        leftovers[2] = replace(leftovers[2], started=leftovers[2].started - 1)
        lines: list[str] = []
        stopped = stop_leftovers(leftovers, term_s=0.5, report=lines.append)
        assert [p.name for p in stopped] == ["beat", "worker-gpu"]
        for process in (quiet, stubborn):
            wait_for(lambda p=process: not p.alive(), 5, f"{process.name} to end")
        assert quiet.process.returncode == -signal.SIGTERM
        assert stubborn.process.returncode == -signal.SIGKILL
        assert bystander.alive() and identity(bystander.process.pid) is not None
        assert any("worker-gpu" in line and "killing it" in line for line in lines), lines
        assert any("left running by a previous digilabo up" in line for line in lines), lines
    finally:
        for process in (quiet, stubborn, bystander):
            process.stop(timeout=1)
        instance.release()
