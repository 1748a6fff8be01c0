"""Reading a page's fields: from the PDF text layer, or from the aligned
scan (crop, binarise, clean, then the engines ``jobs.ocr.recognise`` picks),
normalising and deciding review.

A field goes to review when its confidence (the lowest word confidence) is
below the threshold, its value fails the type check, it is required and
empty, the two engines disagree, a name holds a kanji with a common variant
(``variant_kanji``), its checkbox group's rule is broken, or the template
says ``always``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from jobs.ocr import lines, recognise, rules
from jobs.ocr.align import Alignment, warp_box
from jobs.ocr.constructs import REASONS_JA as CONSTRUCT_REASONS_JA
from jobs.ocr.normalise import Value, variant_kanji
from jobs.ocr.pages import ALIGN_DPI, OCR_DPI, Grey
from jobs.ocr.recognise import Prepared
from jobs.ocr.template import Box, CheckboxGroup, Field
from jobs.ocr.writing import decide_writing

TEXT_INSET_MM = 0.7
CHECKBOX_INSET = 0.22  # of the box side: keeps the printed square out
TICKED_RATIO = 0.05
CERTAIN_EMPTY, CERTAIN_TICKED = 0.015, 0.10
SPECK_PIXELS = 12
PAD = 12  # white rows above and below a line's ink (1 mm at 300 dpi)
# White columns beside it, for tesseract (PP-OCR adds ppocr.EXTRA_X more).
# tesseract lost confidence on a line set in white space: with 12 px it
# accepted 185 of the second test form's 300 printed fields alone, with 8 px
# 202, with accepted fields as exact on both test forms; 6 px let a wrong
# reading through on the first form (特にがも for 特になし at 89).
PAD_X = 8
CONTEXT_MM = 2.0
CELL_INSET_MM = 0.9  # keeps each box's own lines out of its cell
PRINTED_LEVEL = 200  # reference pixels darker than this are the printed form
DROPOUT_PX = 3  # its ink widened by this much (0.25 mm): alignment and blur
LINE_GAP_PX, MIN_LINE_PX = 4, 10
GREY = (
    True  # the engines get the grey writing, not the binarised  # blank rows between lines; the shortest line
)
# Kept ink is darker than this (ink_only's threshold is at most 180): a
# faint final 。 lighter than 128 was cut off a multi-line box's last line.
INK_LEVEL = 181
WHITELISTS = {
    "digits": "0123456789",
    "number": "0123456789,-",
    "amount": "0123456789,",
    "phone": "0123456789-",
    "postal_code": "0123456789-",
    "account_number": "0123456789",
}
REASONS_JA = {
    "low_confidence": "読み取りの確信度が低い",
    "type_check": "形式の確認に失敗",
    "required_empty": "必須項目が空欄",
    "always": "定義により常に確認",
    "ambiguous_mark": "チェックの有無がはっきりしない",
    "engines_disagree": "2つの読み取りエンジンの結果が一致しない",
    "variant_kanji": "異体字のある漢字を含む（例: 髙・﨑）",
    "checkbox_rule": "チェックの数が決まり（1つだけ等）に合わない",
    **CONSTRUCT_REASONS_JA,
    "ink_over_line": "記入が枠線にかかっている（欠けた文字がないか確認）",
    **rules.REASONS_JA,
}


@dataclass
class FieldResult:
    """One field of one form, as forms.json keeps it."""

    name: str
    value: Value
    text: str
    raw: str
    confidence: float
    reasons: list[str] = field(default_factory=list)
    problem: str | None = None
    crop: Grey | None = field(default=None, repr=False)
    engine: str = ""  # tesseract, ppocr, both (they agreed), text_layer, mark
    decision: str = ""  # alone, agree, disagree
    readings: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # constructs: 和暦, chosen options, mark scores

    @property
    def review(self) -> bool:
        return bool(self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "text": self.text,
            "raw": self.raw,
            "confidence": round(self.confidence, 1),
            "review": self.review,
            "reasons": list(self.reasons),
            "problem": self.problem,
            "engine": self.engine,
            "decision": self.decision,
            "readings": self.readings,
        } | ({"extra": self.extra} if self.extra else {})


def inset(box: Box, mm: float) -> Box:
    mm = min(mm, box.w / 4, box.h / 4)
    return Box(box.x + mm, box.y + mm, box.w - 2 * mm, box.h - 2 * mm)


def grow(box: Box, mm: float) -> Box:
    return Box(max(0.0, box.x - mm), max(0.0, box.y - mm), box.w + 2 * mm, box.h + 2 * mm)


def ink_only(crop: Grey, *, grey: bool = False) -> Grey | None:
    """Otsu-binarised ink with specks and box lines touching the edge
    removed, cropped tight and padded; None when the box is blank.

    Components are judged from their statistics all at once, and only the
    tight rectangle of what is kept is ever painted: looping over them in
    Python and mapping the whole label image cost as much as the rest of
    the clean-up together."""
    if int(crop.min()) > 150:
        return None
    threshold, _ = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    mask = np.less(crop, min(threshold, 180)).view(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, _label_type(mask.shape), cv2.CCL_DEFAULT
    )
    x, y, w, h, area = (stats[:, i] for i in range(5))
    height, width = mask.shape
    on_edge = (x == 0) | (y == 0) | (x + w >= width) | (y + h >= height)
    line_like = np.maximum(w, h) >= 5 * np.maximum(1, np.minimum(w, h))
    keep = (area >= SPECK_PIXELS) & ~(on_edge & (line_like | (area < 4 * SPECK_PIXELS)))
    keep[0] = False  # the background
    if not keep.any():
        return None
    left, top = int(x[keep].min()), int(y[keep].min())
    right, bottom = int((x + w)[keep].max()), int((y + h)[keep].max())
    if grey:
        # The scan's own grey inside the rectangle, only what was dropped
        # whitened: thin light strokes (Mincho's horizontals at 200 dpi) that
        # fall below Otsu's threshold stay for the engines to see.
        dropped = ~keep
        dropped[0] = False
        tight = crop[top:bottom, left:right].copy()
        tight[dropped[labels[top:bottom, left:right]]] = 255
    else:
        paint = np.where(keep, 0, 255).astype(np.uint8)
        tight = paint[labels[top:bottom, left:right]]
    return _with_margin(tight)


def _with_margin(tight: Grey) -> Grey:
    """Ink cut tight, with PAD white rows above and below and PAD_X columns beside."""
    return np.asarray(
        cv2.copyMakeBorder(tight, PAD, PAD, PAD_X, PAD_X, cv2.BORDER_CONSTANT, value=255), np.uint8
    )


def _label_type(shape: tuple[int, ...]) -> int:
    """16-bit labels when even a checkerboard of single pixels (the most
    8-connected components an image can hold) would fit: labelling a field
    that way took a third of the time it takes with 32-bit labels."""
    most = ((shape[0] + 1) // 2) * ((shape[1] + 1) // 2) + 1
    return cv2.CV_16U if most <= np.iinfo(np.uint16).max else cv2.CV_32S


def _decide(
    spec: Field, raw: str, confidence: float, *, text_layer: bool, crop: Grey | None, cells: int = 0
) -> FieldResult:
    checked = recognise.check(spec, raw, cells)
    reasons = []
    if checked.text and confidence < spec.confidence_threshold:
        reasons.append("low_confidence")
    if checked.problem:
        reasons.append("type_check")
    if spec.required and not checked.text:
        reasons.append("required_empty")
    if spec.variant_kanji and not text_layer and variant_kanji(checked.text):
        reasons.append("variant_kanji")
    if spec.always_review(from_text_layer=text_layer):
        reasons.append("always")
    return FieldResult(
        spec.name, checked.value, checked.text, raw, confidence, reasons, checked.problem, crop
    )


def _checkbox(crop: Grey) -> tuple[str, float, bool]:
    """(raw "1"/"0", confidence, ambiguous) from the dark-pixel ratio."""
    ratio = float((cv2.medianBlur(crop, 3) < 128).mean())
    ambiguous = CERTAIN_EMPTY < ratio < CERTAIN_TICKED
    return ("1" if ratio >= TICKED_RATIO else "0"), (50.0 if ambiguous else 100.0), ambiguous


def read_image_field(
    spec: Field, image: Grey, alignment: Alignment, *, tessdata: str | None = None
) -> FieldResult:
    """One field from an aligned scan (see ``read_image_fields``)."""
    return read_image_fields([spec], image, alignment, tessdata=tessdata)[0]


def read_image_fields(
    specs: list[Field],
    image: Grey,
    alignment: Alignment,
    *,
    tessdata: str | None = None,
    groups: tuple[CheckboxGroup, ...] = (),
    reference: Grey | None = None,
) -> list[FieldResult]:
    """A page's fields from an aligned scan, each with its crop when it goes
    to review (only a person looks at it, so the others are not cut at all).
    Each engine reads the page's fields in one pass, PP-OCR in one batch."""
    results: dict[str, FieldResult] = {}
    prepared: list[Prepared] = []
    written: dict[str, list[int]] = {}
    for spec in specs:
        if spec.type == "checkbox":
            results[spec.name] = _read_checkbox(spec, image, alignment)
        else:
            prepared.append(_prepare(spec, image, alignment, reference, written))
    writing = decide_writing(prepared, WHITELISTS, tessdata)
    recognise.read_all(prepared, WHITELISTS, tessdata)
    for item in prepared:
        results[item.spec.name] = _from_readings(item)
        if item.spec.name in writing:
            results[item.spec.name].extra["handwritten"] = writing[item.spec.name]
        if not right_aligned(item.spec, written.get(item.spec.name, [])):
            results[item.spec.name].reasons.append("cells_misaligned")
    out = [results[s.name] for s in specs]
    apply_groups(out, groups)
    for spec, result in zip(specs, out, strict=True):
        if result.review:
            result.crop = review_crop(spec, image, alignment)
    return out


