"""Real speech and the real model, made once per test session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from jobs.registry import InputFile, JobContext
from jobs.transcription import model as whisper
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
        from jobs.transcription.kind import validate_params

        work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
        work.mkdir()
        return JobContext(
            job_id="test",
            department="d",
            params=validate_params(params or {}),
            inputs=(InputFile(audio.name, audio, "audio/wav", audio.stat().st_size),),
            work_dir=work,
            progress=lambda fraction, message="": None,
            options={"model_cache_dir": str(model_cache), "cpu_threads": 2, **options},
            glossary=glossary,
        )

    return make
