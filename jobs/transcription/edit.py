"""A person's corrections to a finished transcript, as pure functions.

``apply_edits`` takes the job's ``transcript.json`` (as a dict) and a list of
edits, applied in order (each index refers to the segments as the edits
before it left them), and returns the new transcript; ``regenerate`` writes
every output file again from it. ``jobs.transcription.review`` stores the
files and counts the editing time in the ledger.

Edits (JSON objects):
- ``{"op": "text", "index": i, "text": "…"}``: new text for segment i;
- ``{"op": "rename", "from": "話者1", "to": "危機管理室長"}``: a speaker's
  name in every segment of the job;
- ``{"op": "speaker", "index": i, "speaker": "総務課長"}``: who said segment i;
- ``{"op": "merge", "index": i}``: segment i and i+1 become one turn;
- ``{"op": "split", "index": i, "at": n, "time": t?}``: segment i cut after
  its n-th character, at ``t`` seconds (default: in proportion to the text).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError
from jobs.registry import OutputFile
from jobs.transcription.japanese import normalise
from jobs.transcription.segments import Segment, segment_from_json

MAX_EDITS = 5000
MAX_TEXT = 2000
MAX_NAME = 50
_BODY_KEYS = ("text", "segments", "speakers")


def _bad(message: str, number: int, **details: Any) -> JobInputError:
    return JobInputError("invalid_edit", f"{number + 1}番目の修正: {message}", edit=number, **details)


def _index(edit: Mapping[str, Any], segments: Sequence[Segment], number: int, *, pair: bool = False) -> int:
    index = edit.get("index")
    last = len(segments) - (2 if pair else 1)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= last:
        raise _bad(f"index は0〜{last}の整数で指定してください。", number, field="index")
    return index


def _string(edit: Mapping[str, Any], key: str, limit: int, number: int, *, empty: bool = False) -> str:
    value = edit.get(key)
    if not isinstance(value, str):
        raise _bad(f"{key} は文字列で指定してください。", number, field=key)
    value = normalise(value)
    if len(value) > limit or (not value and not empty):
        raise _bad(f"{key} は1〜{limit}文字で指定してください。", number, field=key)
    return value


def _text(segments: list[Segment], edit: Mapping[str, Any], n: int) -> list[Segment]:
    i = _index(edit, segments, n)
    segments[i] = replace(segments[i], text=_string(edit, "text", MAX_TEXT, n, empty=True), words=None)
    return segments


def _rename(segments: list[Segment], edit: Mapping[str, Any], n: int) -> list[Segment]:
    old, new = _string(edit, "from", MAX_NAME, n), _string(edit, "to", MAX_NAME, n)
    if not any(s.speaker == old for s in segments):
        raise _bad(f"話者「{old}」はこの文字起こしにありません。", n, field="from")
    return [replace(s, speaker=new) if s.speaker == old else s for s in segments]


def _speaker(segments: list[Segment], edit: Mapping[str, Any], n: int) -> list[Segment]:
    i = _index(edit, segments, n)
    segments[i] = replace(segments[i], speaker=_string(edit, "speaker", MAX_NAME, n, empty=True))
    return segments


def _merge(segments: list[Segment], edit: Mapping[str, Any], n: int) -> list[Segment]:
    i = _index(edit, segments, n, pair=True)
    a, b = segments[i], segments[i + 1]
    words = a.words + b.words if a.words is not None and b.words is not None else None
    merged = replace(
        a,
        end=max(a.end, b.end),
        text=a.text + b.text,
        avg_logprob=min(a.avg_logprob, b.avg_logprob),
        no_speech_prob=max(a.no_speech_prob, b.no_speech_prob),
        words=words,
    )
    return [*segments[:i], merged, *segments[i + 2 :]]


def _split(segments: list[Segment], edit: Mapping[str, Any], n: int) -> list[Segment]:
    i = _index(edit, segments, n)
    seg = segments[i]
    at = edit.get("at")
    if not isinstance(at, int) or isinstance(at, bool) or not 0 < at < len(seg.text):
        raise _bad(
            f"at は1〜{len(seg.text) - 1}の整数（分ける文字の位置）で指定してください。", n, field="at"
        )
    time = edit.get("time")
    if time is None:
        time = seg.start + (seg.end - seg.start) * at / len(seg.text)
    if not isinstance(time, int | float) or not seg.start <= time <= seg.end:
        raise _bad(f"time は{seg.start}〜{seg.end}秒の数値で指定してください。", n, field="time")
    first = replace(seg, end=round(float(time), 3), text=seg.text[:at], words=None)
    second = replace(seg, start=round(float(time), 3), text=seg.text[at:], words=None)
    return [*segments[:i], first, second, *segments[i + 1 :]]


OPS: dict[str, Callable[[list[Segment], Mapping[str, Any], int], list[Segment]]] = {
    "text": _text,
    "rename": _rename,
    "speaker": _speaker,
    "merge": _merge,
    "split": _split,
}


def apply_edits(transcript: Mapping[str, Any], edits: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The transcript with ``edits`` applied in order; raises ``JobInputError``
    (code ``invalid_edit``, naming the edit and field) and changes nothing
    when one is wrong."""
    if not isinstance(edits, Sequence) or isinstance(edits, str) or len(edits) > MAX_EDITS:
        raise JobInputError("invalid_edit", f"修正は{MAX_EDITS}件以内のリストで指定してください。")
    segments = [segment_from_json(s) for s in transcript["segments"]]
    for number, edit in enumerate(edits):
        op = edit.get("op") if isinstance(edit, Mapping) else None
        if op not in OPS:
            raise _bad(f"op は {', '.join(OPS)} のいずれかで指定してください。", number, field="op")
        segments = OPS[op](segments, edit, number)
    return {**meta_of(transcript), "segments": [s.to_json() for s in segments]}


def meta_of(transcript: Mapping[str, Any]) -> dict[str, Any]:
    """What the transcript says besides its text (language, duration, model …)."""
    return {k: v for k, v in transcript.items() if k not in _BODY_KEYS}


def regenerate(folder: Path, transcript: Mapping[str, Any], params: Mapping[str, Any]) -> list[OutputFile]:
    """Every output file (txt, srt, vtt, json, docx) written again into ``folder``."""
    from jobs.transcription.kind import write_outputs

    segments = [segment_from_json(s) for s in transcript["segments"]]
    return write_outputs(folder, "transcript", segments, meta_of(transcript), params)
