"""forms.xlsx: one row per form, fields a person must check highlighted with
the reason as a comment, a second sheet listing every flag, and a sheet per
template table with one line per filled row (its cells are also columns of
the first sheet, as in forms.csv)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from jobs.ocr.fields import REASONS_JA
from jobs.ocr.table import EMPTY
from jobs.ocr.table import STATUS_JA as ROW_STATUS_JA

FLAG_FILL = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
MISMATCH_FILL = PatternFill("solid", start_color="F8CBAD", end_color="F8CBAD")
META_COLUMNS = 4


def _cell_value(entry: Mapping[str, Any]) -> Any:
    value = entry.get("value")
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, int):
        return value
    text = str(entry.get("text", ""))
    # A string starting with "=" would become a formula in Excel.
    return "'" + text if text.startswith(("=", "+", "@")) else text


def _reasons(entry: Mapping[str, Any]) -> str:
    reasons = "、".join(REASONS_JA.get(r, r) for r in entry.get("reasons", []))
    problem = entry.get("problem")
    return f"{reasons}（{problem}）" if problem else reasons


def _forms_sheet(sheet: Worksheet, doc: Mapping[str, Any]) -> None:
    from jobs.ocr.document import columns, rows

    header, body = rows(doc)
    names = [name for name, _ in columns(doc)]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r, (form, row) in enumerate(zip(doc["forms"], body, strict=True), start=2):
        sheet.append(row[:META_COLUMNS])
        for c, name in enumerate(names, start=META_COLUMNS + 1):
            entry = form["fields"].get(name)
            if entry is None:
                if "#" in name:  # a construct's extra column (an era date's 和暦)
                    sheet.cell(row=r, column=c, value=row[c - 1])
                continue
            cell = sheet.cell(row=r, column=c, value=_cell_value(entry))
            if entry["review"] and not entry["reviewed"]:
                cell.fill = FLAG_FILL
                cell.comment = Comment(_reasons(entry), "digilabo")
        last = sheet.cell(row=r, column=META_COLUMNS + len(names) + 1, value=row[-1])
        if form["status"] != "ok":
            last.fill = MISMATCH_FILL
    sheet.freeze_panes = "E2"


def _flags_sheet(sheet: Worksheet, doc: Mapping[str, Any]) -> None:
    from jobs.ocr.document import pending_reviews

    sheet.append(["帳票番号", "ファイル", "項目", "読取値", "読取結果（生）", "確信度", "理由", "確認用画像"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for item in pending_reviews(doc):
        reasons = "、".join(item["reasons_ja"]) + (f"（{item['problem']}）" if item["problem"] else "")
        sheet.append(
            [
                item["form"],
                item["file"],
                item["label"],
                str(item["text"]),
                item["raw"],
                item["confidence"],
                reasons,
                item["crop"] or "",
            ]
        )
    for form in doc["forms"]:
        if form["status"] != "ok":
            sheet.append([form["index"], form["file"], "（帳票全体）", "", "", "", form["message"], ""])


def _sheet_title(label: str, taken: set[str]) -> str:
    """「表_世帯員」: Excel's limits (31 characters, none of []:*?/\\), unique."""
    base = "表_" + "".join("_" if ch in "[]:*?/\\" else ch for ch in label)
    title, n = base[:31], 2
    while title in taken:
        title, n = f"{base[:28]}_{n}", n + 1
    taken.add(title)
    return title


def _table_sheets(book: Workbook, doc: Mapping[str, Any]) -> None:
    """One sheet per table: a line per filled row of every form, a partial row highlighted."""
    tables: dict[str, Mapping[str, Any]] = {}
    for template in doc["templates"].values():
        for name, table in template.get("tables", {}).items():
            tables.setdefault(name, table)
    taken = set(book.sheetnames)
    for name, table in tables.items():
        sheet = book.create_sheet(_sheet_title(str(table["label"]), taken))
        sheet.append(["ファイル", "帳票番号", "行", "状態", *(c["label"] for c in table["columns"])])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for form in doc["forms"]:
            for row in form.get("tables", {}).get(name, []):
                if row["status"] == EMPTY:
                    continue
                texts = [
                    _cell_value(form["fields"].get(f"{name}_{row['row']}_{c['name']}", {}))
                    for c in table["columns"]
                ]
                sheet.append([form["file"], form["index"], row["row"], ROW_STATUS_JA[row["status"]], *texts])
                if row["status"] != "complete":
                    for cell in sheet[sheet.max_row]:
                        cell.fill = FLAG_FILL


def write_xlsx(path: Path, doc: Mapping[str, Any]) -> Path:
    book = Workbook()
    forms = book.active
    assert forms is not None  # a new workbook always has one sheet
    forms.title = "帳票"
    _forms_sheet(forms, doc)
    _flags_sheet(book.create_sheet("要確認"), doc)
    _table_sheets(book, doc)
    book.save(path)
    return path
