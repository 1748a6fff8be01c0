"""Login, logout and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from digilabo.settings import Settings
from intake_api.deps import RuntimeDep
from intake_api.portal import session as cookie
from intake_api.portal.web import CsrfChecked, CurrentUser, PortalRoute, redirect, render, safe_next
from jobs import auth, store, throttle
from jobs.db import unit_of_work
from jobs.store import Viewer

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
root = APIRouter(route_class=PortalRoute, include_in_schema=False)


def login_limits(settings: Settings) -> throttle.LoginLimits:
    return throttle.LoginLimits(
        settings.login_window_s, settings.login_max_failures_per_user, settings.login_max_failures_per_address
    )


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
            throttle.check_login(name, address, session=session, limits=login_limits(runtime.settings))
            user = auth.authenticate(name, password, session=session)
            viewer = auth.viewer_for_user(user)
            throttle.clear_user(name, session=session)
            store.audit("login", session=session, viewer=viewer, via="portal")
            user_id, password_hash = user.id, user.password_hash
    except (auth.AuthError, throttle.LoginThrottled) as exc:
        refused = isinstance(exc, throttle.LoginThrottled)
        with unit_of_work(runtime.factory) as session:
            if not refused:
                throttle.record_failure(name, address, session=session)
            store.audit(
                "login_throttled" if refused else "login_failed",
                session=session,
                viewer=Viewer(user_id=None, name=name[:100], department_code="", role="department"),
                via="portal",
                address=address,
            )
        context = {"next": safe_next(next) or "", "error": exc.message, "name": name}
        return render(request, "login.html", context, status=429 if refused else 401)
    cookie.log_in(request, user_id, password_hash)
    return redirect(safe_next(next) or home_for(viewer))


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    cookie.log_out(request)
    return redirect("/portal/login")
