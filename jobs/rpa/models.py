"""The exactly-once ledger's tables, on the shared metadata (the migration
lives with the others in ``jobs/migrations``).

``rpa_records``: one row per record of a job, its state and what the target
answered. ``rpa_references``: one row per unique reference a target has (or
may have) received, across all jobs; its primary key is what stops a second
entry. ``rpa_target_slots``: leases that cap concurrent jobs per target.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from jobs.models import Base, utcnow


class RpaRecord(Base):
    __tablename__ = "rpa_records"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reference: Mapped[str] = mapped_column(String(200))
    # pending | in_flight | entered | duplicate | rejected | invalid | failed
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    captured: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RpaReference(Base):
    __tablename__ = "rpa_references"

    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # in_flight | entered
    job_id: Mapped[str] = mapped_column(String(36), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    captured: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RpaTargetSlot(Base):
    __tablename__ = "rpa_target_slots"

    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(36))
    expires_at: Mapped[datetime] = mapped_column()


# Typed as tables (``__table__`` is declared a FromClause) for ``create_all(tables=...)``.
TABLES: tuple[Table, ...] = tuple(cast(Table, m.__table__) for m in (RpaRecord, RpaReference, RpaTargetSlot))
