"""The transcription kind's options and parameters, typed.

``TranscriptionOptions`` is what the worker hands the core (built once per
process from the settings values by ``options_from``); ``TranscriptionParams``
is what ``validate_params`` builds from a request's JSON (the job keeps the JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_PART_SECONDS = 600.0


@dataclass(frozen=True)
class TranscriptionOptions:
    model_cache_dir: str = ""
    whisper_model_dir: str | None = None
    model_name: str = ""
    cpu_threads: int = 0  # 0: as many as the worker has
    max_audio_seconds: float | None = None
    max_upload_bytes: int | None = None
    # Recordings longer than this are split at pauses into parts.
    part_seconds: float = DEFAULT_PART_SECONDS
    # The city's name and wards, added to the built-in glossary.
    city_name: str = ""
    city_wards: tuple[str, ...] = ()

    @classmethod
    def of(cls, options: Any) -> TranscriptionOptions:
        """The typed options, also from a plain mapping (the CLI, tests)."""
        return options if isinstance(options, cls) else options_from(options or {})


def options_from(values: Mapping[str, Any]) -> TranscriptionOptions:
    """The options from the settings values (``DIGILABO_WHISPER_MODEL_DIR``,
    ``_MODEL_CACHE_DIR``, ``_CPU_THREADS``, ``_MAX_AUDIO_SECONDS``,
    ``_MAX_UPLOAD_BYTES``, ``_TRANSCRIPTION_PART_SECONDS``, ``_CITY_NAME``,
    ``_CITY_WARDS``)."""
    model_dir = values.get("whisper_model_dir")
    return TranscriptionOptions(
        model_cache_dir=str(values.get("model_cache_dir") or ""),
        whisper_model_dir=str(model_dir) if model_dir else None,
        model_name=str(values.get("model_name") or ""),
        cpu_threads=int(values.get("cpu_threads") or 0),
        max_audio_seconds=values.get("max_audio_seconds"),
        max_upload_bytes=values.get("max_upload_bytes"),
        part_seconds=float(values.get("transcription_part_seconds") or DEFAULT_PART_SECONDS),
        city_name=str(values.get("city_name") or ""),
        city_wards=tuple(str(w) for w in values.get("city_wards") or ()),
    )


def department_defaults(department: Any) -> dict[str, Any]:
    """A department that wants speaker labels (``speaker_labels_default``)
    gets them unless the request says ``diarize``."""
    return {"diarize": True} if getattr(department, "speaker_labels_default", False) else {}


@dataclass(frozen=True)
class TranscriptionParams:
    language: str = "ja"  # a language code or "auto"
    diarize: bool = False
    speakers: int = 0  # 0: found automatically
    min_speakers: int = 0  # bounds on the count found (0: none)
    max_speakers: int = 0
    meeting_name: str = ""
    meeting_date: str | None = None  # YYYY-MM-DD
    place: str = ""
    attendees: tuple[str, ...] = ()
    glossary: tuple[str, ...] = ()
    word_timestamps: bool = False
    beam_size: int = 5
    pause_seconds: float = 3.0

    def as_json(self) -> dict[str, Any]:
        """The JSON the job keeps."""
        value = asdict(self)
        value["attendees"], value["glossary"] = list(self.attendees), list(self.glossary)
        return value
