"""``table``: rows × columns read as one field per cell (``members_2_name``).
Each row is empty, complete or partial; the cells of a partial row go to
review, since a half-filled row is either a misread or a mistake on the form.
forms.json keeps each table's rows as objects too (``rows_json``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

EMPTY, COMPLETE, PARTIAL = "empty", "complete", "partial"
STATUS_JA = {EMPTY: "空欄", COMPLETE: "記入済", PARTIAL: "一部のみ記入"}


def row_status(filled: Sequence[bool], optional: Sequence[bool]) -> str:
    """A row's state from which cells hold a value; optional columns never make a row partial."""
    if not any(filled):
        return EMPTY
    needed = [f for f, opt in zip(filled, optional, strict=True) if not opt]
    return COMPLETE if all(needed) else PARTIAL


def rows_json(table: Mapping[str, Any], fields: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One object per row: its number, state and the values by column name
    (``table`` as forms.json's template entry keeps it)."""
    out = []
    for row in range(1, int(table["rows"]) + 1):
        values = {}
        for column in table["columns"]:
            entry = fields.get(f"{table['name']}_{row}_{column['name']}", {})
            values[column["name"]] = entry.get("value")
        optional = [bool(c.get("optional")) for c in table["columns"]]
        status = row_status([v not in (None, "") for v in values.values()], optional)
        out.append({"row": row, "status": status, "values": values})
    return out
