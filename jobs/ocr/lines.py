"""Writing that crosses the printed form's lines.

The blank reference says where the form's own ink is (box lines, dividers,
printed marks). Turning all of it white also erased every stroke that
crossed it, and the part of a stroke left inside the box then touched the
crop's edge and was dropped as a stray line: 11800 came back as 1800, and
a 「1」 filling a small box vanished, both accepted at 100.

So when writing reaches the edge of the cut box, the box is cut again with
room around it (``GROW_Y_MM`` above and below, ``grow_x_mm`` beside), and:

- only the blank's own pixels are removed, and where a stroke continues on
  both sides of a removed line the line's pixels under it are kept (a
  morphological closing of the writing alone, so a gap is bridged only when
  the writing lies on both sides of it);
- every piece of writing that reaches into the box is kept whole, also the
  part outside it; residual straight lines outside the box are not;
- the field is marked ``over_line``: the reading cannot be trusted to have
  every stroke (a stroke lying along a line is not restored: a 9 whose loop
  touched the top line was read as 4 by both engines), so both engines read
  it and it goes to review (``ink_over_line``) whatever they say; a lost
  digit still passes every type check.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from jobs.ocr.align import Alignment, warp_box
from jobs.ocr.pages import MM_PER_INCH, OCR_DPI, Grey
from jobs.ocr.template import Box

GROW_Y_MM = 3.0  # writing crosses a box's top or bottom line by a few mm
GROW_X_MM = 1.5
# The closings that bridge a stroke across a removed line: a printed line
# (0.3–0.4 mm) widened by DROPOUT_PX on each side is 11–14 px at 300 dpi,
# and a closing fills a gap across a thin stroke only when the gap is at
# most about half the kernel. The kernels are long across the line and
# narrow along it, so the line under a row of writing is not restored
# between characters (an underline), only under strokes that cross it.
BRIDGE_LONG_PX, BRIDGE_NARROW_PX = 29, 11
EDGE_INK_PX = 3  # dark pixels on a cut box's edge that mean writing runs over it
EDGE_LEVEL = 128
SPECK_PIXELS = 12
MAX_INK_LEVEL = 180
# The reference page in its own frame: template pixels are its pixels.
_MASK_CACHE_SIZE = 512
_masks: OrderedDict[tuple[int, Box, int, int], tuple[Grey, np.ndarray | None]] = OrderedDict()
ON_REFERENCE = Alignment(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 0, 0, 1.0, 0.0, True)


@dataclass(frozen=True)
class Ink:
    """A box's writing cut tight (None: blank), and whether it ran over a
    printed line or past the cut box's edge."""

    image: Grey | None
    over_line: bool = False


def printed_mask(reference: Grey, box: Box, dropout_px: int, level: int) -> np.ndarray | None:
    """The blank form's ink inside ``box`` at OCR resolution, widened by
    ``dropout_px`` (alignment and blur), or None when there is none.

    The same for every page of a batch, so kept per reference page and box:
    cutting and dilating it again was 2–3 % of a printed page's CPU time on
    a form with digit-box rows (a mask per box)."""
    key = (id(reference), box, dropout_px, level)
    found = _masks.get(key)
    if found is not None and found[0] is reference:
        _masks.move_to_end(key)
        return found[1]
    printed = warp_box(reference, ON_REFERENCE, box, dpi=OCR_DPI) < level
    mask = None
    if printed.any():
        kernel = np.ones((2 * dropout_px + 1, 2 * dropout_px + 1), np.uint8)
        mask = np.asarray(cv2.dilate(printed.view(np.uint8), kernel) > 0)
        mask.flags.writeable = False  # shared by every page
    # The reference itself is kept with its masks, so its id is not reused.
    _masks[key] = (reference, mask)
    if len(_masks) > _MASK_CACHE_SIZE:
        _masks.popitem(last=False)
    return mask


def reaches_edge(crop: Grey) -> bool:
    """Whether dark pixels lie on the crop's border (the printed lines
    already whitened): writing that runs over the cut box's edge."""
    border = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    return int(np.count_nonzero(border < EDGE_LEVEL)) >= EDGE_INK_PX


def grown(box: Box, grow_x_mm: float) -> Box:
    return Box(
        max(0.0, box.x - grow_x_mm), max(0.0, box.y - GROW_Y_MM), box.w + 2 * grow_x_mm, box.h + 2 * GROW_Y_MM
    )


