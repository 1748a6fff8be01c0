"""Portal plumbing: the template environment, the route class that turns
errors into Japanese pages, who is logged in, CSRF checks and the menu."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from intake_api.deps import RuntimeDep
from intake_api.errors import validation_message
from intake_api.portal import kinds
from intake_api.portal import session as cookie
from intake_api.portal.labels import wareki_time, wareki_value
from jobs.db import read_only
from jobs.errors import DigilaboError, Forbidden
from jobs.models import Department, User
from jobs.store import Viewer
from services import accounts

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
ROLE_LABELS = {"department": "部署担当", "operator": "運用担当", "admin": "管理者"}
# One-line confirmations after a redirect (``?done=<key>``), shown by base.html.
FLASH = {
    "retried": "再実行を受け付けました。順番が来ると処理が始まります。",
    "cancelled": "ジョブを取り消しました。",
    "logout": "ログアウトしました。",
}
# Failures a department may simply send again: the service's fault, not the
# file's. Any other failure is fixed by a new request (the page says how);
# operators may retry every failure.
RETRYABLE_BY_DEPARTMENT = frozenset({"queue_unavailable", "time_limit", "worker_lost", "transient"})

# Content Security Policy: our own CSS and JS only, nothing inline, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class LoginRequired(Exception):
    """No (valid) session: send the browser to the login page."""


# --- menu -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    roles: tuple[str, ...]


# The whole menu, in order (one list: no page module adds to it).
NAV: tuple[NavItem, ...] = (
    NavItem("/portal/jobs/new", "新しい依頼", ("department", "operator", "admin")),
    NavItem("/portal/jobs", "部署のジョブ", ("department", "operator", "admin")),
    NavItem("/portal/ops/queues", "キュー状況", ("operator", "admin")),
    NavItem("/portal/ops/jobs", "全ジョブ", ("operator", "admin")),
    NavItem("/portal/ops/failed", "失敗ジョブ", ("operator", "admin")),
    NavItem("/portal/ops/review", "OCR確認", ("operator", "admin")),
    NavItem("/portal/scripts", "入力スクリプト", ("operator", "admin")),
    NavItem("/portal/templates", "帳票定義", ("operator", "admin")),
    NavItem("/portal/ops/glossary", "用語集", ("operator", "admin")),
    NavItem("/portal/savings", "削減時間", ("department", "operator", "admin")),
    NavItem("/portal/admin/departments", "部署管理", ("admin",)),
    NavItem("/portal/admin/users", "利用者管理", ("admin",)),
    NavItem("/portal/admin/tokens", "APIトークン", ("admin",)),
)


# --- who is logged in -----------------------------------------------------------------------


@dataclass(frozen=True)
class PortalUser:
    viewer: Viewer
    display_name: str
    department_name: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.viewer.role, self.viewer.role)


def portal_user(request: Request, runtime: RuntimeDep) -> PortalUser:
    data = cookie.load(request)
    user_id = data.get("uid")
    if not user_id:
        raise LoginRequired
    with read_only(runtime.factory) as session:  # on every page and poll: never wait for writers
        user = session.get(User, user_id)
        if (
            user is None
            or accounts.session_user(session, str(data.get("sid") or "")) != user.id
            or not user.active
            or not user.password_hash
            or cookie.password_fingerprint(user.password_hash) != data.get("pw")
        ):
            cookie.log_out(request)
            raise LoginRequired
        dept = session.get(Department, user.department_code)
        found = PortalUser(
            viewer=Viewer(
                user_id=user.id, name=user.name, department_code=user.department_code, role=user.role
            ),
            display_name=user.display_name or user.name,
            department_name=dept.name if dept else user.department_code,
        )
    request.state.portal_user = found
    return found


CurrentUser = Annotated[PortalUser, Depends(portal_user)]


def operator_user(user: CurrentUser) -> PortalUser:
    if not user.viewer.sees_all:
        raise Forbidden(None, "このページは運用担当者のみ利用できます。")
    return user


def admin_user(user: CurrentUser) -> PortalUser:
    if user.viewer.role != "admin":
        raise Forbidden(None, "このページは管理者のみ利用できます。")
    return user


OperatorUser = Annotated[PortalUser, Depends(operator_user)]
AdminUser = Annotated[PortalUser, Depends(admin_user)]


def check_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    if not cookie.csrf_ok(request, csrf_token):
        raise DigilaboError(
            "csrf_failed",
            "画面の有効期限が切れたか、不正な送信です。ページを読み込み直してから、もう一度操作してください。",
        )


CsrfChecked = Depends(check_csrf)


# --- templates ------------------------------------------------------------------------------


@cache
def templates() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), kinds.LOADER]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["hours"] = hours
    env.filters["duration"] = duration
    env.filters["filesize"] = filesize
    env.filters["percent"] = lambda v: f"{float(v or 0) * 100:.0f}%"
    env.filters["wareki"] = wareki_value
    env.globals["ROLE_LABELS"] = ROLE_LABELS
    env.globals["RETRYABLE_BY_DEPARTMENT"] = RETRYABLE_BY_DEPARTMENT
    return env


def hours(seconds: float | None) -> str:
    return f"{float(seconds or 0) / 3600:,.1f} 時間"


def duration(seconds: float | None) -> str:
    """A job's saving in words: 「1時間5分」, 「12分30秒」."""
    total = round(float(seconds or 0))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}時間{m}分"
    if m:
        return f"{m}分{s}秒" if s else f"{m}分"
    return f"{s}秒"


