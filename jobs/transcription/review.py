"""Saving a person's transcript corrections: the edits applied to
transcript.json, every output regenerated and stored, and the editing time
counted the way OCR review time is (``ledger.add_human_time``: the job's
human seconds grow and, the job being in the ledger already, an adjusting
entry brings its saving down). The caller owns the transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from jobs import ledger, store
from jobs.artifacts import ArtifactStore
from jobs.errors import InvalidTransition
from jobs.lifecycle import State
from jobs.models import Job
from jobs.outputs import store_rewritten
from jobs.transcription.edit import apply_edits, regenerate
from jobs.transcription.segments import segment_from_json
from jobs.transcription.speakers import speaker_names

TRANSCRIPT_JSON = "transcript.json"
# One save never counts more than this (a page left open overnight).
MAX_SECONDS = 4 * 3600.0
REASON = "文字起こしの修正"


def load_transcript(job: Job, *, session: Session, artifacts: ArtifactStore) -> dict[str, Any]:
    artifact = store.get_artifact(job.id, TRANSCRIPT_JSON, session=session)
    data: dict[str, Any] = json.loads(artifacts.path_for(artifact.sha256).read_text(encoding="utf-8"))
    return data


def save_edits(
    job: Job,
    edits: Sequence[Mapping[str, Any]],
    seconds_spent: float,
    *,
    session: Session,
    artifacts: ArtifactStore,
    viewer: store.Viewer,
    tz: str,
) -> dict[str, Any]:
    """Apply ``edits`` to a succeeded job's transcript in the caller's
    transaction and return the new transcript."""
    if job.state != State.SUCCEEDED or job.kind != "transcription":
        raise InvalidTransition(job.id, job.state, State.SUCCEEDED.value)
    transcript = apply_edits(load_transcript(job, session=session, artifacts=artifacts), edits)
    store_rewritten(
        job.id,
        lambda folder: regenerate(folder, transcript, job.parameters or {}),
        session=session,
        artifacts=artifacts,
        prefix="edit",
    )
    seconds = min(max(0.0, seconds_spent), MAX_SECONDS)
    ledger.add_human_time(job, seconds, session=session, tz=tz, reason=REASON)
    segments = [segment_from_json(s) for s in transcript["segments"]]
    job.summary = {
        **(job.summary or {}),
        "segments": len(segments),
        "edits": int((job.summary or {}).get("edits", 0)) + len(edits),
        **({"speakers": len(speaker_names(segments))} if any(s.speaker for s in segments) else {}),
    }
    store.audit(
        "transcript_edit",
        session=session,
        viewer=viewer,
        job_id=job.id,
        edits=len(edits),
        seconds=round(seconds, 1),
    )
    return transcript
