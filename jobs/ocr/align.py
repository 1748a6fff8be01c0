"""Aligning a page to its template's reference page, coarse then fine (OpenCV).

1. Coarse: ORB features of the page binned to ~COARSE_DPI are matched against
   the reference page's, and a similarity fit with RANSAC finds the rotation
   (any angle, upside-down included), shift and scale to within a millimetre
   or so. At that resolution a page has few features and matching them is
   cheap; matching thousands of features at full resolution was most of the
   time a form took. When this fails, it is tried once more with the
   features spread over the page (``orb_features(spread=True)``): bold
   handwriting over the lines can otherwise take the whole budget.
2. Fine: anchor patches of the printed form (see ``jobs.ocr.anchors``) are
   looked for, by normalised cross-correlation, only in a small window around
   where the coarse fit puts them, at ALIGN_DPI; a full affine fitted with
   RANSAC to their sub-pixel positions is the alignment.

Everything the reference page contributes is computed once per template
digest and page and kept in this process. Too few coarse inliers, too few
anchors that agree, or an implausible scale means the page is another form:
the caller flags it ``template_mismatch`` instead of reading garbage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from jobs.ocr.anchors import PATCH, SEARCH, Reference, bin_image, orb_features, reference_for
from jobs.ocr.pages import ALIGN_DPI, MM_PER_INCH, OCR_DPI, Grey
from jobs.ocr.template import Box, Template

Matrix = npt.NDArray[np.float64]
Points = npt.NDArray[np.float32]
COARSE_DPI = 50.0
RATIO = 0.8
COARSE_TOLERANCE_PX = 2.0  # RANSAC threshold, in coarse pixels (1 mm at 50 dpi)
MIN_COARSE_INLIERS = 12
# A patch counts when it correlates at least this well with the page, and
# agrees with the affine fit within FINE_TOLERANCE_PX (ALIGN_DPI pixels).
MIN_CORRELATION = 0.5
FINE_TOLERANCE_PX = 1.0
MIN_ANCHOR_INLIERS = 12
MIN_ANCHOR_SHARE = 0.5
SCALE_RANGE = (0.85, 1.15)


@dataclass(frozen=True)
class Alignment:
    """``matrix`` maps reference pixels (ALIGN_DPI) to page-image pixels.
    ``inliers`` are the anchor patches that agree with it, of ``matches``
    found on the page (coarse feature counts when the coarse fit failed)."""

    matrix: Matrix
    inliers: int
    matches: int
    scale: float
    rotation_deg: float
    ok: bool

    @property
    def score(self) -> float:
        """How well the page fits: inliers (the count that separates forms)."""
        return float(self.inliers) if self.ok else 0.0


FAILED = Alignment(np.eye(2, 3), 0, 0, 0.0, 0.0, False)


def page_dpi(image: Grey, dpi: float | None, template: Template) -> float:
    """The page image's resolution. When the file does not state it, the
    long side is taken to be the page's."""
    if dpi is None:
        long_mm = max(template.width_mm, template.height_mm)
        return float(max(image.shape)) / long_mm * MM_PER_INCH
    return dpi


def align(image: Grey, dpi: float | None, template: Template, page: int = 1) -> Alignment:
    """Fit the page image onto the template's reference ``page``. A file
    whose stated resolution is wrong (72 dpi headers are common) is tried
    again with the resolution the page size implies."""
    reference = reference_for(template, page, COARSE_DPI)
    found = _align_at(image, page_dpi(image, dpi, template), reference)
    if dpi is not None and not found.ok:
        implied = page_dpi(image, None, template)
        if not SCALE_RANGE[0] <= implied / dpi <= SCALE_RANGE[1]:
            return _align_at(image, implied, reference)
    return found


def _align_at(image: Grey, dpi: float, reference: Reference) -> Alignment:
    # Pixels are averaged in whole blocks, first to about ALIGN_DPI for the
    # anchors (keeping scanner noise and aliasing out of the correlation),
    # then from there to about COARSE_DPI: exact pixel centres, fast INTER_AREA.
    work_step = max(1, math.floor(dpi / ALIGN_DPI + 0.1))
    work = bin_image(image, work_step)
    small, to_work = _shrink(work, dpi / work_step)
    found = _fit(work, work_step, small, to_work * work_step, dpi, reference, spread=False)
    if found.ok:
        return found
    # Writing large and dark enough to take the page-wide feature budget
    # (a form filled in over its lines) leaves the coarse fit too few of the
    # printed form's features: once more with the budget spread over the
    # page. The anchors still decide, so another form gains nothing by it.
    retried = _fit(work, work_step, small, to_work * work_step, dpi, reference, spread=True)
    return retried if retried.ok or retried.inliers > found.inliers else found


