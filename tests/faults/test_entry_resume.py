"""A worker killed (SIGKILL, its Chromium with it) in the middle of an entry
batch on stand-in system B: the restarted worker gets the job again once the
broker's visibility timeout has passed (made short here: hard limit 50 s +
10 s margin), reconciles the record that was in flight, and finishes the
batch; every record is in the target exactly once."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import Cluster
from tests.integration.helpers import submit, wait_finished, wait_until
from tests.support.entry import api_credential, entry_env_b, start_standin_b

pytestmark = [
    pytest.mark.faults,
    pytest.mark.cluster(time_limits={"gpu": (20, 30), "cpu": (20, 30), "rpa": (40, 50)}),
]
HEADER = "整理番号,起票日,款,項,目,節,金額,支払先,件名"


def records_csv(count: int) -> bytes:
    rows = [
        f"K-{n:05d},2025-06-02,02,01,01,07,{1000 + n},北九州商事{n},消耗品 {n}" for n in range(1, count + 1)
    ]
    return ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")


def test_worker_killed_mid_batch_finishes_on_restart_without_duplicates(
    cluster: Cluster, tmp_path: Path
) -> None:
    app, url = start_standin_b(tmp_path / "system-b")
    try:
        entries = lambda: httpx.get(f"{url}/_admin/entries", timeout=10).json()  # noqa: E731
        httpx.post(f"{url}/_admin/switches", json={"delay_ms": 400}, timeout=10).raise_for_status()
        cluster.start_worker("rpa", entry_env_b(url))
        with api_credential():  # intake (in this process) checks the credential is set
            response = submit(
                cluster.api,
                cluster.headers,
                [("r.csv", records_csv(6))],
                {"script": "saishutsu_b"},
                kind="rpa_entry",
            )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        wait_until(lambda: len(entries()) >= 2, 120, "two records entered")
        cluster.kill_worker()
        assert len(entries()) < 6
        cluster.start_worker("rpa", entry_env_b(url))
        restarted = time.monotonic()
        job = wait_finished(cluster.api, cluster.headers, job_id, timeout=150)
        took = time.monotonic() - restarted
        assert job["state"] == "succeeded" and job["attempts"] == 2, job
        assert took < 120, took
        refs = Counter(e["reference"] for e in entries())
        assert refs == {f"K-{n:05d}": 1 for n in range(1, 7)}
        assert job["summary"]["entered"] == 6
        print(f"entry job finished {took:.0f}s after the worker restart (redelivery waits for visibility)")
    finally:
        app.stop()
