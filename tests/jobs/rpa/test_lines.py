"""明細 lines and attachments without a browser: what approval refuses in a
script (with its line), how rows become vouchers (every bad line refuses its
whole voucher, naming the row, the column and the rule), and the attachment
ZIP (bare names only, nothing unpacked, every name checked before typing)."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from jobs.errors import JobInputError
from jobs.rpa.attachments import Attachments
from jobs.rpa.records import RawRow
from jobs.rpa.script import ScriptError, parse_script
from jobs.rpa.validate import error_text, owners, validate_rows
from tests.jobs.rpa.conftest import REPO

SCRIPT = (REPO / "jobs" / "rpa" / "samples" / "zaimu_c_meisai.yaml").read_text(encoding="utf-8")
HEAD = {"整理番号": "M-1", "起票日": "2025-06-02", "支払先": "株式会社小倉文具", "件名": "用紙"}


def raw(n: int, **values: str) -> RawRow:
    line = {"添付ファイル": "a.pdf", "予算科目": "02010107", "金額": "100", "明細摘要": ""}
    return RawRow(n, {**HEAD, **line, **values})


def refused(text: str) -> ScriptError:
    with pytest.raises(ScriptError) as caught:
        parse_script(text)
    return caught.value


@pytest.mark.parametrize(
    ("old", "new", "message", "at"),
    [
        # A line's value in a step that runs once per voucher.
        (
            '- fill: {selector: "[name=TEKIYO]", value: "{{ row.purpose }}"}',
            '- fill: {selector: "[name=TEKIYO]", value: "{{ row.amount }}"}',
            "「row.amount」という項目はありません",
            "row.amount",
        ),
        (
            '- fill: {selector: "[name=TEKIYO]", value: "{{ row.purpose }}"}',
            '- fill: {selector: "[name=TEKIYO]", value: "{{ line.note }}"}',
            "「line.note」はここでは使えません",
            "line.note",
        ),
        (
            "        - press: {selector: body, key: F12, navigation: true, submit: true}\n",
            "",
            "",
            "",
        ),
        (
            "columns: [budget_code, amount, note]",
            "columns: [reference, amount]",
            "参照キーの列",
            "columns: [reference",
        ),
        (
            "columns: [budget_code, amount, note]",
            "columns: [budget, amount]",
            "明細の列「budget」",
            "columns: [budget",
        ),
        (
            "  lines:\n    columns: [budget_code, amount, note]\n    max: 10\n",
            "",
            "records.lines",
            "- lines:",
        ),
    ],
)
def test_approval_refuses_a_wrong_lines_script(old: str, new: str, message: str, at: str) -> None:
    assert old in SCRIPT
    if not message:  # the submit moved into the lines block: once per line would be wrong
        text = SCRIPT.replace(old, "").replace(
            '              - fill: {selector: "[name=M_TEKIYO_{{ line.n }}]", value: "{{ line.note }}"}\n',
            '              - fill: {selector: "[name=M_TEKIYO_{{ line.n }}]", value: "{{ line.note }}"}\n'
            "              - press: {selector: body, key: F12, navigation: true, submit: true}\n",
        )
        message, at = "lines の外に", "submit: true"
    else:
        text = SCRIPT.replace(old, new)
    error = refused(text)
    assert message in error.message
    assert error.line is not None and at in text.splitlines()[error.line - 1]


def test_upload_of_a_line_column_must_be_inside_lines() -> None:
    text = SCRIPT.replace(
        'upload: {selector: "[name=TENPU]", column: scan}', 'upload: {selector: "[name=TENPU]", column: note}'
    )
    assert "lines の中に" in refused(text).message
    assert "columns にありません" in refused(SCRIPT.replace("column: scan}", "column: scans}")).message


def test_rows_become_vouchers_and_a_bad_line_refuses_its_voucher() -> None:
    script = parse_script(SCRIPT)
    zip_ok = {"a.pdf": None}
    rows = [
        raw(2),
        raw(3, 予算科目="02010108", 明細摘要="ｺﾋﾟｰ"),
        raw(4, 整理番号="M-2"),
        raw(5, 整理番号="M-2", 金額="-5"),  # a bad line
        raw(6, 整理番号="M-3"),
        raw(7, 整理番号="M-3", 件名="別の件名"),  # a voucher's own column differs
        raw(8, 整理番号="M-4"),
        raw(9, 整理番号="M-5"),
        raw(10, 整理番号="M-4"),  # M-4 again, apart from its first row
    ]
    vouchers = validate_rows(script, rows, _attachments(zip_ok))
    assert [v.number for v in vouchers] == [2, 4, 6, 8, 9, 10]
    first = vouchers[0]
    assert first.valid and [line.number for line in first.lines] == [2, 3]
    assert first.line_values == [
        {"budget_code": "02010107", "amount": "100", "note": ""},
        {"budget_code": "02010108", "amount": "100", "note": "コピー"},
    ]
    assert first.values["purpose"] == "用紙" and first.values["era"] == "令和"
    assert error_text(vouchers[1]) == "金額（5行目）: 1以上にしてください"
    assert "件名（7行目）: 同じ伝票の行では同じ値にしてください（6行目は「用紙」）" in error_text(vouchers[2])
    assert "整理番号: 同じ伝票の行が離れています（8行目・10行目から）" in error_text(vouchers[3])
    assert vouchers[4].valid and not vouchers[5].valid
    assert owners(vouchers)[3] == 2 and owners(vouchers)[5] == 4


def test_a_voucher_over_the_screens_lines_is_refused() -> None:
    script = parse_script(SCRIPT.replace("max: 10", "max: 2"))
    (voucher,) = validate_rows(script, [raw(2), raw(3), raw(4)], _attachments({"a.pdf": None}))
    assert error_text(voucher) == "明細: 3行あります（1伝票2行まで）"


def _attachments(files: dict[str, None]) -> Attachments:
    return Attachments(Path("unused.zip"), {name: zipfile.ZipInfo(name) for name in files})


def test_attachments_are_bare_names_in_the_zip_never_unpacked(tmp_path: Path) -> None:
    archive = tmp_path / "scans.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("2025/請求書.pdf", b"%PDF-1.4 one")
        z.writestr("../../etc/passwd.pdf", b"%PDF-1.4 outside")
        z.writestr("a/dup.pdf", b"1")
        z.writestr("b/dup.pdf", b"2")
        z.writestr("__MACOSX/._請求書.pdf", b"fork")
        link = zipfile.ZipInfo("link.pdf")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/shadow")
        z.writestr("XXXXXX.pdf", b"%PDF-1.4 sjis")
    # Windows' Explorer writes a Japanese name in Shift_JIS without the UTF-8 flag.
    archive.write_bytes(archive.read_bytes().replace(b"XXXXXX.pdf", "見積書.pdf".encode("cp932")))
    found = Attachments.open(archive)
    assert found.problem("請求書.pdf") is None
    assert found.payload("請求書.pdf") == {
        "name": "請求書.pdf",
        "mimeType": "application/pdf",
        "buffer": b"%PDF-1.4 one",
    }
    assert found.payload("passwd.pdf")["buffer"] == b"%PDF-1.4 outside"  # by its bare name, read in memory
    assert "フォルダを含まない" in str(found.problem("../../etc/passwd.pdf"))
    assert "フォルダを含まない" in str(found.problem("2025/請求書.pdf"))
    assert "複数あります" in str(found.problem("dup.pdf"))
    assert "ZIPにありません" in str(found.problem("link.pdf"))
    assert found.problem("見積書.pdf") is None
    assert not list(tmp_path.glob("**/*.pdf"))  # nothing was written out
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(JobInputError, match="ZIPを読めません"):
        Attachments.open(tmp_path / "broken.zip")


def test_intake_takes_one_zip_only_for_a_script_that_attaches(tmp_path: Path) -> None:
    from jobs.registry import InputFile
    from jobs.rpa.intake_check import check_intake

    records = tmp_path / "r.csv"
    records.write_text(",".join(raw(2).values.keys()) + "\n", encoding="utf-8")
    archive = tmp_path / "scans.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.pdf", b"%PDF-1.4")
    files = [
        InputFile("r.csv", records, "text/csv", 1),
        InputFile("scans.zip", archive, "application/zip", 1),
    ]
    check_intake({"script_text": SCRIPT}, files, {})
    plain = (REPO / "jobs" / "rpa" / "samples" / "zaimu_c.yaml").read_text(encoding="utf-8")
    with pytest.raises(JobInputError, match="添付ファイルを使いません"):
        check_intake({"script_text": plain}, files, {})
    with pytest.raises(JobInputError, match="レコードファイル1つ"):
        check_intake({"script_text": SCRIPT}, [files[0], files[0]], {})
