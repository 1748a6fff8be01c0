"""results.csv/xlsx read in Japanese; results.json keeps the codes programs use."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from openpyxl import load_workbook

from jobs.rpa.ledger import RecordState
from jobs.rpa.records import read_csv
from jobs.rpa.results import write_results
from jobs.rpa.script import parse_script
from tests.jobs.rpa.conftest import SAMPLE_SCRIPT

RECORDS = Path(__file__).resolve().parents[3] / "jobs" / "rpa" / "samples" / "records.csv"


def written(tmp_path: Path, script_text: str) -> tuple[list[dict[str, str]], list[str], dict, list]:
    script = parse_script(script_text)
    raw = read_csv(RECORDS)[:3]
    states = {
        raw[0].number: RecordState(raw[0].number, "T-1", "entered", captured={"voucher_no": "R07-000001"}),
        raw[1].number: RecordState(raw[1].number, "T-2", "rejected", "金額が上限を超えています"),
    }
    names = [o.name for o in write_results(tmp_path, script, raw, states)]
    with (tmp_path / "results.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    sheet = load_workbook(tmp_path / "results.xlsx").active
    assert sheet is not None
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    return rows, names, json.loads((tmp_path / "results.json").read_text(encoding="utf-8")), header


def test_people_read_japanese_headings_and_statuses(tmp_path: Path) -> None:
    rows, names, data, header = written(tmp_path, SAMPLE_SCRIPT.read_text(encoding="utf-8"))
    assert names == ["results.csv", "results.xlsx", "results.json"]
    assert list(rows[0])[:5] == ["行番号", "状態", "メッセージ", "参照キー", "伝票番号"]
    assert header[:5] == ["行番号", "状態", "メッセージ", "参照キー", "伝票番号"]
    assert [r["状態"] for r in rows] == ["入力済み", "対象システムが拒否", "未処理"]
    assert rows[0]["伝票番号"] == "R07-000001"
    # No English heading or status code a department would see.
    assert not any(cell.isascii() and cell.isalpha() for r in rows for cell in (*r, r["状態"]))
    # Programs keep the codes and the script's column names.
    assert [r["state"] for r in data["rows"]] == ["entered", "rejected", "pending"]
    assert data["rows"][0]["captured"] == {"voucher_no": "R07-000001"}
    assert data["rows"][1]["message"] == "金額が上限を超えています"


def test_a_script_names_its_captured_column(tmp_path: Path) -> None:
    text = SAMPLE_SCRIPT.read_text(encoding="utf-8").replace(
        "capture: {column: voucher_no,", "capture: {column: voucher_no, label: 支出負担行為番号,", 1
    )
    rows, _, data, _ = written(tmp_path, text)
    assert "支出負担行為番号" in rows[0] and "伝票番号" not in rows[0]
    assert data["rows"][0]["captured"] == {"voucher_no": "R07-000001"}
