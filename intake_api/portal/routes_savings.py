"""The time-saved page: this fiscal year against the target, by department,
service and month, as tables and SVG bars; CSV/XLSX through the API's
export (department users see their own department only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from intake_api.deps import RuntimeDep, SessionDep
from intake_api.files import attachment
from intake_api.portal.charts import bar_chart
from intake_api.portal.web import CurrentUser, PortalRoute, render
from jobs.errors import JobInputError
from jobs.wareki import fiscal_year_label, fiscal_year_of
from services import savings as totals

router = APIRouter(prefix="/portal/savings", route_class=PortalRoute, include_in_schema=False)


def fiscal_months(year: int) -> list[str]:
    """April of ``year`` to March of the next, as YYYY-MM."""
    return [f"{year + (m < 4)}-{m:02d}" for m in (*range(4, 13), 1, 2, 3)]


def _year(runtime: Any, fiscal_year: int | None) -> int:
    current = fiscal_year_of(datetime.now().astimezone(), runtime.settings.timezone)
    if fiscal_year is None:
        return current
    if not 2000 <= fiscal_year <= 2200:
        raise JobInputError("invalid_fiscal_year", "年度の指定が正しくありません。")
    return fiscal_year


@router.get("")
def savings_page(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    fiscal_year: int | None = None,
) -> Response:
    year = _year(runtime, fiscal_year)

    def table(group_by: str) -> Any:
        return totals.savings(runtime, session, user.viewer, group_by=group_by, fiscal_year=year)

    by_dept, by_service, by_month = table("department"), table("service"), table("month")
    month_hours = {r["month"]: r["saved_hours"] for r in by_month.rows}
    months = [(m, month_hours.get(m, 0.0)) for m in fiscal_months(year)]
    current = fiscal_year_of(datetime.now().astimezone(), runtime.settings.timezone)
    charts = {
        "department": bar_chart(
            [(r.get("department_name") or r["department"], r["saved_hours"]) for r in by_dept.rows],
            title="部署別の削減時間",
        ),
        "service": bar_chart(
            [(r.get("service_label") or r["service"], r["saved_hours"]) for r in by_service.rows],
            title="サービス別の削減時間",
        ),
        "month": bar_chart([(f"{int(m[5:])}月", h) for m, h in months], title="月別の削減時間"),
    }
    return render(
        request,
        "savings.html",
        {
            "year": year,
            "year_label": fiscal_year_label(year),
            "years": list(range(current, current - 5, -1)),
            "total_hours": by_dept.total_hours,
            "target_hours": by_dept.target_hours,
            "progress": by_dept.target_progress or 0.0,
            "by_dept": by_dept.rows,
            "by_service": by_service.rows,
            "months": months,
            "charts": charts,
            "own_only": not user.viewer.sees_all,
        },
    )


@router.get("/export")
def export(
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    format: Literal["csv", "xlsx"] = "xlsx",
    fiscal_year: int | None = None,
) -> Response:
    year = _year(runtime, fiscal_year)
    return attachment(
        *totals.export(
            runtime,
            session,
            user.viewer,
            format=format,
            group_by="fiscal_year,month,department,service",
            fiscal_year=year,
        )
    )
