"""Template constructs on a third layout (``jumin``: 住民票の写し等交付請求書)
whose template was written from the blank form: circled choices, era dates,
tick sets with counts, a table, right-aligned digit boxes; read by the real
engines from a few generated pages, plus the pure parts fed directly."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from jobs.errors import JobInputError
from jobs.ocr.choice import decide
from jobs.ocr.document import apply_corrections, forms_document, rows
from jobs.ocr.eradate import compose, era_name
from jobs.ocr.fields import right_aligned
from jobs.ocr.reader import OK, FormResult, read_forms
from jobs.ocr.template import Template, parse_template, validate_template
from jobs.ocr.workbook import write_xlsx
from tests.jobs.ocr import jumin, synth

YAML = (Path(__file__).parent / "forms" / "jumin.yaml").read_text(encoding="utf-8")


def _template(handwritten: bool = False) -> Template:
    text = YAML.replace("fields:", "handwritten: true\nfields:", 1) if handwritten else YAML
    return parse_template(text, {"reference.pdf": jumin.form_pdf(None)})


def _read(tmp: Path, seed: int, hand: str | None, dpi: int = 300) -> tuple[FormResult, dict[str, Any]]:
    path, expected = _scan(tmp, seed, hand, dpi)
    (read,) = read_forms([(path.name, path)], [_template(hand is not None)])
    assert read.status == OK
    return read, expected


def _accepted_wrong(read: FormResult, expected: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [
        (r.name, r.value, expected[r.name])
        for r in read.fields
        if not r.review and r.value != expected[r.name]
    ]


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[FormResult, dict[str, Any]]:
    return _read(tmp_path_factory.mktemp("jumin"), 0, None)


def test_printed_form_constructs_read_right(printed: tuple[FormResult, dict[str, Any]]) -> None:
    read, expected = printed
    assert _accepted_wrong(read, expected) == []
    values = {r.name: r for r in read.fields}
    # One result per construct (a table: per cell), under the names the outputs use.
    assert set(values) == set(expected)
    for name in ("applicant", "sex", "birth", "applied", "certs", "delivery", "fee"):
        assert values[name].value == expected[name] and not values[name].review, (name, values[name])
    assert values["birth"].extra["wareki"].startswith(values["birth"].extra["era"])
    assert values["certs"].extra["chosen"] == expected["certs"].split("、")
    assert sum(r.review for r in read.fields) <= 2


def test_outputs_hold_rows_wareki_and_corrections_are_checked(
    printed: tuple[FormResult, dict[str, Any]], tmp_path: Path
) -> None:
    read, expected = printed
    doc = forms_document([read], [read.template] if read.template else [])
    form = doc["forms"][0]
    table = form["tables"]["members"]
    assert [r["row"] for r in table] == [1, 2, 3]
    assert all(r["status"] in ("empty", "complete") for r in table)
    header, body = rows(doc)
    assert "生年月日（和暦）" in header and "世帯員1 氏名" in header
    assert body[0][header.index("生年月日（和暦）")] == form["fields"]["birth"]["extra"]["wareki"]
    sheet = load_workbook(write_xlsx(tmp_path / "forms.xlsx", doc))["帳票"]
    xlsx_header = [c.value for c in sheet[1]]
    assert xlsx_header == header
    assert (
        sheet.cell(row=2, column=header.index("生年月日（和暦）") + 1).value
        == form["fields"]["birth"]["extra"]["wareki"]
    )
    assert sheet.cell(row=2, column=header.index("請求するもの") + 1).value == expected["certs"]
    fixed = apply_corrections(
        doc,
        [
            {"form": 1, "field": "sex", "value": "女"},
            {"form": 1, "field": "birth", "value": "平成元年1月8日"},
        ],
    )
    fields = fixed["forms"][0]["fields"]
    assert fields["sex"]["value"] == "女" and fields["birth"]["value"] == "1989-01-08"
    assert fields["birth"]["extra"]["wareki"] == "平成元年1月8日"
    with pytest.raises(JobInputError, match="選択肢"):
        apply_corrections(doc, [{"form": 1, "field": "sex", "value": "不明"}])
    with pytest.raises(JobInputError, match="1〜1"):
        apply_corrections(doc, [{"form": 1, "field": "delivery", "value": "窓口、郵送"}])
    assert (
        expected["members_1_name"] == form["fields"]["members_1_name"]["value"]
        or form["fields"]["members_1_name"]["review"]
    )


def _scan(tmp: Path, seed: int, hand: str | None, dpi: int) -> tuple[Path, dict[str, Any]]:
    rng = random.Random(100 + seed)
    form = jumin.random_form(rng)
    page = synth.render(jumin.form_pdf([form.printed], hand, seed=seed), dpi)[0]
    return synth.save_image(synth.degrade(page, rng, dpi), tmp / f"jumin-{seed}.png", dpi), form.expected


def test_a_mixed_batch_with_handwritten_auto_accepts_nothing_wrong(tmp_path: Path) -> None:
    """One template (``handwritten: auto``) for a printed and a handwritten
    copy: print or handwriting is decided per crop."""
    text = YAML.replace("fields:", "handwritten: auto\nfields:", 1)
    template = parse_template(text, {"reference.pdf": jumin.form_pdf(None)})
    scans = [_scan(tmp_path, 4, None, 200), _scan(tmp_path, 1, "klee-slant", 200)]
    forms = read_forms([(p.name, p) for p, _ in scans], [template])
    for read, (_, expected) in zip(forms, scans, strict=True):
        assert read.status == OK
        assert _accepted_wrong(read, expected) == []
        assert sum(r.review for r in read.fields) / len(read.fields) <= 0.35
    printed, hand = ([r.extra["handwritten"] for r in f.fields if "handwritten" in r.extra] for f in forms)
    assert printed and sum(printed) <= len(printed) // 4, printed  # mostly read as print
    # Handwriting that tesseract still reads surely (a digit in a box) stays
    # on the printed path; the rest goes to PP-OCR under the handwriting rule.
    assert hand and sum(hand) >= len(hand) // 3 and sum(hand) > sum(printed), hand


def test_choice_decision_rules() -> None:
    assert decide({"男": 0.06, "女": 0.0}, "exactly_one").value == "男"
    assert decide({"男": 0.0, "女": 0.0}, "exactly_one").reasons == ("choice_none",)
    assert decide({"男": 0.0, "女": 0.0}, "at_most_one").reasons == ()
    assert decide({"男": 0.05, "女": 0.04}, "exactly_one").reasons == ("choice_many",)
    assert decide({"男": 0.0015, "女": 0.0}, "exactly_one").reasons == ("choice_faint",)


def test_era_dates_are_checked_against_the_era() -> None:
    assert compose("平成", {"year": "元", "month": "1", "day": "8"})[0].isoformat() == "1989-01-08"  # type: ignore[union-attr]
    day, problem, _ = compose("平成", {"year": "32", "month": "1", "day": "1"})
    assert day is None and problem and "存在しない" in problem
    assert compose("昭和", {"year": "55", "month": "", "day": "1"})[1] == ""  # incomplete
    assert compose(None, {"year": "", "month": "", "day": ""}) == (None, None, False)
    assert compose("昭和", {"date": "55年3月1日"})[0].isoformat() == "1980-03-01"  # type: ignore[union-attr]
    assert compose(None, {"date": "令和元年5月1日"})[0].isoformat() == "2019-05-01"  # type: ignore[union-attr]
    assert compose(None, {"date": "令和元年4月30日"})[1]  # before the era began
    assert [era_name(t) for t in ("昭和", "昭", "Ｓ", "へいせい", "")] == ["昭和", "昭和", "昭和", None, None]


def test_right_aligned_digit_boxes_flag_a_gap() -> None:
    spec = next(f for f in _template().fields if f.name == "fee")
    assert (
        right_aligned(spec, [2, 3, 4])
        and not right_aligned(spec, [1, 2, 3])
        and not right_aligned(spec, [2, 4])
    )


def test_template_problems_for_constructs() -> None:
    bad = YAML.replace("    min: 1\n    max: 1\n", "    min: 2\n    max: 1\n")
    assert any("min・max" in p.message for p in validate_template(bad))
    assert validate_template(YAML.replace("era: 令和", "era: 慶応"))  # not an era the schema knows
    no_parts = YAML.replace("    day: {box: {x: 104, y: 34, w: 14, h: 10}}\n", "")
    assert any("year・month・day" in p.message for p in validate_template(no_parts))
    assert any("align: right" in p.message for p in validate_template(YAML.replace("    cells: 5\n", "")))
    assert validate_template(YAML) == []
    written = YAML.replace(
        "    year: {box: {x: 130, y: 76, w: 14, h: 10}}\n"
        "    month: {box: {x: 154, y: 76, w: 14, h: 10}}\n"
        "    day: {box: {x: 174, y: 76, w: 14, h: 10}}\n",
        "    date: {box: {x: 130, y: 76, w: 58, h: 10}}\n",
    )
    assert written != YAML and validate_template(written) == []
    birth = next(
        f
        for f in parse_template(written, {"reference.pdf": jumin.form_pdf(None)}).fields
        if f.name == "birth"
    )
    assert birth.construct is not None and [p.name for p in birth.construct.parts] == ["birth__date"]


def test_a_text_layer_pdf_reads_constructs_exactly(tmp_path: Path) -> None:
    """A PDF straight from the generator: parts from its text layer, marks
    (circle, tick, strike) from its rendered page against the blank."""
    form = jumin.random_form(random.Random(0))
    assert set(form.printed["marks"]) == {"tick", "strike", "circle"}
    path = tmp_path / "filled.pdf"
    path.write_bytes(jumin.form_pdf([form.printed]))
    (read,) = read_forms([(path.name, path)], [_template()])
    assert read.source == "text"
    assert {r.name: r.value for r in read.fields} == form.expected
    assert not any(r.review for r in read.fields)


def test_a_partial_row_and_counts_that_do_not_match_their_ticks_go_to_review(tmp_path: Path) -> None:
    form = jumin.random_form(random.Random(0))
    printed = dict(form.printed)
    # 続柄 left empty in the first row.
    printed["members"] = [("林 誠", "", "昭和46年5月2日"), ("", "", ""), ("", "", "")]
    printed["certs"], printed["counts_shown"] = [1, 0, 0], [0, 2, 0]
    path = tmp_path / "partial.pdf"
    path.write_bytes(jumin.form_pdf([printed]))
    (read,) = read_forms([(path.name, path)], [_template()])
    results = {r.name: r for r in read.fields}
    for column in ("name", "relation", "birth"):
        assert "table_partial_row" in results[f"members_1_{column}"].reasons
    assert not results["members_2_name"].review
    assert "count_missing" in results["certs_1_count"].reasons
    assert "count_without_tick" in results["certs_2_count"].reasons and results["certs_2_count"].value == 2
    assert results["certs"].value == "住民票の写し" and not results["certs"].review
    doc = forms_document([read], [_template()])
    rows_ = doc["forms"][0]["tables"]["members"]
    assert [r["status"] for r in rows_] == ["partial", "empty", "empty"]
    assert rows_[0]["values"] == {"name": "林誠", "relation": None, "birth": "1971-05-02"}
    fixed = apply_corrections(doc, [{"form": 1, "field": "members_1_relation", "value": "妻"}])
    assert fixed["forms"][0]["tables"]["members"][0]["status"] == "complete"
