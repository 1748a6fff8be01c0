"""A person finishing a needs_review job through its kind's review hook
(OCR: confirm or correct the flagged fields), for the API and the portal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from composition.runtime import Runtime
from jobs import store
from jobs.errors import UploadRejected
from jobs.lifecycle import State
from jobs.models import Job
from jobs.registry import ReviewHook
from queues.unsent import send_followups

NOT_REVIEWABLE_JA = "このジョブには確認する項目がありません。"


def hook_for(runtime: Runtime, kind_name: str) -> ReviewHook:
    """The kind's review hook; refused when its jobs have nothing to review."""
    kind = runtime.registry.get(kind_name) if kind_name in runtime.registry else None
    if kind is None or kind.review is None:
        raise UploadRejected("not_reviewable", NOT_REVIEWABLE_JA)
    return kind.review


def pending(
    runtime: Runtime, session: Session, viewer: store.Viewer, job_id: str
) -> tuple[Job, list[dict[str, Any]]]:
    """The job and what waits for a person (empty unless it is in needs_review)."""
    job = store.get_job(job_id, session=session, viewer=viewer)
    kind = runtime.registry.get(job.kind) if job.kind in runtime.registry else None
    if kind is None or kind.review is None:
        return job, []
    return job, kind.review.pending(job, session=session, artifacts=runtime.artifacts)


def split_refused(
    runtime: Runtime,
    session: Session,
    viewer: store.Viewer,
    job_id: str,
    decisions: Sequence[Mapping[str, Any]],
) -> tuple[list[Mapping[str, Any]], dict[tuple[int, str], str]]:
    """(the decisions that can be saved, {(form, field): message} for those
    the kind refuses), nothing changed; all of them when the kind cannot tell."""
    job = store.get_job(job_id, session=session, viewer=viewer)
    hook = hook_for(runtime, job.kind)
    if hook.split is None:
        return list(decisions), {}
    return hook.split(job, decisions, session=session, artifacts=runtime.artifacts)


def submit(
    runtime: Runtime,
    session: Session,
    viewer: store.Viewer,
    job_id: str,
    decisions: Sequence[Mapping[str, Any]],
    seconds_spent: float,
) -> tuple[Job, dict[str, Any]]:
    """Apply one batch of decisions in the caller's transaction; the hook
    finishes the job (with its savings) when nothing is left, and the jobs
    its success hook made (「確認後に入力」's entry job) start once the caller
    commits."""
    job = store.get_job(job_id, session=session, viewer=viewer)
    hook = hook_for(runtime, job.kind)
    kind = runtime.registry.get(job.kind)
    summary = hook.apply(
        job,
        kind,
        decisions,
        seconds_spent,
        session=session,
        artifacts=runtime.artifacts,
        viewer=viewer,
        tz=runtime.settings.timezone,
    )
    if job.state == State.SUCCEEDED and kind.on_success is not None:
        source = job.id

        def start(_: Session) -> None:
            send_followups(runtime.celery, runtime.settings, runtime.registry, runtime.factory, source)

        # After the commit: a worker must not see a job the database does not have yet.
        event.listen(session, "after_commit", start, once=True)
    return job, summary
