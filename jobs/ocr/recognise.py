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
   probabilities, high even on many misreads), every character must reach
   ``SOLO_PPOCR_CHAR`` and be a common one (JIS X 0208 short of its
   level-two kanji: not 黑 for 黒, not 區 for 区), and there must be no sign
   of a dropped character (writing no character was read from, or a
   character the decoder nearly emitted between two others; for a digit,
   even a faint one). Anything less
   is not evidence enough on its own: the second engine reads it.
3. *Otherwise the other engine reads it too* (PP-OCR crops in one batch per
   page): every line when the value fails its type check, only the lines
   below the bar when it passes (a multi-line box is judged line by line;
   re-reading a two-line address's sure first line cost a PP-OCR line for
   nothing). Both give the same value that passes the type check: accepted
   (``agree``). Different values: review (``engines_disagree``), the other
   engine then reading the rest of the lines so the reviewer sees both
   whole readings.

The benches (``bench/ocr.py`` per branch; ``bench/ocr_goals.py`` on all three
test layouts, with a handwriting style held out from tuning) measure the rule
on scans it was not set on; docs/ocr.md has the figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from jobs.ocr import checks, ppocr
from jobs.ocr import engine as tesseract
from jobs.ocr.normalise import Checked, normalise
from jobs.ocr.pages import Grey
from jobs.ocr.template import Field

TESSERACT, PPOCR = "tesseract", "ppocr"
KANA_CHECKED = frozenset({"kana", "checkbox"})
YEN_MARKS = ("円", "¥", "￥")
# PP-OCR accepted alone under ``auto`` (the handwritten first reading): its
# confidence is the mean of per-character probabilities, so the bar sits above
# the templates' usual 80. Picked on development scans of the second test form
# (a handwritten サトゥ for サトウ scored 97.1). On the first test form's
# handwriting a mean of 97.0 still let 戸烟区 for 戸畑区 through, its 烟 at 59 %:
# alone, every character must also reach SOLO_PPOCR_CHAR. bench/ocr.py measures
# both on other scans of both forms.
SOLO_PPOCR = 97.0
SOLO_PPOCR_CHAR = 70.0
# A high mean says nothing about a character the decoder dropped (a jittered
# 「1」 fused with the 9 after it: 8月19日 read as 8月9日 at 99.5; 6-1-22 as
# 61-22 at 99.8). Alone, PP-OCR must also have emitted a character for every
# separate piece of writing (``Line.unread_ink``) and passed over no other
# character at SOLO_PPOCR_PASSED_OVER or more (``Line.passed_over``: those
# two dropped characters had 41 and 44; lines read right stay under 1).
SOLO_PPOCR_PASSED_OVER = 20.0
# A digit passed over is held to a far lower bar: a run of digits has no
# spelling to betray a lost one (5月21日 read as 5月2日 at 99.9, its 1 drawn
# over the 2, with a frame of 1 at 7.6 after it, under the bar above), and
# on development scans (seeds the benches do not use, five hands, three
# layouts) no line PP-OCR read right and was trusted with alone passed over
# a digit at more than 0.4.
SOLO_PPOCR_PASSED_OVER_DIGIT = 3.0
# A point or comma between digits outside a number or an amount is a dash
# read as a point (若園5-1-2 as 5-1.2 at 99, development scans): Japanese
# addresses, dates and codes do not write one, so PP-OCR is not trusted alone.
# eng's confidence on printed amounts it read right: 94–96; on a 円 it wrote
# as a digit (118004, 11,8009): up to 76.
ENG_WITNESS_BAR = 90.0
DECIMAL_TYPES = frozenset({"number", "amount"})
POINT_BETWEEN_DIGITS = re.compile(r"\d[.,．，・]\d")


class Line(NamedTuple):
    """One engine's text for one line, confidence 0–100."""

    text: str
    confidence: float
    weakest: float = 100.0  # its least sure character (PP-OCR), 0–100
    unread_ink: int = 0  # pieces of writing no character was read from (PP-OCR)
    passed_over: float = 0.0  # the likeliest character it did not emit, 0–100 (PP-OCR)
    passed_over_digit: float = 0.0  # the likeliest digit it did not emit, 0–100 (PP-OCR)


@dataclass
class Prepared:
    """One text field's pixels as the engines get them: one line image, or
    one per line of a multi-line box; none when the box is blank. ``lines``
    holds each engine's reading of each line (None: that line not read)."""

    spec: Field
    parts: list[Grey]
    cells: int = 0  # written cells of a digit-box row
    over_line: bool = False  # writing ran over a printed line (jobs.ocr.lines)
    lines: dict[str, list[Line | None]] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not self.parts

    def unread(self, engine_name: str) -> list[int]:
        got = self.lines.get(engine_name, [None] * len(self.parts))
        return [k for k, line in enumerate(got) if line is None]

    def reading(self, engine_name: str) -> Line:
        """The engine's lines read so far, newline-joined, at the lowest confidence."""
        got = [line for line in self.lines.get(engine_name, []) if line is not None]
        return Line("\n".join(line.text for line in got), min((line.confidence for line in got), default=0.0))


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


