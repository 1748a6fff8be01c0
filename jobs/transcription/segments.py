"""The transcript data every stage shares, and its JSON form.

Segments cross process boundaries when a long recording is fanned out over
several tasks, so they convert to and from plain JSON (never pickle).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "probability": self.probability}


@dataclass(frozen=True)
class Segment:
    """One piece of transcript with absolute times in seconds."""

    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    words: tuple[Word, ...] | None = field(default=None)
    speaker: str = ""  # 話者1 … when the job asked for speakers, or the name a person gave

    def shifted(self, offset: float) -> Segment:
        words = (
            None
            if self.words is None
            else tuple(
                replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3)) for w in self.words
            )
        )
        return replace(
            self, start=round(self.start + offset, 3), end=round(self.end + offset, 3), words=words
        )

    def to_json(self, *, with_words: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "avg_logprob": round(self.avg_logprob, 4),
            "no_speech_prob": round(self.no_speech_prob, 4),
        }
        if self.speaker:
            data["speaker"] = self.speaker
        if with_words and self.words is not None:
            data["words"] = [w.to_json() for w in self.words]
        return data


def segment_from_json(data: Mapping[str, Any]) -> Segment:
    words = data.get("words")
    return Segment(
        start=float(data["start"]),
        end=float(data["end"]),
        text=str(data["text"]),
        avg_logprob=float(data.get("avg_logprob", 0.0)),
        no_speech_prob=float(data.get("no_speech_prob", 0.0)),
        speaker=str(data.get("speaker", "")),
        words=None
        if words is None
        else tuple(
            Word(float(w["start"]), float(w["end"]), str(w["text"]), float(w.get("probability", 0.0)))
            for w in words
        ),
    )


def full_text(segments: list[Segment]) -> str:
    """The transcript as one string (Japanese needs no separator between segments)."""
    return "".join(s.text for s in segments)


def retimed(seg: Segment, found: Sequence[tuple[int, int, str]], text: str) -> tuple[Word, ...] | None:
    """The segment's words after the glossary's replacements ``found``
    ((start, end, term), jobs/transcription/glossary.py): the words a replaced
    stretch touches become one word holding the term (with the parts of the
    first and last word outside the stretch), timed from the first to the
    last. When the words do not spell the text (Whisper's word text can
    differ from the cleaned segment text), one word spans the segment."""
    if seg.words is None:
        return None
    spelled = "".join(w.text for w in seg.words)
    if spelled.strip() != seg.text.strip():
        probability = min((w.probability for w in seg.words), default=0.0)
        return (Word(seg.start, seg.end, text, probability),)
    lead = (len(spelled) - len(spelled.lstrip())) - (len(seg.text) - len(seg.text.lstrip()))
    spans, at = [], -lead
    for w in seg.words:
        spans.append((at, at + len(w.text)))
        at += len(w.text)
    out: list[Word] = []
    i = 0
    for m_start, m_end, term in found:
        while i < len(seg.words) and spans[i][1] <= m_start:
            out.append(seg.words[i])
            i += 1
        first = i
        while i < len(seg.words) and spans[i][0] < m_end:
            i += 1
        touched = seg.words[first:i]
        if not touched:
            continue
        head = touched[0].text[: max(0, m_start - spans[first][0])]
        tail = touched[-1].text[max(0, m_end - spans[i - 1][0]) :]
        out.append(
            Word(
                touched[0].start,
                touched[-1].end,
                head + term + tail,
                min(w.probability for w in touched),
            )
        )
    out.extend(seg.words[i:])
    return tuple(out)
