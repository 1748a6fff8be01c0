"""OCR template definitions (帳票定義), versioned: list, read, preview,
validate, upload and the editor's new version, for the API and the portal.
Every stored version is audited here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jobs import store
from jobs.errors import UploadRejected
from jobs.ocr import store as templates
from jobs.ocr.edit import FieldEdit, edited_template, unchanged
from jobs.ocr.models import OcrTemplate
from jobs.ocr.portal import latest_templates
from jobs.ocr.preview import preview_png
from jobs.ocr.template import parse_template, template_from_dict, validate_template

MAX_TEMPLATE_BYTES = 20 * 1024 * 1024


def check_size(name: str | None, body: bytes) -> bytes:
    if len(body) > MAX_TEMPLATE_BYTES:
        raise UploadRejected("file_too_large", f"ファイル「{name}」が大きすぎます（上限20MB）。")
    return body


def describe(row: OcrTemplate) -> dict[str, Any]:
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


def _brief(row: OcrTemplate) -> dict[str, Any]:
    return {k: v for k, v in describe(row).items() if k != "fields"}


def list_latest(session: Session, *, with_samples: bool = False) -> list[dict[str, Any]]:
    """The newest version of every template (the portal installs the bundled
    samples first, ``with_samples``)."""
    rows = latest_templates(session=session) if with_samples else templates.list_latest(session=session)
    return [_brief(row) for row in rows]


def list_versions(session: Session, template_id: str) -> list[dict[str, Any]]:
    return [_brief(row) for row in templates.list_versions(template_id, session=session)]


def get(session: Session, template_id: str, version: int | None = None) -> dict[str, Any]:
    return describe(templates.get_version(template_id, version, session=session))


def preview(session: Session, template_id: str, version: int | None = None, page: int = 1) -> bytes:
    row = templates.get_version(template_id, version, session=session)
    return preview_png(template_from_dict(row.stored), page)


def validate(definition: bytes) -> dict[str, Any]:
    """Check a YAML definition; problems name the line and the field."""
    problems = validate_template(definition)
    return {"valid": not problems, "problems": [p.to_json() for p in problems]}


def upload(
    session: Session, viewer: store.Viewer, definition: bytes, references: dict[str, bytes]
) -> dict[str, Any]:
    """Store a new version; the same content again stores nothing (``created`` False)."""
    template = parse_template(definition, references)
    row, created = templates.save(template, session=session, created_by=viewer.name)
    store.audit("template", session=session, viewer=viewer, template=template.key, created=created)
    return {**_brief(row), "created": created}


def save_edit(
    session: Session, viewer: store.Viewer, template_id: str, base_version: int, edits: list[FieldEdit]
) -> tuple[int, bool]:
    """The editor's fields as the next version. Returns (version shown, saved)."""
    base = templates.get_version(template_id, base_version, session=session)
    if unchanged(base.stored, edits):
        return base.version, False
    newest = templates.latest(template_id, session=session)
    version = (newest.version if newest else base.version) + 1
    _, template = edited_template(base.stored, edits, version=version)
    saved, created = templates.save(template, session=session, created_by=viewer.name)
    store.audit(
        "template", session=session, viewer=viewer, template=template.key, created=created, edited=True
    )
    return saved.version, True
