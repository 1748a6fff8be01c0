"""The city's wards, heard as some other 「<noun>区」.

Whisper base has no token path for most ward names: 戸畑区 (トバタク) comes
out as 「土砂区」, 小倉南区 as 「国ら南区」. The text rules
(jobs/transcription/glossary.py) find the near ones, but 土砂区 is 0.44 of
戸畑区's sound away, and nearer still to 門司区 (0.33): sound alone cannot
say which ward was meant, nor whether one was. What it can say is that a
「<noun>区」 Sudachi cuts into a noun and a lone 区 is no word: 地区, 学区,
選挙区 and other cities' wards (東区, 中央区) are words of their own and never
come here. In a city's meeting such a stretch is most likely one of the
city's wards misheard, so it is a loose match for every ward within
``PLACE_DISTANCE`` of it, and the audio picks the ward, trusted further than
for other loose matches (``MAX_PLACE_LOSS``): the audio check is prompted
with the city's place names as the recognition was with the department's
terms (jobs/transcription/kind.py ``audio_judge``), and then the ward said
comes within a few units of the heard text while the other wards, and
stretches that were no ward, fall far below.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import islice, product

from jobs.transcription.phonetics import Word, phonemes, within

# How far (a share of the ward's phonemes) a 「<noun>区」 may sound from one
# of the city's wards for the audio to be asked: 土砂区 is 0.44 from 戸畑区.
PLACE_DISTANCE = 0.5
# How much less probable (natural log) the audio may make the text with the
# ward than the text as heard. Wider than the other loose matches'
# (glossary.MAX_LOSS, 4): the heard 「<noun>区」 is no word, so it is no
# evidence against the ward. Chosen on the sets looked at before (tuning,
# held out 1–5): 戸畑区 over 土砂区 scored −3.4, −4.5, −5.3 and −7.0; the
# other wards over the same 土砂区 −18 and below, and wards over stretches
# that were no ward (地域区 for 事務局) −13 and below.
MAX_PLACE_LOSS = 6.0
MAX_PLACE_WORDS = 3  # words before the 区
MAX_PLACE_READINGS = 16
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def place_candidates(
    text: str, ws: Sequence[Word], terms: Sequence[str]
) -> list[tuple[int, int, str, float]]:
    """Stretches 「<noun>区」 of ``text`` (words ``ws``) that are no word and
    sound within ``PLACE_DISTANCE`` of one of the wards among ``terms``
    (those ending in 区): ``(start, end, ward, distance share)``, as many as
    there are near wards; the audio decides."""
    wards = [(t, phonemes(t)) for t in terms if t.endswith("区") and len(t) > 1]
    if not wards:
        return []
    out = []
    for k, last in enumerate(ws):
        if last.surface != "区" or k == 0:
            continue
        # The whole run of nouns before the 区 (a stretch starting inside
        # one cuts a compound: 「国ら南区」 is not 「国ら」 and 南区), made of
        # no name the dictionary knows (a lone kanji it reads as a given
        # name, 鳴 or 修, is its guess, not a name) and no number.
        i = k
        while i > 0 and ws[i - 1].noun and not ws[i - 1].punct:
            i -= 1
        run = ws[i:k]
        if (
            not run
            or len(run) > MAX_PLACE_WORDS
            or run[0].suffix
            or any(w.number or (w.proper and len(w.surface) > 1) for w in run)
            # An area named by a letter or a digit (A区, 3区) is no ward.
            or any(not _JAPANESE.search(w.surface) for w in run)
        ):
            continue
        start, end = run[0].start, last.end
        if text[start:end] in terms:
            continue
        reads = islice(product(*(w.readings for w in ws[i : k + 1])), MAX_PLACE_READINGS)
        sounds = [tuple(p for part in read for p in part) for read in reads]
        for ward, target in wards:
            near = [d for s in sounds if (d := within(s, target, PLACE_DISTANCE * len(target))) is not None]
            if near:
                out.append((start, end, ward, min(near) / len(target)))
    return out


def other_place_ending(text: str, ws: Sequence[Word], start: int, end: int, term: str) -> bool:
    """Whether ``text[start:end]`` (words ``ws``), near the ward ``term`` by
    sound, is well-formed words ending in a kanji other than the ward's 区:
    Whisper writes 区 right (its own token), so a stretch ending in 駅, 港 or
    庫 (「飛ばた駅」, 「文字庫」, for 戸畑駅 and 門司港, a word or a vowel from
    the ward's sound) is most likely another place of the same name. Neither
    the text nor the audio can say otherwise: prompted with the wards, the
    audio put 戸畑区 0.29 nats above 「飛ばた駅」 and 戸畑駅, said, 4.7 below;
    so such a stretch is never replaced. A stretch with a broken piece
    (「国らきた国」) is a mishearing whatever its last kanji."""
    last = text[end - 1 : end]
    if not term.endswith("区") or last in "区くぐクグ":
        return False
    # Kana ending on another sound than the 区 (「ワカマキュ」, Whisper's 若松
    # said alone): the name heard without its 区, whatever the pieces.
    if "\u3041" <= last <= "\u30ff":
        return True
    return "\u4e00" <= last <= "\u9fff" and not any(w.fragment for w in ws if start <= w.start < end)
