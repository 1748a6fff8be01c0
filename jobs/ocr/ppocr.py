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
from dataclasses import dataclass, replace
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


# Ink a character was dropped from (``_unread_ink``): runs of inked columns
# with at least INK_RUN_PIXELS dark pixels; each goes to the emitted
# character nearest it. A narrow character (NARROW) is one stroke group, so
# two runs near it mean one was read as nothing; a run farther than
# FAR_RUN ink heights from every character was read as nothing too.
INK_LEVEL = 128
INK_RUN_PIXELS = 15
NARROW = frozenset("0123456789-")
FAR_RUN = 1.0
# A run wider than this many ink heights per character emitted inside it
# holds a character that was not read (two fused: サトウミサキ read as サトウミサ).
WIDE_RUN = 1.5


@dataclass(frozen=True)
class Reading:
    """One crop's text; confidence (the mean probability of its characters),
    its least sure character's probability, 0–100, how many separate
    pieces of ink no character was read from, and the highest probability
    (0–100) a character the decoder passed over had (``_passed_over``)."""

    text: str
    confidence: float
    weakest: float
    unread_ink: int = 0
    passed_over: float = 0.0
    passed_over_digit: float = 0.0  # the same, digits only


@dataclass(frozen=True)
class Recogniser:
    session: object  # onnxruntime.InferenceSession
    input_name: str
    characters: tuple[str, ...]  # index 0 is CTC's blank, the last a space
    digits: tuple[int, ...] = ()  # the classes of 0-9


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
    kept = tuple(characters[i] for i in keep)
    digits = tuple(i for i, c in enumerate(kept) if len(c) == 1 and "0" <= c <= "9")
    return Recogniser(session, session.get_inputs()[0].name, kept, digits)


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
    resized = _resized_width(image, extra=0)
    line = cv2.resize(image, (resized, HEIGHT)).astype(np.float32) / 127.5 - 1.0
    batch = np.zeros((1, 3, HEIGHT, padded), np.float32)
    batch[0, :, :, :resized] = line
    return batch


def _resized_width(image: Grey, extra: int = EXTRA_X) -> int:
    """The width the line (with ``extra`` white columns each side still to
    add) is resized to at HEIGHT px."""
    height, width = image.shape
    ratio = (width + 2 * extra) / height
    padded = max(MIN_WIDTH, int(HEIGHT * ratio))
    return int(min(padded, math.ceil(HEIGHT * ratio)))


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


def _passed_over(probabilities: np.ndarray, space: int, digits: tuple[int, ...]) -> tuple[float, float]:
    """The highest probability, 0–100, any character had in a frame where
    the decoder chose blank, other than the characters emitted on either
    side (a blank between two of the same is how CTC writes 44) and the
    space (class ``space``: a gap in handwriting is often a near tie
    between blank and space, 20–48 on lines read right); and the highest
    a digit (classes ``digits``) had.

    Where a character was dropped (a handwritten 「1」 fused with the digit
    after it, a dash squeezed between two digits) the frame over it is
    often a near tie: 8月19日 read as 8月9日 at a mean of 99.5 had a frame
    of blank 0.59 against 1 0.41; on lines read whole this stays under 1."""
    best = probabilities.argmax(axis=1)
    kept = np.ones(len(best), dtype=bool)
    kept[1:] = best[1:] != best[:-1]
    emitted = np.flatnonzero(kept & (best != 0))
    blank = np.flatnonzero(best == 0)
    if not emitted.size or not blank.size:
        return 0.0, 0.0
    rest = probabilities[blank].copy()
    rest[:, 0] = 0.0
    rest[:, space] = 0.0
    after = np.searchsorted(emitted, blank)  # the emitted character after each blank frame
    rows = np.arange(len(blank))
    has_before, has_after = after > 0, after < len(emitted)
    rest[rows[has_before], best[emitted[after[has_before] - 1]]] = 0.0
    rest[rows[has_after], best[emitted[after[has_after]]]] = 0.0
    digit = float(rest[:, list(digits)].max()) if digits else 0.0
    return float(rest.max()) * 100, digit * 100


