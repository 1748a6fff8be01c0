"""Store functions for jobs, artifacts, departments and audit events.

Every function takes ``session`` as a keyword and never commits: the request
or the task that called it owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.errors import NotFound, Purged
from jobs.models import Artifact, AuditEvent, Department, Job, User, utcnow


@dataclass(frozen=True)
class Viewer:
    """Who is looking: decides which jobs are visible."""

    user_id: str | None
    name: str
    department_code: str
    role: str  # department | operator | admin

    @property
    def sees_all(self) -> bool:
        return self.role in ("operator", "admin")


SYSTEM = Viewer(user_id=None, name="system", department_code="", role="admin")


# --- departments -------------------------------------------------------------


def ensure_department(code: str, name: str = "", *, session: Session) -> Department:
    dept = session.get(Department, code)
    if dept is None:
        dept = Department(code=code, name=name or code, baseline_overrides={})
        session.add(dept)
        session.flush()
    elif name and dept.name != name:
        dept.name = name
    return dept


def list_departments(*, session: Session) -> Sequence[Department]:
    return session.scalars(select(Department).order_by(Department.code)).all()


# --- jobs ----------------------------------------------------------------------


def create_job(
    *,
    session: Session,
    kind: str,
    queue: str,
    department_code: str,
    submitted_by: str | None,
    parameters: dict[str, Any],
) -> Job:
    job = Job(
        kind=kind,
        queue=queue,
        department_code=department_code,
        submitted_by=submitted_by,
        parameters=parameters,
        state="queued",
        summary={},
    )
    session.add(job)
    session.flush()
    return job


def get_job(job_id: str, *, session: Session, viewer: Viewer = SYSTEM) -> Job:
    """The job if the viewer may see it; NotFound otherwise (never 'forbidden',
    so ids of other departments' jobs do not leak)."""
    job = session.get(Job, job_id)
    if job is None or not (viewer.sees_all or job.department_code == viewer.department_code):
        raise NotFound()
    return job


@dataclass(frozen=True)
class JobFilter:
    state: str | None = None
    kind: str | None = None
    department_code: str | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    limit: int = 100
    offset: int = 0


def list_jobs(filters: JobFilter, *, session: Session, viewer: Viewer) -> tuple[Sequence[Job], int]:
    query = select(Job)
    if not viewer.sees_all:
        query = query.where(Job.department_code == viewer.department_code)
    elif filters.department_code:
        query = query.where(Job.department_code == filters.department_code)
    if filters.state:
        query = query.where(Job.state == filters.state)
    if filters.kind:
        query = query.where(Job.kind == filters.kind)
    if filters.submitted_from:
        query = query.where(Job.submitted_at >= filters.submitted_from)
    if filters.submitted_to:
        query = query.where(Job.submitted_at < filters.submitted_to)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Job.submitted_at.desc(), Job.id).limit(filters.limit).offset(filters.offset)
    ).all()
    return rows, total


def set_progress(
    job_id: str, fraction: float | None, message: str, *, session: Session, attempt: int | None = None
) -> bool:
    """Update a running job's progress (``fraction`` None: message only).
    Returns False when the job is no longer running (cancelled) or belongs
    to a newer attempt."""
    job = session.get(Job, job_id)
    if job is None or job.state != "running" or (attempt is not None and job.attempts != attempt):
        return False
    if fraction is not None:
        job.progress = max(0.0, min(1.0, fraction))
    if message:
        job.progress_message = message[:200]
    return True


# --- artifacts -------------------------------------------------------------------


def add_artifact(
    *,
    session: Session,
    job_id: str,
    role: str,
    name: str,
    sha256: str,
    size: int,
    media_type: str,
) -> Artifact:
    """Record an artifact; a redelivered task re-adding an output replaces it."""
    existing = session.scalar(
        select(Artifact).where(Artifact.job_id == job_id, Artifact.role == role, Artifact.name == name)
    )
    if existing is not None:
        existing.sha256, existing.size, existing.media_type = sha256, size, media_type
        return existing
    artifact = Artifact(job_id=job_id, role=role, name=name, sha256=sha256, size=size, media_type=media_type)
    session.add(artifact)
    session.flush()
    return artifact


def list_artifacts(job_id: str, *, session: Session, role: str | None = None) -> Sequence[Artifact]:
    query = select(Artifact).where(Artifact.job_id == job_id)
    if role:
        query = query.where(Artifact.role == role)
    return session.scalars(query.order_by(Artifact.role, Artifact.name)).all()


def get_artifact(job_id: str, name: str, *, session: Session, role: str = "output") -> Artifact:
    artifact = session.scalar(
        select(Artifact).where(Artifact.job_id == job_id, Artifact.role == role, Artifact.name == name)
    )
    if artifact is None:
        raise NotFound("ファイル")
    if artifact.purged_at is not None:
        raise Purged(artifact.name)
    return artifact


# --- audit ---------------------------------------------------------------------------


def audit(
    action: str,
    *,
    session: Session,
    viewer: Viewer,
    job_id: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            actor_id=viewer.user_id,
            actor_name=viewer.name,
            department_code=viewer.department_code or None,
            action=action,
            job_id=job_id,
            detail=detail,
        )
    )


def audit_view(*, session: Session, viewer: Viewer, job_id: str, window_s: float) -> None:
    """Audit a look at a job once per viewer, job and ``window_s``.

    Who looked at what, and when first, is what an audit needs; the page's
    polling while a job runs would otherwise write an entry every second.
    """
    if window_s > 0:
        since = utcnow() - timedelta(seconds=window_s)
        seen = session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.job_id == job_id,
                AuditEvent.action == "view",
                AuditEvent.actor_id == viewer.user_id,
                AuditEvent.at >= since,
            )
            .limit(1)
        )
        if seen is not None:
            return
    audit("view", session=session, viewer=viewer, job_id=job_id)


def list_audit(
    *, session: Session, job_id: str | None = None, action: str | None = None, limit: int = 200
) -> Sequence[AuditEvent]:
    query = select(AuditEvent)
    if job_id:
        query = query.where(AuditEvent.job_id == job_id)
    if action:
        query = query.where(AuditEvent.action == action)
    return session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)).all()


def list_users(*, session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.department_code, User.name)).all()


def get_user(user_id: str, *, session: Session) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("利用者")
    return user


# --- glossary -------------------------------------------------------------------------


def department_for(viewer: Viewer, requested: str | None, *, session: Session) -> Department:
    """The department a request acts on: its own, or (operators) the one asked for."""
    code = requested if requested and viewer.sees_all else viewer.department_code
    department = session.get(Department, code) if code else None
    if department is None:
        raise NotFound("部署")
    return department


def set_glossary(department: Department, terms: list[str]) -> list[str]:
    department.glossary = list(terms)
    return department.glossary