def review_crop(spec: Field, image: Grey, alignment: Alignment) -> Grey:
    """What the reviewer sees: the box with some of the form around it."""
    return warp_box(image, alignment, grow(spec.box, CONTEXT_MM), dpi=ALIGN_DPI * 1.5)


def _read_checkbox(spec: Field, image: Grey, alignment: Alignment) -> FieldResult:
    side = min(spec.box.w, spec.box.h) * CHECKBOX_INSET
    raw, confidence, ambiguous = _checkbox(warp_box(image, alignment, inset(spec.box, side)))
    result = _decide(spec, raw, confidence, text_layer=False, crop=None)
    result.engine = "mark"
    if ambiguous:
        result.reasons.append("ambiguous_mark")
    return result


def right_aligned(spec: Field, written: list[int]) -> bool:
    """Digit boxes written 右詰め hold their digits in the last boxes with no
    gap: a blank box between digits, or after them, is a digit the clean-up
    or the writer lost."""
    if spec.align != "right" or not spec.cells or not written:
        return True
    return written == list(range(spec.cells - len(written), spec.cells))


def _prepare(
    spec: Field, image: Grey, alignment: Alignment, reference: Grey | None, written: dict[str, list[int]]
) -> Prepared:
    if spec.cells:
        found, cells = _cells(spec, image, alignment, reference, written.setdefault(spec.name, []))
        return Prepared(spec, [] if found.image is None else [found.image], cells, over_line=found.over_line)
    found = _ink(image, alignment, inset(spec.box, TEXT_INSET_MM), reference, lines.GROW_X_MM)
    if found.image is None:
        return Prepared(spec, [])
    parts = split_lines(found.image) if spec.multiline else [found.image]
    return Prepared(spec, parts, over_line=found.over_line)


