"""/api/v1/savings: time-saved totals, and their CSV/XLSX exports (the work
is ``services.savings``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from intake_api.deps import CurrentViewer, RuntimeDep, SessionDep
from intake_api.files import attachment
from services import savings as totals
from services.schemas import SavingsPublic

router = APIRouter(prefix="/api/v1/savings", tags=["savings"])

GroupBy = Annotated[
    str,
    Query(description="comma-separated groupings: department, service, month, fiscal_year"),
]
FiscalYear = Annotated[int | None, Query(ge=2000, le=2200)]


@router.get("", response_model=SavingsPublic)
def savings(
    runtime: RuntimeDep,
    session: SessionDep,
    viewer: CurrentViewer,
    group_by: GroupBy = "department,service",
    fiscal_year: FiscalYear = None,
    service: str | None = None,
    department: str | None = None,
) -> SavingsPublic:
    return totals.savings(runtime, session, viewer, group_by, fiscal_year, service, department)


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, totals.XLSX: {}}}},
)
def export(
    runtime: RuntimeDep,
    session: SessionDep,
    viewer: CurrentViewer,
    format: Literal["csv", "xlsx"] = "csv",
    group_by: GroupBy = "fiscal_year,month,department,service",
    fiscal_year: FiscalYear = None,
    service: str | None = None,
    department: str | None = None,
) -> Response:
    """CSV: one table grouped by ``group_by``. XLSX: that table plus one sheet
    per single grouping, each with a totals row."""
    body, media_type, filename = totals.export(
        runtime, session, viewer, format, group_by, fiscal_year, service, department
    )
    return attachment(body, media_type, filename)
