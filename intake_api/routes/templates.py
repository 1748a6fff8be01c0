"""/api/v1/templates: OCR template definitions (帳票定義), versioned (the
work is ``services.templates``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Response, UploadFile, status
from fastapi.responses import JSONResponse

from intake_api.deps import CurrentViewer, OperatorViewer, SessionDep
from services import templates

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


async def read_file(upload: UploadFile) -> bytes:
    return templates.check_size(upload.filename, await upload.read(templates.MAX_TEMPLATE_BYTES + 1))


@router.get("")
def list_templates(session: SessionDep, _viewer: CurrentViewer) -> list[dict[str, Any]]:
    """The newest version of every template (departments choose from these)."""
    return templates.list_latest(session)


@router.get("/{template_id}/versions")
def list_template_versions(
    template_id: str, session: SessionDep, _viewer: CurrentViewer
) -> list[dict[str, Any]]:
    """Every version of one template, newest first."""
    return templates.list_versions(session, template_id)


@router.get("/{template_id}")
def get_template(
    template_id: str, session: SessionDep, _viewer: CurrentViewer, version: int | None = None
) -> dict[str, Any]:
    return templates.get(session, template_id, version)


@router.get("/{template_id}/preview.png", response_class=Response)
def preview(
    template_id: str, session: SessionDep, _viewer: CurrentViewer, version: int | None = None, page: int = 1
) -> Response:
    return Response(templates.preview(session, template_id, version, page), media_type="image/png")


@router.post("/validate")
async def validate(_viewer: OperatorViewer, definition: Annotated[UploadFile, File()]) -> dict[str, Any]:
    """Check a YAML definition; problems name the line and the field."""
    return templates.validate(await read_file(definition))


@router.post("", status_code=status.HTTP_201_CREATED)
async def upload(
    session: SessionDep,
    viewer: OperatorViewer,
    definition: Annotated[UploadFile, File(description="template YAML")],
    reference: Annotated[list[UploadFile], File(description="the blank form (PDF or image) the YAML names")],
) -> JSONResponse:
    """Store a new version. The same content again stores nothing (200)."""
    files = {r.filename or "": await read_file(r) for r in reference}
    saved = templates.upload(session, viewer, await read_file(definition), files)
    return JSONResponse(saved, status_code=201 if saved["created"] else 200)
