"""How Japanese text sounds: words and their phonemes, and how far apart two
sounds are as Whisper mishears them.

The glossary (jobs/transcription/glossary.py) compares the sound of a
stretch of recognised text with a term's; speaker splitting
(jobs/transcription/speakers.py) cuts segments only where a word ends. Text
is cut by Sudachi (core dictionary from pyopenjtalk-plus, mode C: the
longest unit, so 小倉北区 is one word) and read by OpenJTalk.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_OTHER_READINGS = 4  # other readings of one lone kanji
_PUNCT = frozenset({"補助記号", "空白"})
_NOUNS = frozenset({"名詞", "代名詞", "接頭辞", "接尾辞"})
# Particles pronounced otherwise than written.
_SPOKEN = {("係助詞", "ハ"): "ワ", ("格助詞", "ヘ"): "エ"}
_frontend = threading.Lock()  # OpenJTalk's frontend is not thread-safe
_local = threading.local()  # a Sudachi tokenizer per thread


@dataclass(frozen=True)
class Word:
    start: int  # character offsets in the text
    end: int
    surface: str
    phonemes: tuple[str, ...]
    proper: bool  # a place's or person's name, or a suffix right after one (田中 + さん)
    punct: bool
    number: bool
    # Not a word of its own here: unknown to the dictionary, or a single
    # kana that is neither a particle, an auxiliary nor a form of する.
    fragment: bool = False
    particle: bool = False  # を, と, は …
    # Bound to the word before (課 in 関係課) or after (第 in 第3回): a
    # stretch starting on the one or ending on the other cuts a compound.
    suffix: bool = False
    prefix: bool = False
    # Other phonemes the word may stand for: a kanji standing alone gets
    # Sudachi's one reading (町 as マチ in 「巨大町」, 規 as the name ただし in
    # 「高規」) with none of the context a compound gives, so the dictionary's
    # other readings of it count too (チョウ, キ).
    others: tuple[tuple[str, ...], ...] = ()
    noun: bool = False  # a noun, a pronoun, a prefix or a suffix: what terms are made of
    adverb: bool = False  # an adverb or a conjunction (一旦, そして)
    kana: bool = False  # written in kana only (はた, ミク)
    name: bool = False  # any proper noun the dictionary knows (門司港, 戸畑駅, 北急)

    @property
    def readings(self) -> tuple[tuple[str, ...], ...]:
        return (self.phonemes, *self.others)


def dictionary() -> Any:
    found = getattr(_local, "dictionary", None)
    if found is None:
        from sudachipy import Dictionary

        found = _local.dictionary = Dictionary(dict="core")
    return found


def _tokenizer() -> Any:
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        tok = _local.tokenizer = dictionary().tokenizer()
    return tok


@lru_cache(maxsize=65536)
def _kana_phonemes(reading: str) -> tuple[str, ...]:
    """OpenJTalk's phonemes for a katakana reading (pauses dropped; a
    reading starting with a length mark cannot stand alone and loses it)."""
    import pyopenjtalk

    reading = reading.lstrip("ー")
    if not reading:
        return ()
    with _frontend:
        raw = pyopenjtalk.g2p(reading, kana=False)
    sound = [p.lower() for p in str(raw).split() if p not in ("pau", "sil")]
    # ou and oo, ei and ee are the same long vowel; OpenJTalk writes コウ
    # alone as "o o" but コウレイシャ as "o u".
    for k in range(1, len(sound)):
        if (sound[k - 1], sound[k]) in (("o", "u"), ("e", "i")):
            sound[k] = sound[k - 1]
    return tuple(sound)


@lru_cache(maxsize=4096)
def word_ends(text: str) -> frozenset[int]:
    """Character offsets in ``text`` where a dictionary word (Sudachi mode C:
    防災・対策・検討・会議, never 会 and 議 apart) ends."""
    from sudachipy import SplitMode

    return frozenset(m.end() for m in _tokenizer().tokenize(text, SplitMode.C))


@lru_cache(maxsize=4096)
def words(text: str) -> tuple[Word, ...]:
    """``text`` cut into dictionary words (Sudachi mode C) with their phonemes."""
    from sudachipy import SplitMode

    out: list[Word] = []
    after_name = after_te = False
    for m in _tokenizer().tokenize(text, SplitMode.C):
        pos = m.part_of_speech()
        reading = m.reading_form()
        number = pos[1] == "数詞"
        if m.is_oov() or not re.fullmatch(r"[\u30a0-\u30ff]+", reading or ""):
            reading = _surface_reading(m.surface())
        reading = _SPOKEN.get((pos[1], reading), reading)
        if pos[0] in _PUNCT:
            reading = ""  # not spoken (OpenJTalk reads a space as キゴー, 記号)
        # Names of places and people (not every proper noun: 「北急」, read
        # in 「北急修市」 for 北九州市, is some company's name).
        named = pos[1] == "固有名詞" and pos[2] in ("地名", "人名")
        after_name = named or (after_name and pos[1] in ("名詞的", "接尾"))
        single_kana = len(m.surface()) == 1 and "\u3040" <= m.surface() <= "\u30ff"
        # A verb after て/で is a helping verb (してきました, 見ています), not a
        # broken-off piece; a lone き elsewhere (「国らきた国」) is one. Nor
        # are a prefix and a suffix bound to their word (お in お願い, つ in 二つ).
        helping = pos[0] == "動詞" and after_te
        fragment = m.is_oov() or (
            single_kana
            and pos[0] not in ("助詞", "助動詞", "接頭辞", "接尾辞")
            and m.dictionary_form() != "する"
            and not helping
        )
        after_te = pos[1] == "接続助詞" and m.surface() in ("て", "で")
        out.append(
            Word(
                start=m.begin(),
                end=m.end(),
                surface=m.surface(),
                phonemes=_kana_phonemes(reading),
                proper=after_name,
                punct=pos[0] in _PUNCT,
                number=number,
                fragment=fragment and not number and pos[0] not in _PUNCT,
                particle=pos[0] == "助詞",
                suffix=pos[0] == "接尾辞",
                prefix=pos[0] == "接頭辞",
                noun=pos[0] in _NOUNS,
                adverb=pos[0] in ("副詞", "接続詞"),
                name=pos[1] == "固有名詞" and not m.is_oov(),
                kana=re.fullmatch(r"[\u3041-\u30ff]+", m.surface()) is not None,
                others=_other_readings(m.surface(), reading),
            )
        )
    return tuple(out)


@lru_cache(maxsize=16384)
def _other_readings(surface: str, reading: str) -> tuple[tuple[str, ...], ...]:
    """The dictionary's other readings of a single kanji standing as a word
    (not names': 定 as サダム is no reading a term is heard with), or, for a
    kanji the dictionary knows only as a given name, those names' readings:
    Sudachi reads 修 alone as the name オサム, and its other name reading,
    シュウ, is the kanji's on-reading (「北急修室」, Whisper's 北九州市)."""
    if len(surface) != 1 or not "\u4e00" <= surface <= "\u9fff":
        return ()
    entries = dictionary().lookup(surface)
    names_only = all(m.part_of_speech()[1] == "固有名詞" for m in entries)
    found: list[tuple[str, ...]] = []
    for m in entries:
        other = m.reading_form()
        if (
            (m.part_of_speech()[1] == "固有名詞" and not names_only)
            or other == reading
            or not re.fullmatch(r"[\u30a0-\u30ff]+", other)
        ):
            continue
        sound = _kana_phonemes(other)
        if sound and sound not in found:
            found.append(sound)
    return tuple(found[:MAX_OTHER_READINGS])


@lru_cache(maxsize=16384)
def _surface_reading(surface: str) -> str:
    """OpenJTalk's reading of a word Sudachi does not know (digits, kana runs)."""
    import pyopenjtalk

    with _frontend:
        kana = str(pyopenjtalk.g2p(surface, kana=True))
    return "".join(c for c in kana if "\u30a0" <= c <= "\u30ff")


