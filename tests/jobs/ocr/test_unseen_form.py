"""A form layout the OCR code was not written against (``furikae``): digit-box
rows, digit strings with leading zeros, printed 〒/円/様/第…号 marks, a
two-line address, checkbox groups, and handwriting, read by the real
engines (tesseract and PP-OCR) from one small generated form per test."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from jobs.ocr.reader import OK, FormResult, read_forms
from jobs.ocr.template import Template, parse_template
from tests.jobs.ocr import furikae, synth


def _template(handwritten: bool = False) -> Template:
    return parse_template(
        furikae.template_yaml(handwritten=handwritten), {"reference.pdf": furikae.form_pdf(None)}
    )


def _form(seed: int, **digits: str) -> furikae.Filled:
    form = furikae.random_form(random.Random(seed))
    printed, expected = dict(form.printed), dict(form.expected)
    printed.update(digits)
    expected.update(digits)
    return furikae.Filled(printed, expected)


def _scan(tmp: Path, form: furikae.Filled, hand: str | None, dpi: int, seed: int) -> Path:
    rng = random.Random(seed)
    page = synth.render(furikae.form_pdf([form.printed], hand, seed=seed), dpi)[0]
    return synth.save_image(synth.degrade(page, rng, dpi), tmp / f"scan-{seed}.png", dpi)


def _graded(read: FormResult, expected: dict[str, Any]) -> list[tuple[str, bool, bool]]:
    assert read.status == OK
    return [(r.name, r.value == expected[r.name], r.review) for r in read.fields]


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[FormResult, dict[str, Any]]:
    form = _form(3, account="0012345", branch="007", receipt="027589")
    path = _scan(tmp_path_factory.mktemp("unseen"), form, None, 300, 3)
    (read,) = read_forms([(path.name, path)], [_template()])
    return read, form.expected


def test_printed_unseen_form_accepted_fields_are_exact(printed: tuple[FormResult, dict[str, Any]]) -> None:
    read, expected = printed
    graded = _graded(read, expected)
    wrong = [
        (n, r.value, expected[n])
        for r, (n, exact, review) in zip(read.fields, graded, strict=True)
        if not exact and not review
    ]
    assert wrong == []
    assert sum(review for _, _, review in graded) <= 3, [r.reasons for r in read.fields if r.review]


def test_digit_strings_keep_leading_zeros_and_printed_marks_are_stripped(
    printed: tuple[FormResult, dict[str, Any]],
) -> None:
    read, expected = printed
    values = {r.name: r.value for r in read.fields}
    # Digit-box rows (each box read alone) and 第…号: strings, zeros kept.
    for name in ("account", "branch", "receipt"):
        assert values[name] == expected[name], name
    # 円 after the amount and 〒 before the postal code were printed in the boxes.
    assert values["amount"] == expected["amount"] and isinstance(values["amount"], int)
    assert values["postal"] == expected["postal"]


def test_forms_json_records_engine_and_readings(printed: tuple[FormResult, dict[str, Any]]) -> None:
    read, _ = printed
    entries = {r.name: r.to_json() for r in read.fields}
    assert {e["engine"] for e in entries.values()} <= {"tesseract", "ppocr", "both", "mark"}
    for entry in entries.values():
        if entry["engine"] == "both":
            assert entry["decision"] == "agree" and set(entry["readings"]) == {"tesseract", "ppocr"}
        if "engines_disagree" in entry["reasons"]:
            assert entry["review"] and len(entry["readings"]) == 2


@pytest.mark.parametrize("hand", furikae.HANDS)
def test_handwritten_form(tmp_path: Path, hand: str) -> None:
    form = _form(5)
    path = _scan(tmp_path, form, hand, 300, 5)
    (read,) = read_forms([(path.name, path)], [_template(handwritten=True)])
    graded = _graded(read, form.expected)
    assert [n for n, exact, review in graded if not exact and not review] == []
    assert sum(review for _, _, review in graded) / len(graded) <= 0.35
    text_fields = [r for r in read.fields if r.engine != "mark" and r.value is not None]
    assert all("ppocr" in r.readings for r in text_fields)  # PP-OCR reads handwriting first
    assert any(r.engine == "ppocr" and r.decision == "alone" for r in text_fields)


def test_text_layer_checkbox_group_rule_and_printed_marks(tmp_path: Path) -> None:
    """A PDF straight from the generator (its text layer: exact) with both
    預金種目 boxes ticked: the exactly_one rule sends both to review."""
    form = furikae.random_form(random.Random(8), violate_group=True)
    path = tmp_path / "filled.pdf"
    path.write_bytes(furikae.form_pdf([form.printed]))
    (read,) = read_forms([(path.name, path)], [_template()])
    assert read.source == "text"
    results = {r.name: r for r in read.fields}
    assert {n: r.value for n, r in results.items()} == form.expected
    assert "checkbox_rule" in results["futsu"].reasons and "checkbox_rule" in results["touza"].reasons
    assert not results["by_mail"].review and not results["by_mail_no"].review
    assert str(results["address"].value).count("\n") == form.expected["address"].count("\n")


def test_a_checkbox_group_spread_over_two_pages_is_checked_with_the_whole_form(tmp_path: Path) -> None:
    """A two-page form whose 預金種目 boxes sit one on each page: both ticked
    breaks exactly_one, seen only once both pages are read; both boxes go to
    review with a crop from their own page."""
    (_, _, x1, y1, _), (_, _, x2, y2, _) = furikae.TICKS[:2]
    yaml_text = "\n".join(
        [
            "id: two-pages",
            "name: 二枚の帳票",
            "version: 1",
            "page_size: {width_mm: 210, height_mm: 297}",
            "pages: 2",
            "reference: reference.pdf",
            "fields:",
            f"  - {{name: futsu, label: 普通, type: checkbox, box: {{x: {x1}, y: {y1}, w: {furikae.TICK}, h: {furikae.TICK}}}}}",
            f"  - {{name: touza, label: 当座, type: checkbox, page: 2, box: {{x: {x2}, y: {y2}, w: {furikae.TICK}, h: {furikae.TICK}}}}}",
            "checkbox_groups:",
            "  - {name: kind, label: 預金種目, fields: [futsu, touza], rule: exactly_one}",
        ]
    )
    template = parse_template(yaml_text + "\n", {"reference.pdf": furikae.form_pdf([{}, {}])})
    pages = synth.render(furikae.form_pdf([{"futsu": "x"}, {"touza": "x"}], seed=3), 200)
    rng = random.Random(5)
    scans = [synth.degrade(page, rng, 200) for page in pages]
    path = synth.save_tiff(scans, tmp_path / "two.tiff", 200)
    (read,) = read_forms([(path.name, path)], [template])
    assert read.status == OK and read.pages == [1, 2]
    results = {r.name: r for r in read.fields}
    assert results["futsu"].value is True and results["touza"].value is True
    assert all("checkbox_rule" in r.reasons and r.crop is not None for r in results.values())
    # One box ticked: the rule holds and nothing goes to review.
    pages = synth.render(furikae.form_pdf([{"futsu": "x"}, {}], seed=3), 200)
    path = synth.save_tiff([synth.degrade(page, rng, 200) for page in pages], tmp_path / "one.tiff", 200)
    (read,) = read_forms([(path.name, path)], [template])
    assert read.status == OK and not any(r.review for r in read.fields)
