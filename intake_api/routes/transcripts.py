"""/api/v1/jobs/{id}/transcript: a succeeded transcription job's transcript,
and a person's corrections to it (the work is ``services.transcripts``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from intake_api.deps import CurrentViewer, RuntimeDep, SessionDep
from services import transcripts
from services.transcripts import Editable

router = APIRouter(prefix="/api/v1/jobs", tags=["transcripts"])


class TranscriptEdit(BaseModel):
    # Edits as jobs.transcription.edit documents them (text, rename, speaker, merge, split).
    edits: list[dict[str, Any]] = Field(max_length=5000)
    seconds_spent: float = Field(default=0.0, ge=0, le=86_400, description="time the person spent editing")
    version: str = Field(default="", max_length=64, description="the version the edits were made on")


def _public(found: Editable) -> dict[str, Any]:
    job = found.job
    audio = f"/api/v1/jobs/{job.id}/inputs/{found.audio}" if found.audio else None
    return {
        "job_id": job.id,
        "version": found.version,
        "speakers": found.speakers,
        "audio_url": audio,
        "human_seconds": job.human_seconds,
        "transcript": found.transcript,
    }


@router.get("/{job_id}/transcript")
def get_transcript(
    job_id: str, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer
) -> dict[str, Any]:
    """The transcript's segments (start, end, text, speaker) and its version."""
    return _public(transcripts.load(runtime, session, viewer, job_id))


@router.put("/{job_id}/transcript")
def edit_transcript(
    job_id: str, body: TranscriptEdit, runtime: RuntimeDep, session: SessionDep, viewer: CurrentViewer
) -> dict[str, Any]:
    """Apply the edits in order; every output file is written again and the
    editing time (bounded) lowers the job's saving."""
    found = transcripts.save(runtime, session, viewer, job_id, body.edits, body.seconds_spent, body.version)
    return _public(found)
