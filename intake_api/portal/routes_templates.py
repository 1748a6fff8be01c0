"""OCR templates (帳票定義): the list, one template with its fields and
preview, the upload form that shows validation problems by line, and the
editor where boxes are drawn or moved on the reference page.

Listing, reading, previewing, validating, uploading and saving an edit as a
new version call the application layer (``services.templates``), as the API
does. Everyone logged in may look;
uploading and editing are for operators and admins.
"""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData

from intake_api.deps import SessionDep
from intake_api.portal.web import CsrfChecked, CurrentUser, OperatorUser, PortalRoute, redirect, render
from jobs.errors import DigilaboError, JobInputError, NotFound
from jobs.ocr import store as templates
from jobs.ocr.edit import EDITOR_KEYS, FieldEdit, definition_yaml, field_extras
from jobs.ocr.portal import TYPE_LABELS
from jobs.ocr.template import Box
from jobs.ocr.yamldoc import MAX_TEMPLATE_BYTES, TemplateError
from services import templates as service

router = APIRouter(prefix="/portal/templates", route_class=PortalRoute, include_in_schema=False)

MAX_FIELDS = 500
_ROW_KEY = re.compile(r"name_([0-9]{1,4})")
_PROBLEM_FIELD = re.compile(r"fields\[([0-9]+)\]")


