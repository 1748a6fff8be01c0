"""Checks that catch a misread the type check lets through.

- ``check:`` on a field: a check digit. A misread digit that keeps the
  length passes every pattern; a check digit catches nearly all of them.
  ``mynumber`` (個人番号, 12 digits: the public rule of the 番号法 ordinance,
  weights 2–7 then 2–6 from the right, 11 − remainder, 0 when the remainder
  is 0 or 1), ``corporate_number`` (法人番号, 13 digits: the first digit is
  9 − (the other twelve weighted 1, 2, 1, 2 … from the right, mod 9)),
  ``mod10`` (Luhn: card, some customer and member numbers).
- Kana spelling wherever kana are read (names, addresses, free text, not
  only ``kana`` fields): a small ッャュョァィゥェォ where Japanese spelling
  cannot have one is a large kana misread (シティハイツ read as シティハイッ).

Everything here is plain string work; each check returns None or a
Japanese reason a person can act on.
"""

from __future__ import annotations

import re

CHECKS = ("mynumber", "corporate_number", "mod10")

_SMALL_YA = re.compile("(?<![キギシジチヂニヒビピミリフテデヴ])[ャュョ]")
# A small ァィゥェォ follows only the kana the cabinet notice on loanword
# spelling (外来語の表記, 1991) pairs it with: ファ, ティ, トゥ, シェ, ウォ …
_SMALL_VOWEL_AFTER = {
    "ァ": "ファヴツクグウ",
    "ィ": "ウヴフツテデスズクグ",
    "ゥ": "トドホ",
    "ェ": "イウヴフツチシジキギニヒビピミリクグ",
    "ォ": "ウヴフツクグ",
}
_SMALL_VOWEL = re.compile("|".join(f"(?<![{after}]){small}" for small, after in _SMALL_VOWEL_AFTER.items()))
# A small ッ doubles the consonant of the kana after it: never before a
# vowel, ナ・マ・ヤ・ラ・ワ行, ン, ー, another ッ, or anything that is not a kana
# (the end of a word: シティハイッ, マッモト).
_SMALL_TSU = re.compile("ッ(?=[アイウエオナニヌネノマミムメモヤユヨラリルレロワヲンーッ]|[^\u30a1-\u30fa]|$)")
_HIRAGANA = re.compile("[\u3041-\u3096]")


def _katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def kana_spelling(text: str) -> str | None:
    """Why ``text``'s kana cannot be spelt so (hiragana judged as katakana), or None."""
    kana = _katakana(text)
    if _SMALL_YA.search(kana):
        # In handwriting ュ and ユ differ by size alone.
        return "小さい「ャ・ュ・ョ」の前の文字が正しくありません（大きい文字の可能性）。"
    if _SMALL_VOWEL.search(kana):
        return "小さい「ァ・ィ・ゥ・ェ・ォ」の前の文字が正しくありません（大きい文字の可能性）。"
    if _SMALL_TSU.search(kana):
        return "小さい「ッ」の後の文字が正しくありません（大きい「ツ」の可能性）。"
    return None


def mynumber_ok(digits: str) -> bool:
    """個人番号: 12 digits, the last the check digit."""
    if not re.fullmatch(r"\d{12}", digits):
        return False
    body = [int(c) for c in reversed(digits[:11])]  # P1 is the digit left of the check digit
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(body, start=1))
    remainder = total % 11
    return int(digits[11]) == (0 if remainder <= 1 else 11 - remainder)


def corporate_number_ok(digits: str) -> bool:
    """法人番号: 13 digits, the first the check digit."""
    if not re.fullmatch(r"\d{13}", digits):
        return False
    body = [int(c) for c in reversed(digits[1:])]
    total = sum(p * (1 if n % 2 else 2) for n, p in enumerate(body, start=1))
    return int(digits[0]) == 9 - total % 9


def luhn_ok(digits: str) -> bool:
    if not re.fullmatch(r"\d{2,}", digits):
        return False
    total = 0
    for k, c in enumerate(reversed(digits)):
        d = int(c) * (2 if k % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def check_digit(kind: str, text: str) -> str | None:
    """Why ``text`` fails the ``check:`` rule ``kind``, or None. Spaces and
    dashes between the digits (1234-5678-9012) are allowed."""
    digits = re.sub(r"[\s-]", "", text)
    if kind == "mynumber":
        if not re.fullmatch(r"\d{12}", digits):
            return "個人番号は12桁の数字です。"
        return (
            None
            if mynumber_ok(digits)
            else "個人番号の検査用数字（最後の1桁）が合いません（読み違いの可能性）。"
        )
    if kind == "corporate_number":
        if not re.fullmatch(r"\d{13}", digits):
            return "法人番号は13桁の数字です。"
        return (
            None
            if corporate_number_ok(digits)
            else "法人番号の検査用数字（最初の1桁）が合いません（読み違いの可能性）。"
        )
    if kind == "mod10":
        return None if luhn_ok(digits) else "検査用数字（mod10）が合いません（読み違いの可能性）。"
    raise ValueError(f"unknown check: {kind}")


def has_kana(text: str) -> bool:
    return bool(_HIRAGANA.search(text)) or any("\u30a1" <= c <= "\u30fa" for c in text)
