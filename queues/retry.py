"""Which errors are retried, and how long to wait before each retry."""

from __future__ import annotations

import random

from sqlalchemy.exc import OperationalError

from jobs.errors import TransientError

# Narrow on purpose: anything else fails the job with a reason a person can
# act on. OperationalError covers a database that is briefly away or locked.
RETRYABLE: tuple[type[BaseException], ...] = (TransientError, OperationalError, ConnectionError, TimeoutError)


def backoff(retries: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^n)],
    but never under half of it, so retries spread out without bunching at 0."""
    ceiling = min(cap, base * (2**retries))
    return (rng or random).uniform(ceiling / 2, ceiling)
