"""Checking every row against the script's record schema before anything is
typed. A row is either clean (values by column name, normalised) or invalid
with one reason per bad column."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation

from jobs.errors import JobInputError
from jobs.rpa.attachments import Attachments, missing_problem
from jobs.rpa.filters import FilterError, apply_all
from jobs.rpa.records import RawRow
from jobs.rpa.script import Column, Script, line_names


@dataclass(frozen=True)
class Line:
    """One 明細 line of a voucher: its sheet row and its line columns' values."""

    number: int
    values: dict[str, str]


@dataclass(frozen=True)
class Row:
    """A record: one sheet row, or (with ``records.lines``) one voucher made of
    consecutive rows with the same reference; ``number`` is its first row."""

    number: int
    values: dict[str, str]
    errors: tuple[tuple[str, str], ...] = ()  # (column header, reason)
    lines: tuple[Line, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def line_values(self) -> list[dict[str, str]]:
        return [line.values for line in self.lines]


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


def _with_attachments(script: Script, row: Row, attachments: Attachments | None) -> Row:
    """Every file an ``upload`` step attaches must be in the job's ZIP: a
    voucher's own file once, a 明細 line's file on its line's row."""
    headers = {c.name: c.header for c in script.columns}
    varying = line_names(script)
    errors = []
    for column in script.upload_columns:
        cells = (
            [(line.number, line.values.get(column, "")) for line in row.lines]
            if column in varying
            else [(row.number, row.values.get(column, ""))]
        )
        for number, value in cells:
            if not value:
                continue  # an empty cell attaches nothing (``required`` refuses it)
            problem = attachments.problem(value) if attachments is not None else missing_problem(value)
            if problem:
                where = "" if number == row.number else f"（{number}行目）"
                errors.append((f"{headers.get(column, column)}{where}", problem))
    return replace(row, errors=(*row.errors, *errors)) if errors else row


def _grouped(script: Script, rows: list[Row]) -> list[Row]:
    """Consecutive rows with the same reference → one voucher. Every column
    but the line columns must be the same on each of its rows; any bad row
    refuses the whole voucher (nothing of it is typed), naming its row."""
    assert script.lines is not None
    varying = line_names(script)
    runs: list[list[Row]] = []
    for row in rows:
        key = reference_of(script, row.values)
        if runs and key and reference_of(script, runs[-1][0].values) == key:
            runs[-1].append(row)
        else:
            runs.append([row])
    starts: dict[str, list[int]] = {}
    for run in runs:
        starts.setdefault(reference_of(script, run[0].values), []).append(run[0].number)
    constant = [c for c in script.columns if c.name not in varying]
    reference = "・".join(c.header for c in script.columns if c.name in script.reference)
    vouchers = []
    for run in runs:
        first, key = run[0], reference_of(script, run[0].values)
        errors = list(first.errors)
        for row in run[1:]:
            errors += [(f"{h}（{row.number}行目）", reason) for h, reason in row.errors]
            bad = {h for h, _ in (*first.errors, *row.errors)}
            for col in constant:
                value = first.values.get(col.name, "")
                if col.header not in bad and row.values.get(col.name, "") != value:
                    errors.append(
                        (
                            f"{col.header}（{row.number}行目）",
                            f"同じ伝票の行では同じ値にしてください（{first.number}行目は「{value}」）",
                        )
                    )
        if key and len(starts[key]) > 1:
            where = "・".join(f"{n}行目" for n in starts[key])
            errors.append((reference, f"同じ伝票の行が離れています（{where}から）。続けて並べてください"))
        if script.lines.max is not None and len(run) > script.lines.max:
            errors.append(("明細", f"{len(run)}行あります（1伝票{script.lines.max}行まで）"))
        lines = tuple(Line(r.number, {n: r.values.get(n, "") for n in varying}) for r in run)
        vouchers.append(replace(first, errors=tuple(errors), lines=lines))
    return vouchers


def validate_rows(script: Script, rows: list[RawRow], attachments: Attachments | None = None) -> list[Row]:
    check_headers(script, rows)
    checked = [validate_row(script, r) for r in rows]
    if script.lines is not None:
        checked = _grouped(script, checked)
    if script.upload_columns:
        checked = [_with_attachments(script, r, attachments) for r in checked]
    return checked


def owners(rows: list[Row]) -> dict[int, int]:
    """Sheet row → the row of its voucher (for the results of 明細 lines)."""
    return {line.number: row.number for row in rows for line in row.lines}


def error_text(row: Row) -> str:
    return "／".join(f"{header}: {reason}" for header, reason in row.errors)
