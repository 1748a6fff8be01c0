"""The transcript editor's application layer: the editable transcript of a
succeeded transcription job, and a person's corrections saved with the
time they took (``jobs.transcription.review.save_edits``: every output
regenerated, the time an adjusting ledger entry, audit ``transcript_edit``).

Whoever may see the job may edit it (its department, operators), as with
OCR review. Transactions stay with the caller."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from composition.runtime import Runtime
from jobs import store
from jobs.errors import DigilaboError, JobInputError
from jobs.lifecycle import State
from jobs.models import Job
from jobs.transcription.review import TRANSCRIPT_JSON, load_transcript, save_edits
from jobs.transcription.segments import segment_from_json
from jobs.transcription.speakers import speaker_names

KIND = "transcription"
# The editing time one save may be credited with: what the page measured,
# at most this much per edit and MAX_SECONDS in all (a page left open overnight).
MAX_SECONDS_PER_EDIT = 600.0
MAX_SECONDS = 4 * 3600.0


class NotEditable(DigilaboError):
    code = "not_editable"
    http_status = 409


class TranscriptChanged(DigilaboError):
    code = "transcript_changed"
    http_status = 409


@dataclass(frozen=True)
class Editable:
    """One job's transcript as the editor shows it."""

    job: Job
    transcript: dict[str, Any]
    # The stored transcript.json's digest: a save names the version it edited.
    version: str
    speakers: list[str]
    # The recording to play segments from (None once purged or absent).
    audio: str | None


def _job(session: Session, viewer: store.Viewer, job_id: str) -> Job:
    job = store.get_job(job_id, session=session, viewer=viewer)
    if job.kind != KIND or job.state != State.SUCCEEDED:
        raise NotEditable(message="修正できるのは完了した文字起こしのジョブだけです。")
    return job


def _audio(job: Job, session: Session) -> str | None:
    for artifact in store.list_artifacts(job.id, session=session, role="input"):
        if artifact.purged_at is None:
            return str(artifact.name)
    return None


def load(runtime: Runtime, session: Session, viewer: store.Viewer, job_id: str) -> Editable:
    """The editable transcript of a succeeded transcription job the viewer may see."""
    job = _job(session, viewer, job_id)
    transcript = load_transcript(job, session=session, artifacts=runtime.artifacts)
    version = store.get_artifact(job.id, TRANSCRIPT_JSON, session=session).sha256
    segments = [segment_from_json(s) for s in transcript["segments"]]
    return Editable(job, transcript, version, speaker_names(segments), _audio(job, session))


def editing_seconds(measured: float, edits: int) -> float:
    """The seconds to record for one save: never negative, at most
    MAX_SECONDS_PER_EDIT per edit and MAX_SECONDS in all."""
    if not math.isfinite(measured):
        return 0.0
    return min(max(0.0, measured), MAX_SECONDS_PER_EDIT * max(1, edits), MAX_SECONDS)


def save(
    runtime: Runtime,
    session: Session,
    viewer: store.Viewer,
    job_id: str,
    edits: Sequence[Mapping[str, Any]],
    seconds_spent: float,
    version: str = "",
) -> Editable:
    """Apply ``edits`` in the caller's transaction: every output regenerated,
    the bounded editing time counted. ``version`` (optional) refuses a save
    made on a transcript someone else has changed since."""
    job = _job(session, viewer, job_id)
    if not edits:
        raise JobInputError("invalid_edit", "修正がありません。")
    if version and version != store.get_artifact(job.id, TRANSCRIPT_JSON, session=session).sha256:
        raise TranscriptChanged(
            message="他の人がこの文字起こしを修正しました。ページを読み込み直してから修正してください。"
        )
    save_edits(
        job,
        edits,
        editing_seconds(seconds_spent, len(edits)),
        session=session,
        artifacts=runtime.artifacts,
        viewer=viewer,
        tz=runtime.settings.timezone,
    )
    session.flush()
    return load(runtime, session, viewer, job_id)
