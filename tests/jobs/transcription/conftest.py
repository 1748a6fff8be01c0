"""Real speech and the real model, made once per test session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from jobs.registry import JobContext
from jobs.transcription import model as whisper
from jobs.transcription.direct import file_context
from tests.support.speech import SENTENCES, synthesise, write_audio

REFERENCE = "".join(SENTENCES)


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    return synthesise(SENTENCES)


@pytest.fixture(scope="session")
def speech_wav(speech: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_audio(speech, tmp_path_factory.mktemp("speech") / "meeting.wav")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "whisper-base"
    whisper.ensure_embedded_model(folder)
    return folder


@pytest.fixture
def make_ctx(tmp_path: Path, model_cache: Path) -> Callable[..., JobContext]:
    def make(
        audio: Path, params: dict | None = None, glossary: tuple[str, ...] = (), **options: object
    ) -> JobContext:
        work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
        work.mkdir()
        return file_context(
            audio,
            work,
            params=params,
            options={"model_cache_dir": str(model_cache), "cpu_threads": 2, **options},
            progress=lambda fraction, message="": None,
            glossary=glossary,
        )

    return make


GLOSSARY = ["小倉北区", "危機管理室", "補正予算", "令和7年度"]


@pytest.fixture(scope="session")
def meeting_run(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path
) -> tuple[dict, list[tuple[float, float, int]], Path]:
    """The four-speaker meeting transcribed once with speakers and the
    glossary: (transcript.json, reference turns, work folder)."""
    import json

    from jobs.transcription.kind import KIND
    from tests.support.speech import MEETING, meeting

    folder = tmp_path_factory.mktemp("meeting")
    samples, turns = meeting(MEETING)
    audio = write_audio(samples, folder / "meeting.flac")
    work = folder / "work"
    work.mkdir()
    ctx = file_context(
        audio,
        work,
        params={"diarize": True, "glossary": GLOSSARY},
        options={"model_cache_dir": str(model_cache), "cpu_threads": 2},
        progress=lambda fraction, message="": None,
    )
    KIND.run(ctx)
    return json.loads((work / "transcript.json").read_text(encoding="utf-8")), turns, work
