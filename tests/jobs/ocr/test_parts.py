"""A batch read as parts (``jobs.ocr.parts``): where it is cut, and that the
parts merged give exactly what one reading of the whole batch gives (forms
numbered in batch order, crops under their final names, the same tables)."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.ocr.document import forms_document
from jobs.ocr.kind import FANOUT, KIND
from jobs.ocr.outputs import to_csv, write_crops
from jobs.ocr.reader import read_forms
from jobs.ocr.template import template_from_dict
from tests.jobs.ocr.conftest import Batch, context


def test_files_are_cut_into_parts_of_at_most_the_part_size() -> None:
    from jobs.ocr.parts import cut

    parts = cut([5, 1, 2], 2, splittable=True)
    assert [[(s["file"], s["first"], s["last"]) for s in slices] for slices, _ in parts] == [
        [(0, 0, 2)],
        [(0, 2, 4)],
        [(0, 4, None), (1, 0, None)],  # a file's last slice reads to its end
        [(2, 0, None)],
    ]
    assert [offset for _, offset in parts] == [0, 2, 4, 6]
    # Forms of several pages: files stay whole (a cut could fall inside a form).
    whole = cut([5, 1, 1], 2, splittable=False)
    assert [[s["file"] for s in slices] for slices, _ in whole] == [[0], [1, 2]]


def test_parts_merged_read_like_the_whole_batch(batch: Batch, tmp_path: Path) -> None:
    # Three text-layer forms, another form, a corrupt file and a two-page TIFF
    # of scans: a cut inside a file, between files, around a mismatch and an
    # unreadable file.
    names = {"text-layer.pdf", "other-form.png", "corrupt.jpg", "scans.tiff"}
    inputs = [p for p in batch.inputs if p.name in names]
    params = {"template": batch.template.to_dict()}

    whole = tmp_path / "whole"
    whole.mkdir()
    template = template_from_dict(KIND.validate_params(params)["template"])
    forms = read_forms([(p.name, p) for p in inputs], [template])
    expected = forms_document(forms, [template])
    crops = {o.name: o.path.read_bytes() for o in write_crops(whole, forms)}

    ctx = context(inputs, tmp_path / "split", params)
    ctx = type(ctx)(**{**ctx.__dict__, "options": {"ocr_part_pages": 1}})
    plan = FANOUT.plan(ctx)
    assert len(plan) == 7  # 3 + 1 + 1 + 2 pages, one page each
    outcome = FANOUT.merge(ctx, [FANOUT.run_part(ctx, spec) for spec in reversed(plan)][::-1])

    files = {o.name: o.path for o in outcome.outputs}
    assert json.loads(files["forms.json"].read_text(encoding="utf-8")) == expected
    assert files["forms.csv"].read_bytes() == to_csv(expected)
    assert {n: files[n].read_bytes() for n in files if n.endswith(".png")} == crops
    assert [f["index"] for f in expected["forms"]] == list(range(1, 8))
    assert outcome.units == expected["summary"]["forms_read"] == 5
    assert outcome.needs_review  # the other form and the corrupt file
