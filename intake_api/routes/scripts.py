"""/api/v1/scripts: entry scripts for bulk financial-system entry.
Operators upload; a second operator (or an admin) approves; departments run
approved versions only (the work is ``services.scripts``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse

from intake_api.deps import CurrentViewer, OperatorViewer, SessionDep
from services import scripts

router = APIRouter(prefix="/api/v1/scripts", tags=["scripts"])


async def read_script(upload: UploadFile) -> str:
    return scripts.decode(await upload.read(scripts.MAX_SCRIPT_BYTES + 1))


@router.get("")
def list_scripts(session: SessionDep, _viewer: CurrentViewer) -> list[dict[str, Any]]:
    return scripts.list_all(session)


@router.get("/{script_id}")
def get_script(
    script_id: str, session: SessionDep, _viewer: OperatorViewer, version: int | None = None
) -> dict[str, Any]:
    return scripts.get(session, script_id, version)


@router.post("/validate")
async def validate(_viewer: OperatorViewer, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    return scripts.validate(await read_script(file))


@router.post("", status_code=201)
async def upload(
    session: SessionDep,
    viewer: OperatorViewer,
    script_id: Annotated[str, Form(description="e.g. shishutsu-futan")],
    file: Annotated[UploadFile, File(description="entry script YAML")],
) -> JSONResponse:
    """Store the next version, pending approval. The same text again stores nothing (200)."""
    saved = scripts.upload(session, viewer, script_id, await read_script(file))
    return JSONResponse(saved, status_code=201 if saved["created"] else 200)


@router.post("/{script_id}/versions/{version}/approve")
def approve(script_id: str, version: int, session: SessionDep, viewer: OperatorViewer) -> dict[str, Any]:
    return scripts.approve(session, viewer, script_id, version)
