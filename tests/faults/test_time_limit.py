"""A bulk-entry job that runs past its time limit against a slow target
system: it is stopped, failed with the reason, its Chromium and Playwright
driver processes are gone, and the worker takes the next job."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from digilabo.embedded import Child, start_standin
from tests.corpus.inputs import records_csv, sample_rows
from tests.faults.conftest import Cluster
from tests.integration.helpers import wait_finished, wait_until
from tests.support.entry import entry_env, submit_records

pytestmark = [
    pytest.mark.faults,
    pytest.mark.cluster(time_limits={"gpu": (20, 30), "cpu": (20, 30), "rpa": (20, 30)}),
]
BROWSER_WORDS = ("chromium", "playwright")


def browser_processes(root: int) -> set[int]:
    """Chromium and Playwright-driver processes started under ``root`` (the
    worker). Recorded while they run: once orphaned they would no longer be
    its descendants, which is exactly what must not happen."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found = set()
    for pid, command in commands.items():
        if not any(word in command.lower() for word in BROWSER_WORDS):
            continue
        ancestor = parents.get(pid, 0)
        while ancestor > 1 and ancestor != root:
            ancestor = parents.get(ancestor, 0)
        if ancestor == root:
            found.add(pid)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those still running (a zombie waiting for its parent counts as gone)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def entry_job(cluster: Cluster, prefix: str, count: int) -> str:
    header, rows = sample_rows(prefix, count)
    return submit_records(cluster.api, cluster.headers, records_csv(header, rows))


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[Child, str]]:
    app, url = start_standin(tmp_path / "standin")
    try:
        yield app, url
    finally:
        app.stop()


def test_entry_job_past_its_time_limit_leaves_no_browser_behind(
    cluster: Cluster, target: tuple[Child, str]
) -> None:
    _, url = target
    worker = cluster.start_worker("rpa", entry_env(url))
    httpx.post(f"{url}/_admin/switches", json={"delay_ms": 3000}, timeout=10).raise_for_status()
    job_id = entry_job(cluster, "SLOW", 40)
    started = wait_until(lambda: browser_processes(worker.process.pid), 60, "the job's browser to start")
    job = wait_finished(cluster.api, cluster.headers, job_id, timeout=90)
    assert job["state"] == "failed" and job["error_code"] == "time_limit", job
    assert "上限" in job["error_message"]
    seen = started | browser_processes(worker.process.pid)
    wait_until(lambda: not alive(seen), 20, "the job's browser processes to exit")
    assert worker.alive()

    httpx.post(f"{url}/_admin/switches", json={"delay_ms": 0}, timeout=10).raise_for_status()
    after = entry_job(cluster, "FAST", 1)
    finished = wait_finished(cluster.api, cluster.headers, after, timeout=90)
    assert finished["state"] == "succeeded", (finished["error_code"], finished["error_message"])
    assert finished["summary"]["entered"] == 1
    assert os.path.exists(f"/proc/{worker.process.pid}")
