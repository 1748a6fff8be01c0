"""results.csv (UTF-8 with BOM, so Excel opens it in Japanese) and
results.xlsx for people: every row's status, the target's message, the
captured values and the row as the department sent it, under Japanese
headings with Japanese statuses. results.json is the same for programs:
state codes (entered, rejected …) and captured column names as the script
names them, a shape that does not change when a heading is reworded."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobs.exports import defuse
from jobs.registry import OutputFile
from jobs.rpa.ledger import RecordState
from jobs.rpa.records import RawRow
from jobs.rpa.script import Script

STATE_LABELS = {
    "pending": "未処理",
    "in_flight": "処理中断",
    "entered": "入力済み",
    "duplicate": "重複（入力済み）",
    "rejected": "対象システムが拒否",
    "invalid": "入力データ不備",
    "failed": "失敗",
    "checked": "確認済み（試行）",
}
CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _state(r: RawRow, states: dict[int, RecordState], owners: Mapping[int, int]) -> RecordState:
    """A 明細 line (``owners``: row → its voucher's first row) shows its voucher's state."""
    return states.get(owners.get(r.number, r.number)) or RecordState(r.number, "", "pending")


def table(
    script: Script,
    raw: Sequence[RawRow],
    states: dict[int, RecordState],
    owners: Mapping[int, int] | None = None,
) -> list[list[str]]:
    """The rows people read: Japanese headings and statuses only; one line per sheet row."""
    owners = owners or {}
    captures = script.capture_labels
    headers = [c.header for c in script.columns]
    rows = [["行番号", "状態", "メッセージ", "参照キー", *captures.values(), *headers]]
    for r in raw:
        st = _state(r, states, owners)
        rows.append(
            [
                str(r.number),
                STATE_LABELS.get(st.state, st.state),
                st.message,
                st.reference,
                *(str(st.captured.get(c, "")) for c in captures),
                *(r.values.get(h, "") for h in headers),
            ]
        )
    return rows


def records(
    script: Script,
    raw: Sequence[RawRow],
    states: dict[int, RecordState],
    owners: Mapping[int, int] | None = None,
) -> dict[str, Any]:
    """results.json: one object per row with its state code, for programs."""
    owners = owners or {}
    captures = script.capture_columns
    headers = [c.header for c in script.columns]
    out = []
    for r in raw:
        st = _state(r, states, owners)
        out.append(
            {
                "row": r.number,
                "state": st.state,
                "message": st.message,
                "reference": st.reference,
                "captured": {c: str(st.captured.get(c, "")) for c in captures},
                "values": {h: r.values.get(h, "") for h in headers},
            }
        )
    return {"script": script.name, "rows": out}


def write_csv(path: Path, rows: list[list[str]]) -> None:
    # Cells a spreadsheet would run as formulas (a payee named "=HYPERLINK(…)")
    # are defused as in every other export.
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([[defuse(cell) for cell in row] for row in rows])


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "結果"
    for row in rows:
        # Values starting with "=" must stay text: a department's payee is not a formula.
        sheet.append([f"'{v}" if v.startswith("=") else v for v in row])
    sheet.freeze_panes = "A2"
    book.save(path)


def write_results(
    folder: Path,
    script: Script,
    raw: Sequence[RawRow],
    states: dict[int, RecordState],
    owners: Mapping[int, int] | None = None,
) -> list[OutputFile]:
    rows = table(script, raw, states, owners)
    write_csv(folder / "results.csv", rows)
    write_xlsx(folder / "results.xlsx", rows)
    (folder / "results.json").write_text(
        json.dumps(records(script, raw, states, owners), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return [
        OutputFile("results.csv", folder / "results.csv", CSV_TYPE),
        OutputFile("results.xlsx", folder / "results.xlsx", XLSX_TYPE),
        OutputFile("results.json", folder / "results.json", JSON_TYPE),
    ]


# The summary line's parts: what a person reads first (state codes in brackets).
SUMMARY_PARTS = (
    ("入力", ("entered", "checked")),
    ("入力済み", ("duplicate",)),
    ("対象システムが拒否", ("rejected",)),
    ("入力前に不備", ("invalid",)),
    ("失敗（システム・セッション）", ("failed",)),
    ("未到達", ("pending", "in_flight")),
)
# Rows a person must look at because of the system or the session, not the data.
NOT_DONE = ("failed", "pending", "in_flight")


def summary_line(tally: dict[str, int], relogins: int = 0) -> str:
    """``入力 40件 / 入力済み 1件 / … / 再ログイン 2回``."""
    parts = [f"{label} {sum(tally.get(s, 0) for s in codes)}件" for label, codes in SUMMARY_PARTS]
    return " / ".join([*parts, f"再ログイン {relogins}回"])


def not_done(tally: dict[str, int]) -> int:
    return sum(tally.get(s, 0) for s in NOT_DONE)


def counts(states: dict[int, RecordState]) -> dict[str, int]:
    found: dict[str, int] = {}
    for st in states.values():
        found[st.state] = found.get(st.state, 0) + 1
    return found
