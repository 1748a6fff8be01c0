"""The review screen's fields beyond the plain text box: dates shown and
corrected in 和暦 and 西暦 side by side, and a batch split into the
decisions that can be saved and those refused (each with its message), so
one wrong correction never holds back the others."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from jobs import store
from jobs.artifacts import ArtifactStore
from jobs.errors import JobInputError
from jobs.ocr import review
from jobs.ocr.document import apply_corrections
from jobs.wareki import EARLIEST_SUPPORTED, to_seireki, to_wareki

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
Key = tuple[int, str]


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


def as_correction(item: Any) -> dict[str, Any]:
    """A Correction model as ``apply_corrections`` takes it."""
    return {"form": item.form, "field": item.field} | (
        {} if item.confirm or item.value is None else {"value": item.value}
    )


def split_refused(
    job_id: str,
    corrections: Sequence[Any],
    *,
    session: Session,
    artifacts: ArtifactStore,
    viewer: store.Viewer,
) -> tuple[list[Any], dict[Key, str]]:
    """(the decisions that apply, {(form, field): message} for those refused).
    Checked against the job's forms.json without changing anything."""
    job = store.get_job(job_id, session=session, viewer=viewer)
    doc = review.load_document(job, session=session, artifacts=artifacts)
    try:
        apply_corrections(doc, [as_correction(c) for c in corrections])
        return list(corrections), {}
    except JobInputError:
        pass
    good: list[Any] = []
    refused: dict[Key, str] = {}
    for item in corrections:
        try:
            apply_corrections(doc, [as_correction(item)])
        except JobInputError as exc:
            refused[(item.form, item.field)] = exc.message
            continue
        good.append(item)
    return good, refused
