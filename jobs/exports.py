"""Savings exports: CSV (UTF-8 with BOM, so Excel opens it) and XLSX.

Cell values that a spreadsheet would run as formulas (``=``, ``+``, ``-``,
``@``, tab, CR at the start) are prefixed with an apostrophe in CSV and
stored as plain strings in XLSX, so exported text never turns live.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from jobs.ledger import SavingsRow

HEADERS_JA: dict[str, str] = {
    "fiscal_year": "年度",
    "fiscal_year_label": "年度（和暦）",
    "month": "月",
    "department": "部署コード",
    "department_name": "部署名",
    "service": "サービス",
    "service_label": "サービス名",
    "jobs": "件数",
    "units": "処理量",
    "unit_label": "単位",
    "saved_seconds": "削減時間（秒）",
    "saved_hours": "削減時間（時間）",
}

SHEETS_JA: dict[str, str] = {
    "department": "部署別",
    "service": "サービス別",
    "month": "月別",
    "fiscal_year": "年度別",
}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Any) -> Any:
    """Neutralise spreadsheet formula injection in a text cell."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def columns_for(group_by: Sequence[str]) -> list[str]:
    cols: list[str] = []
    for key in group_by:
        cols.append(key)
        if key == "fiscal_year":
            cols.append("fiscal_year_label")
        elif key == "department":
            cols.append("department_name")
        elif key == "service":
            cols.append("service_label")
    # A quantity means nothing without its unit (minutes of audio, forms, records).
    amounts = ["units", "unit_label"] if "service" in group_by else []
    return [*cols, "jobs", *amounts, "saved_hours", "saved_seconds"]


Labeller = Callable[[dict[str, Any]], dict[str, Any]]


def _records(rows: Iterable[SavingsRow], label: Labeller) -> list[dict[str, Any]]:
    return [label(row.as_dict()) for row in rows]


def _total(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, Any]:
    total: dict[str, Any] = {c: "" for c in columns}
    total[columns[0]] = "合計"
    for key in ("jobs", "units", "saved_hours", "saved_seconds"):
        if key in columns:
            total[key] = round(sum(float(r[key]) for r in records), 3)
    total["jobs"] = int(total["jobs"])
    # Minutes of audio, forms and records do not add up: no total across units.
    if "units" in columns and len({r.get("unit_label", "") for r in records}) > 1:
        total["units"] = ""
    return total


def to_csv(rows: Iterable[SavingsRow], group_by: Sequence[str], label: Labeller) -> bytes:
    columns = columns_for(group_by)
    records = _records(rows, label)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([HEADERS_JA[c] for c in columns])
    for record in [*records, _total(records, columns)]:
        writer.writerow([defuse(record.get(c, "")) for c in columns])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def to_xlsx(sheets: Mapping[str, Sequence[SavingsRow]], label: Labeller, title: str = "") -> bytes:
    """One sheet per grouping (keys of ``sheets`` are GROUP_KEYS or a
    comma-joined combination), each with a header and a totals row."""
    book = Workbook()
    book.remove(book.active)
    for key, rows in sheets.items():
        group_by = key.split(",")
        columns = columns_for(group_by)
        records = _records(rows, label)
        sheet = book.create_sheet(SHEETS_JA.get(key, "明細")[:31])
        if title:
            sheet.append([title])
            sheet["A1"].font = Font(bold=True)
        sheet.append([HEADERS_JA[c] for c in columns])
        for record in records:
            sheet.append([_cell(record.get(c, "")) for c in columns])
        sheet.append([_cell(v) for v in _total(records, columns).values()])
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
        for index, column in enumerate(columns, start=1):
            sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(
                12, len(HEADERS_JA[column]) * 2 + 2
            )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    # openpyxl treats any string starting with "=" as a formula; store it as
    # text with a leading apostrophe so it can never be evaluated.
    return defuse(value) if isinstance(value, str) else value
