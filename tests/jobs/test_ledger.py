"""The time-saved rule, adjusting entries and totals, on real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs import ledger, store
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.models import Department, Job, LedgerEntry


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    return session_factory(make_engine(url))


def finished_job(session: Session, dept: str = "a", human: float = 0.0) -> Job:
    store.ensure_department(dept, session=session)
    job = store.create_job(
        session=session, kind="k", queue="cpu", department_code=dept, submitted_by=None, parameters={}
    )
    job.human_seconds = human
    return job


def record(session: Session, job: Job, units: float, at: datetime, per_unit: float = 60.0) -> LedgerEntry:
    return ledger.record_job(
        job,
        session=session,
        service="svc",
        unit_name="u",
        units=units,
        seconds_per_unit=per_unit,
        tz="Asia/Tokyo",
        at=at,
    )


@pytest.mark.parametrize(
    ("units", "per_unit", "human", "saved"), [(10, 60, 0, 600), (10, 60, 100, 500), (1, 60, 600, 0)]
)
def test_rule_never_below_zero(units: float, per_unit: float, human: float, saved: float) -> None:
    assert ledger.saved_seconds(units, per_unit, human) == saved


def test_baseline_precedence() -> None:
    dept = Department(code="a", name="A", baseline_overrides={"svc": 90.0})
    assert (
        ledger.baseline_for(
            "svc", department=dept, service_defaults={"svc": 70}, kind_default=60, job_override=120
        )
        == 120
    )
    assert ledger.baseline_for("svc", department=dept, service_defaults={"svc": 70}, kind_default=60) == 90
    assert ledger.baseline_for("svc", department=None, service_defaults={"svc": 70}, kind_default=60) == 70
    assert ledger.baseline_for("svc", department=None, service_defaults={}, kind_default=60) == 60


def test_one_primary_entry_per_job(factory: sessionmaker[Session]) -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    with unit_of_work(factory) as session:
        job = finished_job(session)
        record(session, job, 1, at)
        job_id = job.id
    with pytest.raises(IntegrityError), unit_of_work(factory) as session:
        record(session, session.get(Job, job_id), 1, at)


def test_human_time_becomes_adjusting_entries(factory: sessionmaker[Session]) -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    with unit_of_work(factory) as session:
        job = finished_job(session)
        record(session, job, 10, at)  # 600 s
        first = ledger.add_human_time(job, 100, session=session, tz="Asia/Tokyo", reason="確認", at=at)
        assert first is not None and first.saved_seconds == -100
        second = ledger.add_human_time(job, 10_000, session=session, tz="Asia/Tokyo", reason="修正", at=at)
        assert second is not None and second.saved_seconds == -500  # floored at zero overall
        assert ledger.job_total(job.id, session=session) == 0
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 3
        primary = session.scalar(select(LedgerEntry).where(LedgerEntry.job_id == job.id))
        assert primary is not None and primary.saved_seconds == 600  # never edited


def test_totals_group_by_fiscal_year_and_month_across_the_boundary(factory: sessionmaker[Session]) -> None:
    last_of_march = datetime(2026, 3, 31, 14, 30, tzinfo=UTC)  # 23:30 JST
    first_of_april = datetime(2026, 3, 31, 15, 10, tzinfo=UTC)  # 00:10 JST
    with unit_of_work(factory) as session:
        record(session, finished_job(session), 1, last_of_march)
        record(session, finished_job(session), 2, first_of_april)
        record(session, finished_job(session, dept="b"), 3, first_of_april)
    with factory() as session:
        rows = ledger.totals(ledger.SavingsQuery(group_by=("fiscal_year", "month")), session=session)
        assert [(r.group["fiscal_year"], r.group["month"], r.saved_seconds, r.jobs) for r in rows] == [
            (2025, "2026-03", 60.0, 1),
            (2026, "2026-04", 300.0, 2),
        ]
        only_a = ledger.totals(
            ledger.SavingsQuery(group_by=("department",), fiscal_year=2026, department_code="a"),
            session=session,
        )
        assert [(r.group, r.saved_seconds) for r in only_a] == [({"department": "a"}, 120.0)]
        assert rows[0].as_dict()["fiscal_year_label"] == "2025年度 (令和7年度)"
