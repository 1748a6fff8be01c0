"""``era_date``: an era (circled among printed 明治…令和, written, or fixed)
plus 年・月・日 boxes, or one written date, put together as one date and
checked to exist in that era (平成32年 and 昭和64年2月 do not). 「元」 in the
year box is year 1. The value is ISO (1980-03-01); forms.json and the
tables also carry the 和暦 (昭和55年3月1日)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from jobs.ocr.normalise import clean_text, parse_wareki
from jobs.wareki import to_wareki

_ERA_WORDS = {"明": "明治", "大": "大正", "昭": "昭和", "平": "平成", "令": "令和"}
_ERA = re.compile("(明治|大正|昭和|平成|令和|[明大昭平令])")


def era_name(text: str) -> str | None:
    """A written era (昭和, 昭, S …) as its full name."""
    compact = clean_text(text).replace(" ", "")
    found = _ERA.search(compact)
    if found:
        return _ERA_WORDS.get(found.group(1), found.group(1))
    letters = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}
    return letters.get(compact.upper()) if len(compact) == 1 else None


def compose(era: str | None, parts: Mapping[str, str]) -> tuple[date | None, str | None, bool]:
    """(the day, a Japanese problem, whether anything was written) from the
    era and the written parts (``year``/``month``/``day``, or ``date``)."""
    written = bool(era) or any(parts.values())
    if "date" in parts:
        text = clean_text(parts["date"]).replace(" ", "")
        if text and not _ERA.match(text) and era:
            text = era + text
        if not text:
            return None, None, written
        try:
            return parse_wareki(text), None, True
        except ValueError:
            return None, f"「{text}」は和暦の日付として読めないか、ありえない日付です。", True
    year, month, day = (parts.get(k, "") for k in ("year", "month", "day"))
    if not written:
        return None, None, False
    if not (era and year and month and day):
        return None, "", True  # incomplete: the caller names it
    text = f"{era}{year}年{month}月{day}日"
    try:
        return parse_wareki(text), None, True
    except ValueError:
        return None, f"{text}は存在しない日付です（元号の期間外、または月日の誤り）。", True


def wareki_text(iso: str | None) -> str:
    """ISO → 和暦 (元年 for the first year), "" for no date."""
    if not iso:
        return ""
    try:
        return to_wareki(date.fromisoformat(iso))
    except ValueError:
        return ""
