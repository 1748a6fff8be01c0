"""A person's review of flagged fields: corrections applied to forms.json,
the outputs regenerated, the review time recorded, and the job finished
(with its ledger entry) when nothing is left to check."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from jobs import store
from jobs.artifacts import ArtifactStore
from jobs.errors import InvalidTransition, JobInputError
from jobs.finish import finish_job
from jobs.lifecycle import State
from jobs.models import Job
from jobs.ocr.document import apply_corrections, pending_reviews
from jobs.ocr.kind import regenerate
from jobs.outputs import store_rewritten
from jobs.registry import JobKind

FORMS_JSON = "forms.json"


def load_document(job: Job, *, session: Session, artifacts: ArtifactStore) -> dict[str, Any]:
    artifact = store.get_artifact(job.id, FORMS_JSON, session=session)
    doc: dict[str, Any] = json.loads(artifacts.path_for(artifact.sha256).read_text(encoding="utf-8"))
    return doc


def pending(job: Job, *, session: Session, artifacts: ArtifactStore) -> list[dict[str, Any]]:
    if job.state != State.NEEDS_REVIEW:
        return []
    return pending_reviews(load_document(job, session=session, artifacts=artifacts))


def split_refused(
    job: Job, decisions: Sequence[Mapping[str, Any]], *, session: Session, artifacts: ArtifactStore
) -> tuple[list[Mapping[str, Any]], dict[tuple[int, str], str]]:
    """(the decisions that apply, {(form, field): message} for those refused),
    checked against the job's forms.json without changing anything, so one
    wrong correction never holds back the others."""
    doc = load_document(job, session=session, artifacts=artifacts)
    try:
        apply_corrections(doc, decisions)
        return list(decisions), {}
    except JobInputError:
        pass
    good: list[Mapping[str, Any]] = []
    refused: dict[tuple[int, str], str] = {}
    for item in decisions:
        try:
            apply_corrections(doc, [item])
        except JobInputError as exc:
            refused[(int(item["form"]), str(item["field"]))] = exc.message
            continue
        good.append(item)
    return good, refused


def apply_review(
    job: Job,
    kind: JobKind,
    corrections: Iterable[Mapping[str, Any]],
    seconds_spent: float,
    *,
    session: Session,
    artifacts: ArtifactStore,
    viewer: store.Viewer,
    tz: str,
) -> dict[str, Any]:
    """Apply one batch of corrections in the caller's transaction. Returns
    the new summary; the job is succeeded when no field is pending."""
    if job.state != State.NEEDS_REVIEW:
        raise InvalidTransition(job.id, job.state, State.SUCCEEDED.value)
    doc = apply_corrections(load_document(job, session=session, artifacts=artifacts), corrections)
    store_rewritten(
        job.id,
        lambda folder: regenerate(folder, doc),
        session=session,
        artifacts=artifacts,
        prefix="review",
    )
    job.human_seconds = (job.human_seconds or 0.0) + max(0.0, seconds_spent)
    job.summary = {**(job.summary or {}), **doc["summary"]}
    store.audit(
        "review",
        session=session,
        viewer=viewer,
        job_id=job.id,
        corrections=len(list(corrections)) if isinstance(corrections, list) else None,
        seconds=round(seconds_spent, 1),
    )
    if doc["summary"]["fields_pending"] == 0:
        finish_job(session, job.id, kind, State.SUCCEEDED, tz=tz, artifacts=artifacts)
    summary: dict[str, Any] = doc["summary"]
    return summary
