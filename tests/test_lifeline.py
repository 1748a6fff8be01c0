"""Children of ``digilabo up`` die with it (``digilabo.lifeline``), and its
stop is bounded (``digilabo.shutdown``): real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from digilabo.embedded import python_argv, spawn, wait_for
from digilabo.shutdown import stop_all
from tests.conftest import REPO

# A child whose graceful stop hangs: it ignores SIGTERM (as a worker's warm
# shutdown waits on a long task).
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # ended; its new parent has not reaped it yet


def parent_of(child_code: str, tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    """A process that starts one child with ``spawn`` (as ``up`` does) and
    then waits; returns it and its child's pid."""
    code = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from digilabo.embedded import spawn, python_argv\n"
        f"c = spawn('child', python_argv('-c', {child_code!r}), env=dict(os.environ), log_path=Path({str(tmp_path / 'child.log')!r}))\n"
        "print(c.process.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def test_a_child_gets_sigterm_when_its_parent_is_killed(tmp_path: Path) -> None:
    parent, child = parent_of("import time; time.sleep(120)", tmp_path)
    try:
        assert not gone(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        wait_for(lambda: gone(child), 5, "the child to die with its parent", 0.05)
    finally:
        parent.kill()
        parent.wait()
        if not gone(child):
            os.kill(child, signal.SIGKILL)


def test_an_orphan_whose_graceful_stop_hangs_kills_its_group(tmp_path: Path) -> None:
    """The parent-death SIGTERM is ignored here; ``watch_parent`` still ends
    the child (and a grandchild in its group) ``grace_s`` after the parent."""
    code = (
        "import signal, subprocess, sys, time\n"
        "from digilabo.lifeline import watch_parent\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "open(sys.argv[1], 'w').write(str(g.pid))\n"
        "watch_parent(grace_s=0.5, interval_s=0.05)\n"
        "time.sleep(120)\n"
    )
    grandchild_file = tmp_path / "grandchild"
    script = tmp_path / "orphan.py"
    script.write_text(code)
    parent, child = parent_of(
        f"import runpy, sys; sys.argv = ['orphan', {str(grandchild_file)!r}]; runpy.run_path({str(script)!r})",
        tmp_path,
    )
    try:
        wait_for(grandchild_file.exists, 30, "the grandchild")
        wait_for(lambda: grandchild_file.read_text().isdigit(), 5, "its pid")
        grandchild = int(grandchild_file.read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        killed = time.monotonic()
        wait_for(lambda: gone(child) and gone(grandchild), 10, "the orphan and its group to end", 0.05)
        took = time.monotonic() - killed
    finally:
        parent.kill()
        parent.wait()
    # Not before the grace: its graceful stop had that long.
    assert 0.4 <= took <= 5, took
    assert "is gone; stopping within" in (tmp_path / "child.log").read_text()


def test_the_stop_is_bounded_and_names_the_slow_child(tmp_path: Path) -> None:
    quick = spawn(
        "quick",
        python_argv("-c", "import time; time.sleep(120)"),
        env=dict(os.environ),
        log_path=tmp_path / "q.log",
    )
    stubborn = spawn(
        "stubborn", python_argv("-c", STUBBORN), env=dict(os.environ), log_path=tmp_path / "s.log"
    )
    wait_for(lambda: "ready" in (tmp_path / "s.log").read_text(), 30, "the stubborn child")
    lines: list[str] = []
    started = time.monotonic()
    slow = stop_all([quick, stubborn], warm_s=0.5, term_s=0.5, report=lines.append)
    took = time.monotonic() - started
    assert not quick.alive() and not stubborn.alive()
    assert quick.process.returncode == -signal.SIGTERM
    assert stubborn.process.returncode == -signal.SIGKILL
    assert slow == [
        f"stubborn (pid {stubborn.process.pid}) did not stop within 0s; sent TERM",
        f"stubborn (pid {stubborn.process.pid}) did not stop within 1s; killed",
    ]
    assert lines[0].endswith("to all its processes") and len(lines) == 2
    assert took < 3, took


def test_redis_is_stopped_after_the_others(tmp_path: Path) -> None:
    """Workers still need Redis to give back their task while they stop:
    each child notes when its SIGTERM came (the machine's monotonic clock)."""
    code = (
        "import signal, sys, time\n"
        "def stop(*_):\n"
        "    open(sys.argv[1], 'w').write(repr(time.monotonic()))\n"
        "    time.sleep(1.0)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "open(sys.argv[1] + '.ready', 'w').close()\n"
        "time.sleep(120)\n"
    )
    children = [
        spawn(name, python_argv("-c", code, str(tmp_path / name)), env=dict(os.environ), log_path=None)
        for name in ("redis", "worker-cpu", "api")
    ]
    for name in ("redis", "worker-cpu", "api"):
        wait_for((tmp_path / f"{name}.ready").exists, 30, name)
    assert stop_all(children) == []
    stamps = {name: float((tmp_path / name).read_text()) for name in ("redis", "worker-cpu", "api")}
    # The others together, then Redis once they have ended.
    assert abs(stamps["worker-cpu"] - stamps["api"]) < 0.8, stamps
    assert stamps["redis"] >= max(stamps["worker-cpu"], stamps["api"]) + 1.0, stamps
