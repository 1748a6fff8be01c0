"""/api/v1/jobs/{id}/review: a person checks the fields flagged for review
(the work is ``services.review`` and the kind's review hook)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from intake_api.deps import CurrentViewer, RuntimeDep, SessionDep
from services import review

router = APIRouter(prefix="/api/v1/jobs", tags=["review"])


class Correction(BaseModel):
    form: int
    field: str = Field(max_length=100)
    # Omitted: the value read is confirmed as it is.
    value: Any = None
    confirm: bool = False


class ReviewSubmit(BaseModel):
    corrections: list[Correction] = Field(max_length=5000)
    seconds_spent: float = Field(default=0.0, ge=0, le=86_400, description="time the reviewer spent")


def _item(job_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    crop = entry.get("crop")
    return {**entry, "crop_url": f"/api/v1/jobs/{job_id}/artifacts/{crop}" if crop else None}


@router.get("/{job_id}/review")
def pending_fields(
    job_id: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer
) -> dict[str, Any]:
    """Fields waiting for a person, each with its crop image."""
    job, items = review.pending(runtime, session, viewer, job_id)
    return {"job_id": job.id, "state": job.state, "pending": [_item(job.id, e) for e in items]}


@router.post("/{job_id}/review")
def submit_review(
    job_id: str, body: ReviewSubmit, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer
) -> dict[str, Any]:
    """Confirm or correct flagged fields; the job succeeds when none is left."""
    corrections = [
        {"form": c.form, "field": c.field} | ({} if c.confirm or c.value is None else {"value": c.value})
        for c in body.corrections
    ]
    job, summary = review.submit(runtime, session, viewer, job_id, corrections, body.seconds_spent)
    return {"job_id": job.id, "state": job.state, "summary": summary}