def filesize(size: int | None) -> str:
    value = float(size or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"


def local_time(request: Request) -> Callable[[datetime | None], str]:
    tz = ZoneInfo(request.app.state.runtime.settings.timezone)

    def fmt(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y/%m/%d %H:%M") if value else "—"

    return fmt


def department_namer(request: Request) -> Callable[[str], str]:
    """Code → the department's Japanese name (read once per page, on first use)."""
    names: dict[str, str] = {}

    def name(code: str) -> str:
        if not names:
            with read_only(request.app.state.runtime.factory) as session:
                names.update(accounts.department_names(session))
            names.setdefault("", "")
        return names.get(code) or code

    return name


def wareki_local(request: Request) -> Callable[[datetime | None], str]:
    tz = request.app.state.runtime.settings.timezone
    return lambda value: wareki_time(value, tz)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    user: PortalUser | None = getattr(request.state, "portal_user", None)
    role = user.viewer.role if user else ""
    values = {
        "request": request,
        "user": user,
        "nav": [n for n in NAV if role in n.roles],
        "path": request.url.path,
        "csrf_token": cookie.csrf_token(request),
        "local": local_time(request),
        "local_ja": wareki_local(request),
        "dept_name": department_namer(request),
        "flash": FLASH.get(request.query_params.get("done", ""), ""),
        **(context or {}),
    }
    return HTMLResponse(templates().get_template(name).render(values), status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str | None:
    """Only our own portal pages are valid targets after login."""
    if target and target.startswith("/portal/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


# --- the route class ------------------------------------------------------------------------


_STATUS_TITLES = {403: "権限がありません", 404: "見つかりません", 409: "操作できません", 413: "大きすぎます"}


class PortalRoute(APIRoute):
    """Renders domain and validation errors as Japanese pages, sends
    anonymous visitors to the login page, writes the session cookie and
    adds the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired:
                target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
                response = redirect(f"/portal/login?next={target}")
            except DigilaboError as exc:
                response = error_page(request, exc.http_status, exc.message, exc.code)
            except RequestValidationError as exc:
                message, _ = validation_message(exc)
                response = error_page(request, 422, message, "invalid_request")
            cookie.save(request, response)
            if response.media_type in (None, "text/html"):
                response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return handler


def error_page(request: Request, status: int, message: str, code: str) -> HTMLResponse:
    status = 413 if code in ("request_too_large", "file_too_large") else status
    title = _STATUS_TITLES.get(status, "エラー")
    return render(request, "error.html", {"title": title, "message": message, "code": code}, status=status)


def measured_seconds(raw: str, opened_at: str, *, now: float) -> float:
    """What the page measured, or without JavaScript the time since it was served."""
    try:
        value = float(raw)
    except ValueError:
        try:
            value = now - float(opened_at)
        except ValueError:
            value = 0.0
    return value if math.isfinite(value) else 0.0