def tesseract_language(item: Prepared) -> str:
    """The field's language; for an amount PP-OCR read with a 円 or ¥ that
    tesseract's eng model cannot write (it read 11,800円 as 11,8004), jpn."""
    spec = item.spec
    if spec.type == "amount" and "jpn" not in spec.language.split("+"):
        seen = [line.text for line in item.lines.get(PPOCR, []) if line is not None]
        if any(mark in text for text in seen for mark in YEN_MARKS):
            return "jpn"
    return spec.language


def first_engine(spec: Field) -> str:
    if spec.engine != "auto":
        return spec.engine
    return PPOCR if spec.handwritten else TESSERACT


def second_engine(spec: Field) -> str:
    return TESSERACT if first_engine(spec) == PPOCR else PPOCR


def read_lines(
    engine_name: str,
    wanted: Sequence[tuple[Prepared, Sequence[int]]],
    defaults: dict[str, str],
    tessdata: str | None,
) -> None:
    """The given lines of each item read by one engine (PP-OCR: all in one batch)."""
    todo = [(item, k) for item, ks in wanted for k in ks]
    if not todo:
        return
    if engine_name == TESSERACT:
        found = [_tesseract_line(item, k, defaults, tessdata) for item, k in todo]
    else:
        found = [
            Line(r.text, r.confidence, r.weakest, r.unread_ink, r.passed_over, r.passed_over_digit)
            for r in ppocr.recognise_lines([item.parts[k] for item, k in todo])
        ]
    for (item, k), line in zip(todo, found, strict=True):
        item.lines.setdefault(engine_name, [None] * len(item.parts))[k] = line


def _tesseract_line(item: Prepared, k: int, defaults: dict[str, str], tessdata: str | None) -> Line:
    """One line read by tesseract. An amount read with jpn (printed: the model
    that can write 円) and below its threshold is read with eng too: jpn is
    seldom sure of printed digits (0–81 on amounts it read right) and eng is
    (94–96), but eng writes a 円 as a digit. When eng reaches ENG_WITNESS_BAR
    and both models give the same amount, no 円 became a digit (a 円 eng
    wrote as 4 or 9 gives another amount than jpn's, which writes the 円 or
    leaves it out), and the line has eng's confidence. Otherwise PP-OCR
    reads it, at about three times the cost of the eng line."""
    spec, allowed = item.spec, whitelist(item.spec, defaults)
    language = tesseract_language(item)
    text, confidence = tesseract.recognise(item.parts[k], language, allowed, tessdata)
    line = Line(text.strip(), confidence)
    if spec.type != "amount" or language != "jpn" or confidence >= spec.confidence_threshold:
        return line
    ours = check(spec, line.text, item.cells)
    if ours.problem is not None or len(item.parts) != 1:
        return line
    eng, eng_confidence = tesseract.recognise(item.parts[k], "eng", allowed, tessdata)
    witness = check(spec, eng.strip(), item.cells)
    bar = max(spec.confidence_threshold, ENG_WITNESS_BAR)
    if witness.problem is None and witness.value == ours.value and eng_confidence >= bar:
        return Line(line.text, eng_confidence)
    return line


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
    if checked.problem is None and checked.text:
        # A check digit, and kana spelling wherever kana were read (a `kana`
        # field's own check already did it).
        found = checks.check_digit(spec.check, checked.text) if spec.check else None
        if found is None and spec.type not in KANA_CHECKED and checks.has_kana(checked.text):
            found = checks.kana_spelling(checked.text)
        if found is not None:
            return Checked(checked.value, checked.text, found)
    return checked


# Shift_JIS codes from here on are JIS X 0208's second-level kanji (rarer
# kanji and old forms such as 區 and 烟), then the vendor extensions.
LEVEL_TWO_KANJI = b"\x98\x9f"


def common_charset(text: str) -> bool:
    """Whether every character is in JIS X 0208 short of its second-level
    kanji: what PP-OCR alone may be trusted with. It read 若松区 as 若松區 and
    戸畑区 as 戸烟区 at means of 97 and above; those old and rare forms are
    level-two kanji, which an address or a date hardly ever needs (a name
    that does, 齋藤, is read again by tesseract, and a name's variant-kanji
    review still applies)."""
    for char in text:
        try:
            code = char.encode("shift_jis")
        except UnicodeEncodeError:
            return False
        if len(code) == 2 and code >= LEVEL_TWO_KANJI:
            return False
    return True


