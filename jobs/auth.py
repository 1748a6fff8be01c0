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

from jobs import store
from jobs.errors import DigilaboError, NotFound
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


def create_token(user: User, *, session: Session, label: str = "", expires_at: datetime | None = None) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), label=label, expires_at=expires_at))
    session.flush()
    return token


_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_lifetime(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``2w`` as a timedelta (ValueError otherwise)."""
    number, unit = text.strip()[:-1], text.strip()[-1:].lower()
    if unit not in _UNITS or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"lifetime must look like 90d, 12h, 30m or 2w, not {text!r}")
    return timedelta(seconds=int(number) * _UNITS[unit])


@dataclass(frozen=True)
class TokenInfo:
    id: str
    user_name: str
    department_code: str
    role: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"


def list_tokens(*, session: Session, user_name: str | None = None) -> list[TokenInfo]:
    """Every token (never the token itself: only its id and metadata)."""
    query = select(ApiToken, User).join(User, User.id == ApiToken.user_id)
    if user_name:
        query = query.where(User.name == user_name)
    rows = session.execute(query.order_by(ApiToken.created_at, ApiToken.id)).all()
    return [
        TokenInfo(
            t.id,
            u.name,
            u.department_code,
            u.role,
            t.label,
            t.created_at,
            t.last_used_at,
            t.expires_at,
            t.revoked_at,
        )
        for t, u in rows
    ]


def find_token(token_id: str, *, session: Session) -> ApiToken:
    """A token by its id, or by a unique prefix of at least 8 characters."""
    token_id = token_id.strip()
    row = session.get(ApiToken, token_id)
    if row is None and len(token_id) >= 8:
        matches = session.scalars(
            select(ApiToken).where(ApiToken.id.startswith(token_id, autoescape=True))
        ).all()
        row = matches[0] if len(matches) == 1 else None
    if row is None:
        raise NotFound("トークン")
    return row


def revoke_token_id(token_id: str, *, session: Session, now: datetime | None = None) -> ApiToken:
    """Revoke a token by id (idempotent: the first revocation time is kept)."""
    row = find_token(token_id, session=session)
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
    return row


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
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise AuthError(None, "認証トークンが正しくないか、無効になっています。")
    if row.revoked_at is not None:
        raise AuthError(
            "token_revoked",
            "この認証トークンは取り消されています。管理者に新しいトークンを依頼してください。",
        )
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise AuthError(
            "token_expired",
            "この認証トークンは有効期限が切れています。管理者に新しいトークンを依頼してください。",
        )
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


# --- audited actions (the CLI and the admin API share them) --------------------------

CLI = Viewer(user_id=None, name="cli", department_code="", role="admin")


def issue_token(
    user_name: str,
    *,
    session: Session,
    actor: Viewer,
    department_code: str,
    role: str = "department",
    label: str = "",
    lifetime: timedelta | None = None,
) -> tuple[str, TokenInfo]:
    """Create the user if needed and a new token for it; audited (never the
    token itself). Returns the token, shown once, and its metadata."""
    user = ensure_user(user_name, session=session, department_code=department_code, role=role)
    expires_at = utcnow() + lifetime if lifetime else None
    token = create_token(user, session=session, label=label, expires_at=expires_at)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    assert row is not None
    store.audit(
        "token_create",
        session=session,
        viewer=actor,
        token_id=row.id,
        user=user.name,
        role=role,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    info = TokenInfo(
        row.id, user.name, user.department_code, user.role, label, row.created_at, None, expires_at, None
    )
    return token, info


def revoke(token_id: str, *, session: Session, actor: Viewer) -> ApiToken:
    row = revoke_token_id(token_id, session=session)
    store.audit("token_revoke", session=session, viewer=actor, token_id=row.id)
    return row
