"""The minutes-transcription job kind: what the registry loads."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError
from jobs.registry import FanOut, InputFile, JobContext, JobKind, JobOutcome, OutputFile, PartSpec, sequential
from jobs.transcription import model as whisper
from jobs.transcription.acoustic import segment_judge
from jobs.transcription.audio import header_seconds, probe_audio
from jobs.transcription.base_glossary import base_terms, judge_hotwords
from jobs.transcription.formats import MEDIA_TYPES, to_json, to_srt, to_txt, to_vtt
from jobs.transcription.glossary import SegmentsJudge, correct_segments
from jobs.transcription.japanese import clean_segments, glossary_terms, normalise
from jobs.transcription.minutes import MeetingInfo, write_minutes
from jobs.transcription.options import (
    TranscriptionOptions,
    TranscriptionParams,
    department_defaults,
    options_from,
)
from jobs.transcription.segments import Segment, full_text, segment_from_json
from jobs.transcription.speakers import (
    MAX_SPEAKERS,
    Windows,
    diarize_part,
    label_segments,
    speaker_names,
    windows_of_segments,
)
from jobs.transcription.split import plan_ranges
from jobs.transcription.transcribe import Options, transcribe_range

AUDIO_TYPES = frozenset(
    {
        "audio/wav",
        "audio/mpeg",
        "audio/mp4",
        "audio/flac",
        "audio/ogg",
        "audio/webm",
        "video/mp4",
        "video/webm",
    }
)
STAFF_MINUTES_PER_AUDIO_MINUTE = 4.0
SAMPLES = Path(__file__).parent / "samples"


# --- parameters ---------------------------------------------------------------------


def _text(params: Mapping[str, Any], key: str, limit: int = 200) -> str:
    value = params.get(key, "")
    if not isinstance(value, str) or len(value) > limit:
        raise JobInputError(
            "invalid_parameters", f"{key} は{limit}文字以内の文字列で指定してください。", field=key
        )
    return normalise(value)


def _terms(params: Mapping[str, Any], key: str) -> list[str]:
    value = params.get(key, [])
    if isinstance(value, str):
        value = [v for v in re.split(r"[、,，\n]", value) if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise JobInputError("invalid_parameters", f"{key} は文字列のリストで指定してください。", field=key)
    return glossary_terms(value)


# The portal form's labels, so a message names the field the person filled in.
_BOUND_LABELS = {"min_speakers": "最少話者数", "max_speakers": "最多話者数"}


def _speaker_bound(params: Mapping[str, Any], key: str) -> int:
    """``min_speakers``/``max_speakers``: hints that bound the count found (0: none)."""
    value = params.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SPEAKERS:
        raise JobInputError(
            "invalid_parameters",
            f"{_BOUND_LABELS[key]}（{key}）は0〜{MAX_SPEAKERS}の整数で指定してください（0は指定なし）。",
            field=key,
        )
    return value


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    language = params.get("language", "ja")
    if not isinstance(language, str) or not re.fullmatch(r"auto|[a-z]{2,3}", language):
        raise JobInputError(
            "invalid_parameters",
            "language は ja などの言語コード、または auto で指定してください。",
            field="language",
        )
    meeting_date = params.get("meeting_date")
    if meeting_date is not None:
        try:
            date.fromisoformat(str(meeting_date))
        except ValueError:
            raise JobInputError(
                "invalid_parameters",
                "meeting_date は YYYY-MM-DD 形式で指定してください。",
                field="meeting_date",
            ) from None
    beam = params.get("beam_size", 5)
    if not isinstance(beam, int) or isinstance(beam, bool) or not 1 <= beam <= 10:
        raise JobInputError(
            "invalid_parameters", "beam_size は1〜10の整数で指定してください。", field="beam_size"
        )
    pause = params.get("pause_seconds", 3.0)
    if not isinstance(pause, int | float) or not 0.5 <= pause <= 60:
        raise JobInputError(
            "invalid_parameters", "pause_seconds は0.5〜60の数値で指定してください。", field="pause_seconds"
        )
    speakers = params.get("speakers", 0)
    # "auto": speaker labels on, the count found from the voices (the portal
    # form and `digilabo transcribe --speakers auto` ask this way).
    auto = speakers == "auto"
    speakers = 0 if auto else speakers
    if not isinstance(speakers, int) or isinstance(speakers, bool) or not 0 <= speakers <= MAX_SPEAKERS:
        raise JobInputError(
            "invalid_parameters",
            f"speakers は auto（人数は自動）か0〜{MAX_SPEAKERS}の整数で指定してください。",
            field="speakers",
        )
    bounds = [_speaker_bound(params, key) for key in ("min_speakers", "max_speakers")]
    if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
        raise JobInputError(
            "invalid_parameters",
            f"最少話者数（min_speakers: {bounds[0]}）は最多話者数（max_speakers: {bounds[1]}）以下にしてください。",
            field="min_speakers",
        )
    low, high = bounds[0] or 1, bounds[1] or MAX_SPEAKERS
    if speakers and not low <= speakers <= high:
        # A fixed count outside the bounds: which one the person meant is unknown.
        raise JobInputError(
            "invalid_parameters",
            f"話者の人数（speakers: {speakers}）は最少話者数〜最多話者数（{low}〜{high}人）の範囲にしてください。",
            field="speakers",
        )
    return TranscriptionParams(
        language=language,
        diarize=bool(params.get("diarize", False)) or auto or speakers > 0 or any(bounds),
        speakers=speakers,
        min_speakers=bounds[0],
        max_speakers=bounds[1],
        meeting_name=_text(params, "meeting_name"),
        meeting_date=None if meeting_date is None else str(meeting_date),
        place=_text(params, "place"),
        attendees=tuple(_terms(params, "attendees")),
        glossary=tuple(_terms(params, "glossary")),
        word_timestamps=bool(params.get("word_timestamps", False)),
        beam_size=beam,
        pause_seconds=float(pause),
    ).as_json()


# --- the core ----------------------------------------------------------------------


def options_for(ctx: JobContext) -> Options:
    params = ctx.params
    return Options(
        language=None if params.get("language") == "auto" else params.get("language", "ja"),
        beam_size=int(params.get("beam_size", 5)),
        # Speaker labels cut segments at word boundaries, so they need the
        # words' times even when the outputs do not show them.
        word_timestamps=bool(params.get("word_timestamps", False)) or bool(params.get("diarize", False)),
        hotwords=tuple(glossary_terms([*ctx.glossary, *params.get("glossary", [])])),
    )


def correction_terms(ctx: JobContext) -> tuple[str, ...]:
    """What the text is corrected to after recognition: the job's and the
    department's terms (also Whisper's hotwords), then the built-in glossary
    with the city's name and wards (jobs/transcription/base_glossary.py)."""
    options = TranscriptionOptions.of(ctx.options)
    built_in = base_terms(options.city_name, options.city_wards)
    return tuple(glossary_terms([*options_for(ctx).hotwords, *built_in], limit=200))


