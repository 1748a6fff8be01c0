"""Glossary terms put back where Whisper heard them but wrote something else.

Whisper base writes what it hears in the words it knows: 小倉北区 comes out
as 「国らきたく」 (クニラキタク for コクラキタク) even with the term as a
hotword, because hotwords only nudge the decoder towards tokens, and the
base model has no strong token path for a rare place name (the measurement
is in docs/transcription.md). So after recognition every stretch of text
whose *sound* is close to a glossary term's is replaced by the term: both
are turned into phonemes by OpenJTalk (pyopenjtalk-plus, whose wheel carries
its dictionary), and a stretch is replaced when its phoneme edit distance to
the term is at most ``MAX_DISTANCE`` of the term's length, unless the
stretch is mostly a proper noun the dictionary knows (a real name, not a
mishearing).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from jobs.transcription.segments import Segment

MAX_DISTANCE = 0.34  # share of the term's phonemes that may differ
MIN_PHONEMES = 6  # shorter terms are too easy to find by chance
_STOP = re.compile(r"[\s、。，．,.！？!?「」『』（）()・…―]")
_lock = threading.Lock()  # OpenJTalk's frontend is not thread-safe


@lru_cache(maxsize=65536)
def phonemes(text: str) -> tuple[str, ...]:
    """OpenJTalk's phonemes for ``text`` (pauses dropped)."""
    import pyopenjtalk

    with _lock:
        raw = pyopenjtalk.g2p(text, kana=False)
    return tuple(p for p in str(raw).split() if p not in ("pau", "sil"))


_VOWELS = frozenset("aiueoAIUEO")


def _cost(x: str, y: str) -> float:
    """One vowel heard as another costs half: Whisper's misreadings keep the
    consonants more often than the vowels (コク → クニ)."""
    if x == y or x.lower() == y.lower():
        return 0.0
    return 0.5 if x in _VOWELS and y in _VOWELS else 1.0


def distance(a: Sequence[str], b: Sequence[str]) -> float:
    previous = [float(j) for j in range(len(b) + 1)]
    for i, x in enumerate(a, start=1):
        current = [float(i)]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + _cost(x, y)))
        previous = current
    return previous[-1]


@lru_cache(maxsize=4096)
def names_a_place_or_person(text: str) -> bool:
    """Whether ``text`` is mostly a name OpenJTalk's dictionary knows: Whisper
    wrote a real name there (小倉南区 is not a misheard 小倉北区), so it stays.
    Mostly: proper nouns, with the suffixes after them (区, 市, さん), make up
    at least half its morae. A proper noun inside a mishearing does not make
    it a name: 国立北区 for 小倉北区 is 国立 (a common noun) then 北 (read as
    a proper noun, as in 北区) then 区."""
    import pyopenjtalk

    with _lock:
        features = pyopenjtalk.run_frontend(text)
    named = total = 0
    after_name = False
    for f in features:
        morae = int(f.get("mora_size") or 0)
        total += morae
        part = f.get("pos_group1")
        after_name = part == "固有名詞" or (after_name and part == "接尾")
        if after_name:
            named += morae
    return named > 0 and 2 * named >= total


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    term: str
    score: float


def _candidates(text: str, term: str) -> list[Match]:
    target = phonemes(term)
    if len(target) < MIN_PHONEMES:
        return []
    out = []
    lengths = range(max(2, len(term) - 1), len(term) + 3)
    for start in range(len(text)):
        for length in lengths:
            window = text[start : start + length]
            if len(window) < length or _STOP.search(window) or window == term:
                continue
            heard = phonemes(window)
            if abs(len(heard) - len(target)) > MAX_DISTANCE * len(target):
                continue
            score = distance(heard, target) / len(target)
            if score <= MAX_DISTANCE and not names_a_place_or_person(window):
                out.append(Match(start, start + length, term, score))
    return out


def correct_text(text: str, terms: Sequence[str]) -> str:
    """``text`` with every stretch that sounds like a term replaced by it
    (the closest first; stretches never overlap, terms already there stay)."""
    protected = [(m.start(), m.end()) for t in terms for m in re.finditer(re.escape(t), text)]
    matches = sorted(
        (m for t in terms for m in _candidates(text, t)), key=lambda m: (m.score, -(m.end - m.start))
    )
    chosen: list[Match] = []
    taken = list(protected)
    for m in matches:
        if all(m.end <= a or m.start >= b for a, b in taken):
            chosen.append(m)
            taken.append((m.start, m.end))
    for m in sorted(chosen, key=lambda m: m.start, reverse=True):
        text = text[: m.start] + m.term + text[m.end :]
    return text


def correct_segments(segments: Sequence[Segment], terms: Sequence[str]) -> list[Segment]:
    """Segments with glossary terms put back (words dropped where text changed)."""
    if not terms:
        return list(segments)
    out = []
    for seg in segments:
        text = correct_text(seg.text, terms)
        out.append(seg if text == seg.text else replace(seg, text=text, words=None))
    return out
