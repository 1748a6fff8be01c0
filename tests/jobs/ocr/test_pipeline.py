"""The job core on the generated batch (real tesseract): the accuracy
figures the issue asks for, mismatches, corrupt files, outputs, review."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from jobs.errors import JobInputError
from jobs.ocr.document import apply_corrections, pending_reviews
from jobs.ocr.kind import KIND, regenerate
from jobs.ocr.template import parse_template
from tests.jobs.ocr import synth
from tests.jobs.ocr.conftest import Batch, context

OTHER_TEMPLATE = """id: kouza-furikae
name: 口座振替依頼書
version: 1
page_size: {width_mm: 210, height_mm: 297}
reference: other.pdf
fields:
  - {name: bank, label: 金融機関名, type: text, box: {x: 25, y: 60, w: 90, h: 14}}
"""


def _doc(batch: Batch) -> dict[str, Any]:
    return json.loads((batch.work / "forms.json").read_text(encoding="utf-8"))


def _graded(
    batch: Batch, files: set[str] | None = None, exclude: set[str] = frozenset()
) -> list[tuple[bool, bool, str]]:
    """(exact, sent to review, field type) for every field with a known answer."""
    doc = _doc(batch)
    types = {f.name: f.type for f in batch.template.fields}
    out = []
    for form in doc["forms"]:
        key = (form["file"], form["pages"][0] if form["pages"] else 0)
        if key not in batch.truth or form["file"] in exclude or (files and form["file"] not in files):
            continue
        for name, entry in form["fields"].items():
            out.append((entry["value"] == batch.truth[key][name], entry["review"], types[name]))
    return out


def test_text_layer_pdfs_are_exact(batch: Batch) -> None:
    graded = _graded(batch, files=batch.text_files)
    assert len(graded) == 3 * 13
    assert all(exact for exact, _, _ in graded)
    forms = [f for f in _doc(batch)["forms"] if f["file"] in batch.text_files]
    assert {f["source"] for f in forms} == {"text"}


def test_scans_accuracy(batch: Batch) -> None:
    graded = _graded(batch, exclude=batch.text_files)
    assert len(graded) == 12 * 13
    exact = sum(e for e, _, _ in graded) / len(graded)
    accepted = [e for e, review, _ in graded if not review]
    review_share = sum(r for _, r, _ in graded) / len(graded)
    print(f"scans: exact {exact:.3f}, accepted {sum(accepted)}/{len(accepted)}, review {review_share:.3f}")
    assert exact >= 0.95
    assert sum(accepted) / len(accepted) >= 0.99
    assert review_share <= 0.15


def test_checkboxes_are_all_right(batch: Batch) -> None:
    ticks = [exact for exact, _, kind in _graded(batch) if kind == "checkbox"]
    assert len(ticks) == 15 * 3 and all(ticks)


def test_every_scan_format_and_the_upside_down_page_are_read(batch: Batch) -> None:
    forms = {(f["file"], f["pages"][0]): f for f in _doc(batch)["forms"] if f["pages"]}
    assert {k for k, f in forms.items() if f["status"] == "ok"} == set(batch.truth)
    assert abs(abs(forms[("scan-03.png", 1)]["alignment"]["rotation_deg"]) - 180) < 5
    assert forms[("scans.tiff", 2)]["status"] == "ok"


def test_another_form_is_a_template_mismatch(batch: Batch) -> None:
    [form] = [f for f in _doc(batch)["forms"] if f["file"] in batch.other_files]
    assert form["status"] == "template_mismatch"
    assert form["fields"] == {}


def test_corrupt_file_is_reported_and_the_rest_still_read(batch: Batch) -> None:
    [form] = [f for f in _doc(batch)["forms"] if f["file"] == batch.corrupt_file]
    assert form["status"] == "unreadable"
    assert "corrupt.jpg" in form["message"] and "読み取れません" in form["message"]
    assert batch.outcome.summary["forms_read"] == 15
    assert batch.outcome.needs_review


def test_outcome_counts_forms_with_the_template_baseline(batch: Batch) -> None:
    assert batch.outcome.units == 15
    assert batch.outcome.seconds_per_unit == 150
    names = {o.name for o in batch.outcome.outputs}
    assert {"forms.csv", "forms.xlsx", "forms.json"} <= names
    crops = {item["crop"] for item in pending_reviews(_doc(batch))}
    assert crops and crops <= names


def test_csv_has_a_bom_and_one_row_per_form(batch: Batch) -> None:
    raw = (batch.work / "forms.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:5] == ["ファイル", "ページ", "帳票", "状態", "申請日"]
    assert len(table) == 1 + 17


def test_xlsx_highlights_flagged_cells(batch: Batch) -> None:
    book = load_workbook(batch.work / "forms.xlsx")
    sheet = book["帳票"]
    flagged = [c for row in sheet.iter_rows(min_row=2) for c in row if c.comment is not None]
    assert len(flagged) == sum(1 for p in pending_reviews(_doc(batch)))
    assert all(c.fill.start_color.rgb.endswith("FFF2CC") for c in flagged)
    assert book["要確認"].max_row >= len(flagged) + 1


def test_review_corrections_regenerate_outputs(batch: Batch, tmp_path: Path) -> None:
    doc = _doc(batch)
    pending = pending_reviews(doc)
    truth = {
        (f["index"]): batch.truth.get((f["file"], f["pages"][0] if f["pages"] else 0)) for f in doc["forms"]
    }
    corrections = [
        {"form": p["form"], "field": p["field"], "value": truth[p["form"]][p["field"]]} for p in pending
    ]
    with pytest.raises(JobInputError):
        apply_corrections(doc, [{"form": pending[0]["form"], "field": "phone", "value": "abc"}])
    fixed = apply_corrections(doc, corrections)
    assert pending_reviews(fixed) == [] and fixed["summary"]["fields_pending"] == 0
    assert doc["summary"]["fields_pending"] == len(pending)  # the input is not modified
    outputs = regenerate(tmp_path, fixed)
    assert {o.name for o in outputs} == {"forms.csv", "forms.xlsx", "forms.json"}
    text = (tmp_path / "forms.csv").read_text(encoding="utf-8-sig")
    assert all(str(truth[p["form"]][p["field"]]) in text for p in pending if truth[p["form"]][p["field"]])


def test_auto_detection_among_candidates(batch: Batch, tmp_path: Path) -> None:
    other = parse_template(OTHER_TEMPLATE, {"other.pdf": synth.other_form_pdf()})
    inputs = [p for p in batch.inputs if p.name in ("scan-00.png", "other-form.png", "text-layer.pdf")]
    params = {"templates": [other.to_dict(), batch.template.to_dict()]}
    KIND.run(context(inputs, tmp_path, params))
    doc = json.loads((tmp_path / "forms.json").read_text(encoding="utf-8"))
    chosen = {(f["file"], f["pages"][0]): f["template"] for f in doc["forms"]}
    assert chosen[("scan-00.png", 1)] == "kyufukin-shinsei@1"
    assert chosen[("other-form.png", 1)] == "kouza-furikae@1"
    assert chosen[("text-layer.pdf", 2)] == "kyufukin-shinsei@1"


def test_only_unreadable_files_fail_the_job(tmp_path: Path, batch: Batch) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(JobInputError) as caught:
        KIND.run(context([bad], tmp_path / "work", {"template": batch.template.to_dict()}))
    assert caught.value.code == "page_unreadable"  # one cause: the job says which
    assert "bad.png" in caught.value.message


def test_params_are_checked_at_intake() -> None:
    with pytest.raises(JobInputError):
        KIND.validate_params({})
    with pytest.raises(JobInputError):
        KIND.validate_params({"template": {"definition": {"id": "x"}, "reference_png": []}})
