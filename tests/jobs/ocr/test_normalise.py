from __future__ import annotations

from datetime import date

import pytest

from jobs.ocr.normalise import clean_text, normalise, parse_date, parse_wareki


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("令和6年4月1日", date(2024, 4, 1)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("昭和 55 年 12 月 3 日", date(1980, 12, 3)),
        ("R6.4.1", date(2024, 4, 1)),
        ("Ｈ２．３．４", date(1990, 3, 4)),
    ],
)
def test_wareki_dates(text: str, day: date) -> None:
    assert parse_wareki(text) == day


@pytest.mark.parametrize(
    "text", ["平成32年1月1日", "令和元年4月30日", "昭和64年1月8日", "令和6年2月30日", "6年4月1日"]
)
def test_impossible_wareki_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_wareki(text)


def test_gregorian_and_wareki_dates() -> None:
    assert parse_date("2024年4月1日") == parse_date("2024/04/01") == parse_date("令和6年4月1日")


def test_clean_text_strips_japanese_spaces_and_fixes_dashes() -> None:
    assert clean_text("北九州市 小倉北区 城内 1ー1一203") == "北九州市小倉北区城内1-1-203"
    assert clean_text("Ｔｏｋｙｏ  Ｓｔａｔｉｏｎ") == "Tokyo Station"


@pytest.mark.parametrize(
    ("kind", "raw", "value", "ok"),
    [
        ("amount", "1,234,500", 1234500, True),
        ("amount", "¥12,000円", 12000, True),
        ("amount", "12,34", "12,34", False),
        ("number", "-42", -42, True),
        ("phone", "093ー582ー2102", "093-582-2102", True),
        ("phone", "093-582", "093-582", False),
        ("postal_code", "〒8028501", "802-8501", True),
        ("account_number", "1234567", "1234567", True),
        ("account_number", "12a4567", "12a4567", False),
        ("kana", "やまだ たろう", "ヤマダタロウ", True),
        ("kana", "ヤマダ1", "ヤマダ1", False),
        ("name", "髙橋 一郎", "髙橋一郎", True),
        ("name", "髙橋 1郎", "髙橋1郎", False),
        ("date_wareki", "令和6年4月1日", "2024-04-01", True),
        ("date_wareki", "平成32年4月1日", "平成32年4月1日", False),
        ("checkbox", "1", True, True),
        ("text", "", None, True),
    ],
)
def test_types(kind: str, raw: str, value: object, ok: bool) -> None:
    checked = normalise(kind, raw)
    assert checked.value == value
    assert (checked.problem is None) is ok


def test_allowed_chars_and_pattern() -> None:
    assert normalise("text", "AB-12", allowed_chars="AB12").problem
    assert normalise("text", "AB12", pattern=r"[A-Z]{2}\d{2}").problem is None
    assert normalise("text", "AB1", pattern=r"[A-Z]{2}\d{2}").problem


def test_small_ya_yu_yo_must_follow_an_i_row_kana() -> None:
    assert normalise("kana", "キムラ ユウコ").problem is None
    assert normalise("kana", "ショウ リュウ").problem is None
    assert normalise("kana", "キムラュウコ").problem is not None  # ユ written small-looking
    assert normalise("kana", "ュウコ").problem is not None


def test_small_vowels_and_small_tsu_follow_japanese_spelling() -> None:
    for ok in (
        "ウィリアムズ",
        "ファン ティエン",
        "ヴォルフ",
        "シェパード",
        "トゥアン",
        "ハットリ",
        "キッカワ",
        "ベッド",
    ):
        assert normalise("kana", ok).problem is None, ok
    for bad in ("コバヤシダィスケ", "サァキ", "マッモト", "ヤマモッ", "イッオ", "サッナ"):
        assert normalise("kana", bad).problem is not None, bad


def test_printed_marks_digit_strings_and_variants() -> None:
    from jobs.ocr.normalise import variant_kanji

    assert normalise("postal_code", "〒812-0011", prefixes=["〒"]).value == "812-0011"
    assert normalise("amount", "259,651円", suffixes=["円"]).value == 259651
    assert normalise("digits", "第 027589 号", prefixes=["第"], suffixes=["号"]).value == "027589"
    assert normalise("name", "様山田太郎", suffixes=["様"]).value == "山田太郎"  # a text layer's order
    assert normalise("digits", "0275B9").problem is not None
    assert normalise("number", "027589").value == 27589  # numbers still drop them
    assert variant_kanji("髙橋") == "髙" and variant_kanji("山田") == ""
    assert normalise("text", "北九州市\n グリーン館 302 ").text == "北九州市\nグリーン館302"
