"""The portal's session: a signed, timestamped, HTTP-only cookie.

The cookie holds the user id, the id of the session's row in the database
(``jobs.sessions``: logout, a password change and disabling the user delete
those rows, so a copied cookie stops working at once), a fingerprint of the
user's password hash and the CSRF token that every form carries. Nothing
else; the user is read from the database on each request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from config.settings import Settings

COOKIE = "digilabo_session"
MAX_AGE_S = 12 * 3600
KEY_FILE = "portal-session.key"
CSRF_FIELD = "csrf_token"


def _key_from_file(path: Path) -> str:
    """Create the key once (0600, atomically: a link that fails if another
    process won the race), then read it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def secret_key(settings: Settings) -> str:
    """``DIGILABO_SESSION_SECRET`` when set (several API hosts must share
    it), else a key kept in the var folder."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    return _key_from_file(Path(settings.var_dir).resolve() / KEY_FILE)


def codec(request: Request) -> URLSafeTimedSerializer:
    state = request.app.state
    found: URLSafeTimedSerializer | None = getattr(state, "portal_codec", None)
    if found is None:
        found = URLSafeTimedSerializer(secret_key(state.runtime.settings), salt="digilabo-portal-session")
        state.portal_codec = found
    return found


def load(request: Request) -> dict[str, Any]:
    """The request's session (cached on the request); empty if absent,
    tampered with or expired."""
    cached: dict[str, Any] | None = getattr(request.state, "portal_session", None)
    if cached is not None:
        return cached
    data: dict[str, Any] = {}
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            loaded = codec(request).loads(raw, max_age=MAX_AGE_S)
            data = loaded if isinstance(loaded, dict) else {}
        except BadSignature:
            data = {}
    request.state.portal_session = data
    request.state.portal_session_dirty = False
    return data


def replace(request: Request, data: dict[str, Any]) -> None:
    request.state.portal_session = data
    request.state.portal_session_dirty = True


def csrf_token(request: Request) -> str:
    data = load(request)
    if not data.get("csrf"):
        replace(request, {**data, "csrf": secrets.token_urlsafe(32)})
        data = load(request)
    return str(data["csrf"])


def csrf_ok(request: Request, submitted: str) -> bool:
    expected = str(load(request).get("csrf") or "")
    return bool(expected) and hmac.compare_digest(expected.encode(), (submitted or "").encode())


def password_fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def log_in(request: Request, user_id: str, password_hash: str | None, session_id: str) -> None:
    """A fresh session (new CSRF token) for the user: never reuse the
    anonymous one (session fixation). ``session_id`` names the server-side
    row (``jobs.sessions.start``)."""
    replace(
        request,
        {
            "uid": user_id,
            "sid": session_id,
            "pw": password_fingerprint(password_hash),
            "csrf": secrets.token_urlsafe(32),
        },
    )


def log_out(request: Request) -> None:
    replace(request, {})


def save(request: Request, response: Response) -> None:
    """Write the cookie if the session changed during the request."""
    if not getattr(request.state, "portal_session_dirty", False):
        return
    data = request.state.portal_session
    secure = request.url.scheme == "https"
    if not data:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
        return
    response.set_cookie(
        COOKIE,
        codec(request).dumps(data),
        max_age=MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
