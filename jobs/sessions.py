"""Portal sessions kept in the database, so that they can be ended.

The browser holds only a random session id (inside the signed cookie); the
database holds its SHA-256, the user and when it expires. Logging out, a
password change and disabling a user delete every row of that user, so a
cookie copied before that opens nothing afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jobs.models import Base, utcnow


class PortalSession(Base):
    __tablename__ = "portal_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(user_id: str, lifetime_s: float, *, session: Session) -> str:
    """A new session for the user; returns the id the cookie carries."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    # The user's own expired rows go now: rows stay few without a sweep.
    session.execute(
        delete(PortalSession).where(PortalSession.user_id == user_id, PortalSession.expires_at <= now)
    )
    session.add(
        PortalSession(
            id_hash=_hash(session_id),
            user_id=user_id,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime_s),
        )
    )
    return session_id


def user_of(session_id: str, *, session: Session) -> str | None:
    """The user of a live session, or None (unknown, ended or expired)."""
    if not session_id:
        return None
    row = session.get(PortalSession, _hash(session_id))
    if row is None or row.expires_at <= utcnow():
        return None
    return row.user_id


def end_all(user_id: str, *, session: Session) -> int:
    """End every session of the user (logout, password change, disable)."""
    result = session.execute(delete(PortalSession).where(PortalSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(*, session: Session) -> int:
    result = session.execute(delete(PortalSession).where(PortalSession.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def count_for(user_id: str, *, session: Session) -> int:
    return len(session.scalars(select(PortalSession.id_hash).where(PortalSession.user_id == user_id)).all())
