"""One ``digilabo up`` per state folder (``DIGILABO_VAR_DIR``).

``up`` holds an exclusive ``flock`` on ``var/up.lock`` for its whole life; the
kernel drops it however ``up`` ends, so a lock that can be taken means no
``up`` runs here. A second ``up`` that cannot take it refuses at once, naming
the first one's PID and API address from ``var/up.json``, and touches
nothing. ``var/up.json`` (0600) records ``up``'s children: pid, command line
and start time as ``/proc`` shows them, and each worker's Celery node name.
A new ``up`` that finds a record of children still running (its predecessor
was killed and they outlived it) stops them before starting its own: only
processes whose command line and start time still match, so a reused pid is
never touched. The jobs the previous workers were running are requeued
once the new stack is up (``Stack.requeue_jobs_of_nodes``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from digilabo.embedded import Child

log = logging.getLogger(__name__)

LOCK_NAME = "up.lock"
RECORD_NAME = "up.json"
# A leftover gets TERM (its graceful stop), then KILL after this long.
LEFTOVER_TERM_S = 10.0


class AlreadyRunning(RuntimeError):
    def __init__(self, var_dir: Path, pid: int | None, api_url: str) -> None:
        self.pid, self.api_url = pid, api_url
        who = f"PID {pid}" if pid else "PID unknown"
        where = f"API {api_url}" if api_url else "API still starting"
        super().__init__(
            f"digilabo up is already running for {var_dir} ({who}, {where}); nothing was changed. "
            f"Use that one, stop it first (Ctrl-C in its terminal, or kill -TERM {pid or '<pid>'}), "
            "or give this one another DIGILABO_VAR_DIR."
        )


@dataclass(frozen=True)
class Process:
    """A child as ``/proc`` showed it when recorded."""

    name: str
    pid: int
    cmdline: str
    started: int  # clock ticks after boot (/proc/<pid>/stat field 22)
    node: str = ""  # a worker's Celery node name (its running jobs are requeued)

    def running(self) -> bool:
        """Still this very process (not a new one that got its pid)."""
        return identity(self.pid) == (self.cmdline, self.started)


def identity(pid: int) -> tuple[str, int] | None:
    """(command line, start time) of a live process; None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z" or not cmdline:
        return None
    # Joined with spaces: redis-server rewrites its title into one string.
    return cmdline.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace"), int(fields[19])


class Instance:
    """The lock and the record of one state folder."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir.resolve()
        self.lock_path = self.var_dir / LOCK_NAME
        self.record_path = self.var_dir / RECORD_NAME
        self._lock: IO[str] | None = None
        self._recorded: tuple[tuple[str, int], ...] = ()

    def acquire(self) -> dict[str, Any] | None:
        """Take the lock (or raise AlreadyRunning); returns the previous
        ``up``'s record, if any, and records this one as starting."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        lock = os.fdopen(fd, "r+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            current = self.read() or {}
            raise AlreadyRunning(self.var_dir, current.get("pid"), current.get("api_url", "")) from None
        self._lock = lock
        previous = self.read()
        self._write({"pid": os.getpid(), "api_url": "", "children": []})
        return previous

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def record(self, api_url: str, children: Sequence[Child], node: Callable[[Child], str]) -> None:
        """Write the record when the set of children changed (a restart)."""
        key = tuple((c.name, c.process.pid) for c in children)
        if key == self._recorded:
            return
        processes = []
        for child in children:
            found = identity(child.process.pid)
            if found is not None:
                processes.append(asdict(Process(child.name, child.process.pid, *found, node=node(child))))
        self._write({"pid": os.getpid(), "api_url": api_url, "children": processes})
        self._recorded = key

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.record_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=1)
        tmp.replace(self.record_path)

    def release(self) -> None:
        """Give the lock up; the record stays (the next ``up`` requeues the
        jobs its workers may have left running)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def recorded(record: dict[str, Any] | None) -> list[Process]:
    fields = set(Process.__dataclass_fields__)
    return [
        Process(**{k: v for k, v in item.items() if k in fields})
        for item in (record or {}).get("children", [])
        if isinstance(item, dict) and {"name", "pid", "cmdline", "started"} <= item.keys()
    ]


def stop_leftovers(
    processes: Sequence[Process], *, term_s: float = LEFTOVER_TERM_S, report: Callable[[str], None]
) -> list[Process]:
    """Stop the recorded children that still run (TERM, then KILL after
    ``term_s``), each with its process group; returns those it stopped."""
    left = [p for p in processes if p.running()]
    for process in left:
        report(f"stopping {process.name} (pid {process.pid}), left running by a previous digilabo up")
        _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + term_s
    while any(p.running() for p in left) and time.monotonic() < deadline:
        time.sleep(0.1)
    for process in left:
        if process.running():
            report(f"{process.name} (pid {process.pid}) did not stop within {term_s:.0f}s; killing it")
        _signal(process, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(p.running() for p in left) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _signal(process: Process, sig: int) -> None:
    """The process and, when it leads one (each child does), its group."""
    with suppress(ProcessLookupError, PermissionError):
        if process.running() and os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, sig)
        elif process.running():
            os.kill(process.pid, sig)
