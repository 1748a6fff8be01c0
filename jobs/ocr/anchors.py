"""What alignment needs of a template's reference page, computed once per
template digest and page and kept in this process.

- ORB features of the page binned to the coarse resolution, for the coarse fit.
- Anchor patches at ALIGN_DPI for the fine fit: small squares of the printed
  form (labels, titles, notes, rules) that have structure in both directions
  and do not look like anything else within the search window, so a
  correlation peak there can only be the right place. Patches touching a
  field are avoided while there are enough others: on a filled form the
  field holds what someone wrote, which the blank reference does not show.
  The strongest patch of each grid cell is kept, so anchors cover the page
  and the affine fit is well conditioned.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from jobs.ocr.pages import ALIGN_DPI, MM_PER_INCH, Grey
from jobs.ocr.template import Template

ORB_FEATURES = 500
# The retry's budget (see ``jobs.ocr.align``): at most SPREAD_PER_CELL features
# in each cell of a SPREAD_CELLS × SPREAD_CELLS grid over the page.
SPREAD_CELLS = 8
SPREAD_PER_CELL = 32
PATCH = 24  # anchor side, ALIGN_DPI pixels (4 mm)
SEARCH = 8  # how far an anchor is looked for around the coarse position (1.4 mm)
MIN_CONTRAST = 25.0  # grey-level standard deviation of a usable patch
MAX_SELF_SIMILARITY = 0.7  # correlation with its own surroundings, off the centre
GRID_MM = 18.0
FIELD_MARGIN_MM = 0.5
MIN_CLEAN_ANCHORS = 24
_CACHE_SIZE = 16
_cache: OrderedDict[tuple[str, int, float], Reference] = OrderedDict()


@dataclass(frozen=True)
class Reference:
    """``points`` are the coarse features' centres in ALIGN_DPI pixels;
    ``anchors`` the top-left corners of ``patches`` (PATCH × PATCH)."""

    points: npt.NDArray[np.float32]
    descriptors: Any
    anchors: list[tuple[int, int]]
    patches: list[Grey]


def reference_for(template: Template, page: int, coarse_dpi: float) -> Reference:
    """The reference page's features and anchors, cached per template digest and page."""
    key = (template.digest, page, coarse_dpi)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    image = template.reference(page)
    step = max(1, round(ALIGN_DPI / coarse_dpi))
    points, descriptors = orb_features(bin_image(image, step))
    fields = [f.box for f in template.fields if f.page == page]
    per_mm = ALIGN_DPI / MM_PER_INCH
    boxes = [
        (
            (b.x + FIELD_MARGIN_MM) * per_mm,
            (b.y + FIELD_MARGIN_MM) * per_mm,
            (b.x + b.w - FIELD_MARGIN_MM) * per_mm,
            (b.y + b.h - FIELD_MARGIN_MM) * per_mm,
        )
        for b in fields
    ]
    anchors = select_anchors(image, boxes)
    found = Reference(
        points * step + (step - 1) / 2,
        descriptors,
        anchors,
        [np.ascontiguousarray(image[y : y + PATCH, x : x + PATCH]) for x, y in anchors],
    )
    _cache[key] = found
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return found


def bin_image(image: Grey, step: int) -> Grey:
    """The image shrunk by a whole factor, each pixel the mean of a
    ``step`` × ``step`` block (the fast INTER_AREA path); the last partial
    row and column of blocks are dropped, so pixel centres stay exact."""
    if step <= 1:
        return image
    height, width = image.shape[0] // step, image.shape[1] // step
    cropped = image[: height * step, : width * step]
    return np.asarray(cv2.resize(cropped, (width, height), interpolation=cv2.INTER_AREA), np.uint8)