def _line_confident(spec: Field, engine_name: str, line: Line) -> bool:
    """A line one engine may be trusted on alone."""
    bar = spec.confidence_threshold
    if engine_name == PPOCR and spec.engine == "auto":
        bar = max(bar, SOLO_PPOCR)
        if not common_charset(line.text) or line.weakest < SOLO_PPOCR_CHAR:
            return False
        if line.unread_ink or line.passed_over >= SOLO_PPOCR_PASSED_OVER:
            return False
        if line.passed_over_digit >= SOLO_PPOCR_PASSED_OVER_DIGIT:
            return False
        if spec.type not in DECIMAL_TYPES and POINT_BETWEEN_DIGITS.search(line.text):
            return False
    return line.confidence >= bar


def unsure(item: Prepared) -> list[int]:
    """The lines the second engine should read: none when the first reading
    may be accepted alone; every line when it fails the type check (the
    value as a whole is in doubt); otherwise only the lines the first engine
    was not sure of. A two-line address whose first line tesseract read at
    95 has only its second line read again."""
    if item.spec.engine != "auto" or item.blank:
        return []
    if item.over_line:
        return list(range(len(item.parts)))  # never accepted on one engine
    first = first_engine(item.spec)
    if check(item.spec, item.reading(first).text, item.cells).problem is not None:
        return list(range(len(item.parts)))
    return [
        k
        for k, line in enumerate(item.lines[first])
        if line is None or not _line_confident(item.spec, first, line)
    ]


def needs_second(item: Prepared) -> bool:
    return bool(unsure(item))


def _mixed(item: Prepared) -> str:
    """The second engine's lines, with the first's where it read none."""
    first, other = item.lines[first_engine(item.spec)], item.lines[second_engine(item.spec)]
    chosen = [o if o is not None else f for f, o in zip(first, other, strict=True)]
    return "\n".join(line.text for line in chosen if line is not None)


def _agree(item: Prepared) -> bool:
    ours = check(item.spec, item.reading(first_engine(item.spec)).text, item.cells)
    theirs = check(item.spec, _mixed(item), item.cells)
    return ours.problem is None and ours.value == theirs.value


def read_all(items: Sequence[Prepared], defaults: dict[str, str], tessdata: str | None) -> None:
    """A page's text fields read by the engines the rule picks: each first
    engine over its fields, then the second engine over the unsure lines,
    then, where the two disagree, the rest of those fields' lines, so the
    reviewer sees both engines' whole readings."""
    for name in (TESSERACT, PPOCR):
        read_lines(
            name, [(i, i.unread(name)) for i in items if first_engine(i.spec) == name], defaults, tessdata
        )
    for name in (TESSERACT, PPOCR):
        read_lines(name, [(i, unsure(i)) for i in items if second_engine(i.spec) == name], defaults, tessdata)
    for name in (TESSERACT, PPOCR):
        split = [i for i in items if second_engine(i.spec) == name and name in i.lines and not _agree(i)]
        read_lines(name, [(i, i.unread(name)) for i in split], defaults, tessdata)


def _shown(item: Prepared) -> dict[str, dict[str, object]]:
    shown: dict[str, dict[str, object]] = {}
    for name, lines in item.lines.items():
        joined = item.reading(name)
        shown[name] = {"text": joined.text, "confidence": round(joined.confidence, 1)}
        if None in lines:  # only the unsure lines were read by this engine
            shown[name]["lines"] = [k + 1 for k, line in enumerate(lines) if line is not None]
    return shown


def decide(item: Prepared) -> Decision:
    """The reading to keep, and how it was decided."""
    readings = _shown(item)
    first, other = first_engine(item.spec), second_engine(item.spec)
    text, confidence = item.reading(first)[:2] if first in item.lines else ("", 100.0)
    if other not in item.lines:
        return Decision(text, confidence, first, "alone", readings, False)
    if _agree(item):
        # Each line at the better of its confidences where both engines read it.
        pairs = zip(item.lines[first], item.lines[other], strict=True)
        best = min(
            max(f.confidence, o.confidence) if o is not None else f.confidence
            for f, o in pairs
            if f is not None
        )
        return Decision(text, best, "both", "agree", readings, False)
    # The other engine's whole reading (``read_all`` completes it on a
    # disagreement; its lines stand in for any it did not read).
    other_text, other_confidence = _mixed(item), item.reading(other).confidence
    ours, theirs = check(item.spec, text, item.cells), check(item.spec, other_text, item.cells)
    # Disagreement: show the reading that passes the type check, PP-OCR's
    # when both do or neither does (it was right more often on every test form).
    pp, ts = (ours, theirs) if first == PPOCR else (theirs, ours)
    keep = TESSERACT if pp.problem is not None and ts.problem is None else PPOCR
    kept = text if keep == first else other_text
    return Decision(kept, min(confidence, other_confidence), keep, "disagree", readings, True)
