"""Reading a department's record file: CSV (UTF-8 with or without BOM, or
Shift_JIS as Excel writes it in Japan) or XLSX, Japanese headers allowed.

Row numbers are the spreadsheet's own (the header is row 1), so the results a
department gets back point at the row they see in Excel.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError

MAX_ROWS = 20000
ENCODINGS = (("utf-8-sig", "UTF-8"), ("cp932", "Shift_JIS"))


@dataclass(frozen=True)
class RawRow:
    number: int
    values: dict[str, str]
    # Cells whose value cannot be trusted, by header → reason (a formula never calculated).
    problems: dict[str, str] = field(default_factory=dict)


def _decode(data: bytes) -> str:
    for codec, _label in ENCODINGS:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        # Python's cp932 maps unused bytes to private-use characters; UTF-16
        # text is full of NULs. Either means we guessed wrong.
        if "\x00" not in text and not any("\ue000" <= ch <= "\uf8ff" for ch in text):
            return text
    raise JobInputError(
        "unreadable_records",
        "レコードファイルの文字コードを判別できません。UTF-8（BOM付き可）または Shift_JIS のCSVで保存してください。",
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time(0):  # Excel dates are datetimes
        return value.date().isoformat()
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def _rows(header: list[str], body: list[tuple[int, list[str], dict[str, str]]]) -> list[RawRow]:
    headers = [h.strip() for h in header]
    if not any(headers):
        raise JobInputError("empty_records", "レコードファイルの1行目に見出しがありません。")
    dupes = sorted({h for h in headers if h and headers.count(h) > 1})
    if dupes:
        raise JobInputError("invalid_records", f"見出しが重複しています: {'、'.join(dupes)}")
    rows = []
    for number, cells, problems in body:
        if not any(c.strip() for c in cells) and not problems:
            continue  # blank lines at the end of a sheet are common
        values = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(headers) if h}
        rows.append(RawRow(number, values, problems))
    if len(rows) > MAX_ROWS:
        raise JobInputError(
            "too_many_records", f"レコードは{MAX_ROWS}件までにしてください（{len(rows)}件）。"
        )
    return rows


def read_csv(path: Path) -> list[RawRow]:
    text = _decode(path.read_bytes())
    table = list(csv.reader(io.StringIO(text, newline="")))
    if not table:
        raise JobInputError("empty_records", "レコードファイルが空です。")
    return _rows(table[0], [(i + 2, r, {}) for i, r in enumerate(table[1:])])


def _first_visible(workbook: Any) -> Any:
    """The sheet a person sees first: hidden and very hidden sheets are never
    read (they are where stale or unreviewed rows hide)."""
    for sheet in workbook.worksheets:
        if getattr(sheet, "sheet_state", "visible") == "visible":
            return sheet
    raise JobInputError("empty_records", "表示されているシートがありません。")


def read_xlsx(path: Path) -> list[RawRow]:
    """The first visible sheet. Values are the ones Excel saved; a formula
    cell that was never calculated (a file written by a program) has no saved
    value, and we refuse that cell rather than type an empty amount."""
    import openpyxl

    # From bytes, not the path: openpyxl judges a path by its suffix, and a
    # stored upload has none.
    data = path.read_bytes()
    try:
        values_book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        formulas_book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:
        raise JobInputError("unreadable_records", "XLSXファイルとして読めません。") from None
    values = _first_visible(values_book)
    formulas = formulas_book[values.title]
    grid = list(values.iter_rows(values_only=True))
    raw = list(formulas.iter_rows(values_only=True))
    if not grid:
        raise JobInputError("empty_records", "レコードファイルが空です。")
    header = [_cell(h) for h in grid[0]]
    body = []
    for i, (row, formula_row) in enumerate(zip(grid[1:], raw[1:], strict=False)):
        problems = {
            header[j]: "数式の計算結果が保存されていません。Excelで開いて保存し直してください。"
            for j, (v, f) in enumerate(zip(row, formula_row, strict=False))
            if v is None and isinstance(f, str) and f.startswith("=") and j < len(header)
        }
        body.append((i + 2, [_cell(v) for v in row], problems))
    return _rows(header, body)


def read_records(path: Path, name: str = "") -> list[RawRow]:
    """``name`` is the uploaded file's name (stored blobs have no suffix)."""
    suffix = Path(name or path.name).suffix.lower()
    if suffix == ".csv":
        return read_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    raise JobInputError("unsupported_records", "レコードファイルはCSVまたはXLSXにしてください。")