def _unread_ink(
    image: Grey, probabilities: np.ndarray, input_width: int, resized: int, characters: tuple[str, ...]
) -> int:
    """Pieces of writing the decoder emitted no character for.

    A CTC recogniser that drops a character (a thin handwritten 「1」 or a
    dash squeezed between its neighbours: 8月14日 read as 8月4日, 6-1-22 as
    61-22, at a mean of 97–100) still scores the characters it kept high,
    so no confidence bar catches it. What it leaves is ink no character
    accounts for. The line's columns are split into runs at blank columns;
    a run counts when it is wider than WIDE_RUN ink heights per character
    emitted inside it (two fused characters read as one), when it lies far
    from every character, or when the character nearest its middle is a
    digit or dash given two runs (one stroke group; a kanji's parts may
    stand apart, so kanji are not judged). Returns how many runs count."""
    best = probabilities.argmax(axis=1)
    kept = np.ones(len(best), dtype=bool)
    kept[1:] = best[1:] != best[:-1]
    emitted = np.flatnonzero(kept & (best != 0))
    inked = np.less(image, INK_LEVEL)
    columns = inked.sum(axis=0)
    rows = np.flatnonzero(inked.any(axis=1))
    if not rows.size:
        return 0
    height = rows[-1] - rows[0] + 1
    # Frame t is resized columns [t, t+1) * input_width / frames; back to
    # the crop's columns (EXTRA_X white columns were added each side). A
    # character is emitted about one frame right of its middle (measured on
    # rendered digit strings in Klee One and Yusei Magic), hence ``t``, not ``t + 0.5``.
    to_crop = (image.shape[1] + 2 * EXTRA_X) / resized * input_width / len(best)
    centres = emitted * to_crop - EXTRA_X
    runs = _ink_runs(columns)
    if not emitted.size:
        return len(runs)
    text = [characters[i] for i in best[emitted]]
    given = np.zeros(len(emitted), dtype=int)
    unread = 0
    for start, end in runs:
        inside = int(((centres >= start) & (centres < end)).sum())
        if end - start > WIDE_RUN * height * max(1, inside):
            unread += 1  # wider than the characters read from it: サキ read as サ
            continue
        if np.maximum(0.0, np.maximum(start - centres, centres - end)).min() > FAR_RUN * height:
            unread += 1
        else:
            given[int(np.abs(centres - (start + end) / 2).argmin())] += 1
    unread += sum(int(n) - 1 for n, char in zip(given, text, strict=True) if char in NARROW and n > 1)
    return unread


def _ink_runs(columns: np.ndarray) -> list[tuple[int, int]]:
    """Runs of inked columns with at least INK_RUN_PIXELS dark pixels."""
    inked = np.concatenate(([False], columns > 0, [False]))
    edges = np.flatnonzero(inked[1:] != inked[:-1])
    return [
        (int(a), int(b))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
        if columns[a:b].sum() >= INK_RUN_PIXELS
    ]


def recognise_lines(images: list[Grey]) -> list[Reading]:
    """Each crop read as one line (no detection step)."""
    if not images:
        return []
    recogniser = engine()
    readings = []
    with _lock:
        for image in images:
            batch = _input(image)
            (out,) = recogniser.session.run(None, {recogniser.input_name: batch})  # type: ignore[attr-defined]
            reading = _decode(out[0], recogniser.characters)
            unread = _unread_ink(image, out[0], batch.shape[3], _resized_width(image), recogniser.characters)
            passed, digit = _passed_over(out[0], len(recogniser.characters) - 1, recogniser.digits)
            readings.append(replace(reading, unread_ink=unread, passed_over=passed, passed_over_digit=digit))
    return readings


def engine_name() -> str:
    from importlib.metadata import version

    return f"PP-OCRv6 small (rapidocr {version('rapidocr')} wheel), onnxruntime {version('onnxruntime')}"
