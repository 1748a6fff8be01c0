"""Writing a job's outputs: forms.json, forms.csv (UTF-8 with BOM),
forms.xlsx and the PNG crops of the fields a person must check."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2

from jobs.ocr.document import crop_name, rows
from jobs.ocr.reader import FormResult
from jobs.ocr.workbook import write_xlsx
from jobs.registry import OutputFile

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PNG_TYPE = "image/png"
# Spreadsheets run cells that start with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "@", "\t", "\r")


def _safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(doc: Mapping[str, Any]) -> bytes:
    header, body = rows(doc)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[_safe(str(c)) for c in row] for row in body])
    # UTF-8 with BOM: Excel on Japanese Windows opens it without mojibake.
    return buffer.getvalue().encode("utf-8-sig")


def write_tables(folder: Path, doc: Mapping[str, Any]) -> list[OutputFile]:
    """forms.json, forms.csv and forms.xlsx from the document (no crops)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "forms.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    (folder / "forms.csv").write_bytes(to_csv(doc))
    write_xlsx(folder / "forms.xlsx", doc)
    return [
        OutputFile("forms.csv", folder / "forms.csv", CSV_TYPE),
        OutputFile("forms.xlsx", folder / "forms.xlsx", XLSX_TYPE),
        OutputFile("forms.json", folder / "forms.json", "application/json"),
    ]


def write_crops(folder: Path, forms: Sequence[FormResult]) -> list[OutputFile]:
    """One PNG per flagged field: what the reviewer looks at."""
    outputs = []
    for form in forms:
        for result in form.fields:
            if result.crop is None:
                continue
            name = crop_name(form.index, result.name)
            cv2.imwrite(str(folder / name), result.crop)
            outputs.append(OutputFile(name, folder / name, PNG_TYPE))
    return outputs
