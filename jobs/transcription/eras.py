"""Era years: words before a number and 年/年度 that sound like an era name
(「0は7年度」 is 令和7年度 with レイワ heard as 零 and は), for the glossary
(jobs/transcription/glossary.py); a pattern, not a list of terms.
Returns ``(start, end, replacement, distance share)``."""

from __future__ import annotations

from collections.abc import Sequence

from jobs.transcription.base_glossary import ERAS
from jobs.transcription.phonetics import Word, distance, phonemes

# Era names are short (5–6 phonemes): one phoneme may differ, not more
# (「前は5年ごとに」 is 1.5 away from 「令和5年」 and must stay).
ERA_DISTANCE = 0.2
# Looser: words before a year the audio is asked about (昭和 heard as 小倉).
ERA_LOOSE = 0.75

_KANJI_DIGITS = {c: n for n, c in enumerate("〇一二三四五六七八九")}


def year_number(surface: str) -> int | None:
    """A year's number written in digits or kanji numerals (七, 十二, 二十八,
    三十一), else None."""
    if surface.isdigit():
        return int(surface)
    if not surface or any(c not in _KANJI_DIGITS and c != "十" for c in surface):
        return None
    if "十" not in surface:
        if len(surface) > 2:
            return None
        return int("".join(str(_KANJI_DIGITS[c]) for c in surface))
    tens, _, ones = surface.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (_KANJI_DIGITS[tens] if tens else 1) * 10 + (_KANJI_DIGITS[ones] if ones else 0)


def era_candidates(
    text: str, ws: Sequence[Word], limit: float = ERA_DISTANCE
) -> list[tuple[int, int, str, float]]:
    """Words before a number and 年/年度 that sound like an era name in
    whose range the number lies (「0は7年度」 → 「令和7年度」). A year in
    kanji numerals is written in digits (「令和七年度」 → 「令和7年度」), as
    Whisper writes most years, so that one meeting reads one way."""
    out = []
    for k, w in enumerate(ws):
        year = year_number(w.surface) if w.number else None
        if year is None or k + 1 >= len(ws) or not ws[k + 1].surface.startswith("年"):
            continue
        digits = not w.surface.isdigit()
        for i in range(max(0, k - 2), k):
            span = ws[i:k]
            if any(s.punct for s in span):
                continue
            heard = text[span[0].start : span[-1].end]
            if limit > ERA_DISTANCE and (span[0].particle or any(era.name in heard for era in ERAS)):
                continue  # a looser match never starts on a particle nor replaces an era's name
            sound = tuple(p for s in span for p in s.phonemes)
            for era in ERAS:
                if (heard == era.name and not digits) or not 1 <= year <= era.last_year:
                    continue
                target = phonemes(era.name)
                score = distance(sound, target) / len(target)
                if score > limit:
                    continue
                if digits:  # the number too: era and year as one replacement
                    out.append((span[0].start, w.end, f"{era.name}{year}", score))
                else:
                    out.append((span[0].start, span[-1].end, era.name, score))
    return out