def orb_features(image: Grey, *, spread: bool = False) -> tuple[npt.NDArray[np.float32], Any]:
    """ORB keypoints (their centres, as an n × 2 array) and descriptors.

    One pyramid level: the page was brought to the reference's resolution
    first, so only rotation needs the descriptors' invariance (a wrong
    resolution header is retried by the caller), and every feature of the
    budget lands where the reference's are. Small patches suit a page at
    ~50 dpi, where a label is a few pixels high.

    ``spread``: the strongest features of each grid cell instead of the
    strongest of the page. Large, dark handwriting has stronger corners than
    small printed labels and can take the whole page-wide budget, leaving
    none of the features the reference has; capped per cell, the cells
    holding only print keep theirs."""
    budget = SPREAD_CELLS * SPREAD_CELLS * SPREAD_PER_CELL if spread else ORB_FEATURES
    orb = cv2.ORB.create(nfeatures=budget, nlevels=1, edgeThreshold=15, patchSize=15, fastThreshold=10)
    if not spread:
        keypoints, descriptors = orb.detectAndCompute(image, None)
    else:
        orb.setMaxFeatures(1 << 20)
        keypoints, descriptors = orb.compute(image, _strongest_per_cell(orb.detect(image, None), image.shape))
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return points, descriptors


def _strongest_per_cell(keypoints: Any, shape: tuple[int, ...]) -> list[Any]:
    height, width = shape[:2]
    cells: dict[tuple[int, int], list[Any]] = {}
    for k in keypoints:
        key = (int(k.pt[0] * SPREAD_CELLS / width), int(k.pt[1] * SPREAD_CELLS / height))
        cells.setdefault(key, []).append(k)
    kept: list[Any] = []
    for cell in cells.values():
        kept += sorted(cell, key=lambda k: -k.response)[:SPREAD_PER_CELL]
    return kept


def select_anchors(image: Grey, fields: list[tuple[float, float, float, float]]) -> list[tuple[int, int]]:
    """Top-left corners of the anchor patches, at most one per grid cell."""
    corners = cv2.goodFeaturesToTrack(image, maxCorners=5000, qualityLevel=0.01, minDistance=4, blockSize=5)
    if corners is None:
        return []
    height, width = image.shape
    margin = SEARCH + 1
    clean: dict[tuple[int, int], tuple[int, int]] = {}
    touching: dict[tuple[int, int], tuple[int, int]] = {}
    cell = GRID_MM * ALIGN_DPI / MM_PER_INCH
    for cx, cy in corners.reshape(-1, 2):  # strongest first
        x, y = round(float(cx)) - PATCH // 2, round(float(cy)) - PATCH // 2
        if x < margin or y < margin or x + PATCH + margin > width or y + PATCH + margin > height:
            continue
        key = (int(cx // cell), int(cy // cell))
        chosen = touching if _touches(x, y, fields) else clean
        if key in chosen or not _distinct(image, x, y):
            continue
        chosen[key] = (x, y)
    anchors = list(clean.values())
    if len(anchors) < MIN_CLEAN_ANCHORS:
        anchors += [a for k, a in touching.items() if k not in clean]
    return anchors


def _touches(x: int, y: int, fields: list[tuple[float, float, float, float]]) -> bool:
    return any(x < x1 and x + PATCH > x0 and y < y1 and y + PATCH > y0 for x0, y0, x1, y1 in fields)


def _distinct(image: Grey, x: int, y: int) -> bool:
    """Contrast enough, and no other place within the search window (a rule
    running on, the same character again) that correlates nearly as well."""
    patch = image[y : y + PATCH, x : x + PATCH]
    if float(patch.std()) < MIN_CONTRAST:
        return False
    window = image[y - SEARCH - 1 : y + PATCH + SEARCH + 1, x - SEARCH - 1 : x + PATCH + SEARCH + 1]
    scores = cv2.matchTemplate(window, patch, cv2.TM_CCOEFF_NORMED)
    centre = SEARCH + 1
    scores[centre - 1 : centre + 2, centre - 1 : centre + 2] = -1.0
    return float(scores.max()) < MAX_SELF_SIMILARITY
