"""Users, passwords and API tokens.

A token is shown once when created and stored only as its sha256. Tokens are
256 random bits, so a slow password hash would add nothing but latency.
Passwords (the web portal's login) are people's choices, so they are hashed
with Argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jobs.errors import DigilaboError
from jobs.models import ApiToken, User, utcnow
from jobs.store import Viewer, ensure_department

ROLES = ("department", "operator", "admin")
TOKEN_PREFIX = "dl_"  # noqa: S105 - a prefix, not a secret
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the user name is unknown, so that a wrong name
    and a wrong password take the same time."""
    return _hasher.hash("digilabo-no-such-user")


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


# Recording a token's last use is a write; on every request it made each
# read-only call queue for SQLite's write lock. To the minute is enough.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenCheck:
    viewer: Viewer
    token_id: str
    last_used_at: datetime | None

    def needs_touch(self, now: datetime) -> bool:
        return self.last_used_at is None or now - self.last_used_at >= TOUCH_EVERY


def check_token(token: str, *, session: Session) -> TokenCheck:
    """The token's viewer; reads only, so it can run in a read-only transaction."""
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
    viewer = Viewer(user_id=user.id, name=user.name, department_code=user.department_code, role=user.role)
    return TokenCheck(viewer, row.id, row.last_used_at)


def touch_token(token_id: str, *, session: Session, now: datetime | None = None) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now or utcnow()))


def revoke_token(token: str, *, session: Session) -> bool:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        return False
    row.revoked_at = utcnow()
    return True


# --- passwords (web portal) ---------------------------------------------------------


class WeakPassword(DigilaboError):
    code = "weak_password"
    http_status = 422


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(None, f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(None, f"パスワードは{MAX_PASSWORD_LENGTH}文字以内にしてください。")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for no hash, a wrong password or
    a damaged hash (never raises)."""
    if not password_hash or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)


def create_user(
    name: str,
    *,
    session: Session,
    department_code: str,
    password: str | None,
    role: str = "department",
    display_name: str = "",
) -> User:
    """Create a user, or update an existing one's department, role and (when
    given) password. Without a password the user can use API tokens only."""
    name = name.strip()
    if not name or len(name) > 100:
        raise DigilaboError("invalid_user_name", "利用者名は1〜100文字で指定してください。")
    if password is not None:
        check_password_rules(password)
    user = ensure_user(
        name, session=session, department_code=department_code, role=role, display_name=display_name
    )
    if display_name:
        user.display_name = display_name
    if password is not None:
        set_password(user, password)
    return user


def authenticate(name: str, password: str, *, session: Session) -> User:
    """The active user with this name and password; AuthError otherwise (one
    message for every failure, so names cannot be probed)."""
    user = session.scalar(select(User).where(User.name == name.strip())) if name.strip() else None
    if user is None or not user.password_hash:
        verify_password(_dummy_hash(), password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok or user is None or not user.active:
        raise AuthError(None, "利用者名またはパスワードが正しくありません。")
    assert user.password_hash is not None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def viewer_for_user(user: User) -> Viewer:
    return Viewer(user_id=user.id, name=user.name, department_code=user.department_code, role=user.role)
