"""Japanese messages for refused requests, shared by the API's JSON errors
and the portal's error pages."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


_VALIDATION_JA = {
    "missing": "「{field}」が指定されていません。",
    "int_parsing": "「{field}」は整数で指定してください。",
    "float_parsing": "「{field}」は数値で指定してください。",
    "date_from_datetime_parsing": "「{field}」は日付（YYYY-MM-DD）で指定してください。",
    "date_parsing": "「{field}」は日付（YYYY-MM-DD）で指定してください。",
    "enum": "「{field}」の値が正しくありません（指定できる値: {expected}）。",
    "literal_error": "「{field}」の値が正しくありません（指定できる値: {expected}）。",
    "greater_than_equal": "「{field}」が小さすぎます。",
    "less_than_equal": "「{field}」が大きすぎます。",
}


def validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    problems = []
    messages = []
    for err in exc.errors():
        field = _field_name(tuple(err.get("loc", ())))
        template = _VALIDATION_JA.get(err.get("type", ""), "「{field}」の値が正しくありません。")
        expected = (err.get("ctx") or {}).get("expected", "")
        messages.append(template.format(field=field, expected=expected))
        problems.append({"field": field, "type": err.get("type")})
    return " ".join(dict.fromkeys(messages)), problems