@router.get("")
def template_list(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    rows = service.list_latest(session, with_samples=True)  # the bundled samples on first use
    for row in rows:
        row["created"] = datetime.fromisoformat(row["created_at"])
    return render(request, "templates.html", {"templates": rows})


# --- upload -----------------------------------------------------------------------------


def _upload_page(request: Request, status: int = 200, **context: Any) -> Response:
    values = {"problems": [], "error": "", "valid": False, "lines": [], "bad_lines": set(), **context}
    return render(request, "template_upload.html", values, status=status)


@router.get("/new")
def upload_form(request: Request, _user: OperatorUser) -> Response:
    return _upload_page(request)


async def _read(upload: UploadFile) -> bytes:
    return service.check_size(upload.filename, await upload.read(service.MAX_TEMPLATE_BYTES + 1))


async def _yaml_lines(upload: UploadFile) -> list[str]:
    """The uploaded YAML's lines, to show beside its problems."""
    raw = await upload.read(MAX_TEMPLATE_BYTES + 1)
    await upload.seek(0)
    if len(raw) > MAX_TEMPLATE_BYTES:
        return []
    return raw.decode("utf-8-sig", errors="replace").splitlines()


@router.post("/new", dependencies=[CsrfChecked])
async def upload(
    request: Request,
    session: SessionDep,
    user: OperatorUser,
    action: Annotated[str, Form()] = "upload",
    definition: Annotated[UploadFile | None, File()] = None,
    reference: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    if definition is None or not definition.filename:
        return _upload_page(request, 422, error="帳票定義のYAMLファイルを選んでください。")
    lines = await _yaml_lines(definition)
    try:
        if action == "validate":
            checked = service.validate(await _read(definition))
            problems = checked["problems"]
            if not problems:
                return _upload_page(request, valid=True)
        else:
            refs = [r for r in reference or [] if r.filename]
            files = {r.filename or "": await _read(r) for r in refs}
            result = service.upload(session, user.viewer, await _read(definition), files)
            flag = "saved" if result["created"] else "unchanged"
            return redirect(f"/portal/templates/{result['id']}?version={result['version']}&{flag}=1")
    except TemplateError as exc:
        problems = [p.to_json() for p in exc.problems]
    except DigilaboError as exc:
        return _upload_page(request, exc.http_status, error=exc.message)
    bad = {p["line"] for p in problems}
    return _upload_page(request, 422, problems=problems, lines=lines, bad_lines=bad)


# --- one template -------------------------------------------------------------------------


@router.get("/{template_id}")
def template_page(
    request: Request,
    template_id: str,
    session: SessionDep,
    user: CurrentUser,
    version: int | None = None,
    saved: int = 0,
    unchanged: int = 0,
) -> Response:
    found = service.get(session, template_id, version)
    newest = templates.latest(template_id, session=session)
    row = templates.get_version(template_id, found["version"], session=session)
    definition = row.stored["definition"]
    context = {
        "t": found,
        "definition": definition,
        "created": datetime.fromisoformat(found["created_at"]),
        "newest": newest.version if newest else found["version"],
        "pages": range(1, int(definition.get("pages", 1)) + 1),
        "types": TYPE_LABELS,
        "saved": bool(saved),
        "unchanged": bool(unchanged),
    }
    return render(request, "template.html", context)


@router.get("/{template_id}/preview.png")
def preview(
    template_id: str, session: SessionDep, user: CurrentUser, version: int | None = None, page: int = 1
) -> Response:
    return Response(service.preview(session, template_id, version, page), media_type="image/png")


@router.get("/{template_id}/reference.png")
def reference(
    template_id: str, session: SessionDep, _user: CurrentUser, version: int | None = None, page: int = 1
) -> Response:
    """The blank reference page (150 dpi grey) the editor draws on."""
    pngs = templates.get_version(template_id, version, session=session).stored.get("reference_png", [])
    if not 1 <= page <= len(pngs):
        raise NotFound("参照ページ")
    return Response(base64.b64decode(pngs[page - 1]), media_type="image/png")


@router.get("/{template_id}/definition.yaml")
def definition_file(
    template_id: str, session: SessionDep, _user: CurrentUser, version: int | None = None
) -> Response:
    row = templates.get_version(template_id, version, session=session)
    return Response(
        definition_yaml(row.stored["definition"]).encode("utf-8"),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{row.template_id}-v{row.version}.yaml"'},
    )


# --- the box editor -----------------------------------------------------------------------


def _stored_rows(definition: dict[str, Any]) -> list[dict[str, Any]]:
    extras = field_extras(definition)
    return [
        {
            "orig": f["name"],
            "name": f["name"],
            "label": f["label"],
            "type": f["type"],
            "page": int(f.get("page", 1)),
            "required": bool(f.get("required", False)),
            "extra": json.dumps(extras[f["name"]], ensure_ascii=False),
            **{k: f["box"][k] for k in ("x", "y", "w", "h")},
        }
        for f in definition["fields"]
    ]


def _editor(
    request: Request,
    row: Any,
    rows: list[dict[str, Any]],
    page: int,
    problems: list[dict[str, Any]] | None = None,
    error: str = "",
) -> Response:
    definition = row.stored["definition"]
    pages = int(definition.get("pages", 1))
    stored = field_extras(definition)
    for r in rows:  # a row sent without its panel shows the stored keys again
        if r.get("extra") is None:
            r["extra"] = json.dumps(stored.get(r.get("orig") or "", {}), ensure_ascii=False)
    bad_rows = {int(m.group(1)) for p in problems or [] for m in [_PROBLEM_FIELD.match(p["field"])] if m}
    context = {
        "row": row,
        "definition": definition,
        "rows": rows,
        "page": min(max(1, page), pages),
        "pages": range(1, pages + 1),
        "types": TYPE_LABELS,
        "problems": problems or [],
        "bad_rows": bad_rows,
        "error": error,
    }
    return render(request, "template_edit.html", context, status=422 if problems or error else 200)


@router.get("/{template_id}/edit")
def edit_form(
    request: Request,
    template_id: str,
    session: SessionDep,
    _user: OperatorUser,
    version: int | None = None,
    page: int = 1,
) -> Response:
    row = templates.get_version(template_id, version, session=session)
    return _editor(request, row, _stored_rows(row.stored["definition"]), page)


def _number(raw: str, what: str, index: int) -> float:
    try:
        value = float(raw.replace("，", ".").strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise JobInputError(
            "invalid_box", f"{index + 1}番目の項目の「{what}」は数値（mm）で入力してください。"
        )
    return value


def edited_rows(form: FormData) -> list[dict[str, Any]]:
    """The editor's rows as posted, in screen order, without those marked 削除."""
    indices = sorted(int(m.group(1)) for key in form if (m := _ROW_KEY.fullmatch(key)))
    rows = []
    for i in indices:
        if form.get(f"delete_{i}"):
            continue
        text = {k: str(form.get(f"{k}_{i}") or "").strip() for k in ("orig", "name", "label", "type", "page")}
        box = {k: str(form.get(f"{k}_{i}") or "") for k in ("x", "y", "w", "h")}
        extra = form.get(f"extra_{i}")  # absent: the page was sent without its detail panel
        rows.append(
            {
                **text,
                **box,
                "required": bool(form.get(f"required_{i}")),
                "extra": None if extra is None else str(extra),
            }
        )
    if len(rows) > MAX_FIELDS:
        raise JobInputError("too_many_fields", f"項目は{MAX_FIELDS}個までです。")
    return rows


def _extra(raw: str | None, index: int) -> dict[str, Any] | None:
    """The detail panel's keys of one row (JSON written by template-editor.js)."""
    if raw is None:
        return None
    try:
        extra = json.loads(raw or "{}")
    except ValueError:
        extra = None
    if not isinstance(extra, dict) or set(extra) - {*EDITOR_KEYS, "condition"}:
        raise JobInputError(
            "invalid_detail", f"{index + 1}番目の項目の詳細が読めません。ページを読み込み直してください。"
        )
    condition = extra.get("condition") or {}
    if not isinstance(condition, dict) or set(condition) - {"required_if", "empty_unless"}:
        raise JobInputError("invalid_detail", f"{index + 1}番目の項目の条件が読めません。")
    return extra


def field_edits(rows: list[dict[str, Any]]) -> list[FieldEdit]:
    labels = {"x": "左", "y": "上", "w": "幅", "h": "高さ"}
    edits = []
    for index, r in enumerate(rows):
        box = Box(*(_number(r[k], labels[k], index) for k in ("x", "y", "w", "h")))
        page = int(r["page"]) if r["page"].isdigit() else 1
        extra = _extra(r.get("extra"), index)
        edits.append(
            FieldEdit(r["name"], r["label"], r["type"], page, box, r["required"], r["orig"] or None, extra)
        )
    return edits


def _save_edit(
    template_id: str, base_version: int, rows: list[dict[str, Any]], *, session: Any, viewer: Any
) -> str:
    """Store the edited fields as the next version; returns the page to show."""
    version, saved = service.save_edit(session, viewer, template_id, base_version, field_edits(rows))
    return f"/portal/templates/{template_id}?version={version}&{'saved' if saved else 'unchanged'}=1"


@router.post("/{template_id}/edit", dependencies=[CsrfChecked])
async def save_edit(
    request: Request,
    template_id: str,
    session: SessionDep,
    user: OperatorUser,
    base_version: Annotated[int, Form()],
    page: Annotated[int, Form()] = 1,
) -> Response:
    form = await request.form()
    rows = edited_rows(form)
    try:
        target = await run_in_threadpool(
            _save_edit, template_id, base_version, rows, session=session, viewer=user.viewer
        )
    except TemplateError as exc:
        row = templates.get_version(template_id, base_version, session=session)
        return _editor(request, row, rows, page, problems=[p.to_json() for p in exc.problems])
    except JobInputError as exc:
        row = templates.get_version(template_id, base_version, session=session)
        return _editor(request, row, rows, page, error=exc.message)
    return redirect(target)
