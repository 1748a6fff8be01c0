"""Following jobs with rich progress bars."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from digilabo.client import FINISHED, ApiClient


def follow(
    client: ApiClient, job_ids: list[str], console: Console, *, timeout: float
) -> dict[str, dict[str, Any]]:
    """Poll until every job is finished; one bar per job. Returns the jobs."""
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        tasks = {job_id: bars.add_task(job_id[:8], total=1.0, state="") for job_id in job_ids}
        while len(done) < len(job_ids):
            for job_id in job_ids:
                if job_id in done:
                    continue
                job = client.job(job_id)
                note = job["state_label"] + (f" {job['progress_message']}" if job["progress_message"] else "")
                bars.update(
                    tasks[job_id],
                    completed=job["progress"],
                    description=f"{job['kind_label']} {job_id[:8]}",
                    state=note[:60],
                )
                if job["state"] in FINISHED:
                    done[job_id] = job
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"jobs not finished after {timeout:.0f}s: {sorted(set(job_ids) - set(done))}"
                )
            time.sleep(0.5)
    return done
