"""Pages to forms: pick each page's template, align, read every field.

A form is one page, or the template's page count of consecutive pages. With
several candidate templates each page takes the one it aligns best with;
a page that fits none is a ``template_mismatch`` form, and a file that
cannot be read is an ``unreadable`` form, so one bad scan never hides the
rest of the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError
from jobs.ocr import rules
from jobs.ocr.align import FAILED, Alignment, align, is_identity
from jobs.ocr.compose import read_constructs
from jobs.ocr.fields import FieldResult, apply_groups, read_image_fields, review_crop
from jobs.ocr.pages import OCR_DPI, Page, iter_pages, render_pdf_page
from jobs.ocr.template import Field, Template
from jobs.ocr.textlayer import read_text_field

OK, MISMATCH, UNREADABLE = "ok", "template_mismatch", "unreadable"
MISMATCH_JA = "どの帳票定義とも一致しません（別の帳票、または白紙・読み取り不良の可能性があります）。"


@dataclass
class FormResult:
    index: int
    file: str
    pages: list[int]
    status: str
    template: Template | None = None
    fields: list[FieldResult] = field(default_factory=list)
    source: str = ""
    message: str = ""
    alignment: dict[str, float] = field(default_factory=dict)
    error_code: str = ""  # why an unreadable form could not be read (JobInputError.code)

    @property
    def needs_review(self) -> bool:
        return self.status != OK or any(f.review for f in self.fields)


class StageTimer:
    """Seconds spent per pipeline stage (render, align, ocr …), for the benchmark."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


@dataclass
class _Open:
    """A multi-page form still collecting its pages."""

    template: Template
    pages: list[tuple[Page, Alignment]]


def detect(
    page: Page, candidates: Sequence[Template], timer: StageTimer
) -> tuple[Template | None, Alignment]:
    """The candidate the page aligns best with (first pages only)."""
    best: tuple[Template | None, Alignment] = (None, FAILED)
    with timer.stage("align"):
        for template in candidates:
            found = align(page.image, page.dpi, template, 1)
            if found.ok and found.score > best[1].score:
                best = (template, found)
            elif best[0] is None and found.inliers > best[1].inliers:
                best = (None, found)  # the closest miss, for the record
    return best


def _alignment_info(alignment: Alignment) -> dict[str, float]:
    return {
        "inliers": alignment.inliers,
        "rotation_deg": round(alignment.rotation_deg, 2),
        "scale": round(alignment.scale, 4),
    }


def _read_page(
    template: Template, number: int, page: Page, alignment: Alignment, timer: StageTimer, tessdata: str | None
) -> tuple[list[FieldResult], str]:
    specs = [f for f in template.fields if f.page == number]
    reference = template.reference(number)
    if page.pdf_page is not None and page.dpi and is_identity(alignment, page.dpi):
        with timer.stage("text_layer"):
            textpage = page.pdf_page.get_textpage()
            try:
                pdf_page = page.pdf_page

                def from_text(plain: list[Field]) -> list[FieldResult]:
                    return [read_text_field(s, pdf_page, textpage, page.image, alignment) for s in plain]

                found = read_constructs(specs, from_text, page.image, alignment, reference)
            finally:
                textpage.close()
            apply_groups(found, template.checkbox_groups)
            return found, "text"
    image, matrix_scale = page.image, 1.0
    if page.pdf_page is not None:
        # A text PDF that does not sit on the template (scanned, then OCR'd by a
        # copier): read its pixels like any scan.
        with timer.stage("render"):
            image = render_pdf_page(page.pdf_page, OCR_DPI)
        matrix_scale = image.shape[1] / page.image.shape[1]
    scaled = Alignment(alignment.matrix * matrix_scale, *_rest(alignment))

    def from_image(plain: list[Field]) -> list[FieldResult]:
        return read_image_fields(
            plain, image, scaled, tessdata=tessdata, groups=template.checkbox_groups, reference=reference
        )

    with timer.stage("ocr"):
        return read_constructs(specs, from_image, image, scaled, reference), "image"


def _rest(alignment: Alignment) -> tuple[int, int, float, float, bool]:
    return alignment.inliers, alignment.matches, alignment.scale, alignment.rotation_deg, alignment.ok


def _spread_groups(opened: _Open, fields: list[FieldResult]) -> None:
    """Checkbox groups whose boxes lie on different pages, checked with the
    whole form; a box sent to review this late gets its crop from its page."""
    template = opened.template
    page_of = {f.name: f.page for f in template.fields}
    spread = tuple(g for g in template.checkbox_groups if len({page_of[n] for n in g.fields}) > 1)
    if not spread:
        return
    apply_groups(fields, spread)
    _late_crops(opened, fields)


def _late_crops(opened: _Open, fields: list[FieldResult]) -> None:
    """Fields sent to review once the whole form was read get their crop
    from their own page."""
    specs = {f.name: f for f in opened.template.fields}
    for result in fields:
        if result.review and result.crop is None:
            spec = specs[result.name]
            page, alignment = opened.pages[spec.page - 1]
            result.crop = review_crop(spec, page.image, alignment)