@lru_cache(maxsize=4096)
def phonemes(text: str) -> tuple[str, ...]:
    """The phonemes of ``text``, read word by word as in ``words``."""
    return tuple(p for w in words(text) for p in w.phonemes)


VOWELS = frozenset("aiueo")
# Consonants that differ only in voicing (k/g, t/d, s/z, h/b/p) or in
# palatalisation (k/ky, s/sh, t/ch, n/ny …): Whisper writes キョ for キ or
# ド for ト in words it knows (基本 heard as 巨大, 戸 as 土). One such
# consonant heard as another costs half, like one vowel heard as another.
_KIN = {
    p: family
    for family, members in {
        "k": "k g ky gy",
        "s": "s z sh j",
        "t": "t d ch ts ty dy",
        "n": "n ny",
        "h": "h b p f hy by py v",
        "m": "m my",
        "r": "r ry",
    }.items()
    for p in members.split()
}


def kin(p: str) -> str:
    """The phoneme's family: itself for a vowel, else its consonant row."""
    return _KIN.get(p, p)


def _substitution(x: str, y: str) -> float:
    if x == y:
        return 0.0
    if x in VOWELS:
        return 0.5 if y in VOWELS else 1.0
    return 0.5 if kin(x) == kin(y) else 1.0


def _indel(seq: Sequence[str], k: int) -> float:
    """What leaving out (or adding) ``seq[k]`` costs: half for a vowel's
    length (オオ for オ: Whisper writes 保険料 for ホケンリョウ's long オ as
    well as without) and a doubled consonant's pause (っ), else one."""
    x = seq[k]
    if x == "cl" or (x in VOWELS and k > 0 and seq[k - 1] == x):
        return 0.5
    return 1.0


