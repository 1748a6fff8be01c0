"""Keeps the embedded stack's children running (``digilabo up``).

A child that exits is logged and started again after a backoff that doubles
with each restart inside the crash-loop window (1 s, 2 s, 4 s … up to
``backoff_max_s``). A child that needs more than ``max_restarts`` restarts
inside ``window_s`` is in a crash loop: the supervisor gives up and raises
``CrashLoop`` with the child's last log lines, and ``up`` stops everything.

Before a child is started again, its whole process group is killed: a worker
whose main process died must not leave pool processes running its jobs.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from digilabo.embedded import Child

log = logging.getLogger(__name__)


class CrashLoop(RuntimeError):
    def __init__(self, name: str, restarts: int, window_s: float, tail: str) -> None:
        self.name, self.restarts, self.window_s, self.tail = name, restarts, window_s, tail
        super().__init__(
            f"{name} exited {restarts + 1} times within {window_s:.0f}s; giving up (crash loop).\n"
            f"Its last log lines:\n{tail}"
        )


@dataclass
class Supervised:
    """One child and how to start it again."""

    name: str
    start: Callable[[], Child]
    child: Child
    # Called with the dead child before the new one starts (e.g. requeue its jobs).
    on_exit: Callable[[Child], None] | None = None
    restarts: deque[float] = field(default_factory=deque)
    due: float | None = None  # when the pending restart is due (monotonic)


class Supervisor:
    def __init__(
        self,
        *,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        max_restarts: int = 5,
        window_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self.max_restarts, self.window_s = max_restarts, window_s
        self.clock = clock
        self.entries: dict[str, Supervised] = {}
        self.events: list[str] = []  # what happened, for tests and the terminal

    def add(
        self, name: str, start: Callable[[], Child], on_exit: Callable[[Child], None] | None = None
    ) -> Child:
        child = start()
        self.entries[name] = Supervised(name, start, child, on_exit)
        return child

    def children(self) -> list[Child]:
        return [e.child for e in self.entries.values()]

    def check(self) -> None:
        """Notice exited children and restart those whose backoff is over;
        raises CrashLoop when a child keeps dying."""
        now = self.clock()
        for entry in self.entries.values():
            if entry.due is None and not entry.child.alive():
                self._schedule(entry, now)
            if entry.due is not None and now >= entry.due:
                self._restart(entry)

    def _schedule(self, entry: Supervised, now: float) -> None:
        code = entry.child.process.returncode
        entry.child.stop(timeout=1)  # the rest of its process group
        while entry.restarts and now - entry.restarts[0] > self.window_s:
            entry.restarts.popleft()
        if len(entry.restarts) >= self.max_restarts:
            raise CrashLoop(entry.name, len(entry.restarts), self.window_s, entry.child.tail())
        if entry.on_exit is not None:
            try:
                entry.on_exit(entry.child)
            except Exception as exc:
                log.warning("%s: clean-up after exit failed: %s", entry.name, exc)
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** len(entry.restarts))
        entry.restarts.append(now)
        entry.due = now + delay
        self._event(f"{entry.name} exited with {code}; restarting in {delay:.0f}s")

    def _restart(self, entry: Supervised) -> None:
        entry.due = None
        try:
            entry.child = entry.start()
        except Exception as exc:
            # Starting failed (a port taken, Redis not answering): counts as a crash.
            self._event(f"{entry.name} could not be started: {exc}")
            entry.due = self.clock() + min(self.backoff_max_s, self.backoff_base_s * 2 ** len(entry.restarts))
            entry.restarts.append(self.clock())
            if len(entry.restarts) > self.max_restarts:
                raise CrashLoop(entry.name, len(entry.restarts), self.window_s, str(exc)) from exc
            return
        self._event(f"{entry.name} restarted (pid {entry.child.process.pid})")

    def _event(self, message: str) -> None:
        log.warning("%s", message)
        self.events.append(message)

    def run(self, *, interval_s: float = 0.5, until: Callable[[], bool] = lambda: False) -> None:
        """Supervise until ``until()`` holds (or KeyboardInterrupt / CrashLoop)."""
        while not until():
            self.check()
            time.sleep(interval_s)

    def stop(self) -> None:
        """Stop every child, the last added first."""
        for entry in reversed(list(self.entries.values())):
            entry.due = None
            entry.child.stop()
        self.entries.clear()