def _apply_rules(opened: _Open, fields: list[FieldResult]) -> None:
    """The template's cross-field rules, with the whole form read; a field
    sent to review by one gets its crop from its own page."""
    template = opened.template
    if not template.rules:
        return
    labels = {f.name: f.label for f in template.fields}
    rules.apply_rules(template.rules, fields, labels, today=date.today())
    _late_crops(opened, fields)


def _finish(index: int, opened: _Open, timer: StageTimer, tessdata: str | None) -> FormResult:
    fields: list[FieldResult] = []
    sources: set[str] = set()
    for number, (page, alignment) in enumerate(opened.pages, start=1):
        found, source = _read_page(opened.template, number, page, alignment, timer, tessdata)
        fields += found
        sources.add(source)
    _spread_groups(opened, fields)
    _apply_rules(opened, fields)
    for result in fields:
        if not result.review:
            result.crop = None  # only crops a person will look at are kept
    first = opened.pages[0]
    return FormResult(
        index,
        first[0].file,
        [p.number for p, _ in opened.pages],
        OK,
        opened.template,
        fields,
        "text" if sources == {"text"} else "image",
        alignment=_alignment_info(first[1]),
    )


def _file_forms(
    piece: Slice, candidates: Sequence[Template], start: int, timer: StageTimer, tessdata: str | None
) -> Iterator[FormResult]:
    name = piece.name
    opened: _Open | None = None
    index = start
    pages = iter_pages(piece.path, name, piece.first, piece.last)
    while True:
        with timer.stage("render"):
            page = next(pages, None)
        if page is None:
            break
        if page.error:
            if opened is not None:
                yield _incomplete(index, name, opened)
                index += 1
                opened = None
            message = f"{page.number}ページ目の画像が壊れていて読み取れません。読み取り直してください。"
            yield FormResult(
                index, name, [page.number], UNREADABLE, message=message, error_code="page_unreadable"
            )
            index += 1
            continue
        if opened is not None:
            with timer.stage("align"):
                found = align(page.image, page.dpi, opened.template, len(opened.pages) + 1)
            if not found.ok:
                yield FormResult(index, name, [page.number], MISMATCH, opened.template, message=MISMATCH_JA)
                index += 1
                opened = None
                continue
            opened.pages.append((page, found))
        else:
            template, found = detect(page, candidates, timer)
            if template is None:
                info = _alignment_info(found)
                yield FormResult(index, name, [page.number], MISMATCH, message=MISMATCH_JA, alignment=info)
                index += 1
                continue
            opened = _Open(template, [(page, found)])
        if len(opened.pages) == opened.template.pages:
            yield _finish(index, opened, timer, tessdata)
            index += 1
            opened = None
    if opened is not None:
        yield _incomplete(index, name, opened)


def _incomplete(index: int, name: str, opened: _Open) -> FormResult:
    message = f"ページが足りません（{opened.template.pages}ページの帳票が{len(opened.pages)}ページで終わっています）。"
    return FormResult(
        index, name, [p.number for p, _ in opened.pages], UNREADABLE, opened.template, message=message
    )


def one_thread() -> None:
    """OpenCV on one thread, like the engines. Its pool split each crop's
    warp and clean-up over both cores: on the bench's printed pages that cost
    17 % more CPU per page for no gain in pages per minute, and a worker's
    processes already share the cores between them."""
    import cv2

    if cv2.getNumThreads() != 1:
        cv2.setNumThreads(1)


@dataclass(frozen=True)
class Slice:
    """A file, or pages ``first`` to ``last - 1`` of it (counted from 0; one
    part of a split job reads only those)."""

    name: str
    path: Path
    first: int = 0
    last: int | None = None


def read_forms(
    inputs: Sequence[tuple[str, Path]],
    candidates: Sequence[Template],
    *,
    tessdata: str | None = None,
    on_form: Callable[[FormResult], Any] = lambda form: None,
    timer: StageTimer | None = None,
) -> list[FormResult]:
    """Every form in every file, in order; unreadable files become forms too."""
    slices = [Slice(name, path) for name, path in inputs]
    return read_slices(slices, candidates, tessdata=tessdata, on_form=on_form, timer=timer)


def read_slices(
    slices: Sequence[Slice],
    candidates: Sequence[Template],
    *,
    tessdata: str | None = None,
    on_form: Callable[[FormResult], Any] = lambda form: None,
    timer: StageTimer | None = None,
) -> list[FormResult]:
    """Every form in every slice, in order, numbered from 1."""
    one_thread()
    timer = timer or StageTimer()
    forms: list[FormResult] = []
    for piece in slices:
        try:
            for form in _file_forms(piece, candidates, len(forms) + 1, timer, tessdata):
                forms.append(form)
                on_form(form)
        except JobInputError as exc:
            form = FormResult(
                len(forms) + 1, piece.name, [], UNREADABLE, message=exc.message, error_code=exc.code
            )
            forms.append(form)
            on_form(form)
    return forms
