"""The template's boxes drawn over its reference page, for operators."""

from __future__ import annotations

import cv2
import numpy as np

from jobs.ocr.constructs import construct_boxes
from jobs.ocr.pages import ALIGN_DPI, MM_PER_INCH
from jobs.ocr.template import Template


def preview_png(template: Template, page: int = 1) -> bytes:
    image = cv2.cvtColor(template.reference(page), cv2.COLOR_GRAY2BGR)
    scale = ALIGN_DPI / MM_PER_INCH  # the stored reference pages are at ALIGN_DPI
    for field in template.fields:
        if field.page != page:
            continue
        box = field.box
        top_left = (round(box.x * scale), round(box.y * scale))
        bottom_right = (round((box.x + box.w) * scale), round((box.y + box.h) * scale))
        cv2.rectangle(image, top_left, bottom_right, (0, 0, 220), 2)
        for inner in construct_boxes(field):
            # A construct's option words, tick and count boxes and parts, thinner.
            corner = (round(inner.x * scale), round(inner.y * scale))
            far = (round((inner.x + inner.w) * scale), round((inner.y + inner.h) * scale))
            cv2.rectangle(image, corner, far, (0, 150, 0), 1)
        # Field names are ASCII identifiers: cv2's Hershey font can draw them.
        cv2.putText(
            image,
            field.name,
            (top_left[0] + 2, max(12, top_left[1] - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (200, 0, 0),
            1,
            cv2.LINE_AA,
        )
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return np.asarray(png).tobytes()
