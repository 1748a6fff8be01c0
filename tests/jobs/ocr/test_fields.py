"""Reading one field without tesseract's answer mattering: the crop
clean-up, the line handed to tesseract, blank boxes that never reach it,
and the pixels pages and reference pages are made of."""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from jobs.ocr import engine, fields
from jobs.ocr.align import Alignment
from jobs.ocr.pages import ALIGN_DPI, MM_PER_INCH, OCR_DPI, _grey, reference_pages, render_pdf_page
from jobs.ocr.template import Box, Field

ON_TEMPLATE_300 = Alignment(np.array([[2.0, 0.0, 0.5], [0.0, 2.0, 0.5]]), 40, 40, 1.0, 0.0, True)


def _field(kind: str = "text") -> Field:
    return Field("note", "備考", 1, Box(20.0, 20.0, 60.0, 10.0), kind, "jpn", None, None, False, None, 80.0)


def _crop_with_ink() -> np.ndarray:
    """Two 'characters', a speck, and bits of the box's rules along two
    edges, slightly blurred as a scan is (Otsu needs the grey between)."""
    crop = np.full((100, 400), 250, np.uint8)
    crop[30:70, 100:130] = 10  # a character
    crop[35:65, 160:190] = 10  # another
    crop[50:52, 300:302] = 10  # a speck: 4 pixels
    crop[0:3, 20:380] = 10  # the box's top rule, touching the edge
    crop[10:90, 397:400] = 10  # its right-hand rule
    return np.asarray(cv2.GaussianBlur(crop, (3, 3), 0.6), np.uint8)


