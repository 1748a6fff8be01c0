"""Children of ``digilabo up`` die with it, however it ends.

Each child is started with the parent-death signal set (Linux
``prctl(PR_SET_PDEATHSIG, SIGTERM)`` between fork and exec): when ``up`` is
SIGKILLed (an OOM killer, a closed terminal session, ``kill -9``) the kernel
sends every child SIGTERM, which is each one's graceful stop (Celery's warm
shutdown, uvicorn's, Redis's). A worker's warm shutdown waits for the task in
hand, which may take minutes or hang on a Redis that died beside it, so a
worker also watches its parent itself (``watch_parent``) and, ``ORPHAN_GRACE_S``
after ``up`` is gone, kills its own process group (or, if Python is already
finalizing, an alarm ends the main process and its pool processes follow by
their own parent-death signal); the task it held is not acknowledged
(``acks_late``) and is run again by the next ``up``.

The signal is tied to the thread that started the child: ``up`` starts and
restarts every child from its main thread, which lives as long as it does.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# Set in each child's environment: the pid of the ``up`` (or ``demo``) that started it.
SUPERVISOR_ENV = "DIGILABO_SUPERVISOR_PID"
# How long an orphaned worker's warm shutdown may take before it kills its group.
ORPHAN_GRACE_S = 1.5
_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    # Resolved once in the parent: the child between fork and exec should
    # only make the call, not load a library.
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen`` that gives the child ``sig``
    when the calling thread's process dies (None where Linux's prctl is missing)."""
    prctl = _prctl
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        # The parent may have died between fork and prctl: then no signal comes.
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return preexec


def watch_parent(*, grace_s: float = ORPHAN_GRACE_S, interval_s: float = 0.25) -> threading.Thread | None:
    """In a child of ``up`` (``SUPERVISOR_ENV`` set): a daemon thread that
    notices ``up`` is gone, gives the graceful stop begun by the parent-death
    signal ``grace_s``, then kills this process's group (its pool processes
    too). Returns None outside ``up``."""
    expected = os.environ.get(SUPERVISOR_ENV, "")
    if not expected.isdigit():
        return None
    supervisor = int(expected)
    # The backstop below: SIGALRM's default action ends the process in the
    # kernel, even while Python is finalizing (daemon threads no longer run
    # then, and a warm shutdown may spend seconds there on a dead Redis).
    signal.signal(signal.SIGALRM, signal.SIG_DFL)

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(interval_s)
        log.warning("digilabo up (pid %d) is gone; stopping within %.0fs", supervisor, grace_s)
        signal.setitimer(signal.ITIMER_REAL, grace_s + 0.2)
        # In case the parent-death signal was lost (a changed user clears it).
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        log.warning("still running %.0fs after up was gone; killing this process group", grace_s)
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="lifeline", daemon=True)
    thread.start()
    return thread
