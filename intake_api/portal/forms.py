"""New-job forms: the fields a kind asks for (declared in its folder,
``JobKind.portal``), and turning a submitted form into the kind's
parameters. The kind's own validator still has the last word
(jobs.intake.accept runs it).

A kind that declares fields gets them; any other kind gets the generic
form: its files plus a few 「項目名 = 値」 rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from intake_api.portal.kinds import portal_kind
from jobs.adapters import FormField
from jobs.errors import JobInputError
from jobs.registry import JobKind
from jobs.store import Viewer

GENERIC_ROWS = 5
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,15})")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,15})\.[0-9]{1,15}")


def fields_for(kind: JobKind) -> tuple[FormField, ...]:
    return portal_kind(kind).fields


def choices_for(
    fields: tuple[FormField, ...], *, session: Session, viewer: Viewer
) -> dict[str, list[tuple[str, str]]]:
    return {f.name: f.choices(session, viewer) for f in fields if f.choices is not None}


def simple_value(raw: str) -> Any:
    """A generic row's value: true/false, whole and decimal numbers become
    JSON values; everything else (codes like 0012 too) stays text."""
    text = raw.strip()
    if text in ("true", "false"):
        return text == "true"
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    return text


def form_values(fields: tuple[FormField, ...], params: Mapping[str, Any]) -> dict[str, str]:
    """Parameters as the form's initial values (a checkbox is checked by
    any value, so a false one is left out)."""
    values: dict[str, str] = {}
    for spec in fields:
        value = params.get(spec.name)
        if value is None or value is False:
            continue
        values[spec.name] = "on" if value is True else str(value)
    return values


def params_from_form(kind: JobKind, form: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters for ``kind`` from the submitted form (only values the
    person filled in: an empty field means the kind's default)."""
    fields = fields_for(kind)
    if fields:
        return _declared(fields, form)
    return _generic(form)


def _declared(fields: tuple[FormField, ...], form: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for spec in fields:
        raw = form.get(spec.name)
        if spec.kind == "checkbox":
            params[spec.name] = raw is not None
            continue
        value = str(raw or "").strip()
        if not value:
            if spec.required:
                raise JobInputError("missing_field", f"「{spec.label}」を入力してください。", field=spec.name)
            continue
        if len(value) > spec.max_length:
            raise JobInputError(
                "field_too_long",
                f"「{spec.label}」は{spec.max_length}文字以内で入力してください。",
                field=spec.name,
            )
        params[spec.name] = spec.convert(value)
    return params


def _generic(form: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for index in range(GENERIC_ROWS):
        name = str(form.get(f"param_name_{index}") or "").strip()
        value = str(form.get(f"param_value_{index}") or "")
        if not name:
            continue
        if not _PARAM_NAME.fullmatch(name):
            raise JobInputError(
                "invalid_parameters",
                f"{index + 1}行目の項目名は半角英数字と _ で入力してください。",
                field=f"param_name_{index}",
            )
        if len(value) > 2000:
            raise JobInputError("field_too_long", f"{index + 1}行目の値が長すぎます。", field=name)
        params[name] = simple_value(value)
    return params
