"""System C with 明細 lines, a required attachment and function keys only
(switches meisai, attach, keys), entered with ``zaimu_c_meisai.yaml`` (written
from the screen description alone) on real Chromium, with a 500 on the 2nd
登録: every voucher once, with all its lines and its file; a voucher with
one bad line, or naming a file the ZIP lacks, is refused before typing."""

from __future__ import annotations

import csv
import zipfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx

from jobs.registry import InputFile
from jobs.rpa.core import run
from tests.jobs.rpa.conftest import REPO, Jobs, read_results, script_text

SCRIPT = REPO / "jobs" / "rpa" / "samples" / "zaimu_c_meisai.yaml"
HEADERS = ["整理番号", "起票日", "支払先", "件名", "添付ファイル", "予算科目", "金額", "明細摘要"]


def voucher(ref: str, scan: str, lines: list[tuple[str, str, str]], **header: str) -> list[list[str]]:
    head = {"整理番号": ref, "起票日": "2025-06-02", "支払先": "株式会社小倉文具", "件名": "消耗品 No.1"}
    head |= {"添付ファイル": scan, **header}
    return [[*(head[h] for h in HEADERS[:5]), *line] for line in lines]


def test_vouchers_with_lines_and_attachments_once_each_with_a_500(jobs_c: Jobs, tmp_path: Path) -> None:
    jobs_c.standin.switches(meisai="on", attach="on", keys="on", fail_submits=[2])
    pdf = b"%PDF-1.4\n" + b"x" * 3000
    archive = tmp_path / "scans.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("スキャン/請求書A.pdf", pdf)  # in a folder: found by its bare name
        z.writestr("b.png", b"\x89PNG\r\n\x1a\n" + b"y" * 1500)
        z.writestr("../../escape.pdf", b"%PDF-1.4 never written anywhere")
    rows = [
        *voucher(
            "M-1",
            "請求書A.pdf",
            [("02010107", "1200", "ｺﾋﾟｰ用紙"), ("02010210", "30000", ""), ("03020311", "450", "切手")],
        ),
        *voucher("M-2", "b.png", [("04010108", "5000", "出張"), ("10030113", "700", "")]),
        # 金額 of its 2nd line is not a number: nothing of M-4 is typed.
        *voucher("M-4", "b.png", [("02010107", "100", ""), ("02010108", "１２x", "")]),
        *voucher("M-5", "missing.pdf", [("02010107", "100", "")]),  # not in the ZIP
        *voucher("M-6", "../../escape.pdf", [("02010107", "100", "")]),  # a path, not a name
    ]
    records = tmp_path / "meisai.csv"
    with records.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([HEADERS, *rows])
    ctx = jobs_c.context(script_text(SCRIPT, timeout_seconds="5", max_processing_seconds="0.5"), records)
    ctx = replace(ctx, inputs=(*ctx.inputs, InputFile("scans.zip", archive, "application/zip", 1)))

    outcome = run(ctx)

    entries = jobs_c.standin.entries()
    assert Counter(e["reference"] for e in entries) == {"M-1": 1, "M-2": 1}
    assert httpx.get(f"{jobs_c.standin.url}/_admin/switches").json()["submits"] == 3  # M-2's 1st got the 500
    by_ref = {e["reference"]: e for e in entries}
    assert [(x["budget_code"], x["amount"], x["note"]) for x in by_ref["M-1"]["lines"]] == [
        ("02010107", 1200, "コピー用紙"),
        ("02010210", 30000, ""),
        ("03020311", 450, "切手"),
    ]
    assert by_ref["M-1"]["amount"] == 31650 and by_ref["M-1"]["purpose"] == "消耗品　Ｎｏ．１"
    assert (by_ref["M-1"]["attachment"], by_ref["M-1"]["attachment_bytes"]) == ("請求書A.pdf", len(pdf))
    assert [(x["budget_code"], x["amount"]) for x in by_ref["M-2"]["lines"]] == [
        ("04010108", 5000),
        ("10030113", 700),
    ]
    assert (by_ref["M-2"]["attachment"], by_ref["M-2"]["attachment_bytes"]) == ("b.png", 1508)

    results = read_results(outcome)
    assert len(results) == len(rows)  # one result line per sheet row, a line shows its voucher's state
    state = {r["row"]: (r["state"], r["message"]) for r in results}
    assert [state[str(n)][0] for n in range(2, 7)] == ["entered"] * 5
    assert {r["voucher_no"] for r in results if r["reference"] == "M-1"} == {by_ref["M-1"]["voucher_no"]}
    code, message = state["7"]  # M-4, refused before typing, naming its bad row and the column
    assert code == "invalid" and "金額（8行目）" in message and "数値" in message
    assert state["8"][0] == "invalid"
    assert state["9"][0] == "invalid" and "missing.pdf" in state["9"][1] and "ZIP" in state["9"][1]
    assert state["10"][0] == "invalid" and "フォルダを含まない" in state["10"][1]
    assert outcome.summary["entered"] == 2 and outcome.summary["invalid"] == 3
