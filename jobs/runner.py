"""Runs one delivery of a job: the part of a task that is not Celery.

``JobRunner.run`` loads the job, decides whether this delivery has work to
do, calls the kind's pure core, stores its outputs and finishes the job with
its ledger entry in one transaction. The Celery task around it only maps
retries and time limits (see ``worker.tasks``).

Redelivery: a job already finished is left alone; a job found ``running``
belongs to a delivery whose worker died, so it is started again (attempts
counts both). Outputs are content-addressed and recorded by name, and the
ledger's unique index allows one primary entry per job, so repeating the
work never duplicates results or savings.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from jobs import heartbeat, ledger, store
from jobs.artifacts import ArtifactStore, StoredBlob
from jobs.db import unit_of_work
from jobs.errors import (
    DISK_FULL_ERRNOS,
    DigilaboError,
    InvalidTransition,
    JobCancelled,
    JobInputError,
    StorageError,
)
from jobs.finish import finish_job
from jobs.housekeeping import discard_unreferenced
from jobs.lifecycle import FINISHED, State, transition
from jobs.models import Department, Job, utcnow
from jobs.outputs import add_output
from jobs.registry import InputFile, JobContext, JobKind, JobOutcome, ProgressReporter, Registry, run_parts

log = logging.getLogger(__name__)

PLAN_FILE = "parts.json"

INTERNAL_ERROR_JA = "予期しないエラーで処理できませんでした。Digi-Labo運用担当にお問い合わせください。"
STORAGE_FULL_JA = (
    "保存領域の空きが足りないため、処理を完了できませんでした。"
    "Digi-Labo運用担当に連絡のうえ、空きができてから再実行してください。"
)


@dataclass(frozen=True)
class RunnerConfig:
    timezone: str = "Asia/Tokyo"
    baselines: Mapping[str, float] = field(default_factory=dict)
    # Each kind's options by kind name (``jobs.registry.kind_options``).
    kind_options: Mapping[str, Any] = field(default_factory=dict)
    progress_interval_s: float = 1.0
    # True in workers, which can send a long job's parts to other workers;
    # elsewhere a fan-out kind runs its parts one after another.
    fan_out: bool = False
    # A running job whose heartbeat is younger than this belongs to the task
    # that beats for it (see jobs.heartbeat.held_elsewhere).
    heartbeat_timeout_s: float = 90.0


@dataclass(frozen=True)
class RunResult:
    job_id: str
    state: str
    skipped: bool = False
    # Set when the job was split: the task sends this many part tasks.
    parts: int = 0
    attempt: int = 0


class JobRunner:
    def __init__(
        self,
        factory: sessionmaker[Session],
        artifacts: ArtifactStore,
        registry: Registry,
        config: RunnerConfig,
    ) -> None:
        self.factory = factory
        self.artifacts = artifacts
        self.registry = registry
        self.config = config

    # -- the delivery -------------------------------------------------------------

    def run(self, job_id: str, *, task_id: str = "", worker: str = "") -> RunResult:
        started = self.begin(job_id, task_id=task_id, worker=worker)
        if started is None:
            with unit_of_work(self.factory) as session:
                state = store.get_job(job_id, session=session).state
            log.info("job %s: delivery skipped, state is already %s", job_id, state)
            return RunResult(job_id, state, skipped=True)
        job, kind = started
        attempt = job.attempts
        try:
            ctx = self.context(job, kind)
            if kind.fanout is None:
                return self.finish(job_id, kind, kind.run(ctx), attempt=attempt)
            parts = kind.fanout.plan(ctx)
            if self.config.fan_out and len(parts) > 1:
                write_json(ctx.work_dir / PLAN_FILE, parts)
                ctx.progress(0.0, f"{len(parts)}区間に分割して処理しています")
                log.info("job %s: split into %d parts", job_id, len(parts))
                return RunResult(job_id, State.RUNNING.value, parts=len(parts), attempt=attempt)
            return self.finish(job_id, kind, run_parts(kind.fanout, ctx, parts), attempt=attempt)
        except JobCancelled:
            log.info("job %s: attempt %d stopped (cancelled or superseded)", job_id, attempt)
            self._clean_work_dir(job_id, attempt)
            with unit_of_work(self.factory) as session:
                return RunResult(job_id, store.get_job(job_id, session=session).state)
        except JobInputError as exc:
            log.info("job %s: failed on input: %s", job_id, exc.code)
            return self.fail(job_id, exc.code, exc.message, attempt=attempt)
        except StorageError as exc:
            log.warning("job %s: storage error: %s", job_id, exc)
            self._clean_work_dir(job_id, attempt)
            return self.fail(job_id, exc.code, exc.message, attempt=attempt)
        except OSError as exc:
            if exc.errno not in DISK_FULL_ERRNOS:
                raise
            # The core's own writes hit a full disk. Free what this attempt
            # wrote at once, so the other jobs on this storage can go on.
            log.warning("job %s: storage full while running: %s", job_id, exc)
            self._clean_work_dir(job_id, attempt)
            return self.fail(job_id, "storage_full", STORAGE_FULL_JA, attempt=attempt)

    def begin(self, job_id: str, *, task_id: str, worker: str) -> tuple[Job, JobKind] | None:
        """Mark the job running, or return None when this delivery has nothing to do."""
        with unit_of_work(self.factory) as session:
            job = store.get_job(job_id, session=session)
            if State(job.state) in FINISHED:
                return None
            if heartbeat.held_elsewhere(job, task_id, self.config.heartbeat_timeout_s):
                log.warning(
                    "job %s: delivery of task %s skipped, task %s holds it", job_id, task_id, job.task_id
                )
                return None
            kind = self.registry.get(job.kind)
            try:
                job = transition(
                    session,
                    job_id,
                    State.RUNNING,
                    attempts=job.attempts + 1,
                    task_id=task_id or None,
                    worker=worker or None,
                    progress=0.0,
                    progress_message="",
                )
            except InvalidTransition:
                return None  # cancelled or finished between the read and the update
            if job.attempts > 1:
                log.warning("job %s: redelivered, attempt %d", job_id, job.attempts)
            return job, kind

    def context(self, job: Job, kind: JobKind, *, fresh: bool = True, track: bool = True) -> JobContext:
        """The core's view of the job. ``fresh``: a new attempt, which starts
        from an empty folder of its own (leftovers of killed attempts must not
        be mistaken for outputs). A part task shares its attempt's folder and
        does not move the job's progress bar (``track=False``)."""
        with unit_of_work(self.factory) as session:
            inputs = tuple(
                InputFile(
                    name=a.name, path=self.artifacts.path_for(a.sha256), media_type=a.media_type, size=a.size
                )
                for a in store.list_artifacts(job.id, session=session, role="input")
            )
            department = session.get(Department, job.department_code)
            glossary = tuple(department.glossary or ()) if department else ()
        job_dir = self.artifacts.job_work_dir(job.id)
        work_dir = job_dir / f"attempt-{job.attempts}"
        if fresh:
            for leftover in job_dir.iterdir():
                shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink()
        work_dir.mkdir(exist_ok=not fresh)
        return JobContext(
            job_id=job.id,
            department=job.department_code,
            params=dict(job.parameters or {}),
            inputs=inputs,
            work_dir=work_dir,
            progress=self.progress_reporter(job.id, job.attempts, track=track),
            options=self.config.kind_options.get(kind.name, {}),
            glossary=glossary,
        )

    def progress_reporter(self, job_id: str, attempt: int, *, track: bool = True) -> ProgressReporter:
        last = [0.0]

        def report(fraction: float, message: str = "") -> None:
            now = time.monotonic()
            if now - last[0] < self.config.progress_interval_s and fraction < 1.0:
                return
            last[0] = now
            with unit_of_work(self.factory) as session:
                current = store.set_progress(
                    job_id, fraction if track else None, message, session=session, attempt=attempt
                )
            if not current:
                # Progress reports double as stopping points for the core: the
                # job was cancelled, or retried and handed to a newer attempt.
                raise JobCancelled()

        return report

    # -- endings ------------------------------------------------------------------

    def finish(
        self, job_id: str, kind: JobKind, outcome: JobOutcome, *, attempt: int | None = None
    ) -> RunResult:
        """Store outputs and end the job, with its ledger entry, in one
        transaction; nothing is kept when this attempt no longer owns the job."""
        stored = [(out, self.artifacts.put_file(out.path)) for out in outcome.outputs]
        blobs = [blob for _, blob in stored]
        target = State.NEEDS_REVIEW if outcome.needs_review else State.SUCCEEDED
        try:
            with unit_of_work(self.factory) as session:
                for out, blob in stored:
                    add_output(session, job_id, out, blob)
                summary = {
                    **dict(outcome.summary),
                    "units": outcome.units,
                    "unit_name": kind.unit_name,
                    "seconds_per_unit": self._baseline(session, job_id, kind, outcome),
                }
                finish_job(
                    session,
                    job_id,
                    kind,
                    target,
                    tz=self.config.timezone,
                    attempt=attempt,
                    artifacts=self.artifacts,
                    progress=1.0,
                    progress_message="",
                    summary=summary,
                )
        except InvalidTransition as exc:
            log.info("job %s: not finished as %s, state is %s", job_id, target, exc.details["current"])
            self._discard(blobs)  # cancelled or superseded: keep nothing
            return RunResult(job_id, exc.details["current"])
        except BaseException:
            self._discard(blobs)
            raise
        self._clean_work_dir(job_id)
        log.info("job %s: %s with %d outputs", job_id, target.value, len(stored))
        return RunResult(job_id, target.value)

    def _discard(self, blobs: list[StoredBlob]) -> None:
        """Outputs stored for a finish that did not commit. Best effort: if the
        database is what failed, the hourly orphan sweep removes them."""
        if not blobs:
            return
        try:
            with unit_of_work(self.factory) as session:
                discard_unreferenced(blobs, self.artifacts, session=session)
        except Exception as exc:
            log.warning("stored outputs left for the orphan sweep: %s", exc)

    def _baseline(self, session: Session, job_id: str, kind: JobKind, outcome: JobOutcome) -> float:
        job = store.get_job(job_id, session=session)
        return ledger.baseline_for(
            kind.service,
            department=session.get(Department, job.department_code),
            service_defaults=self.config.baselines,
            kind_default=kind.default_seconds_per_unit,
            job_override=outcome.seconds_per_unit,
        )

    def fail(self, job_id: str, code: str, message: str, *, attempt: int | None = None) -> RunResult:
        try:
            with unit_of_work(self.factory) as session:
                transition(
                    session, job_id, State.FAILED, attempt=attempt, error_code=code, error_message=message
                )
        except InvalidTransition as exc:
            return RunResult(job_id, exc.details["current"])
        self._clean_work_dir(job_id)
        return RunResult(job_id, State.FAILED.value)

    def fail_unexpected(self, job_id: str, exc: BaseException) -> RunResult:
        log.exception("job %s: unexpected error", job_id, exc_info=exc)
        if isinstance(exc, DigilaboError):
            return self.fail(job_id, exc.code, exc.message)
        return self.fail(job_id, "internal_error", INTERNAL_ERROR_JA)

    def requeue(self, job_id: str, reason: str, delay_s: float = 0.0) -> bool:
        """A transient error: back to queued until the retry is delivered.
        The job counts as waiting only from when the retry is due, so queue
        wait times leave the deliberate delay out."""
        due = utcnow() + timedelta(seconds=delay_s)
        with unit_of_work(self.factory) as session:
            try:
                transition(session, job_id, State.QUEUED, enqueued_at=due, progress_message=reason[:200])
            except InvalidTransition:
                return False
        return True

    def report(self, job_id: str, attempt: int, fraction: float, message: str) -> bool:
        """Set progress from outside a core; False when the attempt is over."""
        with unit_of_work(self.factory) as session:
            return store.set_progress(job_id, fraction, message, session=session, attempt=attempt)

    def _clean_work_dir(self, job_id: str, attempt: int | None = None) -> None:
        folder = self.artifacts.work_dir / job_id
        shutil.rmtree(folder / f"attempt-{attempt}" if attempt else folder, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: a reader sees the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
