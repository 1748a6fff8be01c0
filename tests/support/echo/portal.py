"""The test kind's portal pieces: no declared fields (it keeps the generic
「項目名 = 値」 rows), a note on the new-job form and the line count on its
job page, both as template files in this folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobs.adapters import PortalKind


def job_context(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {"echo_lines": int(summary.get("lines") or 0)}


PORTAL = PortalKind(
    templates=Path(__file__).parent / "templates",
    form_fragment="form.html",
    job_fragment="job.html",
    job_context=job_context,
)
