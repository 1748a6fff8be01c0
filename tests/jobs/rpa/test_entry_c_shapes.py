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

from jobs.registry import InputFile, JobContext
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


def meisai_job(
    jobs_c: Jobs, tmp_path: Path, rows: list[list[str]], files: dict[str, bytes], script: str
) -> JobContext:
    """A job of ``script`` on the sheet ``rows`` with a ZIP of ``files``."""
    archive = tmp_path / "scans.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    records = tmp_path / "meisai.csv"
    with records.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([HEADERS + (["領収書"] if len(rows[0]) > len(HEADERS) else []), *rows])
    ctx = jobs_c.context(script, records)
    return replace(ctx, inputs=(*ctx.inputs, InputFile("scans.zip", archive, "application/zip", 1)))


def with_line_receipts(text: str) -> str:
    """zaimu_c_meisai.yaml with a 領収書 file on each 明細 line (switch
    line_attach: a file box per line): a line column, and an ``upload`` in ``lines``."""
    changes = [
        ("columns: [budget_code, amount, note]", "columns: [budget_code, amount, note, receipt]"),
        (
            "    - {name: note, header: 明細摘要,",
            '    - {name: receipt, header: 領収書, type: string, pattern: "(?i)^.+\\\\.(pdf|png)$"}\n'
            "    - {name: note, header: 明細摘要,",
        ),
        (
            '              - fill: {selector: "[name=M_TEKIYO_{{ line.n }}]", value: "{{ line.note }}"}',
            '              - fill: {selector: "[name=M_TEKIYO_{{ line.n }}]", value: "{{ line.note }}"}\n'
            '              - upload: {selector: "[name=M_TENPU_{{ line.n }}]", column: receipt}',
        ),
    ]
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def receipted(ref: str, lines: list[tuple[str, str, str]]) -> list[list[str]]:
    """A voucher whose lines are (予算科目, 金額, 領収書)."""
    rows = voucher(ref, "scan.pdf", [(code, amount, "") for code, amount, _ in lines])
    return [[*row, receipt] for row, (_, _, receipt) in zip(rows, lines, strict=True)]


def test_an_upload_inside_lines_attaches_each_lines_own_file(jobs_c: Jobs, tmp_path: Path) -> None:
    """``upload`` in ``lines``: each 明細 line's file from its own sheet row, an
    empty cell attaching nothing; a line naming a file the ZIP lacks refuses
    its voucher before typing, naming the column and the line's row."""
    jobs_c.standin.switches(meisai="on", attach="on", keys="on", line_attach="on")
    files = {
        "scan.pdf": b"%PDF-1.4\n" + b"s" * 900,
        "r1.pdf": b"%PDF-1.4\n" + b"a" * 700,
        "r2.png": b"\x89PNG" + b"b" * 400,
    }
    rows = [
        *receipted("L-1", [("02010107", "1200", "r1.pdf"), ("02010210", "300", "r2.png")]),
        *receipted("L-2", [("03020311", "450", ""), ("04010108", "80", "r1.pdf")]),
        *receipted("L-3", [("02010107", "10", "r2.png"), ("02010107", "20", "nai.pdf")]),
    ]
    script = with_line_receipts(script_text(SCRIPT, timeout_seconds="5", max_processing_seconds="0.5"))

    outcome = run(meisai_job(jobs_c, tmp_path, rows, files, script))

    by_ref = {e["reference"]: e for e in jobs_c.standin.entries()}
    assert set(by_ref) == {"L-1", "L-2"}
    receipts = {
        ref: [(x["attachment"], x["attachment_bytes"]) for x in e["lines"]] for ref, e in by_ref.items()
    }
    assert receipts == {"L-1": [("r1.pdf", 709), ("r2.png", 404)], "L-2": [("", 0), ("r1.pdf", 709)]}
    assert by_ref["L-1"]["attachment"] == "scan.pdf"
    state = {r["row"]: (r["state"], r["message"]) for r in read_results(outcome)}
    assert [state[str(n)][0] for n in range(2, 6)] == ["entered"] * 4
    code, message = state["7"]  # L-3's 2nd line: refused before typing, the whole voucher with it
    assert code == "invalid" and "領収書（7行目）" in message and "nai.pdf" in message
    assert state["6"][0] == "invalid"


def test_a_session_ending_inside_a_vouchers_lines_enters_it_once_with_all_lines(
    jobs_c: Jobs, tmp_path: Path
) -> None:
    """The session ends after 20 requests. A voucher of three lines costs 11
    (the entry screen, 2 per search window: the payee's and each line's, 確認,
    登録) and a login 4 (the frameset and its three frames): the 2nd voucher's
    session ends in its 2nd line's search window, after its payee and 1st line
    were chosen (a few requests more or less still end it inside its lines). The runner logs in again and types that voucher from its
    start: every voucher once, with all its lines in order, and no 登録 sent
    twice."""
    jobs_c.standin.switches(meisai="on", attach="on", keys="on", session_requests=20)
    lines = [("02010107", "1000", "ｺﾋﾟｰ用紙"), ("02010210", "2000", ""), ("03020311", "3000", "切手")]
    rows = [row for ref in ("S-1", "S-2") for row in voucher(ref, "scan.pdf", lines)]
    script = script_text(SCRIPT, timeout_seconds="5", max_processing_seconds="0.5")

    outcome = run(meisai_job(jobs_c, tmp_path, rows, {"scan.pdf": b"%PDF-1.4\n" + b"s" * 900}, script))

    entries = jobs_c.standin.entries()
    assert Counter(e["reference"] for e in entries) == {"S-1": 1, "S-2": 1}
    for e in entries:
        assert [(x["budget_code"], x["amount"], x["note"]) for x in e["lines"]] == [
            ("02010107", 1000, "コピー用紙"),
            ("02010210", 2000, ""),
            ("03020311", 3000, "切手"),
        ]
    assert httpx.get(f"{jobs_c.standin.url}/_admin/switches").json()["submits"] == 2
    assert outcome.summary["entered"] == 2 and outcome.summary["relogins"] == 1
    assert {r["state"] for r in read_results(outcome)} == {"entered"}
