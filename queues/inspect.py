"""Asking the running workers: which pools have workers online."""

from __future__ import annotations

import logging

from celery import Celery

log = logging.getLogger(__name__)


def workers_online(app: Celery, timeout: float = 1.0) -> dict[str, int] | None:
    """Worker nodes answering a ping, by pool (node names are ``pool@host``);
    None when the broker cannot be asked."""
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:
        log.warning("worker ping failed: %s", exc)
        return None
    pools: dict[str, int] = {}
    for reply in replies:
        for hostname in reply:
            pool = hostname.split("@", 1)[0]
            pools[pool] = pools.get(pool, 0) + 1
    return pools
