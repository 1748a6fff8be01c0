"""Department pages: a new job, the department's jobs, one job with its
downloads, and the small JSON endpoint the pages poll for progress.

Submitting, reading, downloading, cancelling and retrying call the
application layer (``services.jobs``) with the logged-in person as the
viewer, as the API does, so visibility rules, auditing and metrics are the
same. A kind's own fields and job-page fragment come from its folder.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from composition.runtime import Runtime
from intake_api.deps import RuntimeDep, SessionDep
from intake_api.files import send_file
from intake_api.portal import forms
from intake_api.portal.kinds import fragment, portal_kind
from intake_api.portal.labels import accepted_formats, ocr_field_labels, split_outputs
from intake_api.portal.web import CsrfChecked, CurrentUser, PortalRoute, redirect, render
from jobs import store
from jobs.artifacts import size_label
from jobs.errors import STATE_LABELS_JA, DigilaboError
from jobs.intake import department_defaults
from jobs.lifecycle import FINISHED
from jobs.registry import JobKind
from services import fairshare
from services import jobs as service
from services.downloads import human_name

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
PAGE = 50
MEDIA_ACCEPT = {
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
    "audio/webm": ".webm",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg,.jpeg",
    "image/tiff": ".tif,.tiff",
}

# What a person can do about a failed job, by error code.
ERROR_HINTS: dict[str, str] = {
    "queue_unavailable": "処理キューが一時的に使えませんでした。少し時間をおいて「再実行」してください。",
    "time_limit": "処理が制限時間を超えました。ファイルを分けて依頼するか、運用担当にご相談ください。",
    "worker_lost": "処理中のサーバーが停止しました。「再実行」してください。続く場合は運用担当にご連絡ください。",
    "transient": "相手のシステムが一時的に応答しませんでした。時間をおいて「再実行」してください。",
}
# A cancelled job was stopped on purpose: no failure advice.
CANCELLED_HINT = "このジョブは取り消されました。必要なら「再実行」するか、新しく依頼してください。"
DEFAULT_HINT = (
    "上の理由を確認し、ファイルや入力内容を直して新しく依頼してください。"
    "分からないときは、ジョブ番号を添えて運用担当にお問い合わせください。"
)


def accept_attr(kind: JobKind) -> str:
    return ",".join(sorted({MEDIA_ACCEPT.get(t, t) for t in kind.accepted_media_types}))


def _kind_or_first(runtime: Runtime, name: str) -> JobKind | None:
    if name and name in runtime.registry:
        return runtime.registry.get(name)
    return runtime.registry.first()


def new_job_page(
    request: Request,
    runtime: Runtime,
    session: Session,
    user: Any,
    kind_name: str,
    values: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    kind = _kind_or_first(runtime, kind_name)
    pieces = portal_kind(kind)
    fields = pieces.fields
    if values is None and kind is not None:
        # A fresh form starts on the department's defaults (話者を区別する
        # checked where the department asks for speaker labels).
        defaults = department_defaults(session, kind, user.viewer.department_code)
        values = forms.form_values(fields, defaults)
    context = {
        "kinds": runtime.registry.all(),
        "kind": kind,
        "fields": fields,
        "choices": forms.choices_for(fields, session=session, viewer=user.viewer),
        "generic_rows": range(forms.GENERIC_ROWS),
        "accept": accept_attr(kind) if kind else "",
        "file_input": pieces.file_input,
        "form_fragment": fragment(kind, pieces.form_fragment),
        "formats": accepted_formats(kind.accepted_media_types) if kind else "",
        "values": values or {},
        "error": error,
        "max_size": size_label(runtime.settings.max_upload_bytes),
    }
    return render(request, "new_job.html", context, status=status)


@router.get("/jobs/new")
def new_job(
    request: Request, runtime: RuntimeDep, session: SessionDep, user: CurrentUser, kind: str = ""
) -> Response:
    return new_job_page(request, runtime, session, user, kind)


@router.post("/jobs/new", dependencies=[CsrfChecked])
async def submit(
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    kind: Annotated[str, Form()],
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    fetch = request.headers.get("x-requested-with") == "fetch"
    try:
        job_kind = runtime.registry.get(kind)
        params = forms.params_from_form(job_kind, form)
        uploads = [f for f in files or [] if f.filename]
        accepted = await service.submit(runtime, user.viewer, kind, uploads, params)
    except DigilaboError as exc:
        with runtime.factory() as session:
            return new_job_page(
                request, runtime, session, user, kind, values, exc.message, status=exc.http_status
            )
    url = f"/portal/jobs/{accepted.id}"
    return JSONResponse({"id": accepted.id, "url": url}) if fetch else redirect(url)


def _list_context(page: Any, offset: int) -> dict[str, Any]:
    return {
        "jobs": page.data,
        "count": page.count,
        "offset": offset,
        "page_size": PAGE,
        "active_ids": [j.id for j in page.data if j.state not in FINISHED],
        "states": STATE_LABELS_JA,
    }


@router.get("/jobs")
def my_jobs(
    request: Request, runtime: RuntimeDep, session: SessionDep, user: CurrentUser, offset: int = 0
) -> Response:
    # Department view: always the person's own department, whatever the role.
    viewer = store.Viewer(user.viewer.user_id, user.viewer.name, user.viewer.department_code, "department")
    page = service.list_jobs(runtime, session, viewer, limit=PAGE, offset=max(0, offset))
    return render(request, "jobs.html", _list_context(page, offset))


@router.get("/jobs/{job_id}")
def job_page(
    request: Request, job_id: str, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> Response:
    job = service.get_job(job_id, runtime, session, user.viewer)
    hint = (
        CANCELLED_HINT
        if job.state == "cancelled"
        else ERROR_HINTS.get(job.error_code or "", DEFAULT_HINT)
        if job.state == "failed"
        else ""
    )
    kind = runtime.registry.get(job.kind) if job.kind in runtime.registry else None
    pieces = portal_kind(kind)
    stored = service.stored_parameters(job.id, session, user.viewer)
    files, crop_groups = split_outputs(job.outputs, ocr_field_labels(stored), job.kind)
    tz = runtime.settings.timezone
    context = {
        "job": job,
        "files": files,
        # The name each file is saved under (as the download sends it).
        "saved_as": {f.name: human_name(job.kind, f.name, stored, job.submitted_at, tz) for _, f in files},
        "crop_groups": crop_groups,
        "hint": hint,
        "finished": job.state in FINISHED,
        "param_labels": {f.name: f.label for f in pieces.fields},
        "value_labels": pieces.value_labels,
        "job_fragment": fragment(kind, pieces.job_fragment),
        **(pieces.job_context(job.summary) if pieces.job_context else {}),
    }
    return render(request, "job.html", context)


@router.get("/jobs/{job_id}/files/{name}")
def download(
    job_id: str, name: str, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> FileResponse:
    return send_file(job_id, name, "output", runtime, session, user.viewer)


@router.get("/jobs/{job_id}/inputs/{name}")
def download_input(
    job_id: str, name: str, runtime: RuntimeDep, session: SessionDep, user: CurrentUser
) -> FileResponse:
    return send_file(job_id, name, "input", runtime, session, user.viewer)


@router.post("/jobs/{job_id}/cancel", dependencies=[CsrfChecked])
def cancel(
    job_id: str,
    runtime: RuntimeDep,
    session: SessionDep,
    user: CurrentUser,
    back: Annotated[str, Form()] = "",
) -> Response:
    service.cancel_job(job_id, runtime, session, user.viewer)
    return redirect(_back(back, job_id) + "?done=cancelled")


@router.post("/jobs/{job_id}/retry", dependencies=[CsrfChecked])
def retry(job_id: str, runtime: RuntimeDep, user: CurrentUser, back: Annotated[str, Form()] = "") -> Response:
    service.retry_job(job_id, runtime, user.viewer)
    return redirect(_back(back, job_id) + "?done=retried")


@router.post("/jobs/{job_id}/urgent", dependencies=[CsrfChecked])
def urgent(
    job_id: str, runtime: RuntimeDep, user: CurrentUser, back: Annotated[str, Form()] = ""
) -> Response:
    """至急 (operators): the audit log records who raised it."""
    fairshare.mark_urgent(job_id, runtime, user.viewer)
    return redirect(_back(back, job_id))


def _back(back: str, job_id: str) -> str:
    return (
        back
        if back in ("/portal/ops/failed", "/portal/ops/jobs", "/portal/jobs")
        else f"/portal/jobs/{job_id}"
    )


@router.get("/api/jobs")
def job_status(session: SessionDep, user: CurrentUser, ids: str = "") -> JSONResponse:
    """State and progress of up to 100 jobs (those the person may see)."""
    return JSONResponse({"jobs": service.job_states(ids.split(","), session=session, viewer=user.viewer)})
