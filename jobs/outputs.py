"""A job's output files recorded as artifacts, and a finished job's outputs
written again (after an OCR review or a transcript
edit): each kind's writer fills a scratch folder, and every file becomes the
job's newest output artifact of that name."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from jobs import store
from jobs.artifacts import ArtifactStore, StoredBlob
from jobs.registry import OutputFile


def add_output(session: Session, job_id: str, out: OutputFile, blob: StoredBlob) -> None:
    """Record a stored file as one of the job's outputs (the caller commits)."""
    store.add_artifact(
        session=session,
        job_id=job_id,
        role="output",
        name=out.name,
        sha256=blob.sha256,
        size=blob.size,
        media_type=out.media_type,
    )


def store_rewritten(
    job_id: str,
    write: Callable[[Path], Iterable[OutputFile]],
    *,
    session: Session,
    artifacts: ArtifactStore,
    prefix: str,
) -> None:
    """Run ``write(folder)`` in a scratch folder under the job's work folder and
    store what it wrote, in the caller's transaction; the folder is removed."""
    folder = artifacts.job_work_dir(job_id) / f"{prefix}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        for out in write(folder):
            add_output(session, job_id, out, artifacts.put_file(out.path))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
