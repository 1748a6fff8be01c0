"""Which engine reads a field, and when its reading is accepted.

Each text field names an engine (``engine: auto | tesseract | ppocr``) and
whether it is handwritten. ``tesseract`` and ``ppocr`` read with that engine
alone. ``auto``, the default, reads first with the engine that is cheap and
right on that kind of writing, and asks the second only when the first is
not sure:

1. *First reading.* Printed fields: tesseract (a line costs a quarter to a
   fifth of PP-OCR's). Handwritten fields: PP-OCR (tesseract reads about a third of
   handwritten lines right).
2. *Accepted alone* when its normalised value passes the type check and its
   confidence reaches the field's threshold; for PP-OCR alone on
   handwriting the bar is ``SOLO_PPOCR`` (its scores are mean character
   probabilities, high even on many misreads) and every character must be
   one Japanese forms are written in (JIS X 0208: not 黑 for 黒).
3. *Otherwise the other engine reads it too* (PP-OCR crops in one batch per
   page). Both give the same value that passes the type check: accepted
   (``agree``). Different values: review (``engines_disagree``), both
   readings kept for the reviewer.

The bench (``bench/ocr.py``) measures each branch's accuracy on a form layout
the code was not written against; docs/ocr.md has the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jobs.ocr import engine as tesseract
from jobs.ocr import ppocr
from jobs.ocr.normalise import Checked, normalise
from jobs.ocr.pages import Grey
from jobs.ocr.template import Field

TESSERACT, PPOCR = "tesseract", "ppocr"
# PP-OCR accepted alone under ``auto`` (the handwritten first reading): its
# confidence is the mean of per-character probabilities, so the bar sits above
# the templates' usual 80. Picked on development scans of the second test form
# (a handwritten サトゥ for サトウ scored 97.1); bench/ocr.py measures it on
# other scans of that form.
SOLO_PPOCR = 97.0


@dataclass
class Prepared:
    """One text field's pixels as the engines get them: one line image, or
    one per line of a multi-line box; none when the box is blank."""

    spec: Field
    parts: list[Grey]
    cells: int = 0  # written cells of a digit-box row
    readings: dict[str, tuple[str, float]] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not self.parts


@dataclass(frozen=True)
class Decision:
    raw: str
    confidence: float
    engine: str
    decision: str  # how it was decided: alone, agree, disagree
    readings: dict[str, dict[str, object]]
    disagree: bool


def whitelist(spec: Field, defaults: dict[str, str]) -> str:
    """tesseract's allowed characters, with the printed marks the field allows."""
    base = spec.allowed_chars or defaults.get(spec.type, "")
    return base + "".join(spec.prefixes) + "".join(spec.suffixes) if base else ""


def first_engine(spec: Field) -> str:
    if spec.engine != "auto":
        return spec.engine
    return PPOCR if spec.handwritten else TESSERACT


def _joined(readings: Sequence[tuple[str, float]]) -> tuple[str, float]:
    """A multi-line field's lines, newline-joined, at the lowest line confidence."""
    return "\n".join(t for t, _ in readings), min(c for _, c in readings)


def _read_tesseract(items: Sequence[Prepared], defaults: dict[str, str], tessdata: str | None) -> None:
    for item in items:
        allowed = whitelist(item.spec, defaults)
        lines = [tesseract.recognise(p, item.spec.language, allowed, tessdata) for p in item.parts]
        item.readings[TESSERACT] = _joined([(t.strip(), c) for t, c in lines])


def _read_ppocr(items: Sequence[Prepared]) -> None:
    """All parts of all items in one batch."""
    found = iter(ppocr.recognise_lines([p for i in items for p in i.parts]))
    for item in items:
        item.readings[PPOCR] = _joined([(r.text, r.confidence) for r in (next(found) for _ in item.parts)])


def read_with(
    engine_name: str, items: Sequence[Prepared], defaults: dict[str, str], tessdata: str | None
) -> None:
    """Every item not yet read by this engine, read by it (PP-OCR: one batch)."""
    todo = [i for i in items if not i.blank and engine_name not in i.readings]
    if not todo:
        return
    if engine_name == TESSERACT:
        _read_tesseract(todo, defaults, tessdata)
    else:
        _read_ppocr(todo)


def check(spec: Field, raw: str, cells: int = 0) -> Checked:
    checked = normalise(
        spec.type,
        raw,
        allowed_chars=spec.allowed_chars,
        pattern=spec.pattern,
        prefixes=spec.prefixes,
        suffixes=spec.suffixes,
    )
    if cells and checked.problem is None and len(checked.text.replace("-", "")) != cells:
        problem = f"読み取った桁数（{len(checked.text)}）が記入された枠の数（{cells}）と合いません。"
        return Checked(checked.value, checked.text, problem)
    return checked


def japanese_charset(text: str) -> bool:
    """Whether every character is in JIS X 0208, the set Japanese forms are
    written in. PP-OCR's dictionary also holds Chinese forms (黑 for 黒) that
    it returns with high confidence."""
    try:
        text.encode("shift_jis")
    except UnicodeEncodeError:
        return False
    return True


def confident(item: Prepared, engine_name: str) -> bool:
    """A single engine's reading that may be accepted on its own."""
    text, confidence = item.readings[engine_name]
    bar = item.spec.confidence_threshold
    if engine_name == PPOCR and item.spec.engine == "auto":
        bar = max(bar, SOLO_PPOCR)
        if not japanese_charset(text):
            return False
    return confidence >= bar and check(item.spec, text, item.cells).problem is None


def needs_second(item: Prepared) -> bool:
    return item.spec.engine == "auto" and not item.blank and not confident(item, first_engine(item.spec))


def decide(item: Prepared) -> Decision:
    """The reading to keep, and how it was decided."""
    readings = {k: {"text": t, "confidence": round(c, 1)} for k, (t, c) in item.readings.items()}
    first = first_engine(item.spec)
    text, confidence = item.readings.get(first, ("", 100.0))
    if len(item.readings) < 2:
        return Decision(text, confidence, first, "alone", readings, False)
    other = PPOCR if first == TESSERACT else TESSERACT
    other_text, other_confidence = item.readings[other]
    ours, theirs = check(item.spec, text, item.cells), check(item.spec, other_text, item.cells)
    if ours.value == theirs.value and ours.problem is None:
        return Decision(text, max(confidence, other_confidence), "both", "agree", readings, False)
    # Disagreement: show the reading that passes the type check, PP-OCR's
    # when both do or neither does (it was right more often on every test form).
    pp, ts = (ours, theirs) if first == PPOCR else (theirs, ours)
    keep = TESSERACT if pp.problem is not None and ts.problem is None else PPOCR
    kept = item.readings[keep]
    return Decision(kept[0], min(confidence, other_confidence), keep, "disagree", readings, True)
