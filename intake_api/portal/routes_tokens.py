"""Admin page for API tokens (``/portal/admin/tokens``): every token with its
last use and expiry, a new one shown once, revocation. Creating and revoking
go through ``services.accounts`` as the tokens API does, so both are audited
(``token_create``, ``token_revoke``) and the token itself is never stored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from intake_api.deps import SessionDep
from intake_api.portal.web import ROLE_LABELS, AdminUser, CsrfChecked, PortalRoute, redirect, render
from jobs import store
from jobs.errors import JobInputError
from services import accounts

router = APIRouter(prefix="/portal/admin/tokens", route_class=PortalRoute, include_in_schema=False)
# Lifetimes offered (``auth.parse_lifetime`` form); "" is no expiry.
LIFETIMES = {"30d": "30日", "90d": "90日", "365d": "1年", "": "期限なし"}
DEFAULT_LIFETIME = "90d"
STATUS_LABELS = {"active": "有効", "expired": "期限切れ", "revoked": "取り消し済み"}
MESSAGES = {"revoked": "トークンを取り消しました。このトークンを使った要求はすぐに拒否されます。"}


def _context(session: Session, msg: str = "") -> dict[str, Any]:
    return {
        "tokens": sorted(accounts.list_tokens(session), key=lambda t: t.created_at, reverse=True),
        "users": accounts.list_users(session),
        "departments": store.list_departments(session=session),
        "roles": ROLE_LABELS,
        "lifetimes": LIFETIMES,
        "default_lifetime": DEFAULT_LIFETIME,
        "status_labels": STATUS_LABELS,
        "msg": MESSAGES.get(msg, ""),
    }


@router.get("")
def tokens(request: Request, session: SessionDep, _admin: AdminUser, msg: str = "") -> Response:
    return render(request, "admin_tokens.html", _context(session, msg))


@router.post("", dependencies=[CsrfChecked])
def create(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    user_name: Annotated[str, Form(max_length=100)],
    department: Annotated[str, Form(max_length=32)] = "",
    role: Annotated[str, Form(max_length=16)] = "department",
    label: Annotated[str, Form(max_length=100)] = "",
    lifetime: Annotated[str, Form(max_length=8)] = DEFAULT_LIFETIME,
) -> Response:
    """The new token is in this answer only (the page is never cached)."""
    name = user_name.strip()
    if not name:
        raise JobInputError("invalid_user_name", "利用者名を入力してください。", field="user_name")
    if lifetime not in LIFETIMES:
        raise JobInputError("invalid_lifetime", "有効期限は一覧から選んでください。", field="lifetime")
    # An existing person keeps their department and role: a token never moves them.
    existing = next((u for u in accounts.list_users(session) if u.name == name), None)
    if existing is not None:
        department, role = existing.department_code, existing.role
    accounts.check_choice(session, department, role)
    token, info = accounts.create_token(
        session,
        admin.viewer,
        user_name=name,
        department_code=department,
        role=role,
        label=label.strip(),
        expires_in=lifetime or None,
    )
    return render(request, "admin_tokens.html", {**_context(session), "new_token": token, "new_info": info})


@router.post("/{token_id}/revoke", dependencies=[CsrfChecked])
def revoke(token_id: str, session: SessionDep, admin: AdminUser) -> Response:
    accounts.revoke_token(session, admin.viewer, token_id)
    return redirect("/portal/admin/tokens?msg=revoked")
