"""A bounded stop of the embedded stack's children (Ctrl-C or SIGTERM to
``digilabo up``, the end of ``digilabo demo``).

All children are stopped together, in three steps, so the whole stop takes
at most ``WARM_S + TERM_S`` plus a moment, then ``REDIS_S`` for Redis:

1. SIGTERM to each child's main process: Celery's warm shutdown (a worker
   takes no new task and finishes the one in hand), uvicorn's graceful stop;
2. after ``WARM_S``: SIGTERM to every process of the slow child's group (a
   worker's pool processes: the task in hand is given back to the queue,
   ``acks_late``);
3. after ``TERM_S`` more: SIGKILL to the group.

Redis stops last, once no worker needs it to acknowledge or requeue a task.
Each slow child is named with the step it needed.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Sequence

from digilabo.embedded import Child

log = logging.getLogger(__name__)

WARM_S = 10.0
TERM_S = 5.0
REDIS_S = 5.0
LAST = ("redis",)  # stopped after the others


def stop_all(
    children: Sequence[Child],
    *,
    warm_s: float = WARM_S,
    term_s: float = TERM_S,
    redis_s: float = REDIS_S,
    report: Callable[[str], None] = log.warning,
) -> list[str]:
    """Stop ``children`` (Redis last); returns what was slow, one line each."""
    slow = stop_together([c for c in children if c.name not in LAST], warm_s, term_s, report)
    slow += stop_together([c for c in children if c.name in LAST], redis_s, term_s, report)
    return slow


def stop_together(
    children: Sequence[Child], warm_s: float, term_s: float, report: Callable[[str], None]
) -> list[str]:
    slow: list[str] = []
    for child in children:
        child.signal(signal.SIGTERM)
    lagging = _wait(children, warm_s)
    for child in lagging:
        slow.append(f"{child.name} (pid {child.process.pid}) did not stop within {warm_s:.0f}s; sent TERM")
        report(f"{slow[-1]} to all its processes")
        child.signal(signal.SIGTERM, group=True)
    for child in _wait(lagging, term_s):
        slow.append(
            f"{child.name} (pid {child.process.pid}) did not stop within {warm_s + term_s:.0f}s; killed"
        )
        report(slow[-1])
    for child in children:
        child.finish()
    return slow


def _wait(children: Sequence[Child], seconds: float) -> list[Child]:
    """The children still running after ``seconds`` (returns as soon as none is)."""
    deadline = time.monotonic() + seconds
    running = [c for c in children if c.alive()]
    while running and time.monotonic() < deadline:
        time.sleep(0.05)
        running = [c for c in running if c.alive()]
    return running
