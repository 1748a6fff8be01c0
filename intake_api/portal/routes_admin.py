"""Admin pages: departments (name, manual minutes per unit) and users
(department, role, active, password)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from intake_api.deps import RuntimeDep, SessionDep
from intake_api.portal.web import ROLE_LABELS, AdminUser, CsrfChecked, PortalRoute, redirect, render
from jobs import store
from jobs.errors import JobInputError
from services import accounts

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
    accounts.save_department(
        session, user.viewer, code, name, overrides, speaker_labels_default=form.get("speakers") is not None
    )
    return redirect("/portal/admin/departments?msg=dept")


def _users_context(session: Session, msg: str = "", error: str = "") -> dict[str, Any]:
    return {
        "users": accounts.list_users(session),
        "departments": store.list_departments(session=session),
        "roles": ROLE_LABELS,
        "msg": MESSAGES.get(msg, ""),
        "error": error,
    }


@router.get("/users")
def users(request: Request, session: SessionDep, _user: AdminUser, msg: str = "") -> Response:
    return render(request, "admin_users.html", _users_context(session, msg))


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
    accounts.create_user(
        session,
        admin.viewer,
        name,
        department=department,
        role=role,
        password=password,
        display_name=display_name,
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
    accounts.update_user(
        session, admin.viewer, user_id, department=department, role=role, active=bool(active)
    )
    return redirect("/portal/admin/users?msg=updated")


@router.post("/users/{user_id}/password", dependencies=[CsrfChecked])
def reset_password(
    user_id: str, session: SessionDep, admin: AdminUser, password: Annotated[str, Form(max_length=1024)]
) -> Response:
    accounts.reset_password(session, admin.viewer, user_id, password)
    return redirect("/portal/admin/users?msg=password")
