"""/api/v1/scripts: entry scripts for bulk financial-system entry.
Operators upload; a second operator (or an admin) approves; departments run
approved versions only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse

from intake_api.deps import CurrentViewer, OperatorViewer, SessionDep
from jobs import store
from jobs.errors import JobInputError, UploadRejected
from jobs.rpa import scripts
from jobs.rpa.script import parse_script

router = APIRouter(prefix="/api/v1/scripts", tags=["scripts"])

MAX_SCRIPT_BYTES = 256 * 1024


async def _text(upload: UploadFile) -> str:
    body = await upload.read(MAX_SCRIPT_BYTES + 1)
    if len(body) > MAX_SCRIPT_BYTES:
        raise UploadRejected("file_too_large", "入力スクリプトが大きすぎます（上限256KB）。")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRejected("invalid_script", "入力スクリプトはUTF-8で保存してください。") from None


def _public(row: scripts.RpaScript, *, with_text: bool = False) -> dict[str, Any]:
    out = {
        "id": row.script_id,
        "version": row.version,
        "name": row.name,
        "target": row.target,
        "status": row.status,
        "sha256": row.sha256,
        "uploaded_by": row.uploaded_by,
        "approved_by": row.approved_by,
        "approved_at": row.approved_at.isoformat() if row.approved_at else None,
    }
    return out | ({"text": row.text} if with_text else {})


@router.get("")
def list_scripts(session: SessionDep, _viewer: CurrentViewer) -> list[dict[str, Any]]:
    return [_public(row) for row in scripts.list_scripts(session=session)]


@router.get("/{script_id}")
def get_script(
    script_id: str, session: SessionDep, _viewer: OperatorViewer, version: int | None = None
) -> dict[str, Any]:
    return _public(scripts.get(script_id, version, session=session, approved_only=False), with_text=True)


@router.post("/validate")
async def validate(_viewer: OperatorViewer, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    try:
        parse_script(await _text(file))
    except JobInputError as exc:
        return {"valid": False, "line": exc.details.get("line"), "message": exc.message}
    return {"valid": True, "line": None, "message": ""}


@router.post("", status_code=201)
async def upload(
    session: SessionDep,
    viewer: OperatorViewer,
    script_id: Annotated[str, Form(description="e.g. shishutsu-futan")],
    file: Annotated[UploadFile, File(description="entry script YAML")],
) -> JSONResponse:
    """Store the next version, pending approval. The same text again stores nothing (200)."""
    before = {(r.script_id, r.version) for r in scripts.list_scripts(session=session)}
    row, _ = scripts.upload(script_id, await _text(file), session=session, viewer=viewer)
    created = (row.script_id, row.version) not in before
    store.audit("script_upload", session=session, viewer=viewer, script=f"{row.script_id}@{row.version}")
    return JSONResponse(_public(row) | {"created": created}, status_code=201 if created else 200)


@router.post("/{script_id}/versions/{version}/approve")
def approve(script_id: str, version: int, session: SessionDep, viewer: OperatorViewer) -> dict[str, Any]:
    row = scripts.approve(script_id, version, session=session, viewer=viewer)
    store.audit("script_approve", session=session, viewer=viewer, script=f"{row.script_id}@{row.version}")
    return _public(row)
