"""A stored template edited on screen (boxes drawn or moved) becomes a new version.

The editor sends the fields as they now are (``FieldEdit``: name, label,
type, page, box in mm); ``edited_template`` merges them into the stored
definition (keys the editor does not show, such as ``pattern`` or
``language``, are kept), writes the new version's YAML and checks it exactly
as an upload is checked, with the stored reference pages: the result goes to
``jobs.ocr.store.save`` like any uploaded version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from jobs.ocr.constructs import CONSTRUCT_KEYS
from jobs.ocr.template import Box, Template, build_template, check_definition, template_from_dict
from jobs.ocr.yamldoc import TemplateError

# Keys that only make sense for the type they were written for.
_TYPE_BOUND = ("language", "allowed_chars", "pattern", *CONSTRUCT_KEYS)


@dataclass(frozen=True)
class FieldEdit:
    """One field as the editor shows it; ``original`` names the stored field
    it changes (None: a field drawn on screen)."""

    name: str
    label: str
    type: str
    page: int
    box: Box
    required: bool
    original: str | None = None


def _mm(value: float) -> float | int:
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


def _field(edit: FieldEdit, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = dict(stored or {})
    if stored is not None and stored.get("type") != edit.type:
        for key in _TYPE_BOUND:
            out.pop(key, None)
    out.update(name=edit.name, label=edit.label, type=edit.type)
    out["box"] = {"x": _mm(edit.box.x), "y": _mm(edit.box.y), "w": _mm(edit.box.w), "h": _mm(edit.box.h)}
    if edit.page != 1 or "page" in out:
        out["page"] = edit.page
    if edit.required:
        out["required"] = True
    elif out.get("required"):
        del out["required"]
    return out


def edited_definition(
    definition: Mapping[str, Any], edits: Sequence[FieldEdit], *, version: int
) -> dict[str, Any]:
    """The stored definition with its fields replaced by ``edits`` (in their
    order; stored fields not named by any edit are dropped) and ``version``."""
    stored = {str(f.get("name")): f for f in definition.get("fields", [])}
    fields = [_field(e, stored.get(e.original) if e.original else None) for e in edits]
    return {**definition, "version": version, "fields": fields}


def definition_yaml(definition: Mapping[str, Any]) -> str:
    """YAML for people: keys in the definition's order, boxes on one line."""
    header = "# box is x, y, width, height in mm from the top-left corner.\n"
    body = yaml.safe_dump(dict(definition), allow_unicode=True, sort_keys=False, default_flow_style=None)
    return header + body


def edited_template(
    stored: Mapping[str, Any], edits: Sequence[FieldEdit], *, version: int
) -> tuple[str, Template]:
    """(YAML, Template) of the new version, checked like an upload (problems
    name the line of the returned YAML and the field); TemplateError if wrong."""
    current = template_from_dict(stored)
    text = definition_yaml(edited_definition(current.source, edits, version=version))
    data, _, problems = check_definition(text)
    if problems:
        raise TemplateError(problems)
    return text, build_template(data, current.reference_png)


def unchanged(stored: Mapping[str, Any], edits: Sequence[FieldEdit]) -> bool:
    """Whether the edits leave the stored definition as it is."""
    definition = stored["definition"]
    return bool(edited_definition(definition, edits, version=int(definition["version"])) == definition)
