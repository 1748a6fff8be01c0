"""The built-in glossary: terms every city meeting uses, put back after
recognition in every department's transcripts, on top of its own glossary.

Kept short on purpose: each term is one more chance to replace correct
text by something that merely sounds alike (bench/glossary.py counts
those). Common words Whisper base already writes right are not here; these
are the longer administrative compounds it splits into homophones
(「一般会計」 → 「一般解決」). They only correct text: they are not sent to
Whisper as hotwords, so recognition itself is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Era:
    name: str
    last_year: int  # the highest year number the era is written with


# Current and recent eras: meetings speak of 令和 years, and of 平成/昭和
# years for buildings, plans and records. 令和 has no end yet: 50 keeps a
# number that is clearly not a year (「それは70年」) out.
ERAS = (Era("令和", 50), Era("平成", 31), Era("昭和", 64))

ADMINISTRATIVE_TERMS = (
    "一般会計",
    "特別会計",
    "補正予算",
    "当初予算",
    "歳入歳出",
    "債務負担行為",
    "繰越明許費",
    "地方交付税",
    "会計年度任用職員",
    "指定管理者",
    "総合計画",
    "防災行政無線",
    "地域包括支援センター",
    "放課後児童クラブ",
    "民生委員",
    "国民健康保険",
    "後期高齢者医療",
    "住民基本台帳",
    "固定資産税",
    "パブリックコメント",
    "常任委員会",
    "定例会",
)


def base_terms(city_name: str = "", wards: Iterable[str] = ()) -> list[str]:
    """The built-in terms, with the city's own name and its wards (from the
    settings: ``DIGILABO_CITY_NAME``, ``DIGILABO_CITY_WARDS``)."""
    return [*(t for t in (city_name, *wards) if t), *ADMINISTRATIVE_TERMS]


def judge_hotwords(
    hotwords: Sequence[str], city_name: str = "", wards: Iterable[str] = ()
) -> tuple[str, ...]:
    """The prompt of the audio check (jobs/transcription/acoustic.py): the
    recognition's hotwords, then the city's name and wards. Whisper weighs a
    term it was prompted with far higher (土砂区 heard for 戸畑区: the ward's
    text −12 to −15 below the heard one without it, −3 to −7 with it), so a
    term the prompt lacks would be judged against."""
    return tuple(dict.fromkeys([*hotwords, *(t for t in (city_name, *wards) if t)]))
