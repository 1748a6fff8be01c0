"""Template versions in the database, and resolving a job's template ids.

A job names templates by id (newest version) or ``id@version``; intake
resolves them to the stored definitions, which travel in the job's
parameters so a later version never changes how a job is read. The product's
bundled sample templates are installed on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.errors import JobInputError, NotFound
from jobs.ocr.kind import SAMPLES
from jobs.ocr.models import OcrTemplate
from jobs.ocr.template import Template, check_new_version, load_template_file, template_from_dict


def latest(template_id: str, *, session: Session) -> OcrTemplate | None:
    return session.scalar(
        select(OcrTemplate).where(OcrTemplate.template_id == template_id).order_by(OcrTemplate.version.desc())
    )


def get_version(template_id: str, version: int | None, *, session: Session) -> OcrTemplate:
    if version is None:
        row = latest(template_id, session=session) or _install_sample(template_id, session=session)
    else:
        row = session.scalar(
            select(OcrTemplate).where(OcrTemplate.template_id == template_id, OcrTemplate.version == version)
        )
    if row is None:
        raise NotFound(f"帳票定義「{template_id}{'@' + str(version) if version else ''}」")
    return row


def save(template: Template, *, session: Session, created_by: str) -> tuple[OcrTemplate, bool]:
    """Store a new version; returns (row, created). Same content as the
    newest version stores nothing; a changed definition must raise the version."""
    previous = latest(template.id, session=session)
    if check_new_version(template_from_dict(previous.stored) if previous else None, template) == "unchanged":
        assert previous is not None
        return previous, False
    row = OcrTemplate(
        template_id=template.id,
        version=template.version,
        name=template.name,
        digest=template.digest,
        fields=len(template.fields),
        seconds_per_form=template.seconds_per_form,
        stored=template.to_dict(),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, True


def list_versions(template_id: str, *, session: Session) -> Sequence[OcrTemplate]:
    """Every stored version of one template, newest first (jobs keep the
    version they used, so old ones stay readable)."""
    rows = session.scalars(
        select(OcrTemplate).where(OcrTemplate.template_id == template_id).order_by(OcrTemplate.version.desc())
    ).all()
    if not rows:
        raise NotFound(f"帳票定義「{template_id}」")
    return rows


def list_latest(*, session: Session) -> Sequence[OcrTemplate]:
    newest = (
        select(OcrTemplate.template_id, func.max(OcrTemplate.version).label("version"))
        .group_by(OcrTemplate.template_id)
        .subquery()
    )
    return session.scalars(
        select(OcrTemplate)
        .join(
            newest,
            (OcrTemplate.template_id == newest.c.template_id) & (OcrTemplate.version == newest.c.version),
        )
        .order_by(OcrTemplate.template_id)
    ).all()


def _install_sample(template_id: str, *, session: Session) -> OcrTemplate | None:
    path = SAMPLES / f"{template_id}.yaml"
    if not path.is_file():
        return None
    return save(load_template_file(path), session=session, created_by="system")[0]


def _parse_ref(ref: Any) -> tuple[str, int | None]:
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 120:
        raise JobInputError(
            "invalid_parameters",
            "帳票定義は登録済みのID（例: kyufukin-shinsei または kyufukin-shinsei@2）で指定してください。",
            field="template",
        )
    name, _, version = ref.strip().partition("@")
    if version and not version.isdigit():
        raise JobInputError(
            "invalid_parameters",
            f"帳票定義のバージョン「{version}」は数字で指定してください。",
            field="template",
        )
    return name, int(version) if version else None


def resolve_params(params: Mapping[str, Any], session: Session) -> dict[str, Any]:
    """``{"template": "id[@v]"}`` or ``{"templates": ["id[@v]", ...]}`` → the
    stored definitions. Definitions sent by a client are refused: only
    templates an operator registered are used."""
    out = {k: v for k, v in params.items() if k not in ("template", "templates")}
    try:
        if "templates" in params:
            refs = params["templates"]
            if not isinstance(refs, list):
                raise JobInputError(
                    "invalid_parameters", "templates はIDのリストで指定してください。", field="templates"
                )
            out["templates"] = [get_version(*_parse_ref(r), session=session).stored for r in refs]
        else:
            out["template"] = get_version(*_parse_ref(params.get("template")), session=session).stored
    except NotFound as exc:
        raise JobInputError("unknown_template", exc.message, field="template") from None
    if out.get("entry_script") not in (None, ""):
        from jobs.ocr_entry import resolve_request  # the cross-kind link, only when asked for

        out["entry_script"] = resolve_request(out, session)
    return out


def public_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """What the job page shows: template keys, not the stored definitions."""

    def key(stored: Any) -> str:
        definition = stored.get("definition", {}) if isinstance(stored, Mapping) else {}
        return f"{definition.get('id', '?')}@{definition.get('version', '?')}"

    def name(stored: Any) -> str:
        definition = stored.get("definition", {}) if isinstance(stored, Mapping) else {}
        return str(definition.get("name") or definition.get("id") or "")

    out = {k: v for k, v in params.items() if k not in ("template", "templates")}
    if "template" in params:
        out["template"] = key(params["template"])
    if "templates" in params:
        out["templates"] = [key(t) for t in params["templates"]]
    # The forms' names, for lists and pages that should not show ids.
    stored = [params["template"]] if "template" in params else list(params.get("templates") or [])
    names = [n for n in dict.fromkeys(name(t) for t in stored) if n]
    if names:
        out["template_name"] = "・".join(names)
    return out
