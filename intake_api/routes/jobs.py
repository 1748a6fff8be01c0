"""/api/v1/jobs: submit, list, read, download, cancel, retry."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from digilabo.runtime import Runtime
from intake_api.deps import CurrentViewer, RuntimeDep, SessionDep
from intake_api.schemas import ArtifactPublic, JobAccepted, JobPublic, JobsPublic, KindPublic
from jobs import housekeeping, intake, ledger, store
from jobs.artifacts import CHUNK, StoredBlob, safe_name
from jobs.db import unit_of_work
from jobs.errors import STATE_LABELS_JA, DigilaboError, InvalidTransition, UploadRejected
from jobs.lifecycle import State, transition
from jobs.models import Job
from jobs.registry import JobKind
from jobs.store import Viewer
from monitoring.metrics import api_metrics, refusal_reason
from queues.dispatch import enqueue, new_task_id

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["jobs"])


def job_public(job: Job, runtime: Runtime, *, session: Any, with_files: bool = True) -> JobPublic:
    kind = runtime.registry.get(job.kind) if job.kind in runtime.registry else None
    kind_label = kind.label_ja if kind else job.kind
    params = job.parameters or {}
    if kind and kind.public_params:
        params = kind.public_params(params)
    out = JobPublic(
        id=job.id,
        kind=job.kind,
        kind_label=kind_label,
        queue=job.queue,
        department=job.department_code,
        state=job.state,
        state_label=STATE_LABELS_JA.get(job.state, job.state),
        progress=job.progress,
        progress_message=job.progress_message,
        parameters=params,
        error_code=job.error_code,
        error_message=job.error_message,
        attempts=job.attempts,
        submitted_at=job.submitted_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        summary=job.summary or {},
    )
    if with_files:
        for artifact in store.list_artifacts(job.id, session=session):
            item = ArtifactPublic.model_validate(artifact)
            if artifact.role == "output" and artifact.purged_at is None:
                item.url = f"/api/v1/jobs/{job.id}/artifacts/{artifact.name}"
                out.outputs.append(item)
            elif artifact.role == "input":
                if artifact.purged_at is None:
                    item.url = f"/api/v1/jobs/{job.id}/inputs/{artifact.name}"
                out.inputs.append(item)
        if job.state == State.SUCCEEDED:
            out.saved_seconds = ledger.job_total(job.id, session=session)
    return out


@router.get("/kinds", response_model=list[KindPublic])
def list_kinds(runtime: RuntimeDep, _viewer: CurrentViewer) -> list[KindPublic]:
    return [
        KindPublic(
            name=k.name,
            label=k.label_ja,
            queue=k.queue,
            service=k.service,
            unit_name=k.unit_name,
            unit_label=k.unit_label_ja,
            accepted_media_types=sorted(k.accepted_media_types),
            max_files=k.max_files,
        )
        for k in runtime.registry.all()
    ]


async def stage_uploads(files: list[UploadFile], runtime: Runtime) -> list[intake.StagedInput]:
    """Stream each upload into the artifact store, chunk by chunk."""
    staged: list[intake.StagedInput] = []
    limit = runtime.settings.max_upload_bytes
    try:
        for upload in files:
            name = safe_name(upload.filename or "")
            writer = runtime.artifacts.writer(limit, name)
            try:
                while chunk := await upload.read(CHUNK):
                    writer.write(chunk)
            except BaseException:
                writer.abort()
                raise
            staged.append(intake.StagedInput(name=name, blob=writer.commit()))
    except BaseException:
        discard([s.blob for s in staged], runtime)
        raise
    return staged


def discard(blobs: list[StoredBlob], runtime: Runtime) -> None:
    with unit_of_work(runtime.factory) as session:
        housekeeping.discard_unreferenced(blobs, runtime.artifacts, session=session)


def parse_parameters(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise UploadRejected(
            "invalid_parameters",
            f"parameters のJSONが正しくありません（{exc.lineno}行{exc.colno}文字目）。",
        ) from exc
    if not isinstance(value, dict):
        raise UploadRejected(
            "invalid_parameters", "parameters はJSONオブジェクト（{...}）で指定してください。"
        )
    return value


@router.post(
    "/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    summary="Submit a job (returns at once; the work runs on a worker)",
)
async def submit_job(
    request: Request,
    runtime: RuntimeDep,
    viewer: CurrentViewer,
    kind: Annotated[str, Form(description="job kind, see /api/v1/kinds")],
    files: Annotated[list[UploadFile], File(description="input files")],
    parameters: Annotated[str, Form(description="JSON object of job parameters")] = "{}",
) -> JobAccepted:
    job_kind = runtime.registry.get(kind)
    params = parse_parameters(parameters)
    staged = await stage_uploads(files, runtime)
    task_id = new_task_id()
    try:
        with unit_of_work(runtime.factory) as session:
            job = intake.accept(
                session=session,
                kind=job_kind,
                viewer=viewer,
                params=params,
                staged=staged,
                options=runtime.settings.kind_options(),
            )
            job.task_id, job.enqueued_at = task_id, job.submitted_at
            job_id = job.id
    except DigilaboError as exc:
        discard([s.blob for s in staged], runtime)
        api_metrics().refused.labels(job_kind.name, refusal_reason(exc)).inc()
        raise
    publish(runtime, job_kind, job_id, task_id)
    api_metrics().submitted.labels(job_kind.name, viewer.department_code).inc()
    return JobAccepted(id=job_id, state=State.QUEUED.value, url=f"/api/v1/jobs/{job_id}")


def publish(runtime: Runtime, kind: JobKind, job_id: str, task_id: str) -> None:
    """Enqueue after the commit, so a worker never sees a job the database
    does not have yet; the task id was stored with that commit. A broker
    outage fails the job with a reason instead of leaving it queued forever."""
    try:
        enqueue(runtime.celery, runtime.settings, kind, job_id, task_id=task_id)
    except Exception as exc:
        log.error("job %s: could not enqueue: %s", job_id, exc)
        with unit_of_work(runtime.factory) as session:
            transition(
                session,
                job_id,
                State.FAILED,
                error_code="queue_unavailable",
                error_message="処理キューに登録できませんでした。時間をおいて再実行してください。",
            )
        raise DigilaboError(
            "queue_unavailable", "処理キューに接続できません。時間をおいて再度お試しください。"
        ) from exc


def _day_start(day: date | None, tz: str) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz)) if day else None


@router.get("/jobs", response_model=JobsPublic)
def list_jobs(
    runtime: RuntimeDep,
    session: SessionDep,
    viewer: CurrentViewer,
    state: State | None = None,
    kind: str | None = None,
    department: str | None = None,
    submitted_from: Annotated[date | None, Query(description="first day, inclusive")] = None,
    submitted_to: Annotated[date | None, Query(description="last day, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobsPublic:
    tz = runtime.settings.timezone
    end = _day_start(submitted_to, tz)
    filters = store.JobFilter(
        state=state.value if state else None,
        kind=kind,
        department_code=department,
        submitted_from=_day_start(submitted_from, tz),
        submitted_to=end + timedelta(days=1) if end else None,
        limit=limit,
        offset=offset,
    )
    rows, total = store.list_jobs(filters, session=session, viewer=viewer)
    return JobsPublic(
        data=[job_public(j, runtime, session=session, with_files=False) for j in rows], count=total
    )


@router.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer) -> JobPublic:
    job = store.get_job(job_id, session=session, viewer=viewer)
    store.audit("view", session=session, viewer=viewer, job_id=job.id)
    return job_public(job, runtime, session=session)


@router.get("/jobs/{job_id}/artifacts/{name}", response_class=FileResponse, summary="Download an output file")
def download_artifact(
    job_id: str, name: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer
) -> FileResponse:
    return _download(job_id, name, "output", runtime, session, viewer)


@router.get(
    "/jobs/{job_id}/inputs/{name}",
    response_class=FileResponse,
    summary="Download a file the job was sent with",
)
def download_input(
    job_id: str, name: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer
) -> FileResponse:
    return _download(job_id, name, "input", runtime, session, viewer)


def _download(
    job_id: str, name: str, role: str, runtime: Runtime, session: Session, viewer: Viewer
) -> FileResponse:
    job = store.get_job(job_id, session=session, viewer=viewer)
    artifact = store.get_artifact(job.id, name, session=session, role=role)
    path = runtime.artifacts.path_for(artifact.sha256)
    if not path.is_file():
        raise DigilaboError(
            "artifact_missing", "ファイルが保存領域にありません。運用担当にお問い合わせください。"
        )
    store.audit("download", session=session, viewer=viewer, job_id=job.id, name=name, role=role)
    return FileResponse(path, media_type=artifact.media_type, filename=artifact.name)


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job_id: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer) -> JobPublic:
    job = store.get_job(job_id, session=session, viewer=viewer)
    job = transition(session, job.id, State.CANCELLED, error_code=None, error_message=None)
    store.audit("cancel", session=session, viewer=viewer, job_id=job.id)
    if job.task_id:
        # Not yet started: the worker drops it. Already running: the core
        # sees the cancellation at its next progress report.
        runtime.celery.control.revoke(job.task_id)
    return job_public(job, runtime, session=session)


@router.post("/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
def retry_job(job_id: str, runtime: RuntimeDep, viewer: CurrentViewer) -> JobAccepted:
    task_id = new_task_id()
    with unit_of_work(runtime.factory) as session:
        job = store.get_job(job_id, session=session, viewer=viewer)
        if job.state not in (State.FAILED, State.CANCELLED):
            raise InvalidTransition(job.id, job.state, State.QUEUED.value)
        transition(
            session,
            job.id,
            State.QUEUED,
            error_code=None,
            error_message=None,
            progress_message="",
            task_id=task_id,
        )
        store.audit("retry", session=session, viewer=viewer, job_id=job.id)
        kind = runtime.registry.get(job.kind)
    publish(runtime, kind, job_id, task_id)
    return JobAccepted(id=job_id, state=State.QUEUED.value, url=f"/api/v1/jobs/{job_id}")
