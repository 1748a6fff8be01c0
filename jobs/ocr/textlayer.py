"""Reading a field from a PDF's text layer: the text inside its box, exact
(confidence 100), and a tick box ticked when a vector path passes through it."""

from __future__ import annotations

import itertools
from typing import Any

from jobs.ocr.align import Alignment, warp_box
from jobs.ocr.fields import CHECKBOX_INSET, CONTEXT_MM, FieldResult, _decide, grow, inset
from jobs.ocr.pages import ALIGN_DPI, MM_PER_INCH, Grey
from jobs.ocr.template import Box, Field


def _pdf_rect(page: Any, box: Box) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in PDF points; PDF's y axis points up."""
    points = 72.0 / MM_PER_INCH
    height = float(page.get_height())
    return (
        box.x * points,
        height - (box.y + box.h) * points,
        (box.x + box.w) * points,
        height - box.y * points,
    )


def _path_points(obj: Any) -> list[tuple[float, float]]:
    """The points a path object passes through, in page coordinates."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    matrix = obj.get_matrix()
    x, y = ctypes.c_float(), ctypes.c_float()
    points = []
    for i in range(pdfium_c.FPDFPath_CountSegments(obj.raw)):
        segment = pdfium_c.FPDFPath_GetPathSegment(obj.raw, i)
        if pdfium_c.FPDFPathSegment_GetPoint(segment, ctypes.byref(x), ctypes.byref(y)):
            points.append(matrix.on_point(x.value, y.value))
    return points


def _vector_tick(page: Any, box: Box) -> bool:
    """A path that passes through the box's inner part: a tick or a cross.
    The printed square's outline stays outside that part."""
    import pypdfium2.raw as pdfium_c

    side = min(box.w, box.h) * CHECKBOX_INSET
    left, bottom, right, top = _pdf_rect(page, inset(box, side))
    outer = _pdf_rect(page, grow(box, 1.0))
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=1):
        x0, y0, x1, y1 = obj.get_bounds()
        if x1 < outer[0] or x0 > outer[2] or y1 < outer[1] or y0 > outer[3]:
            continue
        points = _path_points(obj)
        # Sample along each segment: a tick's corners may all lie outside.
        for (ax, ay), (bx, by) in itertools.pairwise(points):
            for t in (i / 8 for i in range(9)):
                px, py = ax + (bx - ax) * t, ay + (by - ay) * t
                if left < px < right and bottom < py < top:
                    return True
    return False


def read_text_field(
    spec: Field, page: Any, textpage: Any, page_image: Grey, alignment: Alignment
) -> FieldResult:
    """A field from a PDF's text layer: exact, confidence 100."""
    context = warp_box(page_image, alignment, grow(spec.box, CONTEXT_MM), dpi=ALIGN_DPI)
    text = str(textpage.get_text_bounded(*_pdf_rect(page, spec.box)))
    if spec.type == "checkbox":
        raw = "1" if text.strip() or _vector_tick(page, spec.box) else "0"
    else:
        raw = (
            "\n".join(" ".join(line.split()) for line in text.splitlines())
            if spec.multiline
            else " ".join(text.split())
        )
    result = _decide(spec, raw, 100.0, text_layer=True, crop=context)
    result.engine = "text_layer"
    return result