def _ink(image: Grey, alignment: Alignment, box: Box, reference: Grey | None, grow_x_mm: float) -> lines.Ink:
    """The box's writing: the printed form's own ink (box lines, 〒, 円, 様,
    dividers; the blank reference where the alignment puts it, widened by
    DROPOUT_PX) turned white, then ``ink_only``. Writing that runs over the
    box's edge is cut again from a larger crop with the strokes crossing
    the printed lines kept (``jobs.ocr.lines``)."""
    crop = warp_box(image, alignment, box, dpi=OCR_DPI)
    mask = lines.printed_mask(reference, box, DROPOUT_PX, PRINTED_LEVEL) if reference is not None else None
    if mask is not None:
        crop = crop.copy()
        crop[mask] = 255
    if lines.reaches_edge(crop):
        found = lines.crossing_ink(
            image,
            alignment,
            box,
            reference,
            grow_x_mm=grow_x_mm,
            dropout_px=DROPOUT_PX,
            printed_level=PRINTED_LEVEL,
        )
        if found.image is None:
            return found
        return lines.Ink(_with_margin(found.image), found.over_line)
    return lines.Ink(ink_only(crop, grey=GREY))


def split_lines(ink: Grey) -> list[Grey]:
    """A multi-line box's ink cut into lines at the blank rows between them."""
    inked_rows = np.asarray(np.less(ink, INK_LEVEL).any(axis=1), dtype=bool)
    rows = [bool(r) for r in inked_rows]
    lines, top, gap = [], None, 0
    for y, inked in enumerate(rows):
        if inked:
            top, gap = (y if top is None else top), 0
        elif top is not None:
            gap += 1
            if gap >= LINE_GAP_PX:
                lines.append((top, y - gap + 1))
                top = None
    if top is not None:
        lines.append((top, len(rows)))
    parts = [_padded(ink[a:b]) for a, b in lines if b - a >= MIN_LINE_PX]
    return parts or [ink]


