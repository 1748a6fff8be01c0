"""Jobs for every caller (API routes, portal pages): submit, list, read,
download, cancel, retry. Each function takes the runtime, the viewer and,
where it reads or writes in the caller's transaction, ``session``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from composition.runtime import Runtime
from config.settings import Settings
from jobs import housekeeping, intake, jsonlimits, ledger, ocr_entry, store
from jobs.artifacts import CHUNK, StoredBlob, safe_name
from jobs.db import unit_of_work
from jobs.errors import STATE_LABELS_JA, DigilaboError, InvalidTransition, NotFound
from jobs.lifecycle import FINISHED, State, transition
from jobs.models import Artifact, Job
from jobs.registry import JobKind
from jobs.store import Viewer
from monitoring.metrics import api_metrics, refusal_reason
from queues import fastpath
from queues.dispatch import enqueue, new_task_id
from queues.fair import client_for
from services import fairshare
from services.schemas import ArtifactPublic, JobAccepted, JobPublic, JobsPublic, KindPublic

log = logging.getLogger(__name__)


class Upload(Protocol):
    """An uploaded file being received (FastAPI's UploadFile is one)."""

    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


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
        urgent=bool(job.urgent),
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
        **ocr_entry.link(job, session=session),
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
        out.pair_saved_seconds = _pair_saving(out, session)
    return out


def _pair_saving(out: JobPublic, session: Session) -> float | None:
    """The OCR job and its entry job counted as one piece of work, once both succeeded."""
    pair = [out.source_job_id, out.id] if out.source_job_id else [out.id, out.entry_job_id]
    ids = [i for i in pair if i]
    if len(ids) != 2 or not all(store.get_job(i, session=session).state == State.SUCCEEDED for i in ids):
        return None
    return ledger.pair_total(ids, session=session)


def list_kinds(runtime: Runtime) -> list[KindPublic]:
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


async def stage_uploads(files: Sequence[Upload], runtime: Runtime) -> list[intake.StagedInput]:
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


def parse_parameters(raw: str, settings: Settings) -> dict[str, Any]:
    """The parameters field as a JSON object, within size and depth limits (422)."""
    return jsonlimits.load_object(
        raw, max_bytes=settings.max_parameters_bytes, max_depth=settings.max_parameters_depth
    )


async def submit(
    runtime: Runtime,
    viewer: Viewer,
    kind: str,
    files: Sequence[Upload],
    params: dict[str, Any],
    *,
    urgent: bool = False,
) -> JobAccepted:
    """Store the uploads, record the job, enqueue it after the commit. The
    kind's intake check sees the kind options (where credentials are kept);
    a refusal is counted by kind and reason. The department's quotas are
    checked in the same transaction (``urgent``: operators only)."""
    job_kind = runtime.registry.get(kind)
    if urgent:
        fairshare.require_operator(viewer)
    staged = await stage_uploads(files, runtime)
    task_id = new_task_id()
    fast = fastpath.AtIntake()
    try:
        with unit_of_work(runtime.factory) as session:
            work = intake.measure(job_kind, staged)
            fairshare.check_quota(
                runtime.settings, viewer.department_code, staged, session=session, kind=job_kind, work=work
            )
            job = intake.accept(
                session=session,
                kind=job_kind,
                viewer=viewer,
                params=params,
                staged=staged,
                options=runtime.settings.kind_options(),
            )
            ocr_entry.check_setup(job.parameters, runtime.settings.kind_options(), session=session)
            job.task_id, job.enqueued_at, job.work_amount = task_id, job.submitted_at, work
            if urgent:
                fairshare.raise_urgent(job, viewer, session=session)
            job_id = job.id
            if runtime.settings.dispatch_mode == "fair":
                fast = fastpath.claim_at_intake(client_for(runtime.settings), job, session=session)
    except BaseException as exc:
        if fast.release is not None:
            fast.release.abandon()
        if isinstance(exc, DigilaboError):
            discard([s.blob for s in staged], runtime)
            api_metrics().refused.labels(job_kind.name, refusal_reason(exc)).inc()
        raise
    publish(runtime, job_kind, job_id, task_id, fast)
    api_metrics().submitted.labels(job_kind.name, viewer.department_code).inc()
    return JobAccepted(id=job_id, state=State.QUEUED.value, url=f"/api/v1/jobs/{job_id}")


def publish(
    runtime: Runtime, kind: JobKind, job_id: str, task_id: str, fast: fastpath.AtIntake | None = None
) -> None:
    """Enqueue after the commit, so a worker never sees a job the database
    does not have yet; the task id was stored with that commit. A broker
    outage fails the job with a reason instead of leaving it queued forever.
    Under fair dispatch the job waits in the database for its turn: this only
    wakes the dispatcher (which also passes on its own every few seconds),
    unless the commit released it to an idle pool (sent here) or no pass
    could release it now (``queues.fastpath.AtIntake``)."""
    if runtime.settings.dispatch_mode == "fair":
        fast = fast or fastpath.AtIntake()
        if fast.release is not None and fast.release.send(
            runtime.celery, runtime.settings, kind, task_id, runtime.factory
        ):
            return
        if fast.wake:
            fairshare.wake_dispatcher(runtime.settings, kind.queue)
        return
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


def list_jobs(
    runtime: Runtime,
    session: Session,
    viewer: Viewer,
    state: State | None = None,
    kind: str | None = None,
    department: str | None = None,
    submitted_from: date | None = None,
    submitted_to: date | None = None,
    limit: int = 100,
    offset: int = 0,
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


def get_job(job_id: str, runtime: Runtime, session: Session, viewer: Viewer) -> JobPublic:
    """One job with its files; the view is audited."""
    job = store.get_job(job_id, session=session, viewer=viewer)
    store.audit_view(
        session=session, viewer=viewer, job_id=job.id, window_s=runtime.settings.audit_view_window_s
    )
    return job_public(job, runtime, session=session)


def stored_parameters(job_id: str, session: Session, viewer: Viewer) -> dict[str, Any]:
    """The job's parameters as stored (whole OCR templates included, which
    ``job_public`` leaves out): what labels its result files."""
    return dict(store.get_job(job_id, session=session, viewer=viewer).parameters or {})


def download(
    job_id: str, name: str, role: str, runtime: Runtime, session: Session, viewer: Viewer
) -> tuple[Path, Artifact]:
    """The stored file of one input or output (audited), for the caller to send."""
    job = store.get_job(job_id, session=session, viewer=viewer)
    artifact = store.get_artifact(job.id, name, session=session, role=role)
    path = runtime.artifacts.path_for(artifact.sha256)
    if not path.is_file():
        raise DigilaboError(
            "artifact_missing", "ファイルが保存領域にありません。運用担当にお問い合わせください。"
        )
    store.audit("download", session=session, viewer=viewer, job_id=job.id, name=name, role=role)
    return path, artifact


def cancel_job(job_id: str, runtime: Runtime, session: Session, viewer: Viewer) -> JobPublic:
    job = store.get_job(job_id, session=session, viewer=viewer)
    job = transition(session, job.id, State.CANCELLED, error_code=None, error_message=None)
    store.audit("cancel", session=session, viewer=viewer, job_id=job.id)
    if job.task_id:
        # Not yet started: the worker drops it. Already running: the core
        # sees the cancellation at its next progress report.
        runtime.celery.control.revoke(job.task_id)
    return job_public(job, runtime, session=session)


def retry_job(job_id: str, runtime: Runtime, viewer: Viewer) -> JobAccepted:
    """A failed or cancelled job back to the queue, in a transaction of its own."""
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
            released_at=None,
        )
        store.audit("retry", session=session, viewer=viewer, job_id=job.id)
        kind = runtime.registry.get(job.kind)
    publish(runtime, kind, job_id, task_id)
    return JobAccepted(id=job_id, state=State.QUEUED.value, url=f"/api/v1/jobs/{job_id}")


def job_states(ids: list[str], *, session: Session, viewer: Viewer) -> list[dict[str, Any]]:
    """State and progress of up to 100 jobs (those the viewer may see)."""
    out = []
    for job_id in list(dict.fromkeys(i for i in ids if i))[:100]:
        try:
            job = store.get_job(job_id, session=session, viewer=viewer)
        except NotFound:
            continue
        out.append(
            {
                "id": job.id,
                "state": job.state,
                "state_label": STATE_LABELS_JA.get(job.state, job.state),
                "progress": round(job.progress or 0.0, 4),
                "progress_message": job.progress_message or "",
                "finished": State(job.state) in FINISHED,
            }
        )
    return out
