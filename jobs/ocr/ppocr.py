"""The second recognition engine: PP-OCR (RapidOCR on ONNX Runtime, CPU).

The detection and recognition models and the recognition dictionary (kana,
kanji incl. variants such as 髙 and 齋, 〒, 円) come inside the ``rapidocr``
wheel; the engine is pointed at those files, so nothing is ever fetched
(RapidOCR's default config would download a model it does not find). One
engine per process, created on first use; ONNX Runtime runs one intra-op and
one inter-op thread, like tesseract under ``OMP_THREAD_LIMIT=1``: a worker's
processes share the cores, each runs its forms one crop batch at a time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from jobs.ocr.pages import Grey

log = logging.getLogger(__name__)
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
THREADS = 1
# Recognition reads lines 48 px high; crops are batched in this many.
BATCH = 1
_engine: list[Any] = []
_lock = threading.Lock()


@dataclass(frozen=True)
class Reading:
    """One engine's text for one crop, confidence 0–100."""

    text: str
    confidence: float


def models_dir() -> Path:
    """The ONNX models shipped in the rapidocr wheel."""
    import rapidocr

    return Path(rapidocr.__file__).parent / "models"


def _params(folder: Path) -> dict[str, Any]:
    return {
        "Global.log_level": "warning",
        "Global.use_cls": False,
        "Global.model_root_dir": str(folder),
        "EngineConfig.onnxruntime.intra_op_num_threads": THREADS,
        "EngineConfig.onnxruntime.inter_op_num_threads": THREADS,
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
        "Det.model_path": str(folder / DET_MODEL),  # never loaded: boxes are cut by the template
        "Rec.model_path": str(folder / REC_MODEL),
        "Rec.rec_batch_num": BATCH,
        # Lines are padded to at least this width: 160 instead of RapidOCR's
        # 320 read the test crops the same in 30 % less time.
        "Rec.rec_img_shape": [3, 48, 160],
    }


def engine() -> Any:
    """The process's RapidOCR object (created once, lazily)."""
    if not _engine:
        with _lock:
            if not _engine:
                from rapidocr import RapidOCR

                folder = models_dir()
                for name in (REC_MODEL,):
                    if not (folder / name).is_file():  # pragma: no cover - the wheel carries them
                        raise FileNotFoundError(f"PP-OCR model missing from the rapidocr wheel: {name}")
                ocr = RapidOCR(params=_params(folder))
                logging.getLogger("RapidOCR").setLevel(logging.WARNING)
                _engine.append(ocr)
    return _engine[0]


def _bgr(image: Grey) -> np.ndarray:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))


def recognise_lines(images: list[Grey]) -> list[Reading]:
    """Each crop read as one line, in batches (no detection step)."""
    if not images:
        return []
    ocr = engine()
    with _lock:
        recogniser = ocr._load_rec_model()  # the batch API of the pinned 3.x
        from rapidocr.ch_ppocr_rec import TextRecInput

        out = recogniser(TextRecInput(img=[_bgr(i) for i in images]))
    return [Reading(str(t).strip(), float(s) * 100) for t, s in zip(out.txts, out.scores, strict=True)]


def engine_name() -> str:
    from importlib.metadata import version

    return f"rapidocr {version('rapidocr')}"
