"""Reading record files and checking rows (no browser)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from jobs.errors import JobInputError
from jobs.rpa.records import read_records
from jobs.rpa.script import load_script
from jobs.rpa.validate import validate_rows
from tests.jobs.rpa.conftest import HEADERS, SAMPLE_SCRIPT, record, write_records


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp932"])
def test_csv_encodings_with_japanese_headers(tmp_path: Path, encoding: str) -> None:
    path = write_records(tmp_path / "r.csv", [record(1), record(2)], encoding=encoding)
    rows = read_records(path)
    assert [r.number for r in rows] == [2, 3] and rows[0].values["支払先"] == "北九州商事1"


def test_undecodable_csv_has_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("整理番号\n".encode("utf-16"))
    with pytest.raises(JobInputError) as err:
        read_records(path)
    assert "Shift_JIS" in err.value.message


def test_xlsx_formula_without_saved_value_is_invalid(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADERS)
    sheet.append(record(1))
    bad = record(2)
    bad[6] = "=1000*2"  # written by a program: no calculated value is saved
    sheet.append(bad)
    book.save(tmp_path / "r.xlsx")
    rows = validate_rows(load_script(SAMPLE_SCRIPT), read_records(tmp_path / "r.xlsx"))
    assert rows[0].valid and not rows[1].valid
    assert rows[1].errors[0][0] == "金額" and "数式" in rows[1].errors[0][1]


def test_row_validation_names_column_and_reason(tmp_path: Path) -> None:
    rows = [record(1, 金額="１２,０００"), record(2, 金額="abc"), record(3, 節="99"), record(4, 支払先="")]
    checked = validate_rows(load_script(SAMPLE_SCRIPT), read_records(write_records(tmp_path / "r.csv", rows)))
    assert checked[0].valid and checked[0].values["amount"] == "12000"
    assert checked[1].errors == (("金額", "数値ではありません"),)
    assert checked[2].errors[0][0] == "節" and checked[3].errors == (("支払先", "必須です"),)


def test_missing_required_column(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("整理番号,金額\nA-0001,100\n", encoding="utf-8")
    with pytest.raises(JobInputError) as err:
        validate_rows(load_script(SAMPLE_SCRIPT), read_records(path))
    assert err.value.code == "missing_columns" and "支払先" in err.value.message


def test_stored_xlsx_without_suffix_is_read_by_the_uploaded_name(tmp_path: Path) -> None:
    """Blobs are stored under their digest; the upload's name says XLSX."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["整理番号", "金額"])
    sheet.append(["A-1", 100])
    book.save(tmp_path / "blob")
    rows = read_records(tmp_path / "blob", "支出.xlsx")
    assert [r.values for r in rows] == [{"整理番号": "A-1", "金額": "100"}]