# ``distance``: one vowel heard as another costs half, as Whisper's
# misreadings keep the consonants more often than the vowels (コク → クニ);
# so do a consonant heard as its voiced or palatalised kin, a long vowel
# heard short and a small っ missed.
def distance(a: Sequence[str], b: Sequence[str]) -> float:
    found = _banded(a, b, float(len(a) + len(b)))
    assert found is not None
    return found


def bag_bound(a: Sequence[str], b: Sequence[str]) -> float:
    """A lower bound of ``distance(a, b)`` from counts alone: each edit
    changes at most two counts, and costs at least 0.5 per consonant family
    count and 0.25 per vowel count it changes (a change inside a family
    changes no family count)."""
    counts: dict[str, int] = {}
    for x in a:
        counts[kin(x)] = counts.get(kin(x), 0) + 1
    for y in b:
        counts[kin(y)] = counts.get(kin(y), 0) - 1
    return sum(abs(n) * (0.25 if p in VOWELS else 0.5) for p, n in counts.items())


@lru_cache(maxsize=262144)
def within(a: tuple[str, ...], b: tuple[str, ...], limit: float) -> float | None:
    """``distance(a, b)`` when it is at most ``limit``, else None; cheap
    bounds first (each phoneme of length difference costs at least half),
    as almost every stretch is far from every term."""
    if 0.5 * abs(len(a) - len(b)) > limit or bag_bound(a, b) > limit:
        return None
    return _banded(a, b, limit)


def _banded(a: Sequence[str], b: Sequence[str], limit: float) -> float | None:
    """``distance`` computed only near the diagonal (a cell k off it takes
    k additions or omissions, at least half each), given up as soon as a
    whole row is over ``limit``."""
    band = int(2 * limit)
    inf = float("inf")
    previous = [inf] * (len(b) + 1)
    previous[0] = 0.0
    for j in range(1, min(len(b), band) + 1):
        previous[j] = previous[j - 1] + _indel(b, j - 1)
    for i, x in enumerate(a, start=1):
        current = [inf] * (len(b) + 1)
        if i <= band:
            current[0] = previous[0] + _indel(a, i - 1)
        cut = _indel(a, i - 1)
        for j in range(max(1, i - band), min(len(b), i + band) + 1):
            current[j] = min(
                previous[j] + cut,
                current[j - 1] + _indel(b, j - 1),
                previous[j - 1] + _substitution(x, b[j - 1]),
            )
        if min(current) > limit:
            return None
        previous = current
    found = previous[-1]
    return found if found <= limit else None
