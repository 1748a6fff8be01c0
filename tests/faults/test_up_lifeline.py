"""``digilabo up`` never leaves orphans: a second ``up`` in the same folder
refuses at once and changes nothing; ``up`` SIGKILLed under load takes every
child (and their pool processes) with it within 5 s, and ``up`` started
again in the same folder finishes every job exactly once with one beat and
one worker per pool. The measured times are printed for docs/operations.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import QUEUES
from digilabo.embedded import free_port, wait_for
from tests.faults.test_up_heals import DIGILABO, Up, start_up

pytestmark = pytest.mark.faults


def stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (state, ppid, pgrp, session, …)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def processes() -> dict[int, list[str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat(int(entry.name))) and fields[0] != "Z":
            found[int(entry.name)] = fields
    return found


def tree(up: int) -> dict[tuple[int, str], str]:
    """Every process started under ``up`` — its children and everything in
    their sessions (each child leads one) — by (pid, start time): command line."""
    table = processes()
    sessions = {pid for pid, fields in table.items() if int(fields[1]) == up}
    return {(pid, fields[18]): cmdline(pid) for pid, fields in table.items() if int(fields[3]) in sessions}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def still_running(procs: dict[tuple[int, str], str]) -> set[tuple[int, str]]:
    """Those of ``procs`` still running (the same pid and start time, not a zombie)."""
    return {
        (pid, started)
        for pid, started in procs
        if (fields := stat(pid)) and fields[0] != "Z" and fields[18] == started
    }


def using(var: Path) -> list[int]:
    """Every process on this machine whose environment names this state folder."""
    wanted = f"DIGILABO_VAR_DIR={var}".encode()
    found = []
    for pid in processes():
        try:
            if wanted in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(pid)
        except OSError:
            continue
    return found


def api_recorded(record: Path) -> bool:
    """Whether up.json lists the API child (the last one up starts), so the record is final.

    A text check for "api" matched the "api_url" key of the first, empty record.
    """
    try:
        children = json.loads(record.read_text())["children"]
    except (OSError, ValueError, KeyError):
        return False  # not written yet, or caught mid-write
    return any(child.get("name") == "api" for child in children)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    stack = start_up(tmp_path_factory.mktemp("up-lifeline"), free_port())
    try:
        yield stack
    finally:
        if stack.process.poll() is None:
            stack.process.kill()
        stack.close()


def test_a_second_up_in_the_same_folder_refuses_at_once(first: Up) -> None:
    port = first.api.base_url.port
    wait_for(lambda: api_recorded(first.var / "up.json"), 30, "up to record its children")
    record = (first.var / "up.json").read_bytes()
    children = tree(first.process.pid)
    started = time.monotonic()
    second = subprocess.run(
        [DIGILABO, "up", "--port", str(port), "--allow-root"],
        env=first.env,
        cwd=first.var.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - started
    message = " ".join((second.stdout + second.stderr).split())
    assert second.returncode == 3, message
    assert f"PID {first.process.pid}" in message and f":{port}" in message, message
    assert "nothing was changed" in message
    # Nothing changed: the same record, the same children, still answering.
    assert (first.var / "up.json").read_bytes() == record
    assert tree(first.process.pid) == children
    assert first.healthy() and first.process.poll() is None
    print(f"\nsecond up refused after {took:.1f}s (mostly the CLI's start; busy shared machine)")


def test_up_killed_under_load_takes_its_children_and_restarts_clean(first: Up) -> None:
    ids = first.submit(4, sleep=2)
    wait_for(lambda: any(first.trace.glob("*.runs")), 60, "the first job to start")
    children = tree(first.process.pid)
    assert len(children) >= 9, children  # Redis, 3 workers (+ pools), beat, exporter, API, 2 stand-ins
    os.kill(first.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    first.process.wait()
    ended_at: dict[tuple[int, str], float] = {}  # when each one ended, for the message

    def all_ended() -> bool:
        left = still_running(children)
        for process in children.keys() - left:
            ended_at.setdefault(process, time.monotonic() - killed)
        return not left

    wait_for(all_ended, 30, "the children of the killed up to end", 0.05)
    gone = time.monotonic() - killed
    assert gone <= 5, f"children outlived up by {gone:.1f}s:\n" + "\n".join(
        f"{at:.1f}s: {key[0]} {children[key][:80]}"
        for key, at in sorted(ended_at.items(), key=lambda i: i[1])
    )

    last = max(ended_at, key=ended_at.__getitem__)

    again = start_up(first.var.parent, first.api.base_url.port)
    try:
        recovered = again.wait_done(ids, 120)
        attempts = again.exactly_once(ids)
        assert all(n in (1, 2) for n in attempts.values()), attempts
        mine = tree(again.process.pid)
        direct = {p: c for (p, _s), c in mine.items() if (f := stat(p)) and int(f[1]) == again.process.pid}
        per_pool = {pool: sum(f"worker --pool {pool} " in c for c in direct.values()) for pool in QUEUES}
        assert per_pool == dict.fromkeys(QUEUES, 1), direct
        assert sum("-m digilabo beat" in c for c in mine.values()) == 1, mine
        # Nothing but the new up's tree uses this state folder.
        strays = set(using(first.var)) - {p for (p, _s) in mine} - {again.process.pid}
        assert not strays, [cmdline(p) for p in strays]
    finally:
        again.process.send_signal(signal.SIGINT)
        stopping = time.monotonic()
        code = again.process.wait(60)
        stopped = time.monotonic() - stopping
        again.close()
    assert code == 0, again.log.read_text()[-3000:]
    print(
        f"\nup SIGKILLed under load: its {len(children)} processes gone after {gone:.1f}s "
        f"(the last: {children[last][:60]}); "
        f"restarted, the 4 jobs done {recovered:.1f}s after it answered, attempts {sorted(attempts.values())}; "
        f"Ctrl-C stopped it in {stopped:.1f}s (busy shared machine)"
    )
