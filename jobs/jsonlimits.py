"""Reading a JSON object a client sent (job parameters) within limits.

The size is checked first and the nesting depth before parsing: Python's
parser recurses, so 50,000 nested brackets would end in a RecursionError
instead of an answer. Each refusal names its problem in Japanese (422).
"""

from __future__ import annotations

import json
from typing import Any

from jobs.errors import JobInputError


def nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text (brackets inside strings
    do not count); a linear scan, no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def load_object(raw: str, *, max_bytes: int, max_depth: int, field: str = "parameters") -> dict[str, Any]:
    size = len(raw.encode("utf-8"))
    if size > max_bytes:
        raise JobInputError(
            "parameters_too_large",
            f"{field} が大きすぎます（{size:,}バイト、上限 {max_bytes:,}バイト）。",
            field=field,
            size=size,
            limit=max_bytes,
        )
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise JobInputError(
            "parameters_too_deep",
            f"{field} の入れ子が深すぎます（{depth}段、上限 {max_depth}段）。",
            field=field,
            depth=depth,
            limit=max_depth,
        )
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise JobInputError(
            "invalid_parameters",
            f"{field} のJSONが正しくありません（{exc.lineno}行{exc.colno}文字目）。",
            field=field,
        ) from exc
    if not isinstance(value, dict):
        raise JobInputError(
            "invalid_parameters", f"{field} はJSONオブジェクト（{{...}}）で指定してください。", field=field
        )
    return value
