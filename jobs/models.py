"""ORM models. The schema itself is owned by the Alembic migrations in
``jobs/migrations``; these classes must stay in step with them (a test
compares the two)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UTCDateTime}


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Manual seconds per unit that differ from the service default, by service.
    baseline_overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Terms the department's recordings use (place names, section names).
    glossary: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Transcriptions label speakers (話者を区別する) when the request does
    # not say: the portal form starts checked, the API fills it in.
    speaker_labels_default: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    role: Mapped[str] = mapped_column(String(16))  # department | operator | admin
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    # sha256 of the token: tokens are random 256-bit strings, so a fast hash
    # is enough and lets us look them up by index.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # None: valid until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_department_submitted", "department_code", "submitted_at"),
        Index("ix_jobs_state", "state"),
        # The fair dispatcher's waiting jobs, per department, in release order
        # (jobs.fairshare): without it a department's oldest waiting job is
        # found by reading its whole history.
        Index(
            "ix_jobs_release_order",
            "queue",
            "state",
            "released_at",
            "department_code",
            "urgent",
            "submitted_at",
            "id",
        ),
        # One entry job per OCR job (jobs.ocr_entry).
        Index("uq_jobs_source_job", "source_job_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    submitted_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str] = mapped_column(String(200), default="")
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Staff seconds spent on the job by people (review, correction).
    human_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    task_id: Mapped[str | None] = mapped_column(String(64), default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # Written every few seconds by the worker running the job (jobs.heartbeat).
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the fair dispatcher sent the job's task to its pool's queue (None:
    # waiting in the database for its department's turn; see jobs.fairshare).
    released_at: Mapped[datetime | None] = mapped_column(default=None)
    # Marked 至急 by an operator: released before every department's normal work.
    urgent: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The OCR job whose reviewed forms this entry job types (「確認後に入力」).
    source_job_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", name="fk_jobs_source_job"), default=None
    )
    # The work the job holds in its kind's quota unit (OCR pages, audio
    # minutes), measured at intake; None: not measured (older jobs, other kinds).
    work_amount: Mapped[float | None] = mapped_column(Float, default=None)


class JobPart(Base):
    """One part of a split job (``jobs.fanout``) waiting for its turn: the fair
    dispatcher releases parts like jobs (``jobs.fairshare``). Rows of an
    attempt that is over are ignored, and go with their job."""

    __tablename__ = "job_parts"
    __table_args__ = (
        UniqueConstraint("job_id", "attempt", "idx", name="uq_job_part"),
        Index("ix_job_parts_waiting", "queue", "released_at", "department_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    idx: Mapped[int] = mapped_column(Integer)
    queue: Mapped[str] = mapped_column(String(16))
    department_code: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("job_id", "role", "name", name="uq_artifact_job_role_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(8))  # input | output
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)


class LedgerEntry(Base):
    """Append-only: corrections are new adjusting entries, never edits."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # At most one primary entry per job: a redelivered task cannot count twice.
        Index("uq_ledger_primary_per_job", "job_id", unique=True),
        Index("ix_ledger_group", "fiscal_year", "month", "department_code", "service"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    # Adjustments point at the job too, but through this column so that the
    # unique index above stays on primary entries only.
    adjusts_job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None, index=True)
    entry_type: Mapped[str] = mapped_column(String(16))  # job | adjustment
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    service: Mapped[str] = mapped_column(String(32))
    unit_name: Mapped[str] = mapped_column(String(32))
    units: Mapped[float] = mapped_column(Float)
    seconds_per_unit: Mapped[float] = mapped_column(Float)
    human_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    saved_seconds: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Derived in the service's timezone at write time, so grouping is the
    # same on every database.
    fiscal_year: Mapped[int] = mapped_column(Integer)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM


class LoginFailure(Base):
    """A failed portal login, kept for the throttling window (jobs.throttle)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_user", "user_name", "at"),
        Index("ix_login_failures_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(String(36), default=None)
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    department_code: Mapped[str | None] = mapped_column(String(32), default=None)
    action: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
