"""Time-saved totals and their CSV/XLSX exports, for the API, the portal and
the CLI (through the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from composition.runtime import Runtime
from jobs import exports, ledger, store
from jobs.errors import UploadRejected
from jobs.wareki import fiscal_year_label, fiscal_year_of
from services.schemas import SavingsPublic

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_group_by(raw: str) -> tuple[str, ...]:
    keys = tuple(dict.fromkeys(k.strip() for k in raw.split(",") if k.strip()))
    unknown = [k for k in keys if k not in ledger.GROUP_KEYS]
    if unknown:
        raise UploadRejected(
            "invalid_group_by",
            f"集計単位「{'、'.join(unknown)}」は指定できません。指定できる値: {', '.join(ledger.GROUP_KEYS)}",
        )
    return keys


def query_for(
    viewer: store.Viewer,
    group_by: tuple[str, ...],
    fiscal_year: int | None,
    service: str | None,
    department: str | None,
) -> ledger.SavingsQuery:
    # Department users see their own department's figures only.
    dept = department if viewer.sees_all else viewer.department_code
    return ledger.SavingsQuery(
        group_by=group_by, fiscal_year=fiscal_year, department_code=dept, service=service
    )


def labeller(runtime: Runtime, session: Session) -> exports.Labeller:
    names = {d.code: d.name for d in store.list_departments(session=session)}
    services = {k.service: k.label_ja for k in runtime.registry.all()}
    units = {k.service: k.unit_label_ja for k in runtime.registry.all()}
    unit = {k.service: k.unit_ja or k.unit_label_ja for k in runtime.registry.all()}

    def label(record: dict[str, Any]) -> dict[str, Any]:
        if "department" in record:
            record["department_name"] = names.get(record["department"], "")
        if "service" in record:
            record["service_label"] = services.get(record["service"], record["service"])
            record["unit_label"] = units.get(record["service"], "")
            record["unit"] = unit.get(record["service"], "")
        return record

    return label


def savings(
    runtime: Runtime,
    session: Session,
    viewer: store.Viewer,
    group_by: str = "department,service",
    fiscal_year: int | None = None,
    service: str | None = None,
    department: str | None = None,
) -> SavingsPublic:
    """Totals grouped by ``group_by``, with progress against the annual target."""
    keys = parse_group_by(group_by)
    rows = ledger.totals(query_for(viewer, keys, fiscal_year, service, department), session=session)
    label = labeller(runtime, session)
    total = sum(r.saved_seconds for r in rows)
    target = runtime.settings.annual_target_hours
    year = (
        fiscal_year
        if fiscal_year is not None
        else fiscal_year_of(datetime.now().astimezone(), runtime.settings.timezone)
    )
    if fiscal_year is None:
        # Progress against the annual target is the current fiscal year's.
        current = ledger.totals(query_for(viewer, (), year, service, department), session=session)
        year_seconds = sum(r.saved_seconds for r in current)
    else:
        year_seconds = total
    return SavingsPublic(
        group_by=list(keys),
        fiscal_year=year,
        fiscal_year_label=fiscal_year_label(year),
        rows=[label(r.as_dict()) for r in rows],
        total_seconds=round(total, 3),
        total_hours=round(total / 3600, 3),
        target_hours=target,
        target_progress=round(year_seconds / 3600 / target, 6),
    )


def export(
    runtime: Runtime,
    session: Session,
    viewer: store.Viewer,
    format: str = "csv",
    group_by: str = "fiscal_year,month,department,service",
    fiscal_year: int | None = None,
    service: str | None = None,
    department: str | None = None,
) -> tuple[bytes, str, str]:
    """CSV: one table grouped by ``group_by``. XLSX: that table plus one sheet
    per single grouping, each with a totals row. Returns (body, media type,
    file name); the export is audited."""
    keys = parse_group_by(group_by) or ("department",)
    label = labeller(runtime, session)
    store.audit("export", session=session, viewer=viewer, format=format, group_by=",".join(keys))
    suffix = f"_{fiscal_year}" if fiscal_year else ""
    if format == "csv":
        rows = ledger.totals(query_for(viewer, keys, fiscal_year, service, department), session=session)
        return exports.to_csv(rows, keys, label), "text/csv; charset=utf-8", f"削減時間{suffix}.csv"
    sheets = {
        ",".join(keys): ledger.totals(
            query_for(viewer, keys, fiscal_year, service, department), session=session
        )
    }
    for key in ledger.GROUP_KEYS:
        sheets.setdefault(
            key, ledger.totals(query_for(viewer, (key,), fiscal_year, service, department), session=session)
        )
    title = f"削減時間 {fiscal_year_label(fiscal_year)}" if fiscal_year else "削減時間"
    return exports.to_xlsx(sheets, label, title=title), XLSX, f"削減時間{suffix}.xlsx"
