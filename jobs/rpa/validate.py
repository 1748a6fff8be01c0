"""Checking every row against the script's record schema before anything is
typed. A row is either clean (values by column name, normalised) or invalid
with one reason per bad column."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from jobs.errors import JobInputError
from jobs.rpa.filters import FilterError, apply_all
from jobs.rpa.records import RawRow
from jobs.rpa.script import Column, Script


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, str]
    errors: tuple[tuple[str, str], ...] = ()  # (column header, reason)

    @property
    def valid(self) -> bool:
        return not self.errors


def reference_of(script: Script, values: dict[str, str]) -> str:
    return "|".join(values.get(c, "") for c in script.reference)


def _number(col: Column, text: str) -> str:
    cleaned = text.replace(",", "").replace("円", "").replace("¥", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("数値ではありません") from None
    if col.type == "integer" and value != value.to_integral_value():
        raise ValueError("整数で入力してください")
    if col.minimum is not None and value < Decimal(str(col.minimum)):
        raise ValueError(f"{col.minimum:g}以上にしてください")
    if col.maximum is not None and value > Decimal(str(col.maximum)):
        raise ValueError(f"{col.maximum:g}以下にしてください")
    return str(int(value)) if col.type == "integer" else format(value.normalize(), "f")


def _date(text: str) -> str:
    candidate = re.sub(r"[/.年月]", "-", text.replace("日", "")).strip("-")
    try:
        y, m, d = (int(p) for p in candidate.split("-"))
        return date(y, m, d).isoformat()
    except ValueError:
        raise ValueError("日付（YYYY-MM-DD）ではありません") from None


def clean_value(col: Column, text: str) -> str:
    """The normalised value, or ValueError with a Japanese reason."""
    # Full-width digits and letters are common in hand-typed sheets.
    text = unicodedata.normalize("NFKC", text).strip() if col.type != "string" else text.strip()
    if col.type in ("integer", "decimal"):
        text = _number(col, text)
    elif col.type == "date":
        text = _date(text)
    if col.max_length is not None and len(text) > col.max_length:
        raise ValueError(f"{col.max_length}文字以内にしてください")
    if col.pattern is not None and not re.fullmatch(col.pattern, text):
        raise ValueError("形式が正しくありません")
    if col.enum is not None and text not in col.enum:
        raise ValueError(f"次のいずれかにしてください: {'、'.join(col.enum)}")
    return text


def check_headers(script: Script, rows: list[RawRow]) -> None:
    present = set(rows[0].values) if rows else set()
    missing = [c.header for c in script.columns if c.required and c.header not in present]
    if rows and missing:
        raise JobInputError(
            "missing_columns",
            f"レコードファイルに必要な列がありません: {'、'.join(missing)}",
            columns=missing,
        )


def validate_row(script: Script, raw: RawRow) -> Row:
    values: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    for col in script.columns:
        if col.header in raw.problems:
            errors.append((col.header, raw.problems[col.header]))
            continue
        text = raw.values.get(col.header, "")
        if not text.strip():
            if col.required:
                errors.append((col.header, "必須です"))
            values[col.name] = ""
            continue
        try:
            values[col.name] = apply_all(col.filters, clean_value(col, text))
        except ValueError as exc:
            errors.append((col.header, str(exc)))
    errors += _derive(script, values)
    return Row(raw.number, values, tuple(errors))


def _derive(script: Script, values: dict[str, str]) -> list[tuple[str, str]]:
    """Derived values, in place; the errors name the column they come from."""
    headers = {c.name: c.header for c in script.columns}
    errors = []
    for d in script.derived:
        source = values.get(d.source, "")
        try:
            values[d.name] = apply_all(d.filters, source) if source else ""
        except FilterError as exc:
            values[d.name] = ""
            errors.append((headers[d.source], f"{exc}（{d.name}）"))
    return errors


def validate_rows(script: Script, rows: list[RawRow]) -> list[Row]:
    check_headers(script, rows)
    return [validate_row(script, r) for r in rows]


def error_text(row: Row) -> str:
    return "／".join(f"{header}: {reason}" for header, reason in row.errors)
