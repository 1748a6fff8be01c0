"""/api/v1/templates: OCR template definitions (帳票定義), versioned."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Response, UploadFile, status
from fastapi.responses import JSONResponse

from intake_api.deps import CurrentViewer, OperatorViewer, SessionDep
from jobs import store
from jobs.errors import UploadRejected
from jobs.ocr import store as templates
from jobs.ocr.models import OcrTemplate
from jobs.ocr.preview import preview_png
from jobs.ocr.template import parse_template, template_from_dict, validate_template

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])

MAX_TEMPLATE_BYTES = 20 * 1024 * 1024


async def _read(upload: UploadFile) -> bytes:
    body = await upload.read(MAX_TEMPLATE_BYTES + 1)
    if len(body) > MAX_TEMPLATE_BYTES:
        raise UploadRejected("file_too_large", f"ファイル「{upload.filename}」が大きすぎます（上限20MB）。")
    return body


def _describe(row: OcrTemplate) -> dict[str, Any]:
    definition = row.stored["definition"]
    return {
        "id": row.template_id,
        "version": row.version,
        "name": row.name,
        "fields": definition.get("fields", []),
        "field_count": row.fields,
        "seconds_per_form": row.seconds_per_form,
        "digest": row.digest,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "preview_url": f"/api/v1/templates/{row.template_id}/preview.png?version={row.version}",
    }


@router.get("")
def list_templates(session: SessionDep, _viewer: CurrentViewer) -> list[dict[str, Any]]:
    """The newest version of every template (departments choose from these)."""
    return [
        {k: v for k, v in _describe(row).items() if k != "fields"}
        for row in templates.list_latest(session=session)
    ]


@router.get("/{template_id}/versions")
def list_template_versions(
    template_id: str, session: SessionDep, _viewer: CurrentViewer
) -> list[dict[str, Any]]:
    """Every version of one template, newest first."""
    return [
        {k: v for k, v in _describe(row).items() if k != "fields"}
        for row in templates.list_versions(template_id, session=session)
    ]


@router.get("/{template_id}")
def get_template(
    template_id: str, session: SessionDep, _viewer: CurrentViewer, version: int | None = None
) -> dict[str, Any]:
    return _describe(templates.get_version(template_id, version, session=session))


@router.get("/{template_id}/preview.png", response_class=Response)
def preview(
    template_id: str, session: SessionDep, _viewer: CurrentViewer, version: int | None = None, page: int = 1
) -> Response:
    row = templates.get_version(template_id, version, session=session)
    return Response(preview_png(template_from_dict(row.stored), page), media_type="image/png")


@router.post("/validate")
async def validate(_viewer: OperatorViewer, definition: Annotated[UploadFile, File()]) -> dict[str, Any]:
    """Check a YAML definition; problems name the line and the field."""
    problems = validate_template(await _read(definition))
    return {"valid": not problems, "problems": [p.to_json() for p in problems]}


@router.post("", status_code=status.HTTP_201_CREATED)
async def upload(
    session: SessionDep,
    viewer: OperatorViewer,
    definition: Annotated[UploadFile, File(description="template YAML")],
    reference: Annotated[list[UploadFile], File(description="the blank form (PDF or image) the YAML names")],
) -> JSONResponse:
    """Store a new version. The same content again stores nothing (200)."""
    files = {r.filename or "": await _read(r) for r in reference}
    template = parse_template(await _read(definition), files)
    row, created = templates.save(template, session=session, created_by=viewer.name)
    store.audit("template", session=session, viewer=viewer, template=template.key, created=created)
    body = {**_describe(row), "created": created}
    body.pop("fields")
    return JSONResponse(body, status_code=201 if created else 200)
