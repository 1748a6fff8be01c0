"""Constructs in forms.json and the tables made from it: the options a
choice or tick set allows (so a reviewer's correction is checked against
them), each table's rows as objects, an era date's 和暦 column beside its
ISO one, and reviewer corrections of constructs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from jobs.errors import JobInputError
from jobs.ocr.eradate import wareki_text
from jobs.ocr.normalise import normalise
from jobs.ocr.table import STATUS_JA, rows_json
from jobs.ocr.template import Field, Template
from jobs.wareki import era_year

CORRECTED_ALONE = frozenset({"choice", "tick_set", "era_date"})
_SEPARATORS = re.compile(r"[、,，・/\s]+")
_ERA_SCORE = re.compile(r"(明治|大正|昭和|平成|令和):([0-9.]+)")
_PART = re.compile(r"(year|month|day):(\S*)")
_PART_JA = {"year": "年", "month": "月", "day": "日"}


def spec_extra(spec: Field) -> dict[str, Any]:
    """What forms.json's template entry keeps for a construct field."""
    if spec.construct is None or spec.type not in ("choice", "tick_set"):
        return {}
    extra: dict[str, Any] = {"options": [o.value for o in spec.construct.options]}
    if spec.type == "choice":
        return extra | {"rule": spec.construct.rule}
    return extra | {"min": spec.construct.min_chosen, "max": spec.construct.max_chosen}


def tables_json(template: Template) -> dict[str, Any]:
    return {
        f.name: {
            "name": f.name,
            "label": f.label,
            "rows": f.construct.rows,
            "columns": [
                {"name": n, "label": label, "optional": n in f.construct.optional}
                for n, label in f.construct.columns
            ],
        }
        for f in template.fields
        if f.type == "table" and f.construct is not None
    }


def form_tables(template: Template | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    tables = tables_json(template) if template is not None else {}
    return {"tables": {n: rows_json(t, fields) for n, t in tables.items()}} if tables else {}


def refresh_tables(template: Mapping[str, Any], form: dict[str, Any]) -> None:
    """A form's table rows again, after corrections."""
    tables = template.get("tables", {})
    if tables and form.get("status") == "ok":
        form["tables"] = {n: rows_json(t, form["fields"]) for n, t in tables.items()}


def extra_columns(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Columns a construct adds beside its own: an era date's 和暦."""
    if spec.get("type") == "era_date":
        return [(f"{spec['name']}#wareki", f"{spec['label']}（和暦）")]
    return []


def _refused(spec: Mapping[str, Any], form: int, message: str) -> JobInputError:
    return JobInputError(
        "invalid_correction", f"帳票{form}の「{spec['label']}」: {message}", form=form, field=spec["name"]
    )


def corrected(spec: Mapping[str, Any], value: Any, form: int) -> tuple[Any, str]:
    """A reviewer's value for a construct, checked: a choice must be one of
    its options, a tick set's choices its options within min..max, an era
    date a day that exists (和暦 or 西暦)."""
    text = "" if value is None else str(value).strip()
    if spec["type"] == "era_date":
        checked = normalise("date", text)
        if checked.problem:
            raise _refused(spec, form, checked.problem)
        if spec.get("required") and not checked.text:
            raise _refused(spec, form, "必須です。")
        return checked.value, checked.text
    options = list(spec.get("options", []))
    chosen = [c for c in _SEPARATORS.split(text) if c]
    stray = [c for c in chosen if c not in options]
    if stray:
        raise _refused(spec, form, f"「{stray[0]}」は選択肢（{'・'.join(options)}）にありません。")
    if spec["type"] == "choice":
        if len(chosen) > 1:
            raise _refused(spec, form, "選択肢は1つだけ選んでください。")
        if not chosen and (spec.get("required") or spec.get("rule") == "exactly_one"):
            raise _refused(spec, form, f"選択肢（{'・'.join(options)}）から1つ選んでください。")
        return (chosen[0], chosen[0]) if chosen else (None, "")
    chosen = [o for o in options if o in chosen]  # the form's order, no repeats
    low, high = int(spec.get("min", 0)), int(spec.get("max", len(options)))
    if not low <= len(chosen) <= high:
        raise _refused(spec, form, f"{low}〜{high}個を選んでください。")
    joined = "、".join(chosen)
    return (joined or None), joined


def refresh(spec: Mapping[str, Any], entry: dict[str, Any]) -> None:
    """A corrected construct's extra keys, from its new value."""
    if spec["type"] == "era_date":
        entry["extra"] = {**entry.get("extra", {}), "wareki": wareki_text(entry["value"])}
    elif spec["type"] == "tick_set":
        entry["extra"] = {**entry.get("extra", {}), "chosen": [c for c in entry["text"].split("、") if c]}


def era_parts(entry: Mapping[str, Any]) -> dict[str, str]:
    """An era date's 元号・年・月・日 for the review screen's boxes: from the
    value when there is one, else from the reading (the era with the most
    ink, the parts as written)."""
    value = entry.get("value")
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            day = date.fromisoformat(value)
            era, year = era_year(day)
        except ValueError:
            pass
        else:
            return {
                "era": era,
                "year": "元" if year == 1 else str(year),
                "month": str(day.month),
                "day": str(day.day),
            }
    raw = str(entry.get("raw") or "")
    scores = [(float(s), e) for e, s in _ERA_SCORE.findall(raw)]
    written = next((e for e in ("明治", "大正", "昭和", "平成", "令和") if e in _ERA_SCORE.sub("", raw)), "")
    era = max(scores)[1] if scores and max(scores)[0] > 0 else written
    return {"era": era} | {k: v for k, v in _PART.findall(raw)}


def table_row(template: Mapping[str, Any], form: Mapping[str, Any], name: str) -> dict[str, Any]:
    """For a table's cell: its row as the review screen shows it beside the
    cell (every column's text and the row's state); {} for other fields."""
    for table in template.get("tables", {}).values():
        for row in form.get("tables", {}).get(table["name"], []):
            cells = {f"{table['name']}_{row['row']}_{c['name']}": c for c in table["columns"]}
            if name not in cells:
                continue
            shown = [
                {"label": c["label"], "text": str(form["fields"].get(key, {}).get("text") or "")}
                for key, c in cells.items()
            ]
            status = {"status": row["status"], "status_ja": STATUS_JA.get(row["status"], row["status"])}
            return {"table_row": {"label": f"{table['label']}{row['row']}行目", "cells": shown, **status}}
    return {}


def review_extra(spec: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """What the review screen shows besides the value: a choice's or tick
    set's options (how many may be chosen, whether none is a valid answer),
    an era date's 和暦 and parts."""
    kind = spec.get("type")
    options = list(spec.get("options", []))
    if kind == "choice":
        empty_ok = spec.get("rule") == "at_most_one" and not spec.get("required")
        return {"type": kind, "options": options, "most": 1, "empty_ok": empty_ok}
    if kind == "tick_set":
        most, empty_ok = int(spec.get("max", len(options))), int(spec.get("min", 0)) == 0
        return {"type": kind, "options": options, "most": most, "empty_ok": empty_ok}
    if kind == "era_date":
        wareki = entry.get("extra", {}).get("wareki", "")
        raw_ja = _PART.sub(lambda m: f"{_PART_JA[m.group(1)]}:{m.group(2)}", str(entry.get("raw") or ""))
        return {"type": kind, "wareki": wareki, "era_parts": era_parts(entry), "raw_ja": raw_ja}
    return {}
