"""How long a dead job keeps what it held, and the heartbeat that tells a
live job from a dead one.

A job holds a concurrency slot on its target and, while it types a record,
that record's claim. Both carry a time the live job renews from a background
thread every ``heartbeat_seconds``; a holder that stopped renewing (killed
worker, killed CLI run) loses its slot after ``slot_ttl`` and its claims
after ``stale_seconds``, and the next run takes them over (a claim through
the look-up, never by typing blindly). The figures come from the settings
(``DIGILABO_RPA_*``) as one typed value in the job options.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)
OPTION = "rpa_timings"


@dataclass(frozen=True)
class Timings:
    heartbeat_seconds: float = 5.0
    slot_ttl: float = 30.0  # a silent holder's slot is free after this
    stale_seconds: float = 30.0  # a silent holder's claims are taken over after this
    slot_wait: float = 90.0  # how long a job waits for a free slot before retrying later

    def __post_init__(self) -> None:
        if self.heartbeat_seconds <= 0 or min(self.slot_ttl, self.stale_seconds) < 2 * self.heartbeat_seconds:
            raise ValueError("slot_ttl and stale_seconds must be at least twice heartbeat_seconds")
        if self.slot_wait < 0:
            raise ValueError("slot_wait must not be negative")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Timings:
        given = options.get(OPTION)
        if isinstance(given, Timings):
            return given
        if isinstance(given, Mapping):
            return cls(**{k: float(v) for k, v in given.items()})
        return cls()

    def as_json(self) -> dict[str, float]:
        return asdict(self)


class Beating(Protocol):
    def heartbeat(self, target: str, holder: str, ttl: float) -> None: ...


@contextmanager
def heartbeat(ledger: Beating, target: str, job_id: str, timings: Timings) -> Iterator[None]:
    """Renew this job's slot and claims in the background while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(timings.heartbeat_seconds):
            try:
                ledger.heartbeat(target, job_id, timings.slot_ttl)
            except Exception:  # a missed beat is retried; the batch must not die of it
                log.warning("job %s: heartbeat failed", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"rpa-heartbeat-{job_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=timings.heartbeat_seconds + 5)