def _fit(
    work: Grey, work_step: int, small: Grey, step: float, dpi: float, reference: Reference, *, spread: bool
) -> Alignment:
    """Coarse then fine, from the page at ALIGN_DPI (``work``) and at
    COARSE_DPI (``small``, ``step`` page pixels per pixel)."""
    coarse, inliers, matches = _coarse(small, step, reference, spread=spread)
    if coarse is None or inliers < MIN_COARSE_INLIERS:
        return Alignment(np.eye(2, 3), inliers, matches, 0.0, 0.0, False)
    if not _plausible_scale(coarse, dpi):
        return _describe(coarse, dpi, inliers, matches, ok=False)
    fine, agreeing, found = _refine(work, work_step, coarse, reference)
    if fine is None:
        return _describe(coarse, dpi, agreeing, found, ok=False)
    needed = max(MIN_ANCHOR_INLIERS, MIN_ANCHOR_SHARE * len(reference.anchors))
    return _describe(fine, dpi, agreeing, found, ok=agreeing >= needed and _plausible_scale(fine, dpi))


def _shrink(work: Grey, dpi: float) -> tuple[Grey, float]:
    """The page at about COARSE_DPI, and its pixel size in ``work`` pixels:
    binned by a whole factor, or resized when no factor comes within 10 %
    (a low-resolution page)."""
    step = max(1, round(dpi / COARSE_DPI))
    if abs(dpi / step / COARSE_DPI - 1) <= 0.1:
        return bin_image(work, step), float(step)
    factor = COARSE_DPI / dpi
    size = (max(1, round(work.shape[1] * factor)), max(1, round(work.shape[0] * factor)))
    small = np.asarray(cv2.resize(work, size, interpolation=cv2.INTER_AREA), np.uint8)
    return small, work.shape[1] / size[0]


def _coarse(
    small: Grey, step: float, reference: Reference, *, spread: bool
) -> tuple[Matrix | None, int, int]:
    """Similarity from reference pixels to page pixels, from ORB features of
    the page shrunk by ``step``: (matrix, inliers, matches)."""
    points, descriptors = orb_features(small, spread=spread)
    if reference.descriptors is None or descriptors is None or len(points) < MIN_COARSE_INLIERS:
        return None, 0, 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(reference.descriptors, descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_COARSE_INLIERS:
        return None, 0, len(good)
    src = reference.points[[m.queryIdx for m in good]]
    # A binned pixel's centre in the page image's own pixel coordinates.
    dst = points[[m.trainIdx for m in good]] * step + (step - 1) / 2
    matrix, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=COARSE_TOLERANCE_PX * step,
        maxIters=2000,
        confidence=0.995,
    )
    if matrix is None:
        return None, 0, len(good)
    return np.asarray(matrix, np.float64), int(mask.sum()), len(good)


def _refine(work: Grey, step: int, coarse: Matrix, reference: Reference) -> tuple[Matrix | None, int, int]:
    """The coarse fit corrected by where the anchor patches really are, on
    the page binned by ``step``: (affine, anchors agreeing, anchors found)."""
    to_work: Matrix = coarse.copy()
    to_work[:, 2] -= (step - 1) / 2
    to_work /= step
    ref_pts, page_pts = _track(work, to_work, reference)
    if len(ref_pts) < 3:
        return None, 0, len(ref_pts)
    residual, mask = cv2.estimateAffine2D(
        ref_pts, page_pts, method=cv2.RANSAC, ransacReprojThreshold=FINE_TOLERANCE_PX, confidence=0.999
    )
    if residual is None:
        return None, 0, len(ref_pts)
    return _compose(coarse, np.asarray(residual, np.float64)), int(mask.sum()), len(ref_pts)


