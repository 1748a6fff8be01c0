"""``handwritten: auto``: print or handwriting decided per crop, so one
template reads a batch that mixes printed and handwritten copies.

tesseract reads the crop first (the printed path's first reading anyway).
When it reads every line at the field's threshold and the value passes the
type check, the crop is print and that reading stands, as for any printed
field. Otherwise the crop is taken as handwriting: PP-OCR reads it under the
handwriting rule (accepted alone only on its stricter bar, else both
engines must agree), and tesseract's lines already read are kept for that
comparison, so deciding costs no extra reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jobs.ocr import recognise
from jobs.ocr.recognise import TESSERACT, Prepared


def decide_writing(
    items: Sequence[Prepared], defaults: dict[str, str], tessdata: str | None
) -> dict[str, bool]:
    """Sets each ``handwritten: auto`` item's spec to print or handwriting;
    returns {field name: handwritten} for the record."""
    auto = [i for i in items if i.spec.handwritten_auto and not i.blank]
    recognise.read_lines(TESSERACT, [(i, i.unread(TESSERACT)) for i in auto], defaults, tessdata)
    decided: dict[str, bool] = {}
    for item in auto:
        lines = [line for line in item.lines[TESSERACT] if line is not None]
        sure = all(line.confidence >= item.spec.confidence_threshold for line in lines)
        passes = recognise.check(item.spec, item.reading(TESSERACT).text, item.cells).problem is None
        hand = not (sure and passes)
        item.spec = replace(item.spec, handwritten=hand, handwritten_auto=False)
        decided[item.spec.name] = hand
    return decided
