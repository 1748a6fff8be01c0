"""Aligning a page to its template's reference page: ORB features and a
similarity fit (OpenCV), refined to a full affine on the inliers.

Both images are compared at ALIGN_DPI, which is plenty for a form's lines
and labels and keeps a page under ~0.1 s. The reference keypoints are
computed once per template digest and page and kept in this process.
Too few inliers or an implausible scale means the page is another form:
the caller flags it ``template_mismatch`` instead of reading garbage.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from jobs.ocr.pages import ALIGN_DPI, MM_PER_INCH, OCR_DPI, Grey
from jobs.ocr.template import Box, Template

Matrix = npt.NDArray[np.float64]
ORB_FEATURES = 4000
RATIO = 0.75
MIN_INLIERS = 40
MIN_INLIER_SHARE = 0.25
SCALE_RANGE = (0.85, 1.15)
_CACHE_SIZE = 16
_reference_cache: OrderedDict[tuple[str, int], tuple[Any, Any]] = OrderedDict()


@dataclass(frozen=True)
class Alignment:
    """``matrix`` maps reference pixels (ALIGN_DPI) to page-image pixels."""

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


def _orb() -> Any:
    return cv2.ORB.create(nfeatures=ORB_FEATURES, scaleFactor=1.2, nlevels=8, fastThreshold=10)


def _features(image: Grey) -> tuple[Any, Any]:
    keypoints, descriptors = _orb().detectAndCompute(image, None)
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return points, descriptors


def reference_features(template: Template, page: int) -> tuple[Any, Any]:
    """Keypoints of the reference page, cached per template digest and page."""
    key = (template.digest, page)
    if key in _reference_cache:
        _reference_cache.move_to_end(key)
        return _reference_cache[key]
    found = _features(template.reference(page))
    _reference_cache[key] = found
    if len(_reference_cache) > _CACHE_SIZE:
        _reference_cache.popitem(last=False)
    return found


def page_scale(image: Grey, dpi: float | None, template: Template) -> float:
    """Factor that brings the page image to ALIGN_DPI. When the file does
    not state its resolution, the long side is taken to be the page's."""
    if dpi is None:
        long_mm = max(template.width_mm, template.height_mm)
        dpi = max(image.shape) / long_mm * MM_PER_INCH
    return ALIGN_DPI / dpi


def _fit(ref_pts: Any, page_pts: Any) -> tuple[Matrix | None, int]:
    similarity, mask = cv2.estimateAffinePartial2D(
        ref_pts, page_pts, method=cv2.RANSAC, ransacReprojThreshold=3.0, maxIters=3000, confidence=0.995
    )
    if similarity is None:
        return None, 0
    keep = mask.ravel().astype(bool)
    # Scans stretch a little differently across and along the feed: a full
    # affine on the inliers takes that up without RANSAC's outliers.
    refined, _ = cv2.estimateAffine2D(ref_pts[keep], page_pts[keep], method=cv2.LMEDS)
    matrix: Matrix = refined if refined is not None else similarity
    return matrix, int(keep.sum())


def _describe(matrix: Matrix, inliers: int, matches: int, factor: float) -> Alignment:
    scale = math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
    rotation = math.degrees(math.atan2(float(matrix[1, 0]), float(matrix[0, 0])))
    ok = (
        inliers >= MIN_INLIERS
        and inliers >= MIN_INLIER_SHARE * matches
        and SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]
    )
    # From the downscaled page back to the page image's own pixels.
    full: Matrix = matrix / factor
    return Alignment(full, inliers, matches, scale, rotation, ok)


def align(image: Grey, dpi: float | None, template: Template, page: int = 1) -> Alignment:
    """Fit the page image onto the template's reference ``page``. A file
    whose stated resolution is wrong (72 dpi headers are common) is tried
    again with the resolution the page size implies."""
    found = _align_at(image, dpi, template, page)
    if dpi is not None and not found.ok and found.inliers >= MIN_INLIERS:
        return _align_at(image, None, template, page)
    return found


def _align_at(image: Grey, dpi: float | None, template: Template, page: int) -> Alignment:
    factor = page_scale(image, dpi, template)
    small = image
    if factor < 1:
        small = np.asarray(
            cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), np.uint8
        )
    else:
        factor = 1.0  # never upsample a low-resolution page
    ref_pts, ref_desc = reference_features(template, page)
    page_pts, page_desc = _features(small)
    if ref_desc is None or page_desc is None or len(page_pts) < MIN_INLIERS:
        return FAILED
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ref_desc, page_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return Alignment(np.eye(2, 3), 0, len(good), 0.0, 0.0, False)
    src = ref_pts[[m.queryIdx for m in good]]
    dst = page_pts[[m.trainIdx for m in good]]
    matrix, inliers = _fit(src, dst)
    if matrix is None:
        return Alignment(np.eye(2, 3), 0, len(good), 0.0, 0.0, False)
    return _describe(matrix, inliers, len(good), factor)


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
    out_to_ref: Matrix = np.array([[step, 0.0, box.x * per_mm_ref], [0.0, step, box.y * per_mm_ref]])
    a = alignment.matrix
    composed: Matrix = np.hstack(
        [a[:, :2] @ out_to_ref[:, :2], (a[:, :2] @ out_to_ref[:, 2] + a[:, 2])[:, None]]
    )
    size = (max(1, round(box.w / MM_PER_INCH * dpi)), max(1, round(box.h / MM_PER_INCH * dpi)))
    warped = cv2.warpAffine(
        image,
        composed,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=255,
    )
    return np.asarray(warped, dtype=np.uint8)
