"""Running one part of a job that was split (see ``jobs.registry.FanOut``).

Each part task writes its result as JSON into the attempt's work folder on
shared storage; whichever task finds every part done merges them and
finishes the job. Redelivered parts find their result and skip the work;
parts of a cancelled or superseded attempt stop at once; if two last parts
merge at the same moment, the attempt-guarded transition lets one win and
the other's outputs are dropped. Under fair dispatch the parts wait in the
database (``jobs.models.JobPart``) and the dispatcher sends each in its
department's turn; a part records when it started, so one whose message was
lost is sent again.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import replace
from typing import Any

from jobs import fairshare, store
from jobs.db import unit_of_work
from jobs.errors import JobCancelled, JobInputError, StorageError
from jobs.lifecycle import State
from jobs.models import Job
from jobs.registry import FanOut, JobKind
from jobs.runner import PLAN_FILE, JobRunner, RunResult, write_json

log = logging.getLogger(__name__)


def _owned(job: Job, attempt: int) -> bool:
    return job.state == State.RUNNING and job.attempts == attempt


def run_part(runner: JobRunner, job_id: str, attempt: int, index: int) -> RunResult:
    with unit_of_work(runner.factory) as session:
        job = store.get_job(job_id, session=session)
        if not _owned(job, attempt):
            log.info("job %s: part %d of attempt %d skipped (job %s)", job_id, index, attempt, job.state)
            return RunResult(job_id, job.state, skipped=True)
        kind = runner.registry.get(job.kind)
        fairshare.mark_part_started(job_id, attempt, index, session=session)
    assert kind.fanout is not None, f"{kind.name} has no parts"
    ctx = runner.context(job, kind, fresh=False, track=False)
    parts: list[dict[str, Any]] = json.loads((ctx.work_dir / PLAN_FILE).read_text(encoding="utf-8"))
    results_dir = ctx.work_dir / "parts"
    results_dir.mkdir(exist_ok=True)
    result_path = results_dir / f"{index:05d}.json"
    try:
        if not result_path.exists():  # a redelivered part that had finished skips the work
            write_json(result_path, kind.fanout.run_part(ctx, parts[index]))
        done = len(list(results_dir.glob("*.json")))
        if not runner.report(job_id, attempt, done / (len(parts) + 1), f"{done}/{len(parts)} 区間完了"):
            raise JobCancelled()
        if done < len(parts):
            return RunResult(job_id, State.RUNNING.value)
        return merge(runner, job_id, kind, kind.fanout, attempt, len(parts))
    except JobCancelled:
        log.info("job %s: part %d stopped (cancelled or superseded)", job_id, index)
        return RunResult(job_id, State.CANCELLED.value, skipped=True)
    except (JobInputError, StorageError) as exc:
        log.info("job %s: part %d failed: %s", job_id, index, exc.code)
        return runner.fail(job_id, exc.code, exc.message, attempt=attempt)


def merge(
    runner: JobRunner, job_id: str, kind: JobKind, fanout: FanOut, attempt: int, count: int
) -> RunResult:
    with unit_of_work(runner.factory) as session:
        job = store.get_job(job_id, session=session)
    base = runner.context(job, kind, fresh=False)
    results = [
        json.loads((base.work_dir / "parts" / f"{i:05d}.json").read_text(encoding="utf-8"))
        for i in range(count)
    ]
    # A folder of its own, in case another part task merges at the same time.
    merge_dir = base.work_dir / f"merge-{uuid.uuid4().hex[:8]}"
    merge_dir.mkdir()
    ctx = replace(base, work_dir=merge_dir)
    log.info("job %s: merging %d parts", job_id, count)
    return runner.finish(job_id, kind, fanout.merge(ctx, results), attempt=attempt)
