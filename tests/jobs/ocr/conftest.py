"""One generated batch per session: the template, text-layer PDFs, degraded
scans in every accepted format, a page of another form and a corrupt file,
read once by the real job core (real tesseract)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobs.ocr.kind import KIND
from jobs.ocr.template import Template, parse_template
from jobs.registry import InputFile, JobContext, JobOutcome
from tests.jobs.ocr import synth

SCAN_FORMS = 12


@dataclass
class Batch:
    template: Template
    inputs: list[Path]
    truth: dict[tuple[str, int], dict[str, Any]]  # (file, page) → expected values
    text_files: set[str]
    other_files: set[str]
    corrupt_file: str
    outcome: JobOutcome
    work: Path


def context(inputs: list[Path], work: Path, params: dict[str, Any]) -> JobContext:
    work.mkdir(parents=True, exist_ok=True)
    files = tuple(InputFile(p.name, p, "", p.stat().st_size) for p in inputs)
    return JobContext("test", "test", KIND.validate_params(params), files, work, lambda f, m="": None)


def _scans(folder: Path, rng: random.Random, truth: dict[tuple[str, int], dict[str, Any]]) -> list[Path]:
    """Single scans at 300/200 dpi as PNG and JPEG (one upside down), one
    image-only PDF and a two-page TIFF whose second page is 200 dpi under a
    300 dpi header (the reader must notice from the page size)."""
    paths: list[Path] = []
    pending_tiff: list[Any] = []
    for i in range(SCAN_FORMS):
        form = synth.random_form(rng)
        dpi = 300 if i % 2 == 0 else 200
        image = synth.degrade(
            synth.render(synth.form_pdf([form.printed]), dpi)[0], rng, dpi, upside_down=i == 3
        )
        if i >= SCAN_FORMS - 2:
            pending_tiff.append(image)
            truth[("scans.tiff", len(pending_tiff))] = form.expected
            continue
        suffix = ".pdf" if i == 5 else (".jpg" if i % 3 == 1 else ".png")
        path = synth.save_image(image, folder / f"scan-{i:02d}{suffix}", dpi, quality=80)
        truth[(path.name, 1)] = form.expected
        paths.append(path)
    paths.append(synth.save_tiff(pending_tiff, folder / "scans.tiff", 300))
    return paths


@pytest.fixture(scope="session")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    folder = tmp_path_factory.mktemp("ocr-batch")
    rng = random.Random(20250401)
    template = parse_template(synth.template_yaml(), {"reference.pdf": synth.form_pdf(None)})
    truth: dict[tuple[str, int], dict[str, Any]] = {}
    text_forms = [synth.random_form(rng) for _ in range(3)]
    text_pdf = folder / "text-layer.pdf"
    text_pdf.write_bytes(synth.form_pdf([f.printed for f in text_forms]))
    truth.update({("text-layer.pdf", i + 1): f.expected for i, f in enumerate(text_forms)})
    scans = _scans(folder, rng, truth)
    other = folder / "other-form.png"
    synth.save_image(synth.degrade(synth.render(synth.other_form_pdf(), 300)[0], rng, 300), other, 300)
    corrupt = folder / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 20)
    inputs = [text_pdf, *scans[:3], other, corrupt, *scans[3:]]
    work = folder / "work"
    outcome = KIND.run(context(inputs, work, {"template": template.to_dict()}))
    return Batch(template, inputs, truth, {"text-layer.pdf"}, {other.name}, corrupt.name, outcome, work)
