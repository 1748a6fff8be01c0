from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from jobs.exports import to_csv, to_xlsx
from jobs.ledger import SavingsRow

ROWS = [
    SavingsRow({"department": "=cmd|' /C calc'!A0", "service": "minutes"}, 7200.0, 120.0, 3),
    SavingsRow({"department": "somu", "service": "ocr"}, 1800.0, 30.0, 2),
]


UNITS = {"minutes": "分（音声）", "ocr": "枚"}


def label(record: dict) -> dict:
    extra = (
        {"service_label": record["service"], "unit_label": UNITS[record["service"]]}
        if "service" in record
        else {}
    )
    return {**record, "department_name": "総務課", **extra}


def test_csv_has_bom_japanese_headers_totals_and_no_live_formulas() -> None:
    body = to_csv(ROWS, ["department", "service"], label)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == [
        "部署コード",
        "部署名",
        "サービス",
        "サービス名",
        "件数",
        "処理量",
        "単位",
        "削減時間（時間）",
        "削減時間（秒）",
    ]
    assert rows[1][0].startswith("'=")  # formula defused
    assert rows[1][5:7] == ["120.0", "分（音声）"]
    assert rows[-1][0] == "合計"
    # Minutes of audio and forms are not added up; hours are.
    assert rows[-1][4:] == ["5", "", "", "2.5", "9000.0"]


def test_one_unit_is_totalled_and_no_service_means_no_quantity() -> None:
    one = to_csv(ROWS[:1], ["service"], label).decode("utf-8-sig").splitlines()
    assert one[-1].split(",")[:4] == ["合計", "", "3", "120.0"]
    by_department = to_csv(ROWS, ["department"], label).decode("utf-8-sig").splitlines()
    assert "処理量" not in by_department[0]


def test_xlsx_has_a_sheet_per_grouping_with_totals() -> None:
    body = to_xlsx({"department": ROWS, "service": ROWS}, label, title="削減時間")
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["部署別", "サービス別"]
    values = list(book["部署別"].iter_rows(values_only=True))
    assert values[0][0] == "削減時間"
    assert values[1][0] == "部署コード"
    assert values[2][0].startswith("'=")
    assert values[-1][0] == "合計" and values[-1][-1] == 9000.0
