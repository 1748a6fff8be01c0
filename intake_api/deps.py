"""Request dependencies: the runtime, a session per request, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from composition.runtime import Runtime
from jobs.auth import AuthError, check_token, touch_token
from jobs.db import read_only, unit_of_work
from jobs.errors import Forbidden
from jobs.models import utcnow
from jobs.store import Viewer


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One transaction per request, committed once when the route returns
    (scope="function": before the response is sent, so a slow download never
    holds the database)."""
    with unit_of_work(runtime.factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_viewer(request: Request, runtime: RuntimeDep) -> Viewer:
    """The caller, from a short read-only transaction of its own: routes that
    open their own transactions (submit, retry) must not find one held here,
    and a request must not queue for the write lock just to be let in."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(None, "認証が必要です。Authorization: Bearer <トークン> を付けてください。")
    with read_only(runtime.factory) as session:
        checked = check_token(token.strip(), session=session)
    now = utcnow()
    if checked.needs_touch(now):
        with unit_of_work(runtime.factory) as session:
            touch_token(checked.token_id, session=session, now=now)
    request.state.viewer = checked.viewer
    return checked.viewer


CurrentViewer = Annotated[Viewer, Depends(get_viewer)]


def require_operator(viewer: CurrentViewer) -> Viewer:
    if not viewer.sees_all:
        raise Forbidden(None, "この操作は運用担当者のみ行えます。")
    return viewer


OperatorViewer = Annotated[Viewer, Depends(require_operator)]


def require_admin(viewer: CurrentViewer) -> Viewer:
    if viewer.role != "admin":
        raise Forbidden(None, "この操作は管理者のみ行えます。")
    return viewer


AdminViewer = Annotated[Viewer, Depends(require_admin)]
