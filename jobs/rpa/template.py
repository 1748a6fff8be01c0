"""``{{ row.amount }}`` placeholders, filled from a row or a credential.

Deliberately not Jinja: a script is written by a department and approved by
an operator, so a template can only name a value and apply a few fixed
filters. Nothing is evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

PLACEHOLDER = re.compile(r"\{\{\s*([a-z]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*((?:\|\s*[a-z]+\s*)*)\}\}")
FILTERS: dict[str, Callable[[str], str]] = {
    "url": lambda v: quote(v, safe=""),
    "trim": str.strip,
    "comma": lambda v: f"{int(v):,}" if v.lstrip("-").isdigit() else v,
}


class TemplateError(ValueError):
    """A placeholder names an unknown scope, field or filter."""


def names(template: str) -> list[tuple[str, str, list[str]]]:
    """(scope, field, filters) of every placeholder, for checking a script."""
    found = []
    for match in PLACEHOLDER.finditer(template):
        filters = [f.strip() for f in match.group(3).split("|") if f.strip()]
        found.append((match.group(1), match.group(2), filters))
    return found


def check(template: str, scopes: Mapping[str, set[str]]) -> None:
    """Raise TemplateError unless every placeholder is known."""
    leftover = PLACEHOLDER.sub("", template)
    if "{{" in leftover or "}}" in leftover:
        raise TemplateError(f"差し込み記号の書き方が正しくありません: {template!r}")
    for scope, field, filters in names(template):
        if scope not in scopes:
            raise TemplateError(
                f"「{scope}.{field}」はここでは使えません（使えるもの: {', '.join(sorted(scopes))}）"
            )
        if field not in scopes[scope]:
            raise TemplateError(f"「{scope}.{field}」という項目はありません")
        for name in filters:
            if name not in FILTERS:
                raise TemplateError(f"フィルタ「{name}」はありません（使えるもの: {', '.join(FILTERS)}）")


def render(template: str, values: Mapping[str, Mapping[str, str]]) -> str:
    """Replace every placeholder; templates were checked when the script was parsed."""

    def one(match: re.Match[str]) -> str:
        value = values[match.group(1)][match.group(2)]
        for name in (f.strip() for f in match.group(3).split("|") if f.strip()):
            value = FILTERS[name](value)
        return value

    return PLACEHOLDER.sub(one, template)


def render_args(args: Mapping[str, Any], values: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """Placeholders filled in every string argument (one level of nesting: ``dialog``)."""
    return {
        k: render(v, values)
        if isinstance(v, str)
        else render_args(v, values)
        if isinstance(v, Mapping)
        else v
        for k, v in args.items()
    }
