"""Entry scripts (入力スクリプト) for bulk financial-system entry: the list
with versions and approval, one version with its YAML, the upload form that
shows the mistake's line, and approval by a second operator.

Every action calls the scripts API's own route functions
(``intake_api.routes.scripts``) with the logged-in person as viewer, so the
rules (operators only; the uploader cannot approve their own version unless
admin) and the audit log are the API's. Departments choose approved scripts
on the new-job form only.
"""

from __future__ import annotations

import json
from datetime import datetime
from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from intake_api.deps import SessionDep
from intake_api.portal.web import (
    CsrfChecked,
    NavItem,
    OperatorUser,
    PortalRoute,
    PortalUser,
    add_nav,
    redirect,
    render,
)
from intake_api.routes import scripts as scripts_api
from jobs.errors import DigilaboError, InvalidTransition, JobInputError
from jobs.rpa.portal import STATUS_LABELS, approved_newest, install_samples

router = APIRouter(prefix="/portal/scripts", route_class=PortalRoute, include_in_schema=False)
add_nav(NavItem("/portal/scripts", "入力スクリプト", ("operator", "admin")), before="/portal/ops/glossary")


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    approved_at = row.get("approved_at")
    return row | {
        "status_label": STATUS_LABELS.get(row["status"], row["status"]),
        "approved": datetime.fromisoformat(approved_at) if approved_at else None,
    }


@router.get("")
def script_list(request: Request, session: SessionDep, user: OperatorUser) -> Response:
    install_samples(session=session)
    rows = [_shown(r) for r in scripts_api.list_scripts(session, user.viewer)]
    in_use = {(r.script_id, r.version) for r in approved_newest(session=session)}
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
    raw = await upload.read(scripts_api.MAX_SCRIPT_BYTES + 1)
    await upload.seek(0)
    if len(raw) > scripts_api.MAX_SCRIPT_BYTES:
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
            checked = await scripts_api.validate(user.viewer, file)
            if checked["valid"]:
                return _upload_page(request, script_id=script_id, valid=True)
            error, line = checked["message"], checked["line"]
        else:
            answer = await scripts_api.upload(session, user.viewer, script_id, file)
            saved = json.loads(bytes(answer.body))
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
    found = _shown(scripts_api.get_script(script_id, session, user.viewer, version))
    versions = [_shown(r) for r in scripts_api.list_scripts(session, user.viewer) if r["id"] == found["id"]]
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
    found = scripts_api.get_script(script_id, session, user.viewer, version)
    return Response(
        found["text"].encode("utf-8"),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{found["id"]}-v{found["version"]}.yaml"'},
    )


@router.post("/{script_id}/versions/{version}/approve", dependencies=[CsrfChecked])
def approve(
    request: Request, script_id: str, version: int, session: SessionDep, user: OperatorUser
) -> Response:
    try:
        row = scripts_api.approve(script_id, version, session, user.viewer)
    except InvalidTransition:
        error = "この版はすでに承認されています。"
        return _script_page(request, session, user, script_id, version, 409, error=error)
    except DigilaboError as exc:
        # Refused (e.g. one's own upload): the page again with the API's message.
        return _script_page(request, session, user, script_id, version, exc.http_status, error=exc.message)
    return redirect(f"/portal/scripts/{row['id']}?version={row['version']}&approved=1")
