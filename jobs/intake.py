"""Accepting a job: check the staged uploads against the kind, then record
the job, its input artifacts and the audit event in the caller's
transaction. Enqueueing happens after the commit (see intake_api)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from jobs import store
from jobs.artifacts import StoredBlob, check_media_type, sniff_media_type
from jobs.errors import UploadRejected
from jobs.models import Department, Job
from jobs.registry import InputFile, JobKind, check_params
from jobs.store import Viewer


@dataclass(frozen=True)
class StagedInput:
    name: str
    blob: StoredBlob

    @property
    def media_type(self) -> str:
        return sniff_media_type(self.blob.head, self.name)


def check_inputs(kind: JobKind, staged: Sequence[StagedInput]) -> None:
    if len(staged) < kind.min_files:
        raise UploadRejected("missing_file", "ファイルが添付されていません。", kind=kind.name)
    if len(staged) > kind.max_files:
        raise UploadRejected(
            "too_many_files",
            f"ファイルが多すぎます（このジョブは{kind.max_files}件まで）。",
            limit=kind.max_files,
        )
    names = [s.name for s in staged]
    if len(set(names)) != len(names):
        raise UploadRejected("duplicate_filename", "同じ名前のファイルが複数あります。名前を変えてください。")
    for item in staged:
        if item.blob.size == 0:
            raise UploadRejected("empty_file", f"ファイル「{item.name}」が空です。", name=item.name)
        check_media_type(item.media_type, kind.accepted_media_types, item.name)


def department_defaults(session: Session, kind: JobKind, department_code: str) -> dict[str, Any]:
    """What ``kind`` takes by default for this department (nothing for a
    kind without the hook, or an unknown department)."""
    if kind.department_defaults is None:
        return {}
    department = session.get(Department, department_code)
    return {} if department is None else kind.department_defaults(department)


def with_department_defaults(
    session: Session, kind: JobKind, department_code: str, params: Mapping[str, Any]
) -> Mapping[str, Any]:
    """``params`` over the department's defaults: only what the request
    leaves unsaid takes the department's value."""
    defaults = department_defaults(session, kind, department_code)
    return {**defaults, **params} if defaults else params


def input_files(staged: Sequence[StagedInput]) -> list[InputFile]:
    """The staged uploads as a kind's intake check sees them."""
    return [InputFile(s.name, s.blob.path, s.media_type, s.blob.size) for s in staged]


def measure(kind: JobKind, staged: Sequence[StagedInput]) -> float | None:
    """The work the uploads hold in the kind's quota unit (None: the kind
    does not say); from the files' headers only, so intake stays quick."""
    return kind.measure(input_files(staged)) if kind.measure is not None else None


def accept(
    *,
    session: Session,
    kind: JobKind,
    viewer: Viewer,
    params: Mapping[str, Any],
    staged: Sequence[StagedInput],
    options: Mapping[str, Any] | None = None,
) -> Job:
    """``options``: the kind options (``Settings.kind_options``) the kind's
    intake check reads (where credentials are kept)."""
    params = with_department_defaults(session, kind, viewer.department_code, params)
    if kind.resolve_params is not None:
        params = kind.resolve_params(params, session)
    cleaned = check_params(kind, params)
    check_inputs(kind, staged)
    if kind.check_intake is not None:
        kind.check_intake(cleaned, input_files(staged), options or {})
    job = store.create_job(
        session=session,
        kind=kind.name,
        queue=kind.queue,
        department_code=viewer.department_code,
        submitted_by=viewer.user_id,
        parameters=cleaned,
    )
    for item in staged:
        store.add_artifact(
            session=session,
            job_id=job.id,
            role="input",
            name=item.name,
            sha256=item.blob.sha256,
            size=item.blob.size,
            media_type=item.media_type,
        )
    store.audit(
        "submit",
        session=session,
        viewer=viewer,
        job_id=job.id,
        kind=kind.name,
        files=[{"name": s.name, "size": s.blob.size, "sha256": s.blob.sha256} for s in staged],
    )
    return job
