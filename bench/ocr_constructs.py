"""Template-constructs benchmark on a third form layout the OCR code was not
written against: ``tests/jobs/ocr/jumin.py``'s 住民票の写し等交付請求書 (circled
choices, era dates with 元, tick sets with counts, a table, right-aligned
digit boxes), its template (``tests/jobs/ocr/forms/jumin.yaml``) written from
the blank form's description and a rendered blank page. Prints one JSON object.

Per group (printed; each handwriting style of ``jumin.HANDS``):
- accepted fields exact (goal >= 0.997) and share sent to review (printed
  <= 0.10, handwritten <= 0.20);
- circled choices right (applicant, sex: the value read equals the truth,
  accepted or not; goal >= 0.98) and how many of them were accepted;
- era dates right (請求日, 生年月日; goal >= 0.98), likewise;
- the accepted wrong values, by field.

Scans: 200/300 dpi, ±3°, shifts, blur, noise (``synth.degrade``). The
printed group reads with the template as written; the handwritten groups
with ``handwritten: true``, or with ``--auto`` all groups with
``handwritten: auto``. ``--forms N`` per group (default 6); ``--seed`` for
other forms. Table cells count as fields (most are empty rows).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jobs.ocr.reader import read_forms  # noqa: E402
from jobs.ocr.template import Template, parse_template  # noqa: E402
from tests.jobs.ocr import jumin, synth  # noqa: E402

YAML = REPO / "tests" / "jobs" / "ocr" / "forms" / "jumin.yaml"
CHOICES = ("applicant", "sex")
DATES = ("applied", "birth")


def template(handwritten: str | None) -> Template:
    text = YAML.read_text(encoding="utf-8")
    if handwritten:
        text = text.replace("fields:", f"handwritten: {handwritten}\nfields:", 1)
    return parse_template(text, {"reference.pdf": jumin.form_pdf(None)})


def group(folder: Path, hand: str | None, count: int, tmpl: Template, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    fields = accepted = exact = review = 0
    written = [0, 0, 0, 0]  # fields with a value in the truth: count, review, accepted, accepted exact
    choices = [0, 0, 0]  # right, accepted, accepted and right
    dates = [0, 0, 0]
    wrong: list[dict[str, Any]] = []
    start = time.process_time()
    for i in range(count):
        form = jumin.random_form(rng)
        dpi = 300 if i % 2 == 0 else 200
        page = synth.render(jumin.form_pdf([form.printed], hand, seed=seed + i), dpi)[0]
        path = synth.save_image(synth.degrade(page, rng, dpi), folder / f"{hand}-{i}.png", dpi)
        (read,) = read_forms([(path.name, path)], [tmpl])
        for result in read.fields:
            truth = form.expected[result.name]
            fields += 1
            review += result.review
            if truth is not None:
                written[0] += 1
                written[1] += result.review
                written[2] += not result.review
                written[3] += not result.review and result.value == truth
            if not result.review:
                accepted += 1
                exact += result.value == truth
                if result.value != truth:
                    wrong.append({"form": i, "field": result.name, "read": result.value, "truth": truth})
            tally = choices if result.name in CHOICES else dates if result.name in DATES else None
            if tally is not None:
                tally[0] += result.value == truth
                tally[1] += not result.review
                tally[2] += not result.review and result.value == truth
    per = count * len(CHOICES)
    return {
        "forms": count,
        "fields": fields,
        "accepted_exact": round(exact / max(1, accepted), 4),
        "review_share": round(review / max(1, fields), 4),
        "written_fields": written[0],
        "written_accepted_exact": round(written[3] / max(1, written[2]), 4),
        "written_review_share": round(written[1] / max(1, written[0]), 4),
        "choices_right": round(choices[0] / per, 4),
        "choices_accepted": round(choices[1] / per, 4),
        "choices_accepted_right": round(choices[2] / max(1, choices[1]), 4),
        "era_dates_right": round(dates[0] / per, 4),
        "era_dates_accepted": round(dates[1] / per, 4),
        "era_dates_accepted_right": round(dates[2] / max(1, dates[1]), 4),
        "cpu_seconds_per_form": round((time.process_time() - start) / count, 2),
        "accepted_wrong": wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--forms", type=int, default=6)
    parser.add_argument("--auto", action="store_true", help="every group with handwritten: auto")
    parser.add_argument("--only", default="", help="one group: printed or a style of jumin.HANDS")
    parser.add_argument("--seed", type=int, default=500, help="other forms with another seed")
    args = parser.parse_args()
    out: dict[str, Any] = {"layout": "jumin-seikyu", "handwritten": "auto" if args.auto else "per group"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k, hand in enumerate([None, *jumin.HANDS]):
            name = hand or "printed"
            if args.only and args.only != name:
                continue
            tmpl = template("auto" if args.auto else ("true" if hand else None))
            out[name] = group(folder, hand, args.forms, tmpl, args.seed + 100 * k)
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
