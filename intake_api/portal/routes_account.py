"""Login, logout and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from intake_api.deps import RuntimeDep
from intake_api.portal import session as cookie
from intake_api.portal.web import CsrfChecked, CurrentUser, PortalRoute, redirect, render, safe_next
from jobs import auth, store
from jobs import sessions as portal_sessions
from jobs.db import unit_of_work
from jobs.store import Viewer

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
    try:
        with unit_of_work(runtime.factory) as session:
            user = auth.authenticate(name, password, session=session)
            viewer = auth.viewer_for_user(user)
            store.audit("login", session=session, viewer=viewer, via="portal")
            user_id, password_hash = user.id, user.password_hash
            session_id = portal_sessions.start(user.id, cookie.MAX_AGE_S, session=session)
    except auth.AuthError as exc:
        with unit_of_work(runtime.factory) as session:
            store.audit(
                "login_failed",
                session=session,
                viewer=Viewer(user_id=None, name=name[:100], department_code="", role="department"),
                via="portal",
            )
        context = {"next": safe_next(next) or "", "error": exc.message, "name": name}
        return render(request, "login.html", context, status=401)
    cookie.log_in(request, user_id, password_hash, session_id)
    return redirect(safe_next(next) or home_for(viewer))


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, runtime: RuntimeDep) -> Response:
    """Ends every session of the user, on every browser (a copied cookie too)."""
    data = cookie.load(request)
    user_id = str(data.get("uid") or "")
    if user_id:
        with unit_of_work(runtime.factory) as session:
            if portal_sessions.user_of(str(data.get("sid") or ""), session=session) == user_id:
                portal_sessions.end_all(user_id, session=session)
    cookie.log_out(request)
    return redirect("/portal/login")
