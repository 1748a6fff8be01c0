"""A stored template edited on screen (boxes drawn or moved) becomes a new version.

The editor sends the fields as they now are (``FieldEdit``: name, label,
type, page, box in mm, and the keys of its detail panel: a construct's
option, part and column boxes, ``cells``, ``align``, ``handwritten`` and a
condition on a tick box); ``edited_template`` merges them into the stored
definition (keys the editor does not show, such as ``pattern`` or
``language``, are kept), writes the new version's YAML and checks it exactly
as an upload is checked, with the stored reference pages: the result goes to
``jobs.ocr.store.save`` like any uploaded version.

A condition (``required_if`` / ``empty_unless`` a tick box) is a top-level
rule in the YAML but a property of its field on screen: ``field_extras``
gives each field its condition and ``edited_definition`` writes the
conditions back as rules, keeping every other rule as it was.
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
# Keys the editor's detail panel owns: sent with every field it shows.
EDITOR_KEYS = (*CONSTRUCT_KEYS, "cells", "align", "handwritten")
# A field's condition on a tick box (a top-level rule in the YAML).
CONDITIONS = ("required_if", "empty_unless")


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
    # The detail panel's keys (EDITOR_KEYS, plus "condition": {required_if |
    # empty_unless: tick box}); None keeps the stored ones (a form without them).
    extra: Mapping[str, Any] | None = None


def _mm(value: float) -> float | int:
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


def _rounded(value: Any) -> Any:
    """Positions (x, y, w, h) anywhere in a panel key to 0.1 mm, as the field's own box."""
    if isinstance(value, Mapping):
        return {
            k: _mm(v) if k in ("x", "y", "w", "h") and isinstance(v, float) else _rounded(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _field(edit: FieldEdit, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = dict(stored or {})
    if stored is not None and stored.get("type") != edit.type:
        for key in _TYPE_BOUND:
            out.pop(key, None)
    out.update(name=edit.name, label=edit.label, type=edit.type)
    out["box"] = {"x": _mm(edit.box.x), "y": _mm(edit.box.y), "w": _mm(edit.box.w), "h": _mm(edit.box.h)}
    if edit.extra is not None:
        for key in EDITOR_KEYS:
            if key in edit.extra:
                out[key] = _rounded(edit.extra[key])  # in place: the YAML keeps its key order
            else:
                out.pop(key, None)
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
    out = {**definition, "version": version, "fields": fields}
    rules = _edited_rules(definition.get("rules", []), edits)
    if rules:
        out["rules"] = rules
    else:
        out.pop("rules", None)
    return out


def _is_condition(rule: Mapping[str, Any]) -> bool:
    return any(key in rule for key in CONDITIONS)


def _edited_rules(rules: Sequence[Mapping[str, Any]], edits: Sequence[FieldEdit]) -> list[dict[str, Any]]:
    """The stored rules with the conditions of the fields the editor sent
    replaced by what it sent (a condition sent unchanged keeps its place and
    its message; one rule per condition, as the schema wants). A deleted
    field's conditions go with it."""
    kept = {e.original or e.name for e in edits}
    sent = {e.original or e.name: e for e in edits if e.extra is not None}
    wanted = {e.name: dict(e.extra.get("condition") or {}) for e in sent.values() if e.extra is not None}
    out: list[dict[str, Any]] = []
    for rule in rules:
        name = str(rule.get("field", ""))
        if _is_condition(rule) and name not in kept:
            continue
        if not _is_condition(rule) or name not in sent:
            out.append(dict(rule))
            continue
        new_name = sent[name].name
        key = next(k for k in CONDITIONS if k in rule)
        if key in wanted[new_name]:
            tick = wanted[new_name].pop(key)
            out.append({**rule, "field": new_name, key: tick})
    out += [{"field": n, key: tick} for n, condition in wanted.items() for key, tick in condition.items()]
    return out


def field_extras(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each field's detail-panel keys as the editor shows them (see FieldEdit.extra)."""
    conditions: dict[str, dict[str, Any]] = {}
    for rule in definition.get("rules", []):
        if _is_condition(rule) and "field" in rule:
            found = conditions.setdefault(str(rule["field"]), {})
            found.update({k: rule[k] for k in CONDITIONS if k in rule})
    out = {}
    for f in definition.get("fields", []):
        extra = {k: f[k] for k in EDITOR_KEYS if k in f}
        if f["name"] in conditions:
            extra["condition"] = conditions[f["name"]]
        out[str(f["name"])] = extra
    return out


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
