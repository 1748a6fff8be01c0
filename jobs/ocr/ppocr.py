"""The second recognition engine: PP-OCR's line recogniser on ONNX Runtime (CPU).

The recognition model and its dictionary (18,708 characters: kana, kanji
incl. variants such as 髙 and 齋, 〒, 円, and Chinese forms) come inside the
``rapidocr`` wheel; only its files are used, so nothing is ever fetched
(RapidOCR's default config would download a model it does not find). The
template cuts the boxes, so no detection model is loaded, and each crop is
read as one line: resized to 48 px high, CTC-decoded greedily, the
confidence the mean probability of the characters kept, as RapidOCR does.

The output layer is cut to the characters Japanese forms can hold (those
Windows' Shift_JIS, cp932, encodes: JIS X 0208 plus the NEC/IBM kanji such
as 髙; the dictionary has no 﨑). A Chinese form such as 们 can then never
be returned, and the layer that scored 18,710 classes per step (a sixth of
a line's time) scores 6,827. One engine per process, created on first use;
ONNX Runtime runs one intra-op and one inter-op thread, like tesseract under
``OMP_THREAD_LIMIT=1``: a worker's processes share the cores.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jobs.ocr.pages import Grey

REC_MODEL = "PP-OCRv6_rec_small.onnx"
THREADS = 1
HEIGHT = 48  # the model's input height
# Lines are padded to at least this width: 160 instead of RapidOCR's 320
# read the test crops the same in 30 % less time.
MIN_WIDTH = 160
# White columns added beside each crop (whose own are fields.PAD_X, 8 px):
# with 8 px PP-OCR read three handwritten lines of the first test form wrong
# at 97.5-98.5, above the bar for accepting it alone (区 as 區, バ as パ);
# with 12 it read them right or below the bar.
EXTRA_X = 4
_engine: list[Recogniser] = []
_lock = threading.Lock()


@dataclass(frozen=True)
class Reading:
    """One crop's text; confidence (the mean probability of its characters)
    and its least sure character's probability, 0–100."""

    text: str
    confidence: float
    weakest: float


@dataclass(frozen=True)
class Recogniser:
    session: object  # onnxruntime.InferenceSession
    input_name: str
    characters: tuple[str, ...]  # index 0 is CTC's blank


def models_dir() -> Path:
    """The ONNX models shipped in the rapidocr wheel (found without importing
    RapidOCR, which would load its whole pipeline)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:  # pragma: no cover - a dependency
        raise FileNotFoundError("the rapidocr package (which carries the PP-OCR models) is not installed")
    return Path(spec.origin).parent / "models"


def japanese_output(character: str) -> bool:
    """Whether a dictionary entry is a character Japanese forms can hold."""
    try:
        character.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


def _load(path: Path) -> Recogniser:
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(path))
    metadata = {p.key: p.value for p in model.metadata_props}
    # RapidOCR's order: blank, the dictionary, then a space.
    characters = ["", *metadata["character"].splitlines(), " "]
    keep = np.array([0] + [i for i, c in enumerate(characters) if i and japanese_output(c)])
    classes = len(characters)
    # The output projection's weight and bias are the initializers whose
    # last axis is the class count; the tensors after them declare it too.
    for tensor in model.graph.initializer:
        if tensor.dims and tensor.dims[-1] == classes:
            cut = np.take(numpy_helper.to_array(tensor), keep, axis=-1)
            tensor.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(cut), tensor.name))
    for info in (*model.graph.value_info, *model.graph.output):
        dims = info.type.tensor_type.shape.dim
        if dims and dims[-1].dim_value == classes:
            dims[-1].dim_value = len(keep)
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = THREADS
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return Recogniser(session, session.get_inputs()[0].name, tuple(characters[i] for i in keep))


def engine() -> Recogniser:
    """The process's recogniser (created once, lazily)."""
    if not _engine:
        with _lock:
            if not _engine:
                path = models_dir() / REC_MODEL
                if not path.is_file():  # pragma: no cover - the wheel carries it
                    raise FileNotFoundError(f"PP-OCR model missing from the rapidocr wheel: {REC_MODEL}")
                _engine.append(_load(path))
    return _engine[0]


def _input(image: Grey) -> np.ndarray:
    """RapidOCR's preprocessing (after EXTRA_X white columns each side):
    48 px high, at least MIN_WIDTH wide, scaled to -1..1 on three equal
    channels, padded with 0 on the right."""
    import cv2

    image = np.asarray(cv2.copyMakeBorder(image, 0, 0, EXTRA_X, EXTRA_X, cv2.BORDER_CONSTANT, value=255))
    height, width = image.shape
    ratio = width / height
    padded = max(MIN_WIDTH, int(HEIGHT * ratio))
    resized = min(padded, math.ceil(HEIGHT * ratio))
    line = cv2.resize(image, (resized, HEIGHT)).astype(np.float32) / 127.5 - 1.0
    batch = np.zeros((1, 3, HEIGHT, padded), np.float32)
    batch[0, :, :, :resized] = line
    return batch


def _decode(probabilities: np.ndarray, characters: tuple[str, ...]) -> Reading:
    """Greedy CTC: repeats merged, blanks dropped; confidence the mean
    probability of the characters kept."""
    best, score = probabilities.argmax(axis=1), probabilities.max(axis=1)
    kept = np.ones(len(best), dtype=bool)
    kept[1:] = best[1:] != best[:-1]
    kept &= best != 0
    text = "".join(characters[i] for i in best[kept])
    if not kept.any():
        return Reading(text.strip(), 0.0, 0.0)
    return Reading(text.strip(), float(score[kept].mean()) * 100, float(score[kept].min()) * 100)


def recognise_lines(images: list[Grey]) -> list[Reading]:
    """Each crop read as one line (no detection step)."""
    if not images:
        return []
    recogniser = engine()
    readings = []
    with _lock:
        for image in images:
            (out,) = recogniser.session.run(None, {recogniser.input_name: _input(image)})  # type: ignore[attr-defined]
            readings.append(_decode(out[0], recogniser.characters))
    return readings


def engine_name() -> str:
    from importlib.metadata import version

    return f"PP-OCRv6 small (rapidocr {version('rapidocr')} wheel), onnxruntime {version('onnxruntime')}"
