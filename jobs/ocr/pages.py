"""Input files turned into pages: PDFs through pypdfium2, images (PNG, JPEG,
multi-page TIFF) through Pillow.

A PDF page that carries text keeps its pdfium handle so fields can be read
from the text layer; every other page becomes a grey image. Pillow's
decompression-bomb limit stays on: a scan never needs 90 million pixels.
"""

from __future__ import annotations

import ctypes
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageSequence, UnidentifiedImageError

from jobs.errors import JobInputError

Grey = npt.NDArray[np.uint8]
MM_PER_INCH = 25.4
OCR_DPI = 300.0
ALIGN_DPI = 150.0
# The largest page we render; a 2 m poster at 300 dpi would not fit in memory.
MAX_RENDER_PIXELS = 60_000_000
# The largest image we decode (Pillow's own bomb limit; an A3 page at 600 dpi is 70 M).
MAX_IMAGE_PIXELS = 90_000_000
PDF_MAGIC = b"%PDF-"


@dataclass
class Page:
    """One page of an input: a grey image (``dpi`` pixels per inch, or None
    when the file does not say) and, for text PDFs, the pdfium page."""

    file: str
    number: int
    image: Grey
    dpi: float | None
    pdf_page: Any = None
    # Why this page could not be decoded (a corrupt frame in a multi-page
    # TIFF); the other pages of the file are still read.
    error: str = ""

    @property
    def has_text(self) -> bool:
        return self.pdf_page is not None


def unreadable(name: str, why: str, **details: Any) -> JobInputError:
    return JobInputError(
        "page_unreadable",
        f"ファイル「{name}」を読み取れません（{why}）。ファイルが壊れていないか確認し、読み直してください。",
        file=name,
        **details,
    )


def _grey(image: Image.Image) -> Grey:
    """The image as 8-bit grey, read-only: the array wraps the one copy of
    the pixels Pillow hands out. Converting an ``L`` scan to ``L`` and
    copying the array once more took half as long again as decoding the
    JPEG, and nothing downstream writes into a page."""
    if image.mode in ("RGBA", "LA", "P"):
        # Transparent areas are paper, not ink.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    if image.mode != "L":
        image = image.convert("L")
    return np.asarray(image, dtype=np.uint8)


def render_pdf_page(page: Any, dpi: float, size: tuple[int, int] | None = None) -> Grey:
    """The page in grey at ``dpi`` (capped at MAX_RENDER_PIXELS), or
    stretched onto exactly ``size`` (width, height) pixels. pdfium draws
    straight into the array: no bitmap, PIL image or conversion in between."""
    if size is None:
        width, height = page.get_size()
        scale = dpi / 72.0
        pixels = width * scale * height * scale
        if pixels > MAX_RENDER_PIXELS:
            scale *= (MAX_RENDER_PIXELS / pixels) ** 0.5
        # What pypdfium2's own render() would make.
        size = (math.ceil(width * scale), math.ceil(height * scale))
    buffer = (ctypes.c_ubyte * (size[0] * size[1]))()
    ctypes.memset(buffer, 255, len(buffer))  # white paper, as pypdfium2 fills it
    bitmap = pdfium.PdfBitmap.new_native(*size, pdfium_c.FPDFBitmap_Gray, buffer=buffer, stride=size[0])
    try:
        flags = pdfium_c.FPDF_GRAYSCALE | pdfium_c.FPDF_ANNOT
        pdfium_c.FPDF_RenderPageBitmap(bitmap.raw, page.raw, 0, 0, *size, 0, flags)
    finally:
        bitmap.close()  # the buffer is ours and stays with the array
    return np.frombuffer(memoryview(buffer), dtype=np.uint8).reshape(size[1], size[0])


def _text_chars(page: Any) -> int:
    textpage = page.get_textpage()
    try:
        return int(textpage.count_chars())
    finally:
        textpage.close()


def _open_pdf(path: Path | io.BytesIO, name: str) -> Any:
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise JobInputError(
                "pdf_encrypted",
                f"ファイル「{name}」はパスワードで保護されたPDFのため読み取れません。"
                "パスワードを解除したPDFを登録してください。",
                file=name,
            ) from None
        raise unreadable(name, "PDFとして開けません", reason=str(exc)) from None


