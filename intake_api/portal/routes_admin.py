"""Admin pages: departments (name, manual minutes per unit) and users
(department, role, active, password)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_api.deps import RuntimeDep, SessionDep
from intake_api.portal.web import ROLE_LABELS, AdminUser, CsrfChecked, PortalRoute, redirect, render
from jobs import auth, store
from jobs import sessions as portal_sessions
from jobs.errors import JobInputError, NotFound
from jobs.models import Department, User

router = APIRouter(prefix="/portal/admin", route_class=PortalRoute, include_in_schema=False)
DEPT_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
MESSAGES = {
    "dept": "部署を保存しました。",
    "created": "利用者を保存しました。",
    "updated": "利用者の設定を変更しました。",
    "password": "パスワードを変更しました。",
}


@router.get("/departments")
def departments(
    request: Request, runtime: RuntimeDep, session: SessionDep, _user: AdminUser, msg: str = ""
) -> Response:
    services = sorted({(k.service, k.label_ja, k.unit_label_ja) for k in runtime.registry.all()})
    return render(
        request,
        "admin_departments.html",
        {
            "departments": store.list_departments(session=session),
            "services": services,
            "msg": MESSAGES.get(msg, ""),
        },
    )


@router.post("/departments", dependencies=[CsrfChecked])
async def save_department(
    request: Request, runtime: RuntimeDep, session: SessionDep, user: AdminUser
) -> Response:
    form = await request.form()
    code = str(form.get("code") or "").strip()
    name = str(form.get("name") or "").strip()
    if not DEPT_CODE.fullmatch(code):
        raise JobInputError(
            "invalid_department", "部署コードは半角英数字・-・_ の32文字以内で入力してください。"
        )
    if len(name) > 200:
        raise JobInputError("invalid_department", "部署名は200文字以内で入力してください。")
    overrides: dict[str, float] = {}
    for service in runtime.registry.services():
        raw = str(form.get(f"baseline_{service}") or "").strip()
        if not raw:
            continue
        try:
            minutes = float(raw)
        except ValueError:
            raise JobInputError("invalid_baseline", "手作業時間は数値（分）で入力してください。") from None
        if not 0 < minutes <= 1440:
            raise JobInputError("invalid_baseline", "手作業時間は0より大きく1440分以下で入力してください。")
        overrides[service] = round(minutes * 60, 3)
    department = store.ensure_department(code, name, session=session)
    department.baseline_overrides = overrides
    store.audit("department", session=session, viewer=user.viewer, department=code)
    return redirect("/portal/admin/departments?msg=dept")


def _users_context(session: Session, msg: str = "", error: str = "") -> dict[str, Any]:
    return {
        "users": session.scalars(select(User).order_by(User.department_code, User.name)).all(),
        "departments": store.list_departments(session=session),
        "roles": ROLE_LABELS,
        "msg": MESSAGES.get(msg, ""),
        "error": error,
    }


@router.get("/users")
def users(request: Request, session: SessionDep, _user: AdminUser, msg: str = "") -> Response:
    return render(request, "admin_users.html", _users_context(session, msg))


def _check_choice(department: str, role: str, session: Session) -> None:
    if role not in auth.ROLES:
        raise JobInputError("invalid_role", "役割の指定が正しくありません。")
    if session.get(Department, department) is None:
        raise NotFound("部署")


@router.post("/users", dependencies=[CsrfChecked])
def create_user(
    session: SessionDep,
    admin: AdminUser,
    name: Annotated[str, Form(max_length=100)],
    department: Annotated[str, Form()],
    role: Annotated[str, Form()],
    password: Annotated[str, Form(max_length=1024)],
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _check_choice(department, role, session)
    user = auth.create_user(
        name,
        session=session,
        department_code=department,
        role=role,
        password=password,
        display_name=display_name,
    )
    store.audit(
        "user", session=session, viewer=admin.viewer, user=user.name, role=role, department=department
    )
    return redirect("/portal/admin/users?msg=created")


@router.post("/users/{user_id}", dependencies=[CsrfChecked])
def update_user(
    user_id: str,
    session: SessionDep,
    admin: AdminUser,
    department: Annotated[str, Form()],
    role: Annotated[str, Form()],
    active: Annotated[str, Form()] = "",
) -> Response:
    _check_choice(department, role, session)
    user = store.get_user(user_id, session=session)
    if user.id == admin.viewer.user_id and (role != "admin" or not active):
        raise JobInputError("self_lockout", "自分自身の管理者権限を外したり、無効にしたりはできません。")
    user.department_code, user.role, user.active = department, role, bool(active)
    if not user.active:
        portal_sessions.end_all(user.id, session=session)
    store.audit("user", session=session, viewer=admin.viewer, user=user.name, role=role, active=bool(active))
    return redirect("/portal/admin/users?msg=updated")


@router.post("/users/{user_id}/password", dependencies=[CsrfChecked])
def reset_password(
    user_id: str, session: SessionDep, admin: AdminUser, password: Annotated[str, Form(max_length=1024)]
) -> Response:
    user = store.get_user(user_id, session=session)
    auth.set_password(user, password)
    portal_sessions.end_all(user.id, session=session)
    store.audit("password", session=session, viewer=admin.viewer, user=user.name)
    return redirect("/portal/admin/users?msg=password")