def test_ink_only_keeps_the_writing_and_drops_specks_and_box_lines() -> None:
    ink = fields.ink_only(_crop_with_ink())
    assert ink is not None
    pad, pad_x = fields.PAD, fields.PAD_X
    # Tight around the two characters (rows 30–69, columns 100–189, give or
    # take the blurred edge), padded; specks and rules are gone.
    height, width = ink.shape
    assert abs(height - (40 + 2 * pad)) <= 2 and abs(width - (90 + 2 * pad_x)) <= 2
    assert set(np.unique(ink)) == {0, 255}
    assert int(ink[pad + 2 : pad + 36, pad_x + 2 : pad_x + 26].max()) == 0
    assert int(ink[:pad].min()) == 255 and int(ink[:, -pad_x:].min()) == 255
    assert int(ink[:, width // 2].min()) == 255  # the gap between the characters


def test_ink_only_of_a_blank_or_specked_box_is_none() -> None:
    blank = np.full((100, 400), 245, np.uint8)
    assert fields.ink_only(blank) is None
    blank[40:42, 200:202] = 0  # a speck only
    blank[0:2, :] = 0  # and the box line
    assert fields.ink_only(blank) is None


def test_large_boxes_fall_back_to_32_bit_labels() -> None:
    assert fields._label_type((102, 1543)) == cv2.CV_16U
    assert fields._label_type((1200, 1200)) == cv2.CV_32S
    # A box with more specks than 16 bits can count is still cleaned up right.
    crop = np.full((600, 600), 255, np.uint8)
    crop[::2, ::2] = 60  # 90,000 single-pixel specks
    crop[200:300, 201:261] = 0
    ink = fields.ink_only(crop)
    assert ink is not None and ink.shape == (100 + 2 * fields.PAD, 60 + 2 * fields.PAD_X)


def test_a_blank_box_is_empty_without_calling_tesseract(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> tuple[str, float]:
        raise AssertionError("tesseract must not be called for a blank box")

    monkeypatch.setattr(engine, "recognise", refuse)
    page = np.full((3508, 2480), 252, np.uint8)
    result = fields.read_image_field(_field(), page, ON_TEMPLATE_300)
    assert (result.raw, result.text, result.confidence, result.review) == ("", "", 100.0, False)


def test_a_written_box_reaches_tesseract_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []

    def fake(
        image: np.ndarray, lang: str, whitelist: str = "", tessdata: str | None = None
    ) -> tuple[str, float]:
        calls.append(image.shape)
        return "特になし", 95.0

    monkeypatch.setattr(engine, "recognise", fake)
    page = np.full((3508, 2480), 252, np.uint8)
    per_mm = OCR_DPI / MM_PER_INCH
    top, left = round(22 * per_mm), round(25 * per_mm)
    page[top : top + 50, left : left + 200] = 10
    result = fields.read_image_field(_field(), page, ON_TEMPLATE_300)
    assert result.text == "特になし" and not result.review
    # The block, give or take the pixel its edges are smeared over, padded.
    assert len(calls) == 1
    height, width = calls[0]
    assert abs(height - (50 + 2 * fields.PAD)) <= 1 and abs(width - (200 + 2 * fields.PAD_X)) <= 1


def test_lines_go_to_tesseract_at_the_models_input_height() -> None:
    line = np.full((74, 500), 255, np.uint8)
    line[12:62, 12:488] = 0
    scaled, dpi = engine.to_line_height(line)
    assert scaled.shape == (engine.LINE_HEIGHT, round(500 * engine.LINE_HEIGHT / 74))
    assert dpi == pytest.approx(OCR_DPI * engine.LINE_HEIGHT / 74)
    small = np.full((30, 100), 255, np.uint8)
    same, same_dpi = engine.to_line_height(small)
    assert same is small and same_dpi == OCR_DPI


def _ruled_pdf(x_mm: float, y_mm: float) -> bytes:
    """An A4 page with one thin vertical and one horizontal rule."""
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=(210 * mm, 297 * mm))
    c.setLineWidth(0.2 * mm)
    c.line(x_mm * mm, 10 * mm, x_mm * mm, 287 * mm)
    c.line(10 * mm, (297 - y_mm) * mm, 200 * mm, (297 - y_mm) * mm)
    c.save()
    return buffer.getvalue()


def test_the_reference_page_is_drawn_at_exactly_the_page_size() -> None:
    """No resampling afterwards: a rule near the right-hand and bottom edges
    lands where its millimetres say, to a fifth of a pixel."""
    x_mm, y_mm = 205.0, 290.0
    (page,) = reference_pages(_ruled_pdf(x_mm, y_mm), "ruled.pdf", (210.0, 297.0), 1)
    per_mm = ALIGN_DPI / MM_PER_INCH
    assert page.shape == (round(297 * per_mm), round(210 * per_mm))
    ink = 255.0 - page.astype(np.float64)
    columns, rows = ink[500:1500].sum(axis=0), ink[:, 200:1000].sum(axis=1)
    # The ink's centre, in pixel-centre coordinates (pixel j's centre is j + 0.5).
    x = float((columns * (np.arange(columns.size) + 0.5)).sum() / columns.sum())
    y = float((rows * (np.arange(rows.size) + 0.5)).sum() / rows.sum())
    assert abs(x - x_mm * per_mm) < 0.2 and abs(y - y_mm * per_mm) < 0.2


def test_pdf_pages_render_as_pypdfium2_would() -> None:
    document = pdfium.PdfDocument(_ruled_pdf(100.0, 100.0))
    try:
        page = document[0]
        ours = render_pdf_page(page, 200.0)
        theirs = page.render(scale=200.0 / 72, grayscale=True).to_numpy()
        assert ours.shape == theirs.shape and np.array_equal(ours, theirs)
        assert render_pdf_page(page, 150.0, (1240, 1754)).shape == (1754, 1240)
    finally:
        document.close()


def test_grey_pages() -> None:
    grey = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16))
    assert np.array_equal(_grey(grey), np.asarray(grey))
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # transparent: paper
    rgba.putpixel((1, 1), (0, 0, 0, 255))
    out = _grey(rgba)
    assert int(out[0, 0]) == 255 and int(out[1, 1]) == 0
    rgb = Image.new("RGB", (4, 4), (255, 0, 0))
    assert int(_grey(rgb)[0, 0]) == np.asarray(rgb.convert("L"))[0, 0]
