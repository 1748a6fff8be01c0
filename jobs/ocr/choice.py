"""Marks on printed words: which of a ``choice``'s options (男・女, 明治…令和,
本人・代理人) the writer circled, ticked or struck.

Every option box holds its printed word, so ink alone says nothing; what
counts is the ink the blank form does not have there. The scan's box is
compared with the aligned blank (its printed pixels widened a little for
the alignment's error) and the share of the box covered by the writer's
own ink is the option's mark score. A circle drawn round the word, a tick
over it or a line through it all leave that extra ink; a clean option
leaves none. The option with the most extra ink is chosen when it is
clearly marked and clearly ahead of the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from jobs.ocr.align import Alignment, warp_box
from jobs.ocr.pages import ALIGN_DPI, Grey
from jobs.ocr.template import Box

INK_LEVEL = 128
PRINTED_LEVEL = 200
# The blank's printed pixels widened by this much at ALIGN_DPI (0.34 mm):
# the alignment's residual error and the scan's blur.
SLACK_PX = 2
# Share of an option's box covered by the writer's ink. On the third test
# form (tests/jobs/ocr/jumin.py) a circle round a word covered about 6 % of
# its box, a tick over it about 2 %, a line through it (mostly on the
# printed strokes, which do not count) 0.3 %; an unmarked option 0.0 %.
MARKED, UNMARKED = 0.0025, 0.0008
# A circle round one word may run into its neighbour's box: the second
# option counts as marked too only when it has at least this share of the first's ink.
RIVAL = 0.45
REFERENCE_FRAME = Alignment(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 0, 0, 1.0, 0.0, True)


@dataclass(frozen=True)
class Marks:
    """One choice's reading: the chosen value (None: none), the scores, and
    the review reasons (empty: accepted)."""

    value: str | None
    scores: dict[str, float]
    reasons: tuple[str, ...]

    @property
    def raw(self) -> str:
        return " ".join(f"{v}:{s:.3f}" for v, s in self.scores.items())


def mark_score(image: Grey, alignment: Alignment, reference: Grey | None, box: Box) -> float:
    """Share of ``box`` covered by ink the blank form does not have there."""
    scan = warp_box(image, alignment, box, dpi=ALIGN_DPI)
    ink = cv2.medianBlur(scan, 3) < INK_LEVEL
    if reference is not None:
        printed = warp_box(reference, REFERENCE_FRAME, box, dpi=ALIGN_DPI) < PRINTED_LEVEL
        kernel = np.ones((2 * SLACK_PX + 1, 2 * SLACK_PX + 1), np.uint8)
        ink &= cv2.dilate(printed.view(np.uint8), kernel) == 0
    return float(ink.mean())


def decide(scores: dict[str, float], rule: str) -> Marks:
    """The chosen option by ``rule`` (exactly_one / at_most_one)."""
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    top_value, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if top < UNMARKED:
        return Marks(None, scores, ("choice_none",) if rule == "exactly_one" else ())
    if second >= MARKED and second >= RIVAL * top:
        return Marks(None, scores, ("choice_many",))
    if top < MARKED or (second >= UNMARKED and second >= RIVAL * top):
        return Marks(top_value if top >= MARKED else None, scores, ("choice_faint",))
    return Marks(top_value, scores, ())


def read_marks(
    values_boxes: Sequence[tuple[str, Box]],
    rule: str,
    image: Grey,
    alignment: Alignment,
    reference: Grey | None,
) -> Marks:
    scores = {value: mark_score(image, alignment, reference, box) for value, box in values_boxes}
    return decide(scores, rule)
