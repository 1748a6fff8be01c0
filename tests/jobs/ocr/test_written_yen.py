"""An amount written with its 円 (``furikae``'s 振替金額 box, which also
prints 円 at its right end): read right by the real engines and accepted,
not sent to review. tesseract's eng model, the old default for amounts,
cannot write 円 and read it as a digit (11,800円 → 11,8004)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from jobs.ocr.reader import OK, read_forms
from jobs.ocr.template import parse_template
from tests.jobs.ocr import furikae, synth


@pytest.mark.parametrize(("hand", "seed"), [(None, 2), ("KleeOne", 1)])
def test_an_amount_written_with_yen_is_accepted_right(tmp_path: Path, hand: str | None, seed: int) -> None:
    form = furikae.random_form(random.Random(seed))
    printed = dict(form.printed) | {"amount": form.printed["amount"] + "円"}
    page = synth.render(furikae.form_pdf([printed], hand, seed=seed), 300)[0]
    path = synth.save_image(synth.degrade(page, random.Random(seed), 300), tmp_path / "yen.png", 300)
    template = parse_template(
        furikae.template_yaml(handwritten=hand is not None), {"reference.pdf": furikae.form_pdf(None)}
    )
    (read,) = read_forms([(path.name, path)], [template])
    assert read.status == OK
    amount = {r.name: r for r in read.fields}["amount"]
    assert amount.value == form.expected["amount"] and not amount.review, (amount.reasons, amount.readings)
    assert any("円" in str(r["text"]) for r in amount.readings.values())  # the engine saw the 円
