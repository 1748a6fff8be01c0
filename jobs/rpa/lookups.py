"""Finding an entry in the target's 照会 list: the element whose cell is
exactly the reference (…-12 must not match …-120), page after page (次へ).

The list may sit in any frame of the page, so every frame is searched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from jobs.rpa import template
from jobs.rpa.script import Lookup

# Each found element's text, or its ``cell``'s (a CSS selector within it).
TEXTS_JS = "(els, cell) => els.map(e => { const c = cell ? e.querySelector(cell) : e; return c ? c.innerText : ''; })"


def _norm(text: str) -> str:
    # A list shows what the target stored, often in full width or with padding.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def extract(text: str, args: Mapping[str, Any]) -> str:
    """The captured value: the text, or its ``pattern`` match (ValueError if none)."""
    text = text.strip()
    if args.get("pattern"):
        match = re.search(args["pattern"], text)
        if match is None:
            raise ValueError(f"取得した値「{text}」が形式に合いません（{args['column']}）。")
        text = match.group(1) if match.groups() else match.group(0)
    return text


def find(page: Any, lookup: Lookup, values: Mapping[str, Mapping[str, str]]) -> Any | None:
    """Where the captures are read: the matching element (with ``text``), or
    the frame holding ``found`` (without); None when nothing matches here."""
    for frame in page.frames:
        found = frame.locator(lookup.found)
        if found.count() == 0:
            continue
        if lookup.text is None:
            return frame
        want = _norm(template.render(lookup.text, values))
        texts = [_norm(t) for t in found.evaluate_all(TEXTS_JS, lookup.cell)]
        for i, text in enumerate(texts):
            if text == want or (lookup.match == "contains" and want in text):
                return found.nth(i)
    return None


def capture(where: Any, args: Mapping[str, Any]) -> str:
    return extract(str(where.locator(args["selector"]).first.inner_text()), args)


def next_page(page: Any, lookup: Lookup) -> tuple[Any, Any] | None:
    """(frame, link) of the 次へ control, or None on the last page."""
    if lookup.next_page is None:
        return None
    for frame in page.frames:
        link = frame.locator(lookup.next_page)
        if link.count():
            return frame, link.first
    return None