def _track(work: Grey, to_work: Matrix, reference: Reference) -> tuple[Points, Points]:
    """Each anchor's position on the page, in the reference frame as the
    coarse fit sees it; anchors without a clear correlation peak are left out."""
    size = PATCH + 2 * SEARCH
    origins = np.asarray(reference.anchors, np.float64).reshape(-1, 2) - SEARCH
    # The window around each anchor, mapped into the page: one matrix each,
    # differing only in the shift.
    matrix: Matrix = to_work.copy()
    shifts = origins @ to_work[:, :2].T + to_work[:, 2]
    found: list[int] = []
    peaks: list[tuple[float, float]] = []
    for i, patch in enumerate(reference.patches):
        matrix[:, 2] = shifts[i]
        window = cv2.warpAffine(
            work, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=255
        )
        peak = _subpixel_peak(cv2.matchTemplate(window, patch, cv2.TM_CCOEFF_NORMED))
        if peak is not None:
            found.append(i)
            peaks.append(peak)
    centre = (PATCH - 1) / 2
    ref_pts = origins[found] + SEARCH + centre
    page_pts = origins[found] + np.asarray(peaks, np.float64).reshape(-1, 2) + centre
    return ref_pts.astype(np.float32), page_pts.astype(np.float32)


def _subpixel_peak(scores: Any) -> tuple[float, float] | None:
    """The correlation maximum, refined by a parabola through its
    neighbours; None when it is weak or on the window's edge (the patch
    may lie further out than the search reaches)."""
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    height, width = scores.shape
    if best < MIN_CORRELATION or not (0 < x < width - 1 and 0 < y < height - 1):
        return None

    def offset(before: float, centre: float, after: float) -> float:
        curve = before - 2 * centre + after
        return 0.0 if curve >= 0 else 0.5 * (before - after) / curve

    dx = offset(scores[y, x - 1], scores[y, x], scores[y, x + 1])
    dy = offset(scores[y - 1, x], scores[y, x], scores[y + 1, x])
    return x + dx, y + dy


def _compose(outer: Matrix, inner: Matrix) -> Matrix:
    """The 2×3 affine that applies ``inner`` first, then ``outer``."""
    linear = outer[:, :2] @ inner[:, :2]
    shift = outer[:, :2] @ inner[:, 2] + outer[:, 2]
    return np.hstack([linear, shift[:, None]])


def _plausible_scale(matrix: Matrix, dpi: float) -> bool:
    return SCALE_RANGE[0] <= _scale(matrix, dpi) <= SCALE_RANGE[1]


def _scale(matrix: Matrix, dpi: float) -> float:
    """Size of the page relative to the template's (1.0: the same)."""
    return math.sqrt(abs(float(np.linalg.det(matrix[:, :2])))) * ALIGN_DPI / dpi


def _describe(matrix: Matrix, dpi: float, inliers: int, matches: int, *, ok: bool) -> Alignment:
    rotation = math.degrees(math.atan2(float(matrix[1, 0]), float(matrix[0, 0])))
    return Alignment(matrix, inliers, matches, _scale(matrix, dpi), rotation, ok)


def is_identity(alignment: Alignment, page_dpi: float, tolerance_mm: float = 1.0) -> bool:
    """True when the page already sits where the template says (a PDF made
    from the form itself): its text layer can be read at the template's boxes."""
    m = alignment.matrix
    shift_mm = float(np.hypot(m[0, 2], m[1, 2])) / page_dpi * MM_PER_INCH
    return (
        alignment.ok
        and abs(alignment.scale - 1.0) < 0.01
        and abs(alignment.rotation_deg) < 0.3
        and shift_mm < tolerance_mm
    )


def warp_box(image: Grey, alignment: Alignment, box: Box, dpi: float = OCR_DPI) -> Grey:
    """The box, cut from the page and straightened, at ``dpi`` in the
    reference frame (a rotated or shifted scan comes out upright)."""
    per_mm_ref = ALIGN_DPI / MM_PER_INCH
    step = ALIGN_DPI / dpi
    # Pixel centres: output pixel i covers [i, i + 1) output pixels from the
    # box's corner, and reference pixel j has its centre at j + 0.5 reference
    # pixels from the page's corner (a quarter-pixel shift at 300 dpi otherwise).
    x0 = box.x * per_mm_ref + 0.5 * step - 0.5
    y0 = box.y * per_mm_ref + 0.5 * step - 0.5
    out_to_ref: Matrix = np.array([[step, 0.0, x0], [0.0, step, y0]])
    size = (max(1, round(box.w / MM_PER_INCH * dpi)), max(1, round(box.h / MM_PER_INCH * dpi)))
    warped = cv2.warpAffine(
        image,
        _compose(alignment.matrix, out_to_ref),
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=255,
    )
    return np.asarray(warped, dtype=np.uint8)
