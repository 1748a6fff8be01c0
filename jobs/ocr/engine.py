"""Tesseract, one reused API object per language per process.

tesserocr keeps the model loaded between fields (loading ``jpn`` costs
~0.3 s); pytesseract starts a process per call and was 8× slower, so it is
only the fallback when tesserocr cannot be imported. ``OMP_THREAD_LIMIT=1``
is set before tesseract is loaded: its own OpenMP threads made pages 2–30×
slower when several workers share the cores.

tesserocr is handed each line already scaled to LINE_HEIGHT, the height the
LSTM models read lines at: tesseract would scale it there itself, after
thresholding and outlining about four times the pixels.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from jobs.ocr.pages import OCR_DPI, Grey

log = logging.getLogger(__name__)
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)
# The input height of the LSTM models ("[1,36,0,1 Ct3,3,16 ..." in Debian's
# eng and jpn data, and in tessdata_best/fast); a model with another height
# still gets its own scaling from tesseract.
LINE_HEIGHT = 36
_apis: dict[str, Any] = {}
_lock = threading.Lock()
_backend: list[Any] = []


def tessdata_dir(configured: str | None = None) -> str:
    """Where the ``*.traineddata`` files are: the setting, TESSDATA_PREFIX,
    or Debian's folder. The tesserocr wheel bundles no language data."""
    candidates: Iterable[str | None] = (configured, os.environ.get("TESSDATA_PREFIX"), *TESSDATA_DIRS)
    for folder in candidates:
        if folder and Path(folder, "jpn.traineddata").is_file():
            return str(folder)
    for folder in candidates:
        if folder and Path(folder).is_dir():
            return str(folder)
    return TESSDATA_DIRS[0]


def backend() -> Any:
    """The tesserocr module, or None when only pytesseract can be used."""
    if not _backend:
        # Must precede the first import: libgomp reads it when it is loaded.
        # Restored afterwards: the same limit in CTranslate2's OpenMP runtime
        # (initialised later, in a process that also transcribes) made Whisper
        # return no segments at all.
        previous = os.environ.get("OMP_THREAD_LIMIT")
        os.environ["OMP_THREAD_LIMIT"] = "1"
        try:
            import tesserocr
        except ImportError as exc:  # pragma: no cover - the wheel is a dependency
            log.warning("tesserocr unavailable (%s); falling back to pytesseract", exc)
            _backend.append(None)
        else:
            _backend.append(tesserocr)
        finally:
            if previous is None:
                os.environ.pop("OMP_THREAD_LIMIT", None)
            else:
                os.environ["OMP_THREAD_LIMIT"] = previous
    return _backend[0]


def _api(tesserocr: Any, lang: str, tessdata: str) -> Any:
    api = _apis.get(lang)
    if api is None:
        # RAW_LINE, not SINGLE_LINE: the field is already one cropped line, and
        # the bundled tesseract 5.5's line finder returned nothing for some
        # bold Japanese crops that RAW_LINE reads at confidence 90+.
        api = tesserocr.PyTessBaseAPI(
            path=tessdata, lang=lang, psm=tesserocr.PSM.RAW_LINE, oem=tesserocr.OEM.LSTM_ONLY
        )
        _apis[lang] = api
    return api


def to_line_height(image: Grey) -> tuple[Grey, float]:
    """The line scaled down to LINE_HEIGHT (area averaging, so the strokes'
    edges turn grey as in tesseract's own scaling), and its resolution.
    On the benchmark's fields tesseract reads exactly the same text from
    it, in about 14 % less time."""
    height, width = image.shape
    if height <= LINE_HEIGHT:
        return image, OCR_DPI
    factor = LINE_HEIGHT / height
    size = (max(1, round(width * factor)), LINE_HEIGHT)
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8), OCR_DPI * factor


def _with_tesserocr(
    tesserocr: Any, image: Grey, lang: str, whitelist: str, tessdata: str
) -> tuple[str, float]:
    api = _api(tesserocr, lang, tessdata)
    line, dpi = to_line_height(image)
    height, width = line.shape
    api.SetVariable("tessedit_char_whitelist", whitelist)
    api.SetImageBytes(line.tobytes(), width, height, 1, width)
    api.SetSourceResolution(round(dpi))
    text = api.GetUTF8Text()
    confidences = api.AllWordConfidences()
    api.Clear()
    return str(text), float(min(confidences)) if confidences else 0.0


def _with_pytesseract(image: Grey, lang: str, whitelist: str, tessdata: str) -> tuple[str, float]:
    import pytesseract
    from PIL import Image

    config = f"--psm 13 --oem 1 --tessdata-dir {tessdata}"
    if whitelist:
        config += f" -c tessedit_char_whitelist={whitelist}"
    data = pytesseract.image_to_data(
        Image.fromarray(image), lang=lang, config=config, output_type=pytesseract.Output.DICT
    )
    words = [(w, float(c)) for w, c in zip(data["text"], data["conf"], strict=False) if w.strip()]
    text = " ".join(w for w, _ in words)
    return text, min((c for _, c in words), default=0.0)


def recognise(image: Grey, lang: str, whitelist: str = "", tessdata: str | None = None) -> tuple[str, float]:
    """One line of text and its lowest word confidence (0–100)."""
    folder = tessdata_dir(tessdata)
    tesserocr = backend()
    with _lock:
        if tesserocr is None:
            return _with_pytesseract(image, lang, whitelist, folder)
        return _with_tesserocr(tesserocr, image, lang, whitelist, folder)


def engine_name() -> str:
    tesserocr = backend()
    return f"tesserocr {tesserocr.tesseract_version().split()[1]}" if tesserocr else "pytesseract"
