"""Entry scripts (入力スクリプト) for bulk financial-system entry: the list
with versions and approval, one version with its YAML, the upload form that
shows the mistake's line, and approval by a second operator.

Every action calls the application layer (``services.scripts``) with the
logged-in person as viewer, as the API does, so the rules (the uploader
cannot approve their own version unless admin) and the audit log are the
same; the pages are for operators only. Departments choose approved scripts
on the new-job form only.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from intake_api.deps import SessionDep
from intake_api.portal.web import CsrfChecked, OperatorUser, PortalRoute, PortalUser, redirect, render
from jobs.errors import DigilaboError, InvalidTransition, JobInputError
from jobs.rpa.portal import STATUS_LABELS
from services import scripts

router = APIRouter(prefix="/portal/scripts", route_class=PortalRoute, include_in_schema=False)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    approved_at = row.get("approved_at")
    return row | {
        "status_label": STATUS_LABELS.get(row["status"], row["status"]),
        "approved": datetime.fromisoformat(approved_at) if approved_at else None,
    }


@router.get("")
def script_list(request: Request, session: SessionDep, user: OperatorUser) -> Response:
    rows = [_shown(r) for r in scripts.list_with_samples(session)]
    in_use = scripts.in_use(session)
    groups = [(key, list(versions)) for key, versions in groupby(rows, key=lambda r: r["id"])]
    return render(request, "scripts.html", {"groups": groups, "in_use": in_use})


# --- upload -----------------------------------------------------------------------------


def _upload_page(request: Request, status: int = 200, **context: Any) -> Response:
    values = {"error": "", "line": None, "valid": False, "lines": [], "script_id": "", **context}
    return render(request, "script_upload.html", values, status=status)


@router.get("/new")
def upload_form(request: Request, _user: OperatorUser, script_id: str = "") -> Response:
    return _upload_page(request, script_id=script_id[:64])


async def _yaml_lines(upload: UploadFile) -> list[str]:
    """The uploaded YAML's lines, to show beside its mistake."""
    raw = await upload.read(scripts.MAX_SCRIPT_BYTES + 1)
    await upload.seek(0)
    if len(raw) > scripts.MAX_SCRIPT_BYTES:
        return []
    return raw.decode("utf-8-sig", errors="replace").splitlines()


@router.post("/new", dependencies=[CsrfChecked])
async def upload(
    request: Request,
    session: SessionDep,
    user: OperatorUser,
    script_id: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "upload",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    script_id = script_id.strip()[:64]
    if file is None or not file.filename:
        return _upload_page(
            request, 422, script_id=script_id, error="入力スクリプトのYAMLファイルを選んでください。"
        )
    lines = await _yaml_lines(file)
    try:
        if action == "validate":
            checked = scripts.validate(scripts.decode(await file.read(scripts.MAX_SCRIPT_BYTES + 1)))
            if checked["valid"]:
                return _upload_page(request, script_id=script_id, valid=True)
            error, line = checked["message"], checked["line"]
        else:
            text = scripts.decode(await file.read(scripts.MAX_SCRIPT_BYTES + 1))
            saved = scripts.upload(session, user.viewer, script_id, text)
            flag = "saved" if saved["created"] else "unchanged"
            return redirect(f"/portal/scripts/{saved['id']}?version={saved['version']}&{flag}=1")
    except JobInputError as exc:
        error, line = exc.message, exc.details.get("line")
    except DigilaboError as exc:
        return _upload_page(request, exc.http_status, script_id=script_id, error=exc.message)
    context = {"script_id": script_id, "error": error, "line": line, "lines": lines if line else []}
    return _upload_page(request, 422, **context)


# --- one script -------------------------------------------------------------------------


def _script_page(
    request: Request,
    session: Session,
    user: PortalUser,
    script_id: str,
    version: int | None,
    status: int = 200,
    **flags: Any,
) -> Response:
    found = _shown(scripts.get(session, script_id, version))
    versions = [_shown(r) for r in scripts.list_all(session) if r["id"] == found["id"]]
    in_use = next((r["version"] for r in versions if r["status"] == "approved"), None)
    context = {
        "s": found,
        "lines": found["text"].splitlines(),
        "versions": versions,
        "in_use": in_use,
        "own_upload": found["uploaded_by"] == user.viewer.name and user.viewer.role != "admin",
        "error": "",
        **flags,
    }
    return render(request, "script.html", context, status=status)


@router.get("/{script_id}")
def script_page(
    request: Request,
    script_id: str,
    session: SessionDep,
    user: OperatorUser,
    version: int | None = None,
    saved: int = 0,
    unchanged: int = 0,
    approved: int = 0,
) -> Response:
    flags = {"saved": bool(saved), "unchanged": bool(unchanged), "approved": bool(approved)}
    return _script_page(request, session, user, script_id, version, **flags)


@router.get("/{script_id}/script.yaml")
def script_file(
    script_id: str, session: SessionDep, user: OperatorUser, version: int | None = None
) -> Response:
    found = scripts.get(session, script_id, version)
    return Response(
        found["text"].encode("utf-8"),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{found["id"]}-v{found["version"]}.yaml"'},
    )


@router.get("/{script_id}/versions/{version}/approve")
def approve_address(script_id: str, version: int, _user: OperatorUser) -> Response:
    """The approval's address opened in the browser: the version's page (approving takes the button)."""
    return redirect(f"/portal/scripts/{quote(script_id)}?version={version}")


@router.post("/{script_id}/versions/{version}/approve", dependencies=[CsrfChecked])
def approve(
    request: Request, script_id: str, version: int, session: SessionDep, user: OperatorUser
) -> Response:
    try:
        row = scripts.approve(session, user.viewer, script_id, version)
    except InvalidTransition:
        error = "この版はすでに承認されています。"
        return _script_page(request, session, user, script_id, version, 409, error=error)
    except DigilaboError as exc:
        # Refused (e.g. one's own upload): the page again with the API's message.
        return _script_page(request, session, user, script_id, version, exc.http_status, error=exc.message)
    return redirect(f"/portal/scripts/{row['id']}?version={row['version']}&approved=1")
