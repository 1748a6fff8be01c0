"""/api/v1/tokens: API tokens, for admins (list, create with an expiry, revoke)."""

from __future__ import annotations

from fastapi import APIRouter, status

from intake_api.deps import AdminViewer, SessionDep
from jobs import auth
from services import accounts
from services.schemas import TokenCreate, TokenCreated, TokenPublic

router = APIRouter(prefix="/api/v1/tokens", tags=["admin"])


def public(info: auth.TokenInfo) -> TokenPublic:
    return TokenPublic(
        status=info.status(), **{k: getattr(info, k) for k in TokenPublic.model_fields if k != "status"}
    )


@router.get("", response_model=list[TokenPublic])
def list_tokens(session: SessionDep, _admin: AdminViewer, user_name: str | None = None) -> list[TokenPublic]:
    return [public(t) for t in accounts.list_tokens(session, user_name)]


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, session: SessionDep, admin: AdminViewer) -> TokenCreated:
    """A new token (shown in this answer only) for a user, created if needed."""
    token, info = accounts.create_token(
        session,
        admin,
        user_name=body.user_name,
        department_code=body.department_code,
        role=body.role,
        label=body.label,
        expires_in=body.expires_in,
    )
    return TokenCreated(token=token, **public(info).model_dump())


@router.delete("/{token_id}", response_model=TokenPublic)
def revoke_token(token_id: str, session: SessionDep, admin: AdminViewer) -> TokenPublic:
    return public(accounts.revoke_token(session, admin, token_id))
