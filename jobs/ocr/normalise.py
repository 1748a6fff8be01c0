"""Field text normalised and checked by type.

Everything here is plain string work, so it is tested without tesseract and
reused when a reviewer types a correction. ``normalise`` never raises: a
value that fails its type check comes back with ``problem`` set (Japanese),
which sends the field to review.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from jobs.ocr.checks import kana_spelling

Value = str | int | bool | None

_JA = "\u3005\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff"
_JA_SPACE = re.compile(f"\\s+(?=[{_JA}])|(?<=[{_JA}])\\s+")
# Look-alikes tesseract returns for a hyphen between digits (長音, 漢数字の一, dashes).
_DASHES = "ー一—–−‐‑－ｰ〜~_"
_DIGIT_DASH = re.compile(f"(?<=\\d)\\s*[{_DASHES}-]\\s*(?=\\d)")
_KATAKANA = re.compile("^[\u30a1-\u30f6\u30fc\u30fb]+$")
_NAME = re.compile(f"^[{_JA}]+$")

# (era, first day, last day, first Gregorian year); 明治 only from 1873, when
# Japan adopted the Gregorian calendar (earlier days would be off anyway).
_ERAS: dict[str, tuple[date, date, int]] = {
    "明治": (date(1873, 1, 1), date(1912, 7, 29), 1868),
    "大正": (date(1912, 7, 30), date(1926, 12, 24), 1912),
    "昭和": (date(1926, 12, 25), date(1989, 1, 7), 1926),
    "平成": (date(1989, 1, 8), date(2019, 4, 30), 1989),
    "令和": (date(2019, 5, 1), date(9999, 12, 31), 2019),
}
_ERA_ALIASES = {"明": "明治", "大": "大正", "昭": "昭和", "平": "平成", "令": "令和"}
_ERA_ALIASES.update({"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"})
_WAREKI = re.compile(
    r"^(明治|大正|昭和|平成|令和|[明大昭平令MTSHR])\.?(元|\d{1,2})[年./-](\d{1,2})[月./-](\d{1,2})日?$"
)
_SEIREKI = re.compile(r"^(\d{4})[年./-](\d{1,2})[月./-](\d{1,2})日?$")
# Kanji written in names in a plain and a traditional or variant form; OCR
# reads the variant as the plain one with full confidence (髙橋 → 高橋).
VARIANT_GROUPS = (
    "崎﨑嵜",
    "高髙",
    "斉齊齋斎",
    "辺邊邉",
    "浜濱濵",
    "沢澤",
    "島嶋嶌",
    "吉𠮷",
    "徳德",
    "広廣",
    "桜櫻",
)
_VARIANTS = frozenset("".join(VARIANT_GROUPS))


@dataclass(frozen=True)
class Checked:
    """A normalised value: ``value`` typed for JSON, ``text`` for CSV/Excel,
    ``problem`` a Japanese reason when the type check failed."""

    value: Value
    text: str
    problem: str | None = None


def clean_text(raw: str) -> str:
    """NFKC, no spaces beside Japanese characters, hyphens between digits;
    the lines of a multi-line value are kept apart by one newline."""
    lines = []
    for line in unicodedata.normalize("NFKC", raw).split("\n"):
        text = _JA_SPACE.sub("", line.strip())
        text = _DIGIT_DASH.sub("-", text)
        if text:
            lines.append(re.sub(r"\s+", " ", text))
    return "\n".join(lines)


def to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def parse_wareki(text: str) -> date:
    """``令和6年4月1日`` / ``R6.4.1`` / ``平成元年1月8日`` → date; ValueError
    when malformed or outside the era (平成32年 does not exist)."""
    match = _WAREKI.match(clean_text(text).replace(" ", ""))
    if not match:
        raise ValueError(f"not a Japanese-era date: {text!r}")
    era = _ERA_ALIASES.get(match.group(1), match.group(1))
    first, last, base = _ERAS[era]
    year = 1 if match.group(2) == "元" else int(match.group(2))
    day = date(base + year - 1, int(match.group(3)), int(match.group(4)))
    if not first <= day <= last:
        raise ValueError(f"{era}{year}年 is outside the era: {text!r}")
    return day


def parse_date(text: str) -> date:
    """Gregorian (``2024年4月1日``, ``2024/4/1``, ``2024-04-01``) or 和暦."""
    compact = clean_text(text).replace(" ", "")
    match = _SEIREKI.match(compact)
    if match:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return parse_wareki(compact)


def _grouped_integer(text: str) -> int:
    """``1,234,500`` → 1234500; a comma in the wrong place is an error, not
    silently dropped (``12,34`` is a misread, not 1234)."""
    if re.fullmatch(r"\d{1,3}([,.]\d{3})+", text):
        return int(re.sub(r"[,.]", "", text))
    if re.fullmatch(r"\d+", text):
        return int(text)
    raise ValueError(f"not an integer with digit grouping: {text!r}")


def _amount(text: str) -> Checked:
    compact = re.sub(r"[\s¥￥\\円]", "", text)
    try:
        number = _grouped_integer(compact)
    except ValueError:
        return Checked(compact, compact, "金額として読めません（数字と3桁区切りのカンマのみ）。")
    return Checked(number, str(number), None)


def _number(text: str) -> Checked:
    compact = text.replace(" ", "")
    negative = compact.startswith("-")
    try:
        number = _grouped_integer(compact.lstrip("-"))
    except ValueError:
        return Checked(compact, compact, "数値として読めません。")
    number = -number if negative else number
    return Checked(number, str(number), None)


def _phone(text: str) -> Checked:
    # PP-OCR returns a handwritten dash between digit groups as a space: the
    # grouping is kept as dashes (093 582 2102 → 093-582-2102). A reading that
    # has its dashes keeps them and loses stray spaces (0 93-793-9088).
    if "-" not in text:
        text = re.sub(r"(?<=\d)\s+(?=\d)", "-", text)
    compact = re.sub(r"[\s()（）]", "", text)
    digits = re.sub(r"\D", "", compact)
    ok = re.fullmatch(r"0\d{1,4}-\d{1,4}-\d{3,4}|0\d{9,10}", compact) and len(digits) in (10, 11)
    return Checked(compact, compact, None if ok else "電話番号の形式ではありません（例: 093-582-2102）。")


# A handwritten 〒 before the code, as the engines read it: 〒 itself, or a
# look-alike (1, 7, T, 干, 丁, =). Only dropped when what follows is a whole
# 123-4567, so it is never a digit of the code.
_POSTAL_MARK = re.compile(r"^[〒〶1７7TＴ干丁=＝]\s*(?=\d{3}-\d{4}$)")


def _postal(text: str) -> Checked:
    compact = _POSTAL_MARK.sub("", re.sub(r"\s", "", text))
    compact = compact.replace("〒", "")
    if re.fullmatch(r"\d{7}", compact):
        compact = f"{compact[:3]}-{compact[3:]}"
    ok = re.fullmatch(r"\d{3}-\d{4}", compact)
    return Checked(compact, compact, None if ok else "郵便番号の形式ではありません（例: 802-0001）。")


def _digits(text: str) -> Checked:
    compact = text.replace(" ", "")
    ok = re.fullmatch(r"\d+", compact)
    return Checked(
        compact, compact, None if ok else "数字以外の文字が含まれています（先頭の0も桁に数えます）。"
    )


def _account(text: str) -> Checked:
    compact = text.replace(" ", "")
    ok = re.fullmatch(r"\d{7,8}", compact)
    return Checked(compact, compact, None if ok else "口座番号の形式ではありません（7桁または8桁の数字）。")


def _date(text: str, wareki_only: bool) -> Checked:
    try:
        day = parse_wareki(text) if wareki_only else parse_date(text)
    except ValueError:
        example = "令和6年4月1日" if wareki_only else "2024年4月1日"
        return Checked(text, text, f"日付として読めません、またはありえない日付です（例: {example}）。")
    return Checked(day.isoformat(), day.isoformat(), None)


def _kana(text: str) -> Checked:
    kana = to_katakana(text.replace(" ", ""))
    # 長音 read as 漢数字の一 or a dash next to katakana.
    kana = re.sub("(?<=[\u30a1-\u30f6])[一—–−‐-]", "ー", kana)
    if not _KATAKANA.match(kana):
        return Checked(kana, kana, "カタカナ以外の文字が含まれています。")
    # Small kana follow Japanese spelling (jobs.ocr.checks.kana_spelling):
    # in handwriting ュ and ユ, ッ and ツ differ by size alone.
    problem = kana_spelling(kana)
    if problem:
        return Checked(kana, kana, problem)
    return Checked(kana, kana, None)


def _name(text: str) -> Checked:
    compact = text.replace(" ", "")
    ok = _NAME.match(compact)
    return Checked(compact, compact, None if ok else "氏名に使えない文字（数字・記号など）が含まれています。")


def _typed(field_type: str, text: str) -> Checked:
    if field_type == "amount":
        return _amount(text)
    if field_type == "number":
        return _number(text)
    if field_type == "phone":
        return _phone(text)
    if field_type == "postal_code":
        return _postal(text)
    if field_type == "account_number":
        return _account(text)
    if field_type == "digits":
        return _digits(text)
    if field_type in ("date", "date_wareki"):
        return _date(text, field_type == "date_wareki")
    if field_type == "kana":
        return _kana(text)
    if field_type == "name":
        return _name(text)
    return Checked(text, text, None)


def _extra_checks(checked: Checked, allowed_chars: str | None, pattern: str | None) -> Checked:
    if checked.problem is not None:
        return checked
    if allowed_chars is not None:
        stray = sorted({c for c in checked.text if c not in allowed_chars and not c.isspace()})
        if stray:
            return Checked(checked.value, checked.text, f"使えない文字 {''.join(stray)} が含まれています。")
    if pattern is not None and not re.fullmatch(pattern, checked.text):
        return Checked(checked.value, checked.text, "定義された形式（pattern）に合いません。")
    return checked


def variant_kanji(text: str) -> str:
    """The characters of ``text`` that have a common variant form."""
    return "".join(sorted({c for c in text if c in _VARIANTS}))


def strip_affixes(text: str, prefixes: Sequence[str] = (), suffixes: Sequence[str] = ()) -> str:
    """``text`` without the printed marks it is allowed (〒, 円, 様, 第…号).
    Either mark is taken from either end: a PDF's text layer lists the
    printed form's own text before what was written on it (様山田太郎)."""
    marks = sorted({*prefixes, *suffixes}, key=len, reverse=True)
    for _ in range(4):
        before = text
        for mark in marks:
            if text.startswith(mark):
                text = text[len(mark) :].lstrip()
            if text.endswith(mark):
                text = text[: -len(mark)].rstrip()
        if text == before:
            break
    return text


def normalise(
    field_type: str,
    raw: str,
    *,
    allowed_chars: str | None = None,
    pattern: str | None = None,
    prefixes: Sequence[str] = (),
    suffixes: Sequence[str] = (),
) -> Checked:
    """Clean ``raw`` for ``field_type`` and check it; empty stays empty (None).
    Allowed printed prefixes and suffixes are stripped first."""
    if field_type == "checkbox":
        ticked = raw.strip() not in ("", "0", "false", "False", "いいえ", "無")
        return Checked(ticked, "1" if ticked else "0", None)
    text = strip_affixes(clean_text(raw), prefixes, suffixes)
    if not text:
        return Checked(None, "", None)
    return _extra_checks(_typed(field_type, text), allowed_chars, pattern)
