"""Users and API tokens.

A token is shown once when created and stored only as its sha256. Tokens are
256 random bits, so a slow password hash would add nothing but latency.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.errors import DigilaboError
from jobs.models import ApiToken, User, utcnow
from jobs.store import Viewer, ensure_department

ROLES = ("department", "operator", "admin")
TOKEN_PREFIX = "dl_"  # noqa: S105 - a prefix, not a secret


class AuthError(DigilaboError):
    code = "unauthorized"
    http_status = 401


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_user(
    name: str, *, session: Session, department_code: str, role: str = "department", display_name: str = ""
) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    ensure_department(department_code, session=session)
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        user = User(name=name, display_name=display_name or name, department_code=department_code, role=role)
        session.add(user)
        session.flush()
    else:
        user.department_code, user.role = department_code, role
    return user


def create_token(user: User, *, session: Session, label: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), label=label))
    session.flush()
    return token


def viewer_for_token(token: str, *, session: Session) -> Viewer:
    if not token or len(token) > 200:
        raise AuthError(None, "認証トークンが正しくありません。")
    digest = hash_token(token)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # compare_digest keeps the final check constant-time even though the
    # index lookup is not; the digest is not secret-derived in a useful way.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        raise AuthError(None, "認証トークンが正しくないか、無効になっています。")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise AuthError(None, "この利用者は無効になっています。")
    row.last_used_at = utcnow()
    return Viewer(user_id=user.id, name=user.name, department_code=user.department_code, role=user.role)


def revoke_token(token: str, *, session: Session) -> bool:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        return False
    row.revoked_at = utcnow()
    return True