def _too_many_pixels(name: str, image: Image.Image | None = None, pillow_says: str = "") -> JobInputError:
    size = ""
    if image is not None:
        size = f"（{image.width}×{image.height}画素）"
    elif found := re.search(r"\((\d+) pixels\)", pillow_says):  # Pillow refused it before we saw it
        size = f"（{int(found.group(1)):,}画素）"
    return JobInputError(
        "image_too_large",
        f"ファイル「{name}」の画像は画素数が多すぎます{size}。300dpi程度で読み取り直してください。",
        file=name,
    )


def _pdf_pages(path: Path, name: str, first: int = 0, last: int | None = None) -> Iterator[Page]:
    document = _open_pdf(path, name)
    try:
        for index in range(first, min(len(document), len(document) if last is None else last)):
            page = document[index]
            if _text_chars(page) > 0:
                yield Page(name, index + 1, render_pdf_page(page, ALIGN_DPI), ALIGN_DPI, page)
            else:
                yield Page(name, index + 1, render_pdf_page(page, OCR_DPI), OCR_DPI)
    finally:
        document.close()


def _dpi(image: Image.Image) -> float | None:
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and dpi and float(dpi[0]) >= 50:
        return float(dpi[0])
    return None


def _image_pages(path: Path, name: str, first: int = 0, last: int | None = None) -> Iterator[Page]:
    """One frame at a time (a 500-page TIFF is never all in memory); a frame
    that does not decode becomes a page with ``error`` set."""
    try:
        image = Image.open(path)
        frames = int(getattr(image, "n_frames", 1))
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(name, pillow_says=str(exc)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise unreadable(name, "画像として認識できません", reason=str(exc)) from None
    with image:
        for index in range(first, frames if last is None else min(frames, last)):
            try:
                image.seek(index)
                # Pillow checks only the first frame, and only warns below
                # twice its limit; every TIFF frame declares its own size.
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise _too_many_pixels(name, image)
                grey, dpi = _grey(image), _dpi(image)
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                if frames == 1:
                    raise unreadable(name, "画像として認識できません", reason=str(exc)) from None
                yield Page(name, index + 1, np.zeros((1, 1), dtype=np.uint8), None, error=str(exc))
                continue
            yield Page(name, index + 1, grey, dpi)


def iter_pages(
    path: Path, name: str | None = None, first: int = 0, last: int | None = None
) -> Iterator[Page]:
    """Every page of a PDF or image file, in order; JobInputError if
    unreadable. ``first``/``last``: only pages ``first`` to ``last - 1``
    (counted from 0), for one part of a split job; the others are not rendered."""
    label = name or path.name
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        raise unreadable(label, "ファイルが見つかりません") from None
    if not head:
        raise unreadable(label, "空のファイルです")
    yield from (_pdf_pages if head.startswith(PDF_MAGIC) else _image_pages)(path, label, first, last)


def reference_pages(data: bytes, name: str, size_mm: tuple[float, float], count: int) -> list[Grey]:
    """The blank form's pages as grey images at ALIGN_DPI, exactly the page
    size. A PDF page is drawn onto that size directly: rendered at 150 dpi it
    came out 1 px wider (the size is rounded up) and resampling it to fit
    blurred rules unevenly across the page; the anchors found on the sharp
    page put the tests' field corners within 0.12 mm instead of 0.21 mm."""
    import cv2

    target = (round(size_mm[0] / MM_PER_INCH * ALIGN_DPI), round(size_mm[1] / MM_PER_INCH * ALIGN_DPI))
    folder = io.BytesIO(data)
    if data.startswith(PDF_MAGIC):
        document = _open_pdf(folder, name)
        try:
            return [render_pdf_page(document[i], ALIGN_DPI, target) for i in range(min(count, len(document)))]
        finally:
            document.close()
    try:
        image = Image.open(folder)
        pages: list[Grey] = [_grey(f) for f in ImageSequence.Iterator(image)][:count]
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise unreadable(name, "画像として認識できません", reason=str(exc)) from None
    return [np.asarray(cv2.resize(p, target, interpolation=cv2.INTER_AREA), dtype=np.uint8) for p in pages]


def count_pages(path: Path) -> int:
    """Pages in a file without rendering them (for progress); 1 if unknown."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
        if head.startswith(PDF_MAGIC):
            document = pdfium.PdfDocument(path)
            try:
                return max(1, len(document))
            finally:
                document.close()
        with Image.open(path) as image:
            return max(1, int(getattr(image, "n_frames", 1)))
    except Exception:
        return 1
