"""/api/v1/tokens: API tokens, for admins (list, create with an expiry, revoke)."""

from __future__ import annotations

from fastapi import APIRouter, status

from intake_api.deps import AdminViewer, SessionDep
from intake_api.schemas import TokenCreate, TokenCreated, TokenPublic
from jobs import auth
from jobs.errors import DigilaboError

router = APIRouter(prefix="/api/v1/tokens", tags=["admin"])


def public(info: auth.TokenInfo) -> TokenPublic:
    return TokenPublic(
        status=info.status(), **{k: getattr(info, k) for k in TokenPublic.model_fields if k != "status"}
    )


@router.get("", response_model=list[TokenPublic])
def list_tokens(session: SessionDep, _admin: AdminViewer, user_name: str | None = None) -> list[TokenPublic]:
    return [public(t) for t in auth.list_tokens(session=session, user_name=user_name)]


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, session: SessionDep, admin: AdminViewer) -> TokenCreated:
    """A new token (shown in this answer only) for a user, created if needed."""
    try:
        lifetime = auth.parse_lifetime(body.expires_in) if body.expires_in else None
    except ValueError as exc:
        raise DigilaboError(
            "invalid_request",
            "expires_in は 90d、12h、30m、2w のように指定してください。",
            field="expires_in",
        ) from exc
    token, info = auth.issue_token(
        body.user_name,
        session=session,
        actor=admin,
        department_code=body.department_code,
        role=body.role,
        label=body.label,
        lifetime=lifetime,
    )
    return TokenCreated(token=token, **public(info).model_dump())


@router.delete("/{token_id}", response_model=TokenPublic)
def revoke_token(token_id: str, session: SessionDep, admin: AdminViewer) -> TokenPublic:
    row = auth.revoke(token_id, session=session, actor=admin)
    return next(public(t) for t in auth.list_tokens(session=session) if t.id == row.id)
