"""The supervisor behind ``digilabo up``, with real child processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from digilabo.embedded import Child, python_argv, spawn, wait_for
from digilabo.supervisor import CrashLoop, Supervisor


def sleeper(log: Path) -> Child:
    return spawn(
        "sleeper", python_argv("-c", "import time; time.sleep(120)"), env=dict(os.environ), log_path=log
    )


def test_a_killed_child_is_restarted_after_its_backoff(tmp_path: Path) -> None:
    supervisor = Supervisor(backoff_base_s=0.2)
    exits: list[int | None] = []
    first = supervisor.add(
        "sleeper", lambda: sleeper(tmp_path / "s.log"), lambda c: exits.append(c.process.returncode)
    )
    try:
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()

        def restarted() -> bool:
            supervisor.check()
            return supervisor.entries["sleeper"].child is not first

        wait_for(restarted, 10, "the restart")
        assert supervisor.entries["sleeper"].child.alive()
        assert exits == [-signal.SIGKILL]
        assert supervisor.events[0] == "sleeper exited with -9; restarting in 0s"
        assert supervisor.events[1].startswith("sleeper restarted (pid ")
    finally:
        supervisor.stop()
    assert not first.alive()


def test_a_child_that_keeps_dying_stops_the_supervisor_with_its_log(tmp_path: Path) -> None:
    def crasher() -> Child:
        argv = python_argv("-c", "import sys; print('bad config: no such file'); sys.exit(3)")
        return spawn("crasher", argv, env=dict(os.environ), log_path=tmp_path / "c.log")

    supervisor = Supervisor(backoff_base_s=0.01, backoff_max_s=0.05, max_restarts=3, window_s=60)
    supervisor.add("crasher", crasher)
    try:
        with pytest.raises(CrashLoop) as caught:
            supervisor.run(interval_s=0.05, until=lambda: False)
    finally:
        supervisor.stop()
    assert caught.value.name == "crasher" and caught.value.restarts == 3
    assert "crash loop" in str(caught.value) and "bad config: no such file" in str(caught.value)
    assert sum("exited with 3" in e for e in supervisor.events) == 3
