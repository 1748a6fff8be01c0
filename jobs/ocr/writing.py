"""``handwritten: auto``: print or handwriting decided per crop, so one
template reads a batch that mixes printed and handwritten copies.

tesseract reads the crop first (the printed path's first reading anyway).
When it reads every line at the field's threshold and the value passes the
type check, the crop is print and that reading stands, as for any printed
field, except for digit types (amounts, counts, numbers, codes): there
PP-OCR reads the crop too and the two must agree, because tesseract read a
slanted handwritten 1 as 7 at confidence 96 (two counts accepted wrong on
the third test form before this rule). Otherwise the crop is handwriting:
its tesseract reading is set aside and the field is read under the
handwriting rule (PP-OCR first, alone only on its stricter bar; tesseract
again only where PP-OCR is unsure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jobs.ocr import recognise
from jobs.ocr.recognise import PPOCR, TESSERACT, Prepared
from jobs.ocr.template import DIGIT_TYPES, Field


def decide_writing(
    items: Sequence[Prepared], defaults: dict[str, str], tessdata: str | None
) -> dict[str, bool]:
    """Sets each ``handwritten: auto`` item's spec to print or handwriting;
    returns {field name: handwritten} for the record."""
    auto = [i for i in items if i.spec.handwritten_auto and not i.blank]
    recognise.read_lines(TESSERACT, [(i, i.unread(TESSERACT)) for i in auto], defaults, tessdata)
    decided: dict[str, bool] = {}
    checked_digits: list[Prepared] = []
    for item in auto:
        lines = [line for line in item.lines[TESSERACT] if line is not None]
        sure = all(line.confidence >= item.spec.confidence_threshold for line in lines)
        passes = recognise.check(item.spec, item.reading(TESSERACT).text, item.cells).problem is None
        hand = not (sure and passes)
        item.spec = replace(item.spec, handwritten=hand, handwritten_auto=False)
        if hand:
            del item.lines[TESSERACT]
        elif _digits(item.spec) and item.spec.engine == "auto":
            checked_digits.append(item)
        decided[item.spec.name] = hand
    recognise.read_lines(PPOCR, [(i, range(len(i.parts))) for i in checked_digits], defaults, tessdata)
    return decided


def _digits(spec: Field) -> bool:
    """A field of digits: a digit type, or one allowed only digits (an era
    date's year box, with 元)."""
    allowed = spec.allowed_chars or ""
    return spec.type in DIGIT_TYPES or (bool(allowed) and set(allowed) <= set("0123456789元,-"))