def crossing_ink(
    image: Grey,
    alignment: Alignment,
    box: Box,
    reference: Grey | None,
    *,
    grow_x_mm: float,
    dropout_px: int,
    printed_level: int,
) -> Ink:
    """The writing reaching into ``box``, cut from a larger crop with the
    strokes that cross printed lines kept (see the module docstring); the
    result is tight, without margins."""
    big = grown(box, grow_x_mm)
    crop = warp_box(image, alignment, big, dpi=OCR_DPI)
    mask = printed_mask(reference, big, dropout_px, printed_level) if reference is not None else None
    if mask is None:
        mask = np.zeros(crop.shape, dtype=bool)
    whitened = crop.copy()
    whitened[mask] = 255
    if int(whitened.min()) > 150:
        return Ink(None)
    threshold, _ = cv2.threshold(whitened, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    dark = crop < min(threshold, MAX_INK_LEVEL)
    writing = dark & ~mask
    bridge = mask & dark & _closed(writing)
    strokes = writing | bridge
    count, labels, stats, _ = cv2.connectedComponentsWithStats(strokes.view(np.uint8), connectivity=8)
    inner = _inner_rect(big, box, crop.shape)
    bridged = np.bincount(labels[bridge], minlength=count) > 0
    keep = _kept(stats, inner, crop.shape, bridged)
    if not keep.any():
        return Ink(None)
    kept_pixels = keep[labels]
    over = bool((bridge & kept_pixels).any()) or _touches(kept_pixels, mask) or _outside(stats[keep], inner)
    x, y, w, h = (stats[keep, i] for i in range(4))
    left, top, right, bottom = int(x.min()), int(y.min()), int((x + w).max()), int((y + h).max())
    tight = crop[top:bottom, left:right].copy()
    # Whiten what is not writing: the blank's own pixels (not the bridges)
    # and dropped pieces; the grey around kept strokes stays for the engines.
    sub = labels[top:bottom, left:right]
    drop = ((sub > 0) & ~kept_pixels[top:bottom, left:right]) | (
        mask[top:bottom, left:right] & ~strokes[top:bottom, left:right]
    )
    tight[drop] = 255
    return Ink(tight, over)


def _closed(writing: np.ndarray) -> np.ndarray:
    """Gaps across horizontal lines (tall kernel) and vertical ones (wide kernel) filled."""
    out = np.zeros(writing.shape, dtype=bool)
    for size in ((BRIDGE_NARROW_PX, BRIDGE_LONG_PX), (BRIDGE_LONG_PX, BRIDGE_NARROW_PX)):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, size)
        out |= cv2.morphologyEx(writing.view(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    return out


def _inner_rect(big: Box, box: Box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``box`` in the pixels of the crop cut for ``big``: left, top, right, bottom."""
    per_mm = OCR_DPI / MM_PER_INCH
    left, top = round((box.x - big.x) * per_mm), round((box.y - big.y) * per_mm)
    right = min(shape[1], left + round(box.w * per_mm))
    bottom = min(shape[0], top + round(box.h * per_mm))
    return left, top, right, bottom


def _kept(
    stats: np.ndarray, inner: tuple[int, int, int, int], shape: tuple[int, ...], bridged: np.ndarray
) -> np.ndarray:
    """Pieces of writing that reach into the box; not specks, and not
    straight lines whose middle lies outside it (what alignment error left
    of the box's own lines; writing joined across a line is not one)."""
    x, y, w, h, area = (stats[:, i] for i in range(5))
    left, top, right, bottom = inner
    reaches_in = (x < right) & (x + w > left) & (y < bottom) & (y + h > top)
    cx, cy = x + w / 2, y + h / 2
    middle_out = (cx < left) | (cx > right) | (cy < top) | (cy > bottom)
    line_like = np.maximum(w, h) >= 5 * np.maximum(1, np.minimum(w, h))
    on_edge = (x == 0) | (y == 0) | (x + w >= shape[1]) | (y + h >= shape[0])
    small = area < SPECK_PIXELS
    residual = line_like & middle_out & ~bridged
    keep = reaches_in & ~small & ~residual & ~(on_edge & (area < 4 * SPECK_PIXELS))
    keep[0] = False  # the background
    return np.asarray(keep, dtype=bool)


def _touches(kept_pixels: np.ndarray, mask: np.ndarray) -> bool:
    """Whether kept writing borders on a removed printed line."""
    if not mask.any():
        return False
    near = cv2.dilate(kept_pixels.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return bool((near & mask).any())


def _outside(stats: np.ndarray, inner: tuple[int, int, int, int]) -> bool:
    left, top, right, bottom = inner
    x, y, w, h = (stats[:, i] for i in range(4))
    return bool(((x < left) | (y < top) | (x + w > right) | (y + h > bottom)).any())