def model_for(ctx: JobContext) -> Any:
    """The worker's one model (loaded on first use, then reused)."""
    language = None if ctx.params.get("language") == "auto" else ctx.params.get("language", "ja")
    options = TranscriptionOptions.of(ctx.options)
    folder = whisper.resolve_model_dir(options.whisper_model_dir, options.model_cache_dir, language)
    return whisper.load_model(folder, cpu_threads=options.cpu_threads)


def audio_path(ctx: JobContext) -> Path:
    """The upload under its own name (a link to the stored blob), so every
    message about the file names what the department sent, not a digest."""
    audio = ctx.inputs[0]
    # Its own folder: outputs written to work_dir must never go through the link.
    named = ctx.work_dir / "input" / audio.name
    if not named.exists():
        named.parent.mkdir(exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another part of this attempt made it
            named.symlink_to(audio.path)
    return named


def plan(ctx: JobContext) -> list[PartSpec]:
    path, options = audio_path(ctx), TranscriptionOptions.of(ctx.options)
    info = probe_audio(path, max_seconds=options.max_audio_seconds, max_bytes=options.max_upload_bytes)
    ranges = plan_ranges(path, info.duration_s, options.part_seconds)
    return [{"start": a, "end": b, "duration": info.duration_s} for a, b in ranges]


def run_part(ctx: JobContext, spec: PartSpec) -> dict[str, Any]:
    duration = float(spec["duration"])

    def heard(t: float) -> None:
        ctx.progress(min(t / duration, 0.99), f"{t / 60:.0f}分{t % 60:02.0f}秒まで文字起こし済み")

    segments, language = transcribe_range(
        model_for(ctx),
        audio_path(ctx),
        float(spec["start"]),
        float(spec["end"]),
        options_for(ctx),
        expected_s=duration,
        on_segment=heard,
    )
    result = {
        "segments": [s.to_json() for s in segments],
        "language": language,
        "seconds": spec["end"] - spec["start"],
    }
    if ctx.params.get("diarize"):
        ctx.progress(0.99, "話者を識別しています")
        segments, windows = diarize_part(
            audio_path(ctx),
            segments,
            float(spec["start"]),
            float(spec["end"]),
            expected_s=duration,
            threads=TranscriptionOptions.of(ctx.options).cpu_threads,
        )
        result["segments"] = [s.to_json() for s in segments]
        result["windows"] = windows.to_json()
    return result


def _windows(result: Mapping[str, Any]) -> Windows:
    if "windows" in result:
        return Windows.from_json(result["windows"])
    # A part embedded before an upgrade: one print per segment.
    segments = [segment_from_json(s) for s in result["segments"]]
    return windows_of_segments(segments, result["embeddings"])


def join_parts(
    results: list[dict[str, Any]],
    speakers: int = 0,
    terms: tuple[str, ...] = (),
    *,
    min_speakers: int = 0,
    max_speakers: int = 0,
    hear: SegmentsJudge | None = None,
) -> tuple[list[Segment], str, float]:
    """Segments of all parts in time order, the language and the seconds;
    with speakers labelled over all parts together when the parts embedded
    them, and glossary ``terms`` put back where they were misheard (where
    the text alone cannot say, ``hear`` asks the segments' audio)."""
    language = next((r["language"] for r in results), "ja")
    raw = sorted((segment_from_json(s) for r in results for s in r["segments"]), key=lambda s: s.start)
    labelled = [r for r in results if "windows" in r or "embeddings" in r]
    if labelled:
        windows = Windows.join([_windows(r) for r in labelled])
        raw = label_segments(raw, windows, speakers or None, min_speakers or None, max_speakers or None)
    segments = clean_segments(raw, language=language)  # drops repeats across part boundaries
    if language == "ja":
        segments = correct_segments(segments, terms, hear)
    return segments, language, sum(float(r["seconds"]) for r in results)


def speaker_hints(params: Mapping[str, Any]) -> dict[str, int]:
    """The job's speaker count and bounds, as ``join_parts`` takes them."""
    return {key: int(params.get(key, 0)) for key in ("speakers", "min_speakers", "max_speakers")}


def audio_judge(ctx: JobContext) -> SegmentsJudge:
    """Scores texts against a segment's audio with the worker's model
    (loaded only if a segment needs it): the glossary's loose matches,
    prompted with the department's terms (the recognition's hotwords) and
    the city's name and wards, so that a misheard ward is weighed as a
    misheard department term is (jobs/transcription/places.py)."""
    options = TranscriptionOptions.of(ctx.options)
    hotwords = judge_hotwords(options_for(ctx).hotwords, options.city_name, options.city_wards)
    return segment_judge(lambda: model_for(ctx), audio_path(ctx), hotwords=hotwords)


def merge(ctx: JobContext, results: list[dict[str, Any]]) -> JobOutcome:
    segments, language, seconds = join_parts(
        results, terms=correction_terms(ctx), hear=audio_judge(ctx), **speaker_hints(ctx.params)
    )
    model = TranscriptionOptions.of(ctx.options).model_name
    meta = {"language": language, "duration": round(seconds, 3), "model": model}
    outputs = write_outputs(ctx.work_dir, "transcript", segments, meta, ctx.params)
    return JobOutcome(
        outputs=tuple(outputs),
        units=seconds / 60.0,
        summary={
            "audio_minutes": round(seconds / 60.0, 2),
            "segments": len(segments),
            "characters": len(full_text(segments)),
            "language": language,
            "parts": len(results),
            **({"speakers": len(speaker_names(segments))} if ctx.params.get("diarize") else {}),
        },
    )


def meeting_info(params: Mapping[str, Any]) -> MeetingInfo:
    day = params.get("meeting_date")
    return MeetingInfo(
        name=params.get("meeting_name", ""),
        day=date.fromisoformat(day) if day else None,
        place=params.get("place", ""),
        attendees=tuple(params.get("attendees", [])),
    )


def write_outputs(
    folder: Path,
    stem: str,
    segments: list[Segment],
    meta: Mapping[str, Any],
    params: Mapping[str, Any],
    formats: tuple[str, ...] = ("txt", "srt", "vtt", "json", "docx"),
) -> list[OutputFile]:
    writers = {
        "txt": lambda: to_txt(segments),
        "srt": lambda: to_srt(segments),
        "vtt": lambda: to_vtt(segments),
        "json": lambda: to_json(segments, meta, with_words=bool(params.get("word_timestamps"))),
    }
    outputs = []
    for fmt in formats:
        name = "minutes.docx" if fmt == "docx" and stem == "transcript" else f"{stem}.{fmt}"
        path = folder / name
        if fmt == "docx":
            write_minutes(
                path, segments, meeting_info(params), pause_s=float(params.get("pause_seconds", 3.0))
            )
        else:
            path.write_text(writers[fmt](), encoding="utf-8")
        outputs.append(OutputFile(name, path, MEDIA_TYPES[fmt]))
    return outputs


def sample() -> tuple[dict[str, Any], list[Path]]:
    params = {
        "meeting_name": "防災対策検討会議（第3回）",
        "meeting_date": "2025-04-15",
        "place": "本庁舎5階 第1会議室",
        "attendees": ["危機管理室長", "総務課長", "小倉北区役所 総務企画課長"],
        "glossary": ["危機管理室", "小倉北区", "補正予算"],
    }
    return params, [SAMPLES / "sample_meeting.flac"]


FANOUT = FanOut(plan=plan, run_part=run_part, merge=merge)


def audio_minutes(inputs: Sequence[InputFile]) -> float:
    """The recording's minutes, for the quota of waiting work."""
    return sum(header_seconds(f.path) for f in inputs) / 60.0


KIND = JobKind(
    name="transcription",
    label_ja="会議録の文字起こし",
    queue="gpu",
    service="minutes",
    unit_name="audio_minutes",
    unit_label_ja="音声（分）",
    unit_ja="分",
    default_seconds_per_unit=STAFF_MINUTES_PER_AUDIO_MINUTE * 60.0,
    accepted_media_types=AUDIO_TYPES,
    run=sequential(FANOUT),
    validate_params=validate_params,
    department_defaults=department_defaults,
    options_type=TranscriptionOptions,
    options_from=options_from,
    params_type=TranscriptionParams,
    min_files=1,
    max_files=1,
    soft_time_limit=4 * 3600,
    time_limit=4 * 3600 + 300,
    sample=sample,
    fanout=FANOUT,
    measure=audio_minutes,
    quota_unit="audio_minutes",
    load_observers=whisper.LOAD_OBSERVERS,
    cli="jobs.transcription.cli:register",
    portal="jobs.transcription.portal:PORTAL",
)
