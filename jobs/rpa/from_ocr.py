"""An entry script's ``from_ocr`` section: its records come from a finished,
reviewed OCR job of one template instead of an uploaded sheet.

```yaml
from_ocr:
  template: kyufukin-shinsei        # the template id (its fields are checked at approval)
  columns:                          # script column: where its value comes from
    reference: $reference           # built in: unique per form of the OCR job
    entry_date: application_date    # a template field (its reviewed value)
    setsu: {value: "08"}            # the same value for every form
```

This module only checks what the script alone can tell (the mapped columns
exist, every required column is mapped, the built-in sources are known);
``jobs.ocr_entry`` checks the template fields against the stored template
when the script is approved. Nothing here imports the OCR kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Built-in sources: values every OCR form has, whatever its template.
BUILTINS = {
    "$reference": "帳票ごとの参照キー（OCRジョブと帳票番号から作成）",
    "$form": "帳票番号",
    "$file": "ファイル名",
}
TEMPLATE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class MappingProblem(Exception):
    """A wrong ``from_ocr`` section: a Japanese message and the key path it is at."""

    def __init__(self, message: str, path: list[str | int]) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass(frozen=True)
class Source:
    """Where one script column's value comes from: exactly one of these."""

    field: str | None = None  # a template field name (``name#part`` for a construct's extra column)
    builtin: str | None = None  # one of BUILTINS
    value: str | None = None  # a constant

    def describe(self) -> str:
        if self.field is not None:
            return self.field
        if self.builtin is not None:
            return self.builtin
        return f"固定値「{self.value}」"


@dataclass(frozen=True)
class FromOcr:
    template: str
    columns: tuple[tuple[str, Source], ...]  # (script column name, source), in the script's order

    @property
    def fields(self) -> list[str]:
        """The template fields the mapping reads."""
        return [s.field for _, s in self.columns if s.field is not None]


def _source(value: Any, column: str) -> Source:
    if isinstance(value, Mapping):
        return Source(value=str(value["value"]))
    text = str(value).strip()
    if text.startswith("$"):
        if text not in BUILTINS:
            known = "、".join(BUILTINS)
            raise MappingProblem(
                f"from_ocr.columns の「{column}」: 「{text}」はありません（使えるもの: {known}）。",
                ["from_ocr", "columns", column],
            )
        return Source(builtin=text)
    return Source(field=text)


def parse(raw: Mapping[str, Any], columns: Iterable[tuple[str, str, bool]]) -> FromOcr:
    """``raw``: the schema-checked section; ``columns``: the script's
    (name, header, required). Raises MappingProblem naming the column."""
    template = str(raw["template"]).strip()
    if not TEMPLATE_RE.fullmatch(template):
        raise MappingProblem(
            "from_ocr.template は帳票定義のID（英小文字・数字・-・_）で指定してください。",
            ["from_ocr", "template"],
        )
    known = {name: (header, required) for name, header, required in columns}
    mapping = dict(raw["columns"])
    for name in mapping:
        if name not in known:
            raise MappingProblem(
                f"from_ocr.columns の「{name}」は records.columns にありません。",
                ["from_ocr", "columns", name],
            )
    for name, (header, required) in known.items():
        if required and name not in mapping:
            raise MappingProblem(
                f"必須の列「{header}」（{name}）の取り出し元が from_ocr.columns にありません。",
                ["from_ocr", "columns"],
            )
    ordered = tuple((name, _source(mapping[name], name)) for name in known if name in mapping)
    return FromOcr(template=template, columns=ordered)


def unknown_fields(mapping: FromOcr, template_fields: Iterable[str]) -> list[str]:
    """The mapped template fields the template does not have."""
    have = set(template_fields)
    return [f for f in mapping.fields if f not in have]