def _padded(ink: Grey) -> Grey:
    """Cut tight to the ink's columns and rows, then padded: white space
    beside a line cost tesseract most of its confidence."""
    inked = np.less(ink, INK_LEVEL)
    columns, rows = np.flatnonzero(inked.any(axis=0)), np.flatnonzero(inked.any(axis=1))
    if not columns.size:
        return ink
    return _with_margin(ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1])


def _cells(
    spec: Field, image: Grey, alignment: Alignment, reference: Grey | None, written: list[int]
) -> tuple[lines.Ink, int]:
    """A digit-box row: each box cut and cleaned alone (its printed lines
    dropped out and outside the inset), the written ones set side by side.
    A box whose writing runs over its top or bottom line is cut taller, not
    wider (the next box's digit would come in)."""
    count = spec.cells or 1
    width = spec.box.w / count
    inks, over = [], False
    for i in range(count):
        cell = inset(Box(spec.box.x + i * width, spec.box.y, width, spec.box.h), CELL_INSET_MM)
        found = _ink(image, alignment, cell, reference, 0.0)
        over = over or found.over_line
        if found.image is not None:
            inks.append(found.image)
            written.append(i)
    if not inks:
        return lines.Ink(None, over), 0
    height = max(i.shape[0] for i in inks)
    parts = []
    for ink in inks:
        top = (height - ink.shape[0]) // 2
        bottom = height - ink.shape[0] - top
        parts.append(cv2.copyMakeBorder(ink, top, bottom, 0, 0, cv2.BORDER_CONSTANT, value=255))
    return lines.Ink(_padded(np.asarray(np.hstack(parts), np.uint8)), over), len(inks)


def _from_readings(item: Prepared) -> FieldResult:
    if item.blank:
        return _decide(item.spec, "", 100.0, text_layer=False, crop=None)
    decision = recognise.decide(item)
    result = _decide(
        item.spec, decision.raw, decision.confidence, text_layer=False, crop=None, cells=item.cells
    )
    if decision.disagree:
        result.reasons.insert(0, "engines_disagree")
    if item.over_line:
        # Writing over a line may have lost a stroke that both engines then
        # agree without (a 9 whose loop lay on the top line read as 4 by
        # both; 11800 as 1800): a person looks at it.
        result.reasons.append("ink_over_line")
    result.engine, result.decision, result.readings = decision.engine, decision.decision, decision.readings
    return result


def apply_groups(results: list[FieldResult], groups: tuple[CheckboxGroup, ...]) -> None:
    """Checkbox groups whose rule is broken send all their boxes to review."""
    by_name = {r.name: r for r in results}
    for group in groups:
        members = [by_name[n] for n in group.fields if n in by_name]
        if len(members) != len(group.fields):
            continue  # spread over pages: checked again with the whole form
        ticked = sum(1 for m in members if m.value is True)
        if ticked > 1 or (group.rule == "exactly_one" and ticked == 0):
            for member in members:
                if "checkbox_rule" not in member.reasons:
                    member.reasons.append("checkbox_rule")
