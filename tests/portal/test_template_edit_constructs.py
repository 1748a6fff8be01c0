"""The template editor's round trip for constructs, without a browser: the
rows the editor page is filled from (a choice's options, an era date's parts,
a tick set's counts, a table's columns, align, handwritten and a condition on
a tick box) posted back unchanged give the stored definition again, and
edits made in the detail panel's JSON come out as YAML that validates and
reads the same. The template is the third test form's (tests/jobs/ocr/forms/jumin.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.datastructures import FormData

from intake_api.portal.routes_templates import _stored_rows, edited_rows, field_edits
from jobs.errors import JobInputError
from jobs.ocr.constructs import cell_name
from jobs.ocr.edit import edited_template, unchanged
from jobs.ocr.template import Template, parse_template
from jobs.ocr.yamldoc import TemplateError
from tests.jobs.ocr import jumin

YAML = (Path(__file__).parents[1] / "jobs" / "ocr" / "forms" / "jumin.yaml").read_text(encoding="utf-8")
# A written-in "other" box required when its tick is ticked: a field's condition in the editor.
EXTRA = """  - {name: other_tick, label: その他, type: checkbox, box: {x: 150, y: 255, w: 5, h: 5}}
  - {name: other_text, label: その他の内容, type: text, box: {x: 158, y: 255, w: 30, h: 8}, handwritten: auto}
rules:
  - {field: other_text, required_if: other_tick, message: その他にチェックがあれば内容を書いてください。}
"""


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    template = parse_template(YAML + EXTRA, {"reference.pdf": jumin.form_pdf(None)})
    return template.to_dict()


def _posted(rows: list[dict[str, Any]]) -> FormData:
    """The editor's form as a browser posts it, from the rows it was rendered with."""
    items: list[tuple[str, str]] = []
    for i, r in enumerate(rows):
        items += [
            (f"{k}_{i}", str(r[k])) for k in ("orig", "name", "label", "type", "page", "x", "y", "w", "h")
        ]
        items.append((f"extra_{i}", r["extra"]))
        if r["required"]:
            items.append((f"required_{i}", "on"))
    return FormData(items)


def _save(stored: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[dict[str, Any], Template]:
    text, template = edited_template(stored, field_edits(edited_rows(_posted(rows))), version=2)
    return yaml.safe_load(text), template


def test_a_template_with_constructs_posted_back_unchanged_is_unchanged(stored: dict[str, Any]) -> None:
    rows = _stored_rows(stored["definition"])
    extras = {r["name"]: json.loads(r["extra"]) for r in rows}
    assert [o["value"] for o in extras["birth"]["era"]["options"]] == ["明治", "大正", "昭和", "平成", "令和"]
    assert extras["certs"]["options"][0]["count"] == {"box": {"x": 110, "y": 136, "w": 14, "h": 8}}
    assert extras["fee"] == {"cells": 5, "align": "right"}
    assert extras["other_text"] == {"handwritten": "auto", "condition": {"required_if": "other_tick"}}
    assert unchanged(stored, field_edits(edited_rows(_posted(rows))))
    saved, _ = _save(stored, rows)
    assert {**saved, "version": 1} == stored["definition"]


def test_constructs_edited_in_the_panel_validate_and_read_the_same(stored: dict[str, Any]) -> None:
    rows = _stored_rows(stored["definition"])
    by_name = {r["name"]: r for r in rows}
    sex = json.loads(by_name["sex"]["extra"])
    sex["options"].append({"value": "回答しない", "box": {"x": 183, "y": 61.5, "w": 10, "h": 8.4}})
    sex["rule"] = "at_most_one"
    by_name["sex"]["extra"] = json.dumps(sex, ensure_ascii=False)
    by_name["members"]["extra"] = json.dumps(
        {
            "rows": 4,
            "columns": [
                {"name": "name", "label": "氏名", "type": "text", "x": 20, "w": 90},
                {"name": "relation", "label": "続柄", "type": "text", "x": 110, "w": 80, "optional": True},
            ],
        },
        ensure_ascii=False,
    )
    by_name["other_text"]["extra"] = json.dumps({"condition": {"empty_unless": "other_tick"}, "cells": 6})
    saved, template = _save(stored, rows)
    fields = {f.name: f for f in template.fields}
    sex_field = fields["sex"].construct
    assert sex_field is not None and sex_field.rule == "at_most_one"
    assert [o.value for o in sex_field.options] == ["男", "女", "回答しない"]
    table = fields["members"].construct
    assert table is not None and table.rows == 4 and table.optional == frozenset({"relation"})
    assert [p.name for p in table.parts][-2:] == [
        cell_name("members", 4, "name"),
        cell_name("members", 4, "relation"),
    ]
    assert saved["rules"] == [{"field": "other_text", "empty_unless": "other_tick"}]
    assert fields["other_text"].cells == 6 and fields["other_text"].handwritten is False

    # A field deleted in the editor takes its condition with it.
    rows = [r for r in rows if r["name"] != "other_text"]
    saved, _ = _save(stored, rows)
    assert "rules" not in saved and "other_text" not in {f["name"] for f in saved["fields"]}


def test_a_panel_key_a_type_does_not_take_is_refused_by_name(stored: dict[str, Any]) -> None:
    rows = _stored_rows(stored["definition"])
    rows[0]["extra"] = json.dumps({"pattern": "x"})
    with pytest.raises(JobInputError, match="1番目の項目の詳細"):
        field_edits(edited_rows(_posted(rows)))
    rows[0]["extra"] = json.dumps({})
    address = next(r for r in rows if r["name"] == "address")
    address["extra"] = json.dumps({"rows": 3})  # a table's key on a text field
    with pytest.raises(TemplateError) as refused:
        _save(stored, rows)
    assert [(p.field, p.message) for p in refused.value.problems] == [
        ("fields[0].type", "era_date には year・month・day の枠か、date の枠のどちらかを書いてください。"),
        ("fields[5].rows", "rows は choice・era_date・tick_set・table の項目にだけ書けます。"),
    ]
