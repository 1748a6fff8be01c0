"""The script format: safe YAML, schema errors that name the line."""

from __future__ import annotations

import pytest

from jobs.rpa.script import ScriptError, parse_script
from tests.jobs.rpa.conftest import SAMPLE_SCRIPT


def sample() -> str:
    return SAMPLE_SCRIPT.read_text(encoding="utf-8")


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_sample_parses() -> None:
    script = parse_script(sample())
    assert script.target.name == "zaimu-standin" and script.reference == ("reference",)
    assert script.capture_columns == ["voucher_no"] and sum(s.submits for s in script.steps) == 1


def test_schema_error_names_the_line() -> None:
    text = sample().replace("type: integer", "type: money")
    with pytest.raises(ScriptError) as err:
        parse_script(text)
    assert err.value.line == line_of(text, "type: money")
    assert f"{err.value.line}行目" in err.value.message


def test_unknown_step_names_its_line() -> None:
    text = sample().replace("  - goto: /entry", "  - type_text: /entry")
    with pytest.raises(ScriptError) as err:
        parse_script(text)
    assert err.value.line == line_of(text, "type_text")


def test_unknown_column_in_template_names_its_line() -> None:
    text = sample().replace("{{ row.payee }}", "{{ row.payee_name }}")
    with pytest.raises(ScriptError) as err:
        parse_script(text)
    assert err.value.line == line_of(text, "payee_name") and "row.payee_name" in err.value.message


def test_credentials_only_in_login_steps() -> None:
    text = sample().replace("{{ row.purpose }}", "{{ credential.password }}")
    with pytest.raises(ScriptError):
        parse_script(text)


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(ScriptError) as err:
        parse_script("version: 1\nname: [broken\n")
    assert err.value.line is not None


def test_python_tags_are_refused() -> None:
    with pytest.raises(ScriptError):
        parse_script("version: !!python/object/apply:os.system ['true']\n")


def test_missing_reference_column() -> None:
    text = sample().replace("reference: [reference]", "reference: [voucher]")
    with pytest.raises(ScriptError) as err:
        parse_script(text)
    assert err.value.line == line_of(text, "reference: [voucher]")
