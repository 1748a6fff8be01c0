"""Transcript files: txt, srt, vtt, json."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jobs.transcription.segments import Segment, full_text

FORMATS = ("txt", "srt", "vtt", "json", "docx")
MEDIA_TYPES = {
    "txt": "text/plain",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "json": "application/json",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def timestamp(seconds: float, sep: str = ",") -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def said(segment: Segment) -> str:
    """The text, after 「話者1: 」 when the segment has a speaker."""
    return f"{segment.speaker}: {segment.text}" if segment.speaker else segment.text


def to_txt(segments: Sequence[Segment]) -> str:
    return "".join(f"{said(s)}\n" for s in segments)


def to_srt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{i}\n{timestamp(s.start)} --> {timestamp(s.end)}\n{said(s)}\n"
        for i, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def _cue(segment: Segment) -> str:
    # WebVTT's voice span: players show the name, and it survives parsing.
    return f"<v {segment.speaker}>{segment.text}" if segment.speaker else segment.text


def to_vtt(segments: Sequence[Segment]) -> str:
    blocks = [f"{timestamp(s.start, '.')} --> {timestamp(s.end, '.')}\n{_cue(s)}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_json(segments: Sequence[Segment], meta: Mapping[str, Any], *, with_words: bool) -> str:
    speakers = list(dict.fromkeys(s.speaker for s in segments if s.speaker))
    data = {
        **meta,
        **({"speakers": speakers} if speakers else {}),
        "text": full_text(list(segments)),
        "segments": [s.to_json(with_words=with_words) for s in segments],
    }
    return json.dumps(data, ensure_ascii=False, indent=1)
