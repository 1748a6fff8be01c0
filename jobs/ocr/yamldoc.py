"""Template YAML read safely, checked against the JSON Schema, every problem
tied to a line.

Parsed with ``jobs.safeyaml`` (safe loader, aliases refused). The document
is composed first so every value keeps the line it came from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from jobs import safeyaml
from jobs.errors import JobInputError

SCHEMA_PATH = Path(__file__).with_name("template.schema.json")
MAX_TEMPLATE_BYTES = 256 * 1024
Path_ = Sequence[str | int]


@dataclass(frozen=True)
class TemplateProblem:
    """One mistake in a template: 1-based line (0 when unknown), where, what."""

    line: int
    field: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.line}行目" if self.line else "位置不明"
        return f"{where}（{self.field or '最上位'}）: {self.message}"


class TemplateError(JobInputError):
    """The template cannot be used; ``problems`` lists every mistake found."""

    code = "invalid_template"

    def __init__(self, problems: list[TemplateProblem]) -> None:
        shown = "\n".join(str(p) for p in problems[:5])
        more = f"\nほか{len(problems) - 5}件" if len(problems) > 5 else ""
        super().__init__(
            None,
            f"帳票定義に誤りがあります。\n{shown}{more}",
            problems=[p.to_json() for p in problems],
            line=problems[0].line if problems else 0,
            field=problems[0].field if problems else "",
        )
        self.problems = problems


def problem(message: str, node: yaml.Node | None = None, path: Path_ | None = None) -> TemplateProblem:
    where = field_path(path or [])
    return TemplateProblem(line_of(node, path or []) if node is not None else 0, where, message)


def parse_yaml(source: bytes | str) -> tuple[Any, yaml.Node]:
    """(data, node tree) or TemplateError naming the line of the syntax error."""
    raw = source.encode("utf-8") if isinstance(source, str) else source
    if len(raw) > MAX_TEMPLATE_BYTES:
        raise TemplateError([TemplateProblem(0, "", "帳票定義が大きすぎます（256KBまで）。")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TemplateError([TemplateProblem(0, "", "UTF-8 のテキストとして読めません。")]) from None
    try:
        node, data = safeyaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise TemplateError([TemplateProblem(line, "", f"YAMLとして読めません（{exc.problem}）。")]) from None
    if node is None:
        raise TemplateError([TemplateProblem(0, "", "内容が空です。")])
    return data, node


def field_path(path: Path_) -> str:
    """``["fields", 2, "box", "w"]`` → ``fields[2].box.w`` (what people read)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(node: yaml.Node, path: Path_) -> int:
    """1-based line of the deepest node the path reaches."""
    for key in path:
        match: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            match = node.value[key]
        if match is None:
            break
        node = match
    return int(node.start_mark.line) + 1


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def _message_ja(error: jsonschema.ValidationError) -> str:
    kind, value = error.validator, error.validator_value
    if kind == "required":
        missing = [k for k in value if isinstance(error.instance, dict) and k not in error.instance]
        return f"必須の項目 {', '.join(missing)} がありません。"
    if kind == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        return f"知らない項目 {', '.join(extra)} があります（綴りを確認してください）。"
    if kind == "enum":
        return f"値「{error.instance}」は使えません。使える値: {', '.join(map(str, value))}"
    messages = {
        "type": f"型が違います（{value} で指定してください）。",
        "pattern": f"値「{error.instance}」の形式が正しくありません（{value}）。",
        "minimum": f"{value} 以上にしてください。",
        "maximum": f"{value} 以下にしてください。",
        "exclusiveMinimum": f"{value} より大きくしてください。",
        "minLength": "空にはできません。",
        "maxLength": f"{value} 文字以内にしてください。",
        "minItems": f"{value} 個以上指定してください。",
        "maxItems": f"{value} 個以内にしてください。",
    }
    return messages.get(str(kind), f"値が正しくありません（{error.message}）。")


def schema_problems(data: Any, node: yaml.Node) -> list[TemplateProblem]:
    """Every schema violation, in document order."""
    if not isinstance(data, dict):
        return [TemplateProblem(1, "", "最上位はマッピング（キー: 値）にしてください。")]
    validator = jsonschema.Draft202012Validator(schema())
    found = [
        TemplateProblem(
            line_of(node, list(e.absolute_path)), field_path(list(e.absolute_path)), _message_ja(e)
        )
        for e in validator.iter_errors(data)
    ]
    return sorted(found, key=lambda p: (p.line, p.field))
