"""/api/v1/jobs: submit, list, read, download, cancel, retry (the work is
``services.jobs``)."""

from __future__ import annotations

from datetime import date
from difflib import get_close_matches
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import FileResponse

from intake_api.deps import CurrentViewer, RuntimeDep, SessionDep
from intake_api.files import send_file
from jobs.errors import JobInputError
from jobs.lifecycle import State
from services import fairshare
from services import jobs as service
from services.schemas import JobAccepted, JobPublic, JobsPublic, KindPublic

router = APIRouter(prefix="/api/v1", tags=["jobs"])
SUBMIT_FIELDS = ("kind", "files", "parameters", "urgent")


def refuse_unknown_fields(names: set[str]) -> None:
    """A misspelt field (``params``) would otherwise be dropped silently and
    the job refused for a reason that has nothing to do with the mistake."""
    unknown = sorted(names - set(SUBMIT_FIELDS))
    if not unknown:
        return
    name = unknown[0]
    close = get_close_matches(name, SUBMIT_FIELDS, n=1, cutoff=0.5)
    expected = close[0] if close else "、".join(SUBMIT_FIELDS)
    hint = f"（{close[0]} のつもりではありませんか）" if close else ""
    raise JobInputError(
        "unknown_field",
        f"項目 {name} は受け付けていません。送れる項目は {'、'.join(SUBMIT_FIELDS)} です{hint}。",
        field=name,
        expected=expected,
    )


@router.get("/kinds", response_model=list[KindPublic])
def list_kinds(runtime: RuntimeDep, _viewer: CurrentViewer) -> list[KindPublic]:
    return service.list_kinds(runtime)


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
    urgent: Annotated[bool, Form(description="至急: taken before normal work (operators only)")] = False,
) -> JobAccepted:
    refuse_unknown_fields(set((await request.form()).keys()))
    runtime.registry.get(kind)  # an unknown kind is refused before the parameters are read
    params = service.parse_parameters(parameters, runtime.settings)
    return await service.submit(runtime, viewer, kind, files, params, urgent=urgent)


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
    return service.list_jobs(
        runtime, session, viewer, state, kind, department, submitted_from, submitted_to, limit, offset
    )


@router.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer) -> JobPublic:
    return service.get_job(job_id, runtime, session, viewer)


@router.get("/jobs/{job_id}/artifacts/{name}", response_class=FileResponse, summary="Download an output file")
def download_artifact(
    job_id: str, name: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer
) -> FileResponse:
    return send_file(job_id, name, "output", runtime, session, viewer)


@router.get(
    "/jobs/{job_id}/inputs/{name}",
    response_class=FileResponse,
    summary="Download a file the job was sent with",
)
def download_input(
    job_id: str, name: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer
) -> FileResponse:
    return send_file(job_id, name, "input", runtime, session, viewer)


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job_id: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer) -> JobPublic:
    return service.cancel_job(job_id, runtime, session, viewer)


@router.post("/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
def retry_job(job_id: str, runtime: RuntimeDep, viewer: CurrentViewer) -> JobAccepted:
    return service.retry_job(job_id, runtime, viewer)


@router.post(
    "/jobs/{job_id}/urgent",
    response_model=JobPublic,
    summary="Mark a waiting job 至急 (operators): released before every department's normal work",
)
def mark_urgent(job_id: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer) -> JobPublic:
    fairshare.mark_urgent(job_id, runtime, viewer)
    return service.get_job(job_id, runtime, session, viewer)
