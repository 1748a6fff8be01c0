"""/api/v1/audit and /api/v1/departments: operator views."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from intake_api.deps import OperatorViewer, SessionDep
from jobs import store
from services import accounts
from services.schemas import AuditPublic, DepartmentPublic, DepartmentUpdate

router = APIRouter(prefix="/api/v1", tags=["operators"])


@router.get("/audit", response_model=list[AuditPublic])
def audit_log(
    session: SessionDep,
    _viewer: OperatorViewer,
    job_id: str | None = None,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditPublic]:
    """Who submitted, viewed, downloaded, cancelled, retried or exported what."""
    return [
        AuditPublic.model_validate(e)
        for e in store.list_audit(session=session, job_id=job_id, action=action, limit=limit)
    ]


@router.get("/departments", response_model=list[DepartmentPublic])
def departments(session: SessionDep, _viewer: OperatorViewer) -> list[DepartmentPublic]:
    return [DepartmentPublic.model_validate(d) for d in store.list_departments(session=session)]


@router.put("/departments/{code}", response_model=DepartmentPublic)
def update_department(
    code: str, body: DepartmentUpdate, session: SessionDep, viewer: OperatorViewer
) -> DepartmentPublic:
    """Create or update a department: its Japanese name and its manual
    seconds per unit by service (e.g. ``{"minutes": 300}`` where this
    department's minutes take longer to write by hand)."""
    department = accounts.save_department(
        session, viewer, code, body.name, body.baseline_overrides, body.speaker_labels_default
    )
    return DepartmentPublic.model_validate(department)
