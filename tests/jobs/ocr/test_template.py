from __future__ import annotations

import json

import pytest

from jobs.errors import JobInputError
from jobs.ocr.template import (
    check_new_version,
    default_seconds_per_form,
    load_template_file,
    parse_template,
    template_from_dict,
    validate_template,
)
from jobs.ocr.yamldoc import TemplateError
from tests.jobs.ocr import synth

REFERENCE = {"reference.pdf": synth.form_pdf(None)}


def test_sample_template_round_trips_through_json() -> None:
    template = parse_template(synth.template_yaml(), REFERENCE)
    stored = json.loads(json.dumps(template.to_dict()))
    again = template_from_dict(stored)
    assert again.digest == template.digest
    assert [f.name for f in again.fields] == [f.name for f in template.fields]
    assert again.reference(1).shape == (1754, 1240)  # A4 at 150 dpi


def test_broken_yaml_names_the_line() -> None:
    broken = synth.template_yaml().replace("    type: kana", "    type: [kana", 1)
    line = broken.splitlines().index("    type: [kana") + 1
    with pytest.raises(TemplateError) as caught:
        parse_template(broken, REFERENCE)
    assert caught.value.problems[0].line in (line, line + 1)
    assert "行目" in caught.value.message


def test_schema_errors_name_line_and_field() -> None:
    text = synth.template_yaml().replace("type: postal_code", "type: zipcode")
    line = text.splitlines().index("    type: zipcode") + 1
    problems = validate_template(text)
    assert [(p.line, p.field) for p in problems] == [(line, "fields[4].type")]
    assert "zipcode" in problems[0].message


def test_semantic_errors() -> None:
    text = synth.template_yaml().replace("name: kana", "name: name").replace("w: 132", "w: 400", 1)
    found = {(p.field, p.message[:8]) for p in validate_template(text)}
    assert ("fields[2].name", "項目名「name") in found
    assert any(field == "fields[5].box" for field, _ in found)


def test_alias_bombs_are_refused() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b]\n'
    problems = validate_template(bomb)
    assert problems[0].line == 2
    assert "エイリアス" in problems[0].message


def test_missing_reference_file() -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(synth.template_yaml(), {})
    assert caught.value.problems[0].field == "reference"


def test_versions() -> None:
    first = parse_template(synth.template_yaml(version=1), REFERENCE)
    assert check_new_version(None, first) == "new"
    assert check_new_version(first, parse_template(synth.template_yaml(version=1), REFERENCE)) == "unchanged"
    changed = synth.template_yaml(version=1).replace("seconds_per_form: 150", "seconds_per_form: 200")
    with pytest.raises(JobInputError) as caught:
        check_new_version(first, parse_template(changed, REFERENCE))
    assert caught.value.code == "template_version_exists"
    bumped = changed.replace("version: 1", "version: 2")
    assert check_new_version(first, parse_template(bumped, REFERENCE)) == "new"


def test_default_seconds_per_form_follow_the_fields() -> None:
    fields = [{"type": "text"}] * 4 + [{"type": "checkbox"}] * 2
    assert default_seconds_per_form(fields) == 30 + 4 * 10 + 2 * 3
    no_baseline = synth.template_yaml().replace("seconds_per_form: 150\n", "")
    assert parse_template(no_baseline, REFERENCE).seconds_per_form == 30 + 10 * 10 + 3 * 3


def test_bundled_sample_is_valid() -> None:
    from jobs.ocr.kind import SAMPLES

    template = load_template_file(SAMPLES / "kyufukin-shinsei.yaml")
    assert template.key == "kyufukin-shinsei@1"
    assert template.fields[1].always_review(from_text_layer=False)
    assert not template.fields[1].always_review(from_text_layer=True)
