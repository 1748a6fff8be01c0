"""Template-OCR benchmark: prints one JSON object.

In one run, on the same generated batch of degraded scans (200/300 dpi,
rotation, shift, blur, noise, JPEG):
- speed: forms per minute of the job pipeline vs full-page tesseract (jpn,
  automatic layout) on the same page images (target ratio >= 4);
- accuracy on the fields not sent to review (target >= 0.99) and overall;
- review share: fields sent to a person (target <= 0.15);
- stages: milliseconds per form for render, align, ocr (and text_layer).

``--forms N`` sets the batch size (default 20); ``--quick`` uses 6.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jobs.ocr import engine  # noqa: E402
from jobs.ocr.pages import iter_pages  # noqa: E402
from jobs.ocr.reader import StageTimer, read_forms  # noqa: E402
from jobs.ocr.template import parse_template  # noqa: E402
from tests.jobs.ocr import synth  # noqa: E402


def make_batch(folder: Path, count: int) -> tuple[list[Path], list[dict]]:
    rng = random.Random(4)
    paths, truth = [], []
    for i in range(count):
        form = synth.random_form(rng)
        dpi = 300 if i % 2 == 0 else 200
        image = synth.degrade(
            synth.render(synth.form_pdf([form.printed]), dpi)[0], rng, dpi, upside_down=i == 3
        )
        paths.append(synth.save_image(image, folder / f"scan-{i:03d}.jpg", dpi, quality=85))
        truth.append(form.expected)
    return paths, truth


def full_page_tesseract(paths: list[Path]) -> float:
    """Seconds for plain tesseract over every whole page (the naive way)."""
    tesserocr = engine.backend()
    api = tesserocr.PyTessBaseAPI(path=engine.tessdata_dir(), lang="jpn", psm=tesserocr.PSM.AUTO)
    start = time.perf_counter()
    for path in paths:
        page = next(iter_pages(path))
        height, width = page.image.shape
        api.SetImageBytes(page.image.tobytes(), width, height, 1, width)
        api.GetUTF8Text()
    api.End()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--forms", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 6 if args.quick else args.forms
    template = parse_template(synth.template_yaml(), {"reference.pdf": synth.form_pdf(None)})
    with tempfile.TemporaryDirectory() as tmp:
        paths, truth = make_batch(Path(tmp), count)
        read_forms([(paths[0].name, paths[0])], [template])  # load models, cache keypoints
        timer = StageTimer()
        start = time.perf_counter()
        forms = read_forms([(p.name, p) for p in paths], [template], timer=timer)
        pipeline_s = time.perf_counter() - start
        naive_s = full_page_tesseract(paths)
    graded = [
        (r.value == expected[r.name], r.review)
        for f, expected in zip(forms, truth, strict=True)
        for r in f.fields
    ]
    accepted = [exact for exact, review in graded if not review]
    print(
        json.dumps(
            {
                "forms": count,
                "engine": engine.engine_name(),
                "pipeline_forms_per_minute": round(count / pipeline_s * 60, 1),
                "full_page_tesseract_forms_per_minute": round(count / naive_s * 60, 1),
                "speedup": round(naive_s / pipeline_s, 2),
                "accuracy_accepted_fields": round(sum(accepted) / max(1, len(accepted)), 4),
                "accuracy_all_fields": round(sum(e for e, _ in graded) / len(graded), 4),
                "review_share": round(sum(r for _, r in graded) / len(graded), 4),
                "template_mismatch": sum(1 for f in forms if f.status != "ok"),
                "ms_per_form": {k: round(v / count * 1000, 1) for k, v in sorted(timer.seconds.items())},
            },
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
