"""Login, logout and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from intake_api.deps import RuntimeDep
from intake_api.portal import session as cookie
from intake_api.portal.web import CsrfChecked, CurrentUser, PortalRoute, redirect, render, safe_next
from jobs import auth, throttle
from jobs.db import unit_of_work
from jobs.store import Viewer
from services import accounts

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
root = APIRouter(route_class=PortalRoute, include_in_schema=False)


def home_for(viewer: Viewer) -> str:
    return "/portal/ops/queues" if viewer.sees_all else "/portal/jobs"


@root.get("/")
def site_root() -> Response:
    return redirect("/portal/")


@router.get("/")
def portal_home(user: CurrentUser) -> Response:
    return redirect(home_for(user.viewer))


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    return render(request, "login.html", {"next": safe_next(next) or "", "error": "", "name": ""})


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    runtime: RuntimeDep,
    name: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    address = request.client.host if request.client else ""
    try:
        with unit_of_work(runtime.factory) as session:
            user, viewer = accounts.log_in(
                session, name, password, address=address, settings=runtime.settings
            )
            user_id, password_hash = user.id, user.password_hash
            session_id = accounts.start_session(session, user.id, cookie.MAX_AGE_S)
    except (auth.AuthError, throttle.LoginThrottled) as exc:
        refused = isinstance(exc, throttle.LoginThrottled)
        with unit_of_work(runtime.factory) as session:
            accounts.log_failed_login(session, name, address=address, refused=refused)
        context = {"next": safe_next(next) or "", "error": exc.message, "name": name}
        return render(request, "login.html", context, status=429 if refused else 401)
    cookie.log_in(request, user_id, password_hash, session_id)
    return redirect(safe_next(next) or home_for(viewer))


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, runtime: RuntimeDep) -> Response:
    """Ends every session of the user, on every browser (a copied cookie too)."""
    data = cookie.load(request)
    user_id = str(data.get("uid") or "")
    if user_id:
        with unit_of_work(runtime.factory) as session:
            accounts.log_out(session, user_id, str(data.get("sid") or ""))
    cookie.log_out(request)
    return redirect("/portal/login?done=logout")
