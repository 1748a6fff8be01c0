"""The time-saved ledger.

Rule: saving = units × manual seconds per unit − human seconds spent on the
job (review, correction), never below zero. The primary entry is written in
the same transaction as the job's success, and a unique index allows one per
job, so a redelivered task cannot count a job twice. Later changes (review
time recorded after the fact) are adjusting entries; nothing is ever edited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.models import Department, Job, LedgerEntry, utcnow
from jobs.wareki import fiscal_year_label, fiscal_year_of, month_of

GROUP_KEYS = ("department", "service", "month", "fiscal_year")
_COLUMNS = {
    "department": LedgerEntry.department_code,
    "service": LedgerEntry.service,
    "month": LedgerEntry.month,
    "fiscal_year": LedgerEntry.fiscal_year,
}


def saved_seconds(units: float, seconds_per_unit: float, human_seconds: float) -> float:
    return max(0.0, units * seconds_per_unit - human_seconds)


def baseline_for(
    service: str,
    *,
    department: Department | None,
    service_defaults: Mapping[str, float],
    kind_default: float,
    job_override: float | None = None,
) -> float:
    """Manual seconds per unit: the job's own definition (template, script)
    wins, then the department's override, then the service setting, then the
    kind's built-in default."""
    if job_override is not None:
        return float(job_override)
    if department is not None and service in (department.baseline_overrides or {}):
        return float(department.baseline_overrides[service])
    if service in service_defaults:
        return float(service_defaults[service])
    return float(kind_default)


def record_job(
    job: Job,
    *,
    session: Session,
    service: str,
    unit_name: str,
    units: float,
    seconds_per_unit: float,
    tz: str,
    at: datetime | None = None,
    carried_seconds: float = 0.0,
    reason: str = "",
) -> LedgerEntry:
    """The job's primary entry. Caller commits together with the success.
    ``carried_seconds``: human time of a pair's other job that its own saving
    could not bear (``uncovered_human_seconds``), taken off this saving so the
    pair is counted as one piece of work; the entry's ``human_seconds`` stay
    this job's own, so staff time is never counted twice."""
    at = at or utcnow()
    entry = LedgerEntry(
        job_id=job.id,
        entry_type="job",
        department_code=job.department_code,
        service=service,
        unit_name=unit_name,
        units=units,
        seconds_per_unit=seconds_per_unit,
        human_seconds=job.human_seconds,
        saved_seconds=saved_seconds(units, seconds_per_unit, job.human_seconds + max(0.0, carried_seconds)),
        reason=reason[:200],
        occurred_at=at,
        fiscal_year=fiscal_year_of(at, tz),
        month=month_of(at, tz),
    )
    session.add(entry)
    session.flush()
    return entry


def add_human_time(
    job: Job, extra_seconds: float, *, session: Session, tz: str, reason: str, at: datetime | None = None
) -> LedgerEntry | None:
    """Record staff time spent on a job. If the job is already in the ledger,
    write an adjusting entry so its total equals the rule applied to the new
    human time (still floored at zero)."""
    job.human_seconds = (job.human_seconds or 0.0) + max(0.0, extra_seconds)
    primary = session.scalar(select(LedgerEntry).where(LedgerEntry.job_id == job.id))
    if primary is None:
        return None
    current = job_total(job.id, session=session)
    target = saved_seconds(primary.units, primary.seconds_per_unit, job.human_seconds)
    delta = target - current
    if abs(delta) < 1e-9:
        return None
    at = at or utcnow()
    entry = LedgerEntry(
        adjusts_job_id=job.id,
        entry_type="adjustment",
        department_code=job.department_code,
        service=primary.service,
        unit_name=primary.unit_name,
        units=0.0,
        seconds_per_unit=primary.seconds_per_unit,
        human_seconds=max(0.0, extra_seconds),
        saved_seconds=delta,
        reason=reason[:200],
        occurred_at=at,
        fiscal_year=fiscal_year_of(at, tz),
        month=month_of(at, tz),
    )
    session.add(entry)
    session.flush()
    return entry


def uncovered_human_seconds(job_id: str, *, session: Session) -> float:
    """Human time spent on a job beyond what its own saving could bear (the
    saving is floored at zero): what a job made from it takes off its saving."""
    job = session.get(Job, job_id)
    if job is None:
        return 0.0
    primary = session.scalar(select(LedgerEntry).where(LedgerEntry.job_id == job_id))
    gross = primary.units * primary.seconds_per_unit if primary is not None else 0.0
    return max(0.0, (job.human_seconds or 0.0) - gross)


def pair_total(job_ids: Sequence[str], *, session: Session) -> float:
    """The saving of jobs counted as one piece of work (an OCR job and the
    entry job made from it): the sum of their entries."""
    return sum(job_total(job_id, session=session) for job_id in job_ids)


def job_total(job_id: str, *, session: Session) -> float:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.saved_seconds), 0.0)).where(
            (LedgerEntry.job_id == job_id) | (LedgerEntry.adjusts_job_id == job_id)
        )
    )
    return float(total or 0.0)


@dataclass(frozen=True)
class SavingsRow:
    group: dict[str, Any]
    saved_seconds: float
    units: float
    jobs: int

    @property
    def saved_hours(self) -> float:
        return self.saved_seconds / 3600.0

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.group)
        if "fiscal_year" in out:
            out["fiscal_year_label"] = fiscal_year_label(int(out["fiscal_year"]))
        out.update(
            saved_seconds=round(self.saved_seconds, 3),
            saved_hours=round(self.saved_hours, 3),
            units=round(self.units, 3),
            jobs=self.jobs,
        )
        return out


@dataclass(frozen=True)
class SavingsQuery:
    group_by: tuple[str, ...] = ("department", "service")
    fiscal_year: int | None = None
    department_code: str | None = None
    service: str | None = None


def totals(query: SavingsQuery, *, session: Session) -> list[SavingsRow]:
    for key in query.group_by:
        if key not in _COLUMNS:
            raise ValueError(f"unknown grouping {key!r}")
    columns = [_COLUMNS[k].label(k) for k in query.group_by]
    stmt = select(
        *columns,
        func.coalesce(func.sum(LedgerEntry.saved_seconds), 0.0).label("saved"),
        func.coalesce(func.sum(LedgerEntry.units), 0.0).label("units"),
        func.count(LedgerEntry.job_id).label("jobs"),
    )
    if query.fiscal_year is not None:
        stmt = stmt.where(LedgerEntry.fiscal_year == query.fiscal_year)
    if query.department_code:
        stmt = stmt.where(LedgerEntry.department_code == query.department_code)
    if query.service:
        stmt = stmt.where(LedgerEntry.service == query.service)
    if columns:
        stmt = stmt.group_by(*[_COLUMNS[k] for k in query.group_by]).order_by(
            *[_COLUMNS[k] for k in query.group_by]
        )
    rows: Sequence[Any] = session.execute(stmt).all()
    return [
        SavingsRow(
            group={k: getattr(row, k) for k in query.group_by},
            saved_seconds=float(row.saved),
            units=float(row.units),
            jobs=int(row.jobs),
        )
        for row in rows
    ]
