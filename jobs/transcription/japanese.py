"""Japanese clean-up of Whisper output, and the error measure we use.

Whisper invents text in silence (「ご視聴ありがとうございました」 is the classic,
learnt from video subtitles), sometimes loops on one phrase, and often ends a
segment without punctuation. These are fixed here, on plain strings, so they
can be tested without a model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import replace

from jobs.transcription.segments import Segment

# Phrases Whisper produces from silence or music; dropped when a segment is
# nothing but one of them (after punctuation is stripped).
HALLUCINATIONS: frozenset[str] = frozenset(
    {
        "ご視聴ありがとうございました",
        "ご視聴ありがとうございます",
        "最後までご視聴いただきありがとうございます",
        "最後までご視聴いただきありがとうございました",
        "チャンネル登録お願いします",
        "チャンネル登録よろしくお願いします",
        "チャンネル登録をお願いします",
        "おやすみなさい",
        "字幕視聴ありがとうございました",
        "ご清聴ありがとうございました",
        "お疲れ様でした",
        "エンディング",
        "音楽",
        "拍手",
    }
)
_END_PUNCT = "。！？!?」』）)…"
_PUNCT_RE = re.compile(r"[\s、。，．,.！？!?「」『』（）()・…―]+")
_JA = "\u3040-\u30ff\u3400-\u9fff"
_JA_SPACE_RE = re.compile(f"(?<=[{_JA}])\\s+(?=[{_JA}])")
# The same 1–20 characters three or more times in a row.
_LOOP_RE = re.compile(r"(.{1,20}?)\1{2,}")


def normalise(text: str) -> str:
    """NFKC (full-width digits and letters to half-width) and trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def bare(text: str) -> str:
    """Text without punctuation or spaces, for comparisons."""
    return _PUNCT_RE.sub("", normalise(text))


def is_hallucination(segment: Segment, *, no_speech_threshold: float = 0.6) -> bool:
    core = bare(segment.text)
    if not core:
        return True
    if core in HALLUCINATIONS:
        return True
    # Very likely silence and very unsure: Whisper filled a gap.
    return segment.no_speech_prob > no_speech_threshold and segment.avg_logprob < -1.0


def collapse_loops(text: str) -> str:
    """「はいはいはいはい」 → 「はい」; 「検討します検討します検討します」 → 「検討します」."""
    return _LOOP_RE.sub(r"\1", text)


def punctuate(text: str) -> str:
    """End a sentence with 「。」 when Whisper left it bare; Japanese spaces
    inside a segment (Whisper's pause marks) become 「、」."""
    text = _JA_SPACE_RE.sub("、", text.strip())
    if text and text[-1] not in _END_PUNCT + "、":
        text += "。"
    return text


def clean_segments(segments: Iterable[Segment], *, language: str | None = "ja") -> list[Segment]:
    """Drop hallucinations and consecutive repeats, collapse loops, punctuate."""
    out: list[Segment] = []
    for segment in segments:
        if is_hallucination(segment):
            continue
        text = collapse_loops(segment.text.strip())
        if language in ("ja", None):
            text = punctuate(text)
        if out and bare(out[-1].text) == bare(text):
            continue  # Whisper repeating the previous segment
        out.append(replace(segment, text=text))
    return out


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters / reference length, after NFKC
    and removing punctuation and spaces."""
    ref, hyp = bare(reference), bare(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i]
        for j, h in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)


def glossary_terms(terms: Iterable[str], limit: int = 100) -> list[str]:
    """Normalised, de-duplicated, non-empty terms (at most ``limit``)."""
    seen: dict[str, None] = {}
    for term in terms:
        clean = normalise(str(term))
        if clean and len(clean) <= 50:
            seen.setdefault(clean)
    return list(seen)[:limit]
