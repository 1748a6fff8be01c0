"""Glossary terms put back where Whisper heard them but wrote something else.

Whisper base writes what it hears in the words it knows: 小倉北区 comes out
as 「国らきたく」 (クニラキタク for コクラキタク) even with the term as a
hotword, because hotwords only nudge the decoder towards tokens, and the
base model has no strong token path for a rare place name (the measurement
is in docs/transcription.md). So after recognition a stretch of text whose
*sound* is close to a glossary term's is replaced by the term.

Two rules keep correct text correct (a department glossary holding
防災行政無線 once turned the right 「防災対策検討会議」 into
「防災行政無線討会議」, because any run of characters could be replaced):

- **Whole words only.** The text is cut into words by Sudachi (its core
  dictionary comes with pyopenjtalk-plus), in its longest unit (mode C, so
  小倉北区 or 北九州市 is one word); a stretch is a run of whole words, never
  part of one.
- **The whole stretch sounds like the term.** Both are turned into phonemes
  from the same readings (a lone kanji in each of its dictionary readings),
  and the edit distance over the term's length must be at most
  ``WELL_FORMED_DISTANCE`` (a vowel, a voiced or palatalised consonant, a
  vowel's length or a small っ heard otherwise costs half); a stretch that is mostly
  a proper noun the dictionary knows (小倉南区 is a real ward, not a
  misheard 小倉北区) stays. Or the stretch is the term written with other
  kanji of the same reading (「最入最出」 for 歳入歳出).

Where the text alone cannot say, the audio does: a *loose match* (a stretch
of nouns within ``LOOSE_DISTANCE`` of a term that keeps one of its kanji,
a stretch with a broken-off piece within ``MAX_DISTANCE``, words before
a year within ``ERA_LOOSE`` of an era, or a 「<noun>区」 that is no word near
one of the city's wards, jobs/transcription/places.py) is put in only when
the segment's audio, scored by the Whisper model that heard it, makes the
term's text about as probable as the heard one (``heard_better``; the
scorer is passed in, jobs/transcription/acoustic.py, so this module needs
no model).

Era years are a pattern, not a list: a number followed by 年 or 年度 whose
preceding word(s) sound like an era name (「0は7年度」 is レイワ heard as 零
and は) get the era name back (jobs/transcription/base_glossary.py), and a
year in kanji numerals after an era is written in digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from jobs.transcription.eras import ERA_LOOSE, era_candidates
from jobs.transcription.phonetics import (
    VOWELS,
    Word,
    dictionary,
    kin,
    phonemes,
    within,
    words,
)
from jobs.transcription.places import MAX_PLACE_LOSS, other_place_ending, place_candidates
from jobs.transcription.segments import Segment, retimed

# How far (a share of the term's phonemes) a stretch may sound from a term
# for the text alone to replace it. Well-formed words further away may well
# be right as written (後日 is not a misheard 門司区, 0.33 away).
WELL_FORMED_DISTANCE = 0.22
# A stretch with a broken-off piece in it (「国らきた国」: ら, き, た are no
# words there) is a mishearing, and may be a term up to MAX_DISTANCE away;
# but a broken piece says that Whisper misheard something, not *which*
# term was said, so beyond WELL_FORMED_DISTANCE only the audio may put the
# term in (「撤明会」, heard for 説明会, is 0.28 from 定例会: the two share
# only 会).
MAX_DISTANCE = 0.34
# Looser matches, replaced only when the audio says so (``heard_better``):
# Whisper wrote other real words for the term (一般会計 as 一旦回転, 昭和 as
# 小倉) that the text alone cannot tell from words really said.
LOOSE_DISTANCE = 0.4
# How much less probable (natural log) the audio may make the text with the
# term than the text as heard. Whisper's beam search wrote the heard text,
# so it is near the model's most probable one for the audio and the term's
# text is seldom above it: a misheard term comes within a few units
# (一旦回転 → 一般会計 +0.8, 「会計年度に、医療職員」 → 会計年度任用職員 −2.7),
# a stretch that was said as heard falls far below (on the tuning set none
# above −8.2).
MAX_LOSS = 4.0
SAME_SOUND = 0.5  # at most one vowel differs: the term, written otherwise
MIN_PHONEMES = 6  # shorter terms are too easy to find by chance
MIN_LOOSE_PHONEMES = 8  # ... by a looser match
MAX_WORDS = 8  # words in one stretch (a term heard as many small pieces)
MAX_READINGS = 16  # ways to read one stretch (the first, Sudachi's, always among them)
_PAUSES = frozenset({"、", ",", " ", "\u3000"})  # a comma or a space Whisper put in


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    term: str
    score: float
    loss: float = MAX_LOSS  # how far below the heard text the audio may put it


def _mostly_named(span: Sequence[Word]) -> bool:
    """A stretch that is at least half proper noun (by sound) is a real name
    Whisper wrote there; 国立北区 (国立 is a common noun) is not."""
    named = sum(len(w.phonemes) for w in span if w.proper)
    return named > 0 and 2 * named >= sum(len(w.phonemes) for w in span)


def _differs_alike(
    span: Sequence[Word], heard_as: Sequence[tuple[str, ...]], term: Sequence[Word], allowed: float
) -> bool:
    """Whether the part of the stretch that differs from the term sounds
    like the part of the term it would replace (``heard_as``: the reading
    taken for each word of the stretch). Words both share at either end do
    not count: 「それは7年度」 is near 「令和7年度」 only thanks to 「7年度」,
    and それは is far from 令和."""
    a = [(w, sound) for w, sound in zip(span, heard_as, strict=True) if not w.punct]
    b = list(term)
    while a and b and a[0][0].surface == b[0].surface:
        a, b = a[1:], b[1:]
    while a and b and a[-1][0].surface == b[-1].surface:
        a, b = a[:-1], b[:-1]
    heard = tuple(p for _, sound in a for p in sound)
    meant = tuple(p for w in b for p in w.phonemes)
    if not meant:
        # All the term's words are there: the term cut by a pause, or the
        # term inside the stretch (it already stands there).
        return not a and len(a) < len(span)
    # One phoneme may always differ (「4」 heard for 要 in 避難行動要支援者).
    return within(heard, meant, max(1.0, allowed * len(meant))) is not None


@dataclass(frozen=True)
class Stretch:
    """A run of whole words ``ws[i:j]`` read one way: ``parts`` is the
    phonemes taken for each word, ``sound`` all of them."""

    i: int
    j: int
    sound: tuple[str, ...]
    parts: tuple[tuple[str, ...], ...]


def _spans(ws: Sequence[Word], low: int, high: int) -> list[Stretch]:
    """Runs of whole words (no punctuation but one pause) whose phoneme count lies in
    ``[low, high]``, in each of their readings (at most ``MAX_READINGS``)."""
    out = []
    for i, first in enumerate(ws):
        # A particle or suffix belongs to the word before it: a stretch
        # starting on one cuts a phrase (「…に着述し」 is not 北九州市).
        if first.punct or first.suffix or (first.particle and not _kana_particle(ws, i)):
            continue
        # (other readings taken, sound, parts): Sudachi's readings first,
        # then those that take the fewest other readings.
        reads: list[tuple[int, tuple[str, ...], tuple[tuple[str, ...], ...]]] = [(0, (), ())]
        pauses = 0
        for j in range(i, min(len(ws), i + MAX_WORDS)):
            # Whisper writes a pause inside a long compound as 「、」
            # (「会計年度、任用職員」): one may lie inside a stretch, never at
            # its ends; any other punctuation ends it.
            if ws[j].punct and not (ws[j].surface in _PAUSES and j > i and pauses == 0):
                break
            pauses += ws[j].punct
            grown = [
                (n + (k > 0), sound + r, (*parts, r))
                for n, sound, parts in reads
                for k, r in enumerate(ws[j].readings)
                if len(sound) + len(r) <= high
            ]
            reads = sorted(grown, key=lambda read: read[0])[:MAX_READINGS]
            if not reads:
                break
            if not ws[j].prefix and not ws[j].punct and not _bound(ws, j):
                out += [Stretch(i, j + 1, sound, parts) for _, sound, parts in reads if len(sound) >= low]
    return out


def _bound(ws: Sequence[Word], j: int) -> bool:
    """Whether ``ws[j]`` is a lone kanji the suffix after it is bound to:
    Sudachi cuts an unknown compound into a lone kanji and a suffix (修|室
    in 「北急修室」), and a stretch ending between them cuts it."""
    lone = len(ws[j].surface) == 1 and "\u4e00" <= ws[j].surface <= "\u9fff"
    return lone and j + 1 < len(ws) and ws[j + 1].suffix


_INDEX: dict[str, int] = {}  # phoneme family -> column of the count vectors
_COLUMN: dict[str, int] = {}  # phoneme -> its family's column


def _column(p: str) -> int:
    found = _COLUMN.get(p)
    if found is None:
        found = _COLUMN[p] = _INDEX.setdefault(kin(p), len(_INDEX))
    return found


def _counts(sounds: Sequence[Sequence[str]]) -> Any:
    """Phoneme family counts, one row per sound, one column per family seen so far."""
    import numpy as np

    rows_of = [r for r, sound in enumerate(sounds) for _ in sound]
    columns = [_column(p) for sound in sounds for p in sound]
    rows = np.zeros((len(sounds), len(_INDEX)))
    np.add.at(rows, (rows_of, columns), 1)
    return rows


def _near(spans: Sequence[Stretch], targets: Sequence[tuple[str, ...]], allowed: Any) -> Any:
    """Which (stretch, term) pairs can be within ``allowed`` (per stretch, a
    share of the term's length): the length difference and the phoneme
    counts give lower bounds of the distance, for all pairs at once (as in
    ``bag_bound``)."""
    import numpy as np

    t = _counts(targets)
    s = _counts([span.sound for span in spans])
    width = max(s.shape[1], t.shape[1])
    s = np.pad(s, ((0, 0), (0, width - s.shape[1])))
    t = np.pad(t, ((0, 0), (0, width - t.shape[1])))
    weight = np.full(width, 0.5)
    for p, k in _INDEX.items():
        if p in VOWELS:
            weight[k] = 0.25
    bound = np.abs(s[:, None, :] - t[None, :, :]) @ weight
    lengths = 0.5 * np.abs(s.sum(axis=1)[:, None] - t.sum(axis=1)[None, :])
    limit = np.asarray(allowed)[:, None] * t.sum(axis=1)[None, :]
    return (bound <= limit + 1e-9) & (lengths <= limit + 1e-9)


def _kana_particle(ws: Sequence[Word], k: int, i: int = 0, j: int = 0) -> bool:
    """Whether ``ws[k]`` is a particle inside a run of kana (in the stretch
    ``ws[i:j]`` when given: a kana word after it there, and before it unless
    it starts the stretch). Sudachi cuts a run of kana into whatever words
    it can, so a term Whisper wrote in kana comes out as particles and
    pieces (「やはたにしく」 is や|はた|に|しく), and those particles are its
    guess, not the speaker's; 「文字が」 ends on a particle and stays a phrase."""
    after = k + 1 < (j or len(ws)) and ws[k + 1].kana
    before = k == i or ws[k - 1].kana
    return ws[k].particle and ws[k].kana and after and (before or not j)


def _allowed(ws: Sequence[Word], i: int, j: int) -> float:
    """How far the stretch ``ws[i:j]`` may sound from a term: MAX_DISTANCE
    with a broken piece in it, WELL_FORMED_DISTANCE for well-formed words,
    and not at all for well-formed words joined by a particle (「課と共有し」
    is a phrase, not a misheard 北九州市: a term is one noun, and is not
    heard as two words and a particle unless something in it is broken)
    other than one inside a run of kana (``_kana_particle``)."""
    span = ws[i:j]
    if any(w.fragment for w in span):
        return MAX_DISTANCE
    if j - i > 1 and any(ws[k].particle and not _kana_particle(ws, k, i, j) for k in range(i, j)):
        return 0.0
    return WELL_FORMED_DISTANCE


def _keeps_a_character(heard: str, term: str) -> bool:
    """Whether a loose match kept one of the term's kanji (一旦回転 the 一
    of 一般会計, 民善委員 the 民 and 委員 of 民生委員). Judging a stretch costs
    one pass of Whisper's encoder over the segment, and ordinary words near
    a term's sound (住宅 / 戸畑区, 図書館 / 当初予算) keep none: without
    this, every third segment of plain talk was judged."""
    return any(c in term for c in heard if "\u4e00" <= c <= "\u9fff")


def _noun_like(span: Sequence[Word]) -> bool:
    """A stretch Whisper may have written for a term (a noun) in other
    words: nouns, a particle or a pause between them, the first word maybe
    an adverb or a conjunction (一旦回転 for 一般会計, そして緊急避難場所
    for 指定緊急避難場所); no verb, no ending, no particle at its end."""
    first, *rest = span
    return (
        (first.noun or first.adverb)
        and (not rest or rest[-1].noun)
        and all(w.noun or w.particle or w.punct for w in rest)
    )


def _candidates(text: str, ws: Sequence[Word], terms: Sequence[str], *, loose: bool = False) -> list[Match]:
    """Stretches of whole words that sound like one of ``terms``; with
    ``loose``, those up to ``LOOSE_DISTANCE`` away whatever their words
    (a particle, a name: the audio decides, ``correct_segments``)."""
    known = [(t, phonemes(t)) for t in terms]
    known = [(t, p) for t, p in known if len(p) >= MIN_PHONEMES]
    if not known or not ws:
        return []
    widest = LOOSE_DISTANCE if loose else MAX_DISTANCE
    low = min(len(p) - int(widest * len(p)) for _, p in known)
    high = max(len(p) + int(widest * len(p)) for _, p in known)
    spans = _spans(ws, low, high)
    if not spans:
        return []
    if loose:  # a term heard as other nouns, its longer terms only
        spans = [sp for sp in spans if _noun_like(ws[sp.i : sp.j])]
        known = [(t, p) for t, p in known if len(p) >= MIN_LOOSE_PHONEMES]
        if not spans or not known:
            return []
    allowed = [LOOSE_DISTANCE if loose else _allowed(ws, sp.i, sp.j) for sp in spans]
    near = _near(spans, [p for _, p in known], allowed)
    out = []
    for a, b in zip(*near.nonzero(), strict=True):
        sp, (term, target) = spans[a], known[b]
        start, end = ws[sp.i].start, ws[sp.j - 1].end
        if text[start:end] == term:
            continue
        span = ws[sp.i : sp.j]
        found = within(sp.sound, target, allowed[a] * len(target))
        if found is None or not _differs_alike(span, sp.parts, words(term), allowed[a]):
            continue
        # A name the dictionary knows stays, unless it sounds just like the
        # term (「北急修市」: two names glued together, read as 北九州市).
        if not loose and found > SAME_SOUND and (_mostly_named(span) or (len(span) == 1 and span[0].name)):
            continue
        if loose and not _keeps_a_character(text[start:end], term):
            continue
        out.append(Match(start, end, term, found / len(target)))
    return out


def _variant_candidates(text: str, ws: Sequence[Word], terms: Sequence[str]) -> list[Match]:
    """Stretches of whole words that are a term written with other kanji of
    the same sound (「最入最出」 for 歳入歳出, 「住民基本大町」 for 住民基本台帳):
    as long as the term, at least half of it the very same characters, and
    each other kanji sharing a reading with the term's (最 and 歳: サイ).
    This finds what the sound comparison cannot: the reading Sudachi gives
    a kanji standing alone is often not the one it has in the term
    (入 alone is イリ, never ニュウ), and the dictionary may not know the
    other one at all."""
    by_length: dict[int, list[str]] = {}
    for t in terms:
        if len(t) >= 3:
            by_length.setdefault(len(t), []).append(t)
    out = []
    for i, first in enumerate(ws):
        if first.punct or first.suffix or first.particle:
            continue
        for j in range(i, min(len(ws), i + MAX_WORDS)):
            if ws[j].punct:
                break
            start, end = first.start, ws[j].end
            if ws[j].prefix or end - start not in by_length:
                continue
            heard = text[start:end]
            for term in by_length[end - start]:
                differ = [(a, b) for a, b in zip(heard, term, strict=True) if a != b]
                if (
                    differ
                    and 2 * len(differ) <= len(term)
                    and all(_same_sound_kanji(a, b) for a, b in differ)
                ):
                    out.append(Match(start, end, term, 0.1 * len(differ) / len(term)))
    return out


def _same_sound_kanji(a: str, b: str) -> bool:
    return bool(_kanji_readings(a) & _kanji_readings(b))


@lru_cache(maxsize=16384)
def _kanji_readings(c: str) -> frozenset[str]:
    """A kanji's readings in the dictionary, names' left out; none for
    anything else (kana, digits: 「4」 for 要 is a sound match's business)."""
    if not "\u4e00" <= c <= "\u9fff":
        return frozenset()
    return frozenset(m.reading_form() for m in dictionary().lookup(c) if m.part_of_speech()[1] != "固有名詞")


def replacements(text: str, terms: Sequence[str], *, eras: bool = True) -> list[Match]:
    """The stretches of ``text`` to replace, in text order: runs of whole
    words that sound like a term (the closest first; stretches never
    overlap, terms already there stay), and era names before years."""
    ws = words(text)
    protected = _terms_there(text, terms)
    near = [
        m
        for m in _candidates(text, ws, terms)
        if m.score <= WELL_FORMED_DISTANCE and not other_place_ending(text, ws, m.start, m.end, m.term)
    ]
    found = near + _variant_candidates(text, ws, terms)
    if eras:
        found += [Match(*m) for m in era_candidates(text, ws)]
    return _disjoint(found, protected)


def _terms_there(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Where ``text`` holds a term already: no replacement touches those."""
    return [(m.start(), m.end()) for t in terms for m in re.finditer(re.escape(t), text)]


def _apart(m: Match, spans: Sequence[tuple[int, int]]) -> bool:
    return all(m.end <= a or m.start >= b for a, b in spans)


def _disjoint(found: Sequence[Match], taken: Sequence[tuple[int, int]]) -> list[Match]:
    """The best of ``found`` (lowest score, then longest) that overlap
    neither each other nor ``taken``, in text order."""
    chosen: list[Match] = []
    taken = list(taken)
    for m in sorted(found, key=lambda m: (m.score, -(m.end - m.start))):
        if _apart(m, taken):
            chosen.append(m)
            taken.append((m.start, m.end))
    return sorted(chosen, key=lambda m: m.start)


def loose_replacements(text: str, terms: Sequence[str], *, eras: bool = True) -> list[Match]:
    """Stretches of ``text`` (already corrected by ``replacements``) that
    may be a misheard term but are too far from it for the text alone to
    say: up to ``LOOSE_DISTANCE`` of the term's sound whatever their words,
    stretches with a broken piece beyond ``WELL_FORMED_DISTANCE`` (the text
    rules leave those to the audio), and up to ``ERA_LOOSE`` of an era's
    before a year. Alternatives may overlap; none touches a term already
    there."""
    ws = words(text)
    protected = _terms_there(text, terms)
    # A 「<noun>区」 near a ward first: a stricter match of the same
    # stretch and term, found next, takes its place.
    found = [Match(*p, loss=MAX_PLACE_LOSS) for p in place_candidates(text, ws, terms)]
    found += _candidates(text, ws, terms, loose=True)
    found += [m for m in _candidates(text, ws, terms) if m.score > WELL_FORMED_DISTANCE]
    if eras:
        found += [Match(*m) for m in era_candidates(text, ws, ERA_LOOSE)]
    found = [
        m for m in found if _apart(m, protected) and not other_place_ending(text, ws, m.start, m.end, m.term)
    ]
    return list({(m.start, m.end, m.term): m for m in found}.values())


# Scores texts for one stretch of audio: the summed log-probability of each
# (jobs/transcription/acoustic.py), higher is likelier.
TextScorer = Callable[[Sequence[str]], Sequence[float]]
# Scores texts for several segments of one recording at once: for each
# segment, the texts asked for it (none: not judged), each in the segment's
# place, against the audio (jobs/transcription/acoustic.py ``segment_judge``,
# which lets nearby segments share one pass of Whisper's encoder).
SegmentsJudge = Callable[[Sequence[Segment], Sequence[Sequence[str]]], Sequence[Sequence[float]]]


def _asked(text: str, candidates: Sequence[Match]) -> list[str]:
    """The texts to score for ``candidates``: ``text`` as it stands, then
    ``text`` with each candidate put in."""
    return [text, *(_replaced(text, [m]) for m in candidates)] if candidates else []


def _preferred(candidates: Sequence[Match], scores: Sequence[float]) -> list[Match]:
    """Those of ``candidates`` whose text (``scores[1:]``) the audio makes
    about as probable as the text as it stands (``scores[0]``, ``MAX_LOSS``),
    non-overlapping (the likeliest first)."""
    better = [
        replace(m, score=-(gain - scores[0]))
        for m, gain in zip(candidates, scores[1:], strict=True)
        if gain - scores[0] >= -m.loss
    ]
    return _disjoint(better, [])


def heard_better(text: str, candidates: Sequence[Match], score: TextScorer) -> list[Match]:
    """Those of ``candidates`` whose term makes the audio about as probable
    as what stands in ``text`` (``MAX_LOSS``), non-overlapping (the likeliest
    first)."""
    if not candidates:
        return []
    return _preferred(candidates, score(_asked(text, candidates)))


def correct_text(
    text: str, terms: Sequence[str], *, eras: bool = True, score: TextScorer | None = None
) -> str:
    """``text`` with ``replacements`` made; with ``score`` (the audio's
    judge, for the audio ``text`` was heard from), then the loose matches
    the audio prefers too."""
    text = _replaced(text, replacements(text, terms, eras=eras))
    if score is None:
        return text
    return _replaced(text, heard_better(text, loose_replacements(text, terms, eras=eras), score))


def _replaced(text: str, found: Sequence[Match]) -> str:
    for m in reversed(found):  # from the end: earlier offsets stay right
        text = text[: m.start] + m.term + text[m.end :]
    return text


def correct_segments(
    segments: Sequence[Segment], terms: Sequence[str], judge: SegmentsJudge | None = None
) -> list[Segment]:
    """Segments with glossary terms and era names put back; a segment's
    word timings follow its corrected text (``segments.retimed``). With ``judge``
    (the recording's audio judge), then the loose matches its audio prefers
    (``MAX_LOSS``), all segments' asked in one call so that the judge can
    share work between neighbours."""
    fixed = [_corrected(seg, replacements(seg.text, terms)) for seg in segments]
    if judge is None:
        return fixed
    loose = [loose_replacements(seg.text, terms) for seg in fixed]
    asks = [_asked(seg.text, found) for seg, found in zip(fixed, loose, strict=True)]
    if not any(asks):
        return fixed
    scores = judge(fixed, asks)
    return [
        _corrected(seg, _preferred(found, got)) if found else seg
        for seg, found, got in zip(fixed, loose, scores, strict=True)
    ]


def _corrected(seg: Segment, found: Sequence[Match]) -> Segment:
    if not found:
        return seg
    text = _replaced(seg.text, found)
    return replace(seg, text=text, words=retimed(seg, [(m.start, m.end, m.term) for m in found], text))
