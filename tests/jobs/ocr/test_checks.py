"""Checks that catch misreads the type check lets through (check digits,
kana spelling in every field, a handwritten 〒, a phone number's grouping),
an amount's 円 allowed to tesseract, a multi-line box's faint final 。, and
the template's cross-field rules. Pure: no engine is called."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from jobs.errors import JobInputError
from jobs.ocr import checks, fields, recognise
from jobs.ocr.document import apply_corrections
from jobs.ocr.fields import FieldResult
from jobs.ocr.normalise import normalise
from jobs.ocr.reader import read_forms
from jobs.ocr.rules import apply_rules
from jobs.ocr.template import Box, Field, build_template, parse_template, validate_template
from tests.jobs.ocr import furikae


def _field(kind: str, **extra: object) -> Field:
    return Field("f", "項目", 1, Box(10, 10, 50, 10), kind, "jpn", None, None, False, None, 80.0, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "good", "misread"),
    [
        ("mynumber", "123456789018", "123456789013"),  # the check digit of the public rule
        ("corporate_number", "7000012050002", "7000012080002"),  # 国税庁's own 法人番号
        ("mod10", "4111111111111111", "4111111111111121"),
    ],
)
def test_check_digits_catch_a_misread_digit(kind: str, good: str, misread: str) -> None:
    assert checks.check_digit(kind, good) is None
    assert checks.check_digit(kind, good[:4] + "-" + good[4:]) is None  # grouping allowed
    problem = checks.check_digit(kind, misread)
    assert problem is not None and "読み違い" in problem
    # Every single-digit misread of a 個人番号 is caught (mod 11 with weights 2–7).
    if kind == "mynumber":
        for k in range(11):
            for d in "0123456789":
                if d != good[k]:
                    assert checks.check_digit(kind, good[:k] + d + good[k + 1 :]) is not None


def test_a_field_with_a_check_digit_fails_its_check_on_a_misread() -> None:
    spec = _field("digits", check="mynumber")
    assert recognise.check(spec, "123456789018").problem is None
    assert recognise.check(spec, "123456789010").problem is not None
    assert recognise.check(spec, "12345678901").problem == "個人番号は12桁の数字です。"


@pytest.mark.parametrize("kind", ["text", "name", "free_text"])
def test_kana_spelling_is_checked_wherever_kana_are_read(kind: str) -> None:
    spec = _field(kind)
    assert recognise.check(spec, "北九州市小倉北区シティハイツ101").problem is None or kind == "name"
    problem = recognise.check(spec, "シティハイッ").problem
    assert problem is not None and "ッ" in problem
    assert recognise.check(spec, "キャンプ場へ行った").problem is None or kind == "name"
    assert recognise.check(spec, "ユウコ").problem is None
    assert recognise.check(spec, "ュウコ").problem is not None  # a large ユ read small
    assert recognise.check(spec, "マッモト").problem is not None


def test_a_handwritten_postal_mark_does_not_fail_the_postal_code() -> None:
    for raw in ("〒802-0001", "1802-0001", "7 802-0001", "T802-0001", "〒 8020001"):
        assert normalise("postal_code", raw, prefixes=("〒",)).value == "802-0001", raw
    # Without the dash the first digit cannot be told from a 〒: not guessed.
    assert normalise("postal_code", "18020001", prefixes=("〒",)).problem is not None


def test_a_phone_number_keeps_its_grouping() -> None:
    assert normalise("phone", "093 582 2102").value == "093-582-2102"
    assert normalise("phone", "093ー582ー2102").value == "093-582-2102"
    assert normalise("phone", "0935822102").value == "0935822102"
    assert normalise("phone", "0 93-793-9088").value == "093-793-9088"  # a stray space, dashes read


def test_an_amount_is_read_by_tesseract_s_japanese_model_with_yen_allowed() -> None:
    """eng cannot write 円 (it read 11,800円 as 11,8004); jpn can."""
    template = build_template(
        {
            "id": "t",
            "name": "t",
            "version": 1,
            "page_size": {"width_mm": 210, "height_mm": 297},
            "reference": "r.pdf",
            "fields": [
                {
                    "name": "amount",
                    "label": "金額",
                    "type": "amount",
                    "box": {"x": 1, "y": 1, "w": 50, "h": 9},
                }
            ],
        },
        (b"",),
    )
    (spec,) = template.fields
    assert spec.language == "jpn"
    # Handwritten: eng (jpn dropped handwritten digits), jpn only once PP-OCR saw a 円.
    handwritten = build_template({**template.source, "handwritten": True}, (b"",)).fields[0]
    assert handwritten.language == "eng"
    item = recognise.Prepared(handwritten, [np.zeros((1, 1), np.uint8)])
    assert recognise.tesseract_language(item) == "eng"
    item.lines[recognise.PPOCR] = [recognise.Line("11,800円", 90.0)]
    assert recognise.tesseract_language(item) == "jpn"
    assert {"円", "¥", "￥", ","} <= set(recognise.whitelist(spec, fields.WHITELISTS))
    for raw in ("11,800円", "￥11,800", "¥ 11,800 円", "11800円"):
        assert recognise.check(spec, raw).value == 11800, raw


def test_a_multiline_box_keeps_a_faint_final_mark() -> None:
    """A light grey 。 (darker than ink_only's threshold, lighter than 128)
    after the last line's characters stays in the line cut for the engines."""
    ink = np.full((120, 300), 255, np.uint8)
    ink[12:42, 12:200] = 0  # line 1
    ink[70:100, 12:200] = 0  # line 2
    ink[92:100, 220:228] = 160  # a faint 。 at its end
    lines = fields.split_lines(ink)
    assert len(lines) == 2
    assert lines[1].shape[1] >= (228 - 12) + 2 * fields.PAD_X


def _result(name: str, value: object, reasons: list[str] | None = None) -> FieldResult:
    return FieldResult(name, value, str(value), str(value), 95.0, list(reasons or []))  # type: ignore[arg-type]


LABELS = {"fee1": "手数料1", "fee2": "手数料2", "total": "合計", "born": "生年月日", "applied": "申請日"}


def test_a_total_that_is_not_the_sum_of_its_lines_goes_to_review() -> None:
    rule = {"sum": ["fee1", "fee2"], "equals": "total"}
    results = [_result("fee1", 1200), _result("fee2", None), _result("total", 1200)]
    apply_rules([rule], results, LABELS, today=date(2026, 12, 7))
    assert not any(r.review for r in results)  # an empty line counts 0
    results = [_result("fee1", 1200), _result("fee2", 800), _result("total", 1800)]
    apply_rules([rule], results, LABELS, today=date(2026, 12, 7))
    assert all(r.reasons == ["rule_sum"] for r in results)
    assert results[2].problem == "「合計」（1,800）が明細の合計（2,000）と合いません。"
    # A line already failing its type check: the rule waits for the reviewer.
    results = [_result("fee1", "12,3"), _result("fee2", 800), _result("total", 1800)]
    results[0].reasons.append("type_check")
    apply_rules([rule], results, LABELS, today=date(2026, 12, 7))
    assert results[2].reasons == []


def test_date_order_rules_against_a_field_and_today() -> None:
    rules = [{"date": "born", "not_after": "applied"}, {"date": "applied", "not_after": "today"}]
    results = [_result("born", "1980-01-02"), _result("applied", "2026-12-01")]
    apply_rules(rules, results, LABELS, today=date(2026, 12, 7))
    assert not any(r.review for r in results)
    results = [_result("born", "2026-12-11"), _result("applied", "2026-12-10")]
    apply_rules(rules, results, LABELS, today=date(2026, 12, 7))
    assert results[0].reasons == ["rule_date_order"]
    assert results[1].reasons == ["rule_date_order"]
    assert results[1].problem is not None and "今日より後" in results[1].problem


def test_required_if_and_empty_unless_a_tick() -> None:
    labels = {"other": "その他", "other_text": "その他の内容"}
    rules = [
        {"field": "other_text", "required_if": "other"},
        {"field": "other_text", "empty_unless": "other"},
    ]
    ok = [_result("other", True), _result("other_text", "転居")]
    apply_rules(rules, ok, labels, today=date(2026, 12, 7))
    assert not any(r.review for r in ok)
    missing = [_result("other", True), _result("other_text", None)]
    apply_rules(rules, missing, labels, today=date(2026, 12, 7))
    assert missing[1].reasons == ["rule_required_if"]
    assert missing[1].problem == "「その他」にチェックがありますが「その他の内容」が空欄です。"
    stray = [_result("other", False), _result("other_text", "転居")]
    apply_rules(rules, stray, labels, today=date(2026, 12, 7))
    assert stray[1].reasons == ["rule_empty_unless"]


TEMPLATE = """id: t
name: 申請書
version: 1
page_size: {width_mm: 210, height_mm: 297}
reference: r.pdf
fields:
  - {name: fee1, label: 手数料1, type: amount, box: {x: 10, y: 10, w: 50, h: 10}}
  - {name: total, label: 合計, type: amount, box: {x: 10, y: 30, w: 50, h: 10}}
  - {name: other, label: その他, type: checkbox, box: {x: 10, y: 50, w: 5, h: 5}}
  - {name: kojin, label: 個人番号, type: digits, check: mynumber, box: {x: 10, y: 60, w: 80, h: 10}}
"""


def test_rules_and_checks_in_a_template_are_validated_with_their_line() -> None:
    good = TEMPLATE + "rules:\n  - {sum: [fee1], equals: total}\n  - {field: kojin, required_if: other}\n"
    assert validate_template(good) == []
    bad = (
        TEMPLATE + "rules:\n  - {sum: [fee1, fee9], equals: total}\n  - {field: kojin, required_if: total}\n"
    )
    messages = [p.message for p in validate_template(bad)]
    assert any("fee9" in m and "fields にありません" in m for m in messages), messages
    assert any("チェックボックスの項目ではありません" in m for m in messages), messages
    assert validate_template(TEMPLATE.replace("check: mynumber", "check: luhn12"))
    assert validate_template(TEMPLATE + "rules:\n  - {sum: [fee1]}\n")  # no total


def test_a_reviewer_s_correction_must_pass_the_check_digit() -> None:
    doc = {
        "templates": {
            "t@1": {"fields": [{"name": "no", "label": "個人番号", "type": "digits", "check": "mynumber"}]}
        },
        "forms": [
            {
                "index": 1,
                "status": "ok",
                "template": "t@1",
                "fields": {
                    "no": {"value": "123456789010", "text": "123456789010", "review": True, "reviewed": False}
                },
            }
        ],
    }
    with pytest.raises(JobInputError, match="検査用数字"):
        apply_corrections(doc, [{"form": 1, "field": "no", "value": "123456789010"}])


def test_rules_run_on_a_whole_form_read(tmp_path: Path) -> None:
    """furikae's form from its text layer, its template given a date rule
    the form breaks (申込日 in the past, the rule saying not before today):
    the field goes to review with the reason and a crop for the reviewer."""
    yaml_text = furikae.template_yaml() + "rules:\n  - {date: applied, not_before: today}\n"
    template = parse_template(yaml_text, {"reference.pdf": furikae.form_pdf(None)})
    form = furikae.random_form(random.Random(8))
    path = tmp_path / "filled.pdf"
    path.write_bytes(furikae.form_pdf([form.printed]))
    (read,) = read_forms([(path.name, path)], [template])
    results = {r.name: r for r in read.fields}
    applied = results["applied"]
    assert applied.value == form.expected["applied"]
    assert applied.reasons == ["rule_date_order"] and applied.crop is not None
    assert applied.problem == "「申込日」が今日より前の日付です。"
    assert not results["name"].reasons or results["name"].reasons == ["variant_kanji"]
