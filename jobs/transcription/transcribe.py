"""Transcribing one range of a recording with faster-whisper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.transcription.audio import SAMPLE_RATE, decode_range
from jobs.transcription.japanese import clean_segments
from jobs.transcription.segments import Segment, Word


@dataclass(frozen=True)
class Options:
    language: str | None = "ja"  # None: detect
    beam_size: int = 5
    word_timestamps: bool = False
    hotwords: tuple[str, ...] = ()
    vad: bool = True


def _segments(raw: Any, offset: float, on_segment: Callable[[float], None] | None) -> list[Segment]:
    out = []
    for seg in raw:  # lazy: each step decodes the next piece
        if on_segment:
            on_segment(offset + float(seg.end))
        words = (
            None
            if seg.words is None
            else tuple(Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in seg.words)
        )
        out.append(
            Segment(
                start=float(seg.start),
                end=float(seg.end),
                text=seg.text,
                avg_logprob=float(seg.avg_logprob),
                no_speech_prob=float(seg.no_speech_prob),
                words=words,
            ).shifted(offset)
        )
    return out


def transcribe_range(
    model: Any,
    path: Path,
    start_s: float,
    end_s: float,
    options: Options,
    *,
    expected_s: float | None = None,
    on_segment: Callable[[float], None] | None = None,
) -> tuple[list[Segment], str]:
    """Segments of ``[start_s, end_s)`` with absolute times, cleaned; and the
    language used. Only this range's audio is decoded. ``on_segment`` hears
    the absolute end time of each segment as it is produced (progress, and a
    chance to stop a cancelled job)."""
    audio = decode_range(path, start_s, end_s, expected_s=expected_s)
    if len(audio) < SAMPLE_RATE // 10:
        return [], options.language or "ja"
    raw, info = model.transcribe(
        audio,
        language=options.language,
        task="transcribe",
        beam_size=options.beam_size,
        word_timestamps=options.word_timestamps,
        vad_filter=options.vad,
        # Conditioning on earlier text is what makes Whisper loop on long
        # meetings; each VAD chunk stands alone.
        condition_on_previous_text=False,
        hotwords=" ".join(options.hotwords) or None,
    )
    language = options.language or info.language
    return clean_segments(_segments(raw, start_s, on_segment), language=language), language
