"""The review screen's fields beyond the plain text box: dates shown and
corrected in 和暦 and 西暦 side by side (the split of a batch into the
decisions saved and those refused is ``services.review.split_refused``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from jobs.wareki import EARLIEST_SUPPORTED, to_seireki, to_wareki

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def read_date(entry: Mapping[str, Any]) -> date | None:
    """The day a date field was read as (dates are stored as ISO text)."""
    value = entry.get("value")
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if day >= EARLIEST_SUPPORTED else None


def date_item(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Extra keys for a date field: the 和暦 text is what the main box shows
    (and confirms), the 西暦 text sits beside it in a box of its own."""
    day = read_date(entry)
    if day is None:
        return {"date": False}
    return {"date": True, "shown": to_wareki(day), "seireki": to_seireki(day)}
