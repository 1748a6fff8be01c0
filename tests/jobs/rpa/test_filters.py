"""Value filters: each rule's conversions, its refusals (naming the column
and the rule, before anything is typed), and a wrong rule caught when the
script is parsed, with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.rpa import filters
from jobs.rpa.records import RawRow
from jobs.rpa.script import ScriptError, load_script, parse_script
from jobs.rpa.validate import error_text, validate_row
from tests.jobs.rpa.conftest import REPO

SCRIPT_C = REPO / "jobs" / "rpa" / "samples" / "zaimu_c.yaml"


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ({"wareki": "era"}, "2019-05-01", "令和"),
        ({"wareki": "year"}, "2019-05-01", "1"),
        ({"wareki": {"part": "year", "gannen": True}}, "2019-05-01", "元"),
        ("wareki", "2019-04-30", "平成31年4月30日"),
        ("wareki", "2019-05-01", "令和元年5月1日"),
        ({"wareki": "era_year"}, "1989-01-07", "昭和64"),
        ({"wareki": "era_year"}, "1900-01-01", "明治33"),
        ({"wareki": "era_year"}, "1912-07-30", "大正1"),
        ({"wareki": {"part": "era", "eras": ["昭和", "平成", "令和"]}}, "1926-12-25", "昭和"),
        ({"wareki": "month"}, "2025-06-02", "6"),
        ({"wareki": "day"}, "2025-06-02", "2"),
        ({"split": {"separator": "-", "index": 1}}, "092-123-4567", "123"),
        ({"split": {"widths": [2, 2, 2, 2], "index": 3}}, "02010107", "07"),
        ("zenkaku", "ｶﾞｽ代 No.1 (6月)", "ガス代　Ｎｏ．１　（６月）"),
        ("hankaku", "ガス　ＡＢＣ１２ぱん", "ｶﾞｽ ABC12ﾊﾟﾝ"),
        ({"pad": {"width": 7}}, "42", "0000042"),
        ({"pad": {"width": 5, "char": " ", "side": "right"}}, "ab", "ab   "),
        ({"format": "amount"}, "12345678", "12,345,678"),
        ({"format": {"date": "YYYY/MM/DD"}}, "2025-06-02", "2025/06/02"),
        ({"format": {"date": "M月D日"}}, "2025-06-02", "6月2日"),
        ({"map": {"table": {"令和": "5", "平成": "4"}}}, "令和", "5"),
        ({"map": {"table": {"A": "1"}, "default": "9"}}, "B", "9"),
        ({"truncate": 4}, "abcd", "abcd"),
        ({"truncate": {"length": 4, "cut": True}}, "abcdef", "abcd"),
        ({"truncate": {"length": 4, "encoding": "cp932", "cut": True}}, "あいう", "あい"),
    ],
)
def test_rule_converts(spec: object, value: str, expected: str) -> None:
    assert filters.build(spec)(value) == expected


@pytest.mark.parametrize(
    ("spec", "value", "reason"),
    [
        ({"wareki": "era"}, "1850-01-01", "和暦にできない"),
        # An era select that starts at 昭和: a 大正 date is refused before typing, not at the select.
        (
            {"wareki": {"part": "era", "eras": ["昭和", "平成", "令和"]}},
            "1926-12-24",
            "大正の日付は対象システムで扱えません",
        ),
        ({"split": {"separator": "-", "index": 3}}, "a-b", "4番目の部分がありません"),
        ("hankaku", "山田", "半角にできない文字「山」"),
        ({"pad": 3}, "1234", "3桁を超えています"),
        ({"format": "amount"}, "12.5", "整数ではありません"),
        ({"map": {"table": {"A": "1"}}}, "B", "対応表にない値"),
        ({"truncate": 3}, "abcd", "切り捨てません"),
    ],
)
def test_rule_refuses_what_it_cannot_convert(spec: object, value: str, reason: str) -> None:
    with pytest.raises(filters.FilterError) as caught:
        filters.build(spec)(value)
    name = spec if isinstance(spec, str) else next(iter(spec))  # type: ignore[call-overload]
    assert f"規則「{name}」" in str(caught.value) and reason in str(caught.value)


def test_map_reads_a_csv_beside_the_script(tmp_path: Path) -> None:
    (tmp_path / "payees.csv").write_text("\ufeff北九州商事,1000001\n小倉文具,2000001\n", encoding="utf-8")
    rule = filters.build({"map": {"csv": "payees.csv"}}, tmp_path)
    assert rule("小倉文具") == "2000001"
    with pytest.raises(filters.SpecError, match="同じフォルダ"):
        filters.build({"map": {"csv": "../secrets.csv"}}, tmp_path)
    with pytest.raises(filters.SpecError, match="table に書いて"):
        filters.build({"map": {"csv": "payees.csv"}}, None)  # approved text: no folder


def test_system_c_rows_are_converted_or_refused_before_typing() -> None:
    script = load_script(SCRIPT_C)
    good = RawRow(
        2,
        {
            "整理番号": "T-1",
            "起票日": "2019-05-01",
            "款": "02",
            "項": "01",
            "目": "01",
            "節": "07",
            "金額": "1000",
            "支払先": "北九州商事1",
            "件名": "ｶﾞｽ代 6月分",
        },
    )
    row = validate_row(script, good)
    assert row.valid, row.errors
    assert (row.values["era"], row.values["era_year"], row.values["month"], row.values["day"]) == (
        "令和",
        "1",
        "5",
        "1",
    )
    assert row.values["purpose"] == "ガス代　６月分"
    long = RawRow(3, {**good.values, "件名": "あ" * 51, "起票日": "1850-01-01"})
    bad = validate_row(script, long)
    text = error_text(bad)
    assert not bad.valid
    assert "件名: 規則「truncate」で変換できません（50文字を超えています" in text
    # The era rule refuses a date before the modern eras, naming the column it comes from.
    assert "起票日: 規則「wareki」で変換できません（和暦にできない日付です: 1850-01-01）（era）" in text
    # 明治 is 和暦, but system C's era select has no 明治: refused here, not at the screen.
    meiji = error_text(validate_row(script, RawRow(4, {**good.values, "起票日": "1900-01-01"})))
    assert "起票日: 規則「wareki」で変換できません（明治の日付は対象システムで扱えません" in meiji


def test_a_wrong_rule_is_refused_at_parse_with_its_line() -> None:
    text = SCRIPT_C.read_text(encoding="utf-8").replace("{wareki: month}", "{wareki: week}")
    with pytest.raises(ScriptError) as caught:
        parse_script(text)
    assert "規則「wareki」" in caught.value.message and caught.value.line is not None
    line = text.splitlines()[caught.value.line - 1]
    assert "week" in line
    era = SCRIPT_C.read_text(encoding="utf-8").replace("eras: [昭和,", "eras: [慶応, 昭和,")
    with pytest.raises(ScriptError, match="eras は 明治、大正、昭和、平成、令和"):
        parse_script(era)
    unknown = SCRIPT_C.read_text(encoding="utf-8").replace("[zenkaku,", "[kanji,")
    with pytest.raises(ScriptError, match="規則「kanji」はありません"):
        parse_script(unknown)
