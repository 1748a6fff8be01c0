"""Portal login throttling, per user name and per client address.

Failed logins are rows in ``login_failures`` (so every API host of a
deployment counts the same failures). When a name or an address has too
many failures inside the window, logins for it are refused, even with the
right password, until its oldest failure leaves the window. A successful
login clears the name's failures (not the address's: one address guessing
many names stays throttled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from jobs.errors import DigilaboError
from jobs.models import LoginFailure, utcnow


@dataclass(frozen=True)
class LoginLimits:
    window_s: float = 900.0
    per_user: int = 5
    per_address: int = 20


class LoginThrottled(DigilaboError):
    code = "login_throttled"
    http_status = 429

    def __init__(self, wait_s: float, scope: str) -> None:
        minutes = max(1, math.ceil(wait_s / 60))
        super().__init__(
            None,
            f"ログインの失敗が続いたため、しばらくログインできません。約{minutes}分後に再度お試しください。",
            retry_after_s=math.ceil(wait_s),
            scope=scope,
        )


def _wait(
    session: Session,
    match: ColumnElement[bool],
    limit: int,
    since: datetime,
    window: timedelta,
    now: datetime,
) -> float | None:
    """Seconds until the failures ``match`` selects allow a try again, or None when they do now."""
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(match, LoginFailure.at >= since)
    ).one()
    if count < limit or oldest is None:
        return None
    if oldest.tzinfo is None:  # SQLite's MIN() returns the raw stored value
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return max(1.0, (oldest + window - now).total_seconds())


def check_login(
    name: str, address: str, *, session: Session, limits: LoginLimits, now: datetime | None = None
) -> None:
    """Raise LoginThrottled when the name or the address failed too often."""
    now = now or utcnow()
    window = timedelta(seconds=limits.window_s)
    since = now - window
    checks: list[tuple[str, ColumnElement[bool], int]] = [
        ("user", LoginFailure.user_name == name.strip()[:100], limits.per_user),
        ("address", LoginFailure.address == address[:64], limits.per_address),
    ]
    for scope, match, limit in checks:
        wait = _wait(session, match, limit, since, window, now)
        if wait is not None:
            raise LoginThrottled(wait, scope)


def record_failure(name: str, address: str, *, session: Session, now: datetime | None = None) -> None:
    session.add(LoginFailure(at=now or utcnow(), user_name=name.strip()[:100], address=address[:64]))


def clear_user(name: str, *, session: Session) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.user_name == name.strip()[:100]))


def prune(*, session: Session, older_than_s: float, now: datetime | None = None) -> int:
    """Forget failures older than ``older_than_s`` (housekeeping)."""
    cutoff = (now or utcnow()) - timedelta(seconds=older_than_s)
    result = session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
