"""The bad-input corpus for bulk entry: record files as departments really
send them (Shift_JIS CSV from Excel, workbooks with formulas and hidden
sheets, formula-injection strings), through the API, a real rpa worker and
Debian's Chromium against the stand-in financial system."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from openpyxl import load_workbook

from tests.corpus import inputs
from tests.integration.helpers import wait_finished
from tests.support.entry import Entry, entry_bench, submit_records  # noqa: F401 - the module's fixture

pytestmark = [pytest.mark.corpus, pytest.mark.parametrize("service", ["sqlite"], indirect=True)]


def prefix() -> str:
    return f"C{uuid.uuid4().hex[:5].upper()}"


def results(entry: Entry, headers: dict[str, str], job_id: str) -> list[dict[str, str]]:
    body = entry.service.api.get(f"/api/v1/jobs/{job_id}/artifacts/results.csv", headers=headers)
    return list(csv.DictReader(io.StringIO(body.content.decode("utf-8-sig"))))


def test_shift_jis_csv_from_excel_is_entered(entry: Entry, dept: str) -> None:
    headers, ref = entry.service.token(dept), prefix()
    header, rows = inputs.sample_rows(ref, 3)
    body = inputs.records_csv(header, rows, encoding="cp932")
    job_id = submit_records(entry.service.api, headers, body, "支出.csv")
    job = wait_finished(entry.service.api, headers, job_id, timeout=180)
    assert job["state"] == "succeeded" and job["summary"]["entered"] == 3, job
    typed = {e["reference"]: e for e in entry.entries() if e["reference"].startswith(ref)}
    assert {e["payee"] for e in typed.values()} == {r[7] for r in rows}  # Japanese text intact


def test_workbook_formulas_and_hidden_sheets_are_not_typed(entry: Entry, dept: str) -> None:
    headers, ref = entry.service.token(dept), prefix()
    header, rows = inputs.sample_rows(ref, 3)
    body = inputs.records_xlsx_with_traps(header, rows)
    job_id = submit_records(entry.service.api, headers, body, "支出.xlsx")
    job = wait_finished(entry.service.api, headers, job_id, timeout=180)
    assert job["state"] == "succeeded", (job["error_code"], job["error_message"])
    assert job["summary"]["entered"] == 2 and job["summary"]["invalid"] == 1, job["summary"]
    refs = {e["reference"] for e in entry.entries()}
    assert "HIDDEN-001" not in refs and f"{ref}-000" not in refs
    invalid = next(r for r in results(entry, headers, job_id) if r["状態"] == "入力データ不備")
    assert invalid["行番号"] == "2" and "数式" in invalid["メッセージ"]


def test_formula_injection_stays_text_in_the_results(entry: Entry, dept: str) -> None:
    headers, ref = entry.service.token(dept), prefix()
    header, rows = inputs.sample_rows(ref, 2)
    payee = '=HYPERLINK("http://evil.example/","支払先")'
    rows[0][7] = payee
    rows[1][8] = "@SUM(1+1)"
    body = inputs.records_csv(header, rows)
    job_id = submit_records(entry.service.api, headers, body)
    job = wait_finished(entry.service.api, headers, job_id, timeout=180)
    assert job["state"] == "succeeded" and job["summary"]["entered"] == 2, job
    # The target got the department's text as typed ...
    assert payee in {e["payee"] for e in entry.entries()}
    # ... and no spreadsheet cell the department opens can run it.
    found = results(entry, headers, job_id)
    assert found[0]["支払先"] == "'" + payee and found[1]["件名"] == "'@SUM(1+1)"
    xlsx = entry.service.api.get(f"/api/v1/jobs/{job_id}/artifacts/results.xlsx", headers=headers)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    assert any(c.value == "'" + payee for c in cells)
