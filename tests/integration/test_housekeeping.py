"""Retention purge and the stuck-job reaper, with the clock moved forward."""

from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from jobs.db import unit_of_work
from jobs.lifecycle import State, transition
from jobs.models import Artifact, AuditEvent, Job, LedgerEntry, utcnow
from jobs.registry import JobOutcome, OutputFile
from tests.conftest import Service
from tests.integration.helpers import submit, wait_finished


def test_files_past_retention_are_purged_and_figures_kept(service: Service, dept: str) -> None:
    api, headers = service.api, service.token(dept)
    old = wait_finished(api, headers, submit(api, headers, [("old.txt", b"retention\n")]).json()["id"])
    output_url = old["outputs"][0]["url"]
    blobs = {a["sha256"] for a in old["inputs"] + old["outputs"]}
    saved_before = api.get("/api/v1/savings", headers=headers).json()["total_seconds"]

    # 91 days later a new job uploads the same content: its blob must survive the purge.
    later = utcnow() + timedelta(days=service.settings.retention_days + 1)
    result = service.runtime.housekeeping(now=later)
    assert result["purged_jobs"] >= 1 and result["blobs_deleted"] >= 1
    for digest in blobs:
        assert not service.runtime.artifacts.path_for(digest).exists()

    gone = api.get(output_url, headers=headers)
    assert gone.status_code == 410 and "保存期間" in gone.json()["error"]["message"]
    job = api.get(f"/api/v1/jobs/{old['id']}", headers=headers).json()
    assert (
        job["outputs"] == [] and job["state"] == "succeeded" and job["saved_seconds"] == old["saved_seconds"]
    )
    assert api.get("/api/v1/savings", headers=headers).json()["total_seconds"] == saved_before
    with service.runtime.factory() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(LedgerEntry).where(LedgerEntry.job_id == old["id"])
            )
            == 1
        )
        purges = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.job_id == old["id"], AuditEvent.action == "purge")
        )
    assert purges == 1
    assert service.runtime.housekeeping(now=later)["purged_jobs"] == 0  # nothing twice


def test_recent_job_keeps_a_blob_it_shares_with_an_expired_one(service: Service, dept: str) -> None:
    api, headers = service.api, service.token(dept)
    body = f"shared {dept}\n".encode()
    first = wait_finished(api, headers, submit(api, headers, [("a.txt", body)]).json()["id"])
    with unit_of_work(service.runtime.factory) as session:
        job = session.get(Job, first["id"])
        job.finished_at = utcnow() - timedelta(days=service.settings.retention_days + 5)
    second = wait_finished(api, headers, submit(api, headers, [("b.txt", body)]).json()["id"])
    service.runtime.housekeeping()
    assert api.get(f"/api/v1/jobs/{first['id']}/artifacts/a.upper.txt", headers=headers).status_code == 410
    kept = api.get(f"/api/v1/jobs/{second['id']}/artifacts/b.upper.txt", headers=headers)
    assert kept.status_code == 200 and kept.content == body.upper()
    assert service.runtime.artifacts.path_for(second["inputs"][0]["sha256"]).exists()


def test_job_running_past_its_limit_is_reaped(service: Service, dept: str) -> None:
    api, headers = service.api, service.token(dept)
    from jobs import store

    with unit_of_work(service.runtime.factory) as session:
        store.ensure_department(dept, session=session)
        job = store.create_job(
            session=session, kind="echo", queue="cpu", department_code=dept, submitted_by=None, parameters={}
        )
        job_id = job.id
        transition(session, job_id, State.RUNNING, attempts=1, started_at=utcnow() - timedelta(hours=2))
    result = service.runtime.housekeeping()
    assert job_id in result["reaped"]
    job = api.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
    assert (
        job["state"] == "failed" and job["error_code"] == "worker_lost" and "再実行" in job["error_message"]
    )
    assert service.runtime.runner.run(job_id).skipped  # a late redelivery does nothing


def test_beat_sends_housekeeping_to_the_cpu_workers(service: Service) -> None:
    from digilabo.embedded import python_argv, spawn, wait_for

    log = service.stack.log_dir / "worker-cpu.log"
    env = {**service.stack.child_env(), "DIGILABO_HOUSEKEEPING_INTERVAL_S": "10"}
    beat = spawn(
        "beat", python_argv("-m", "digilabo", "beat"), env=env, log_path=service.stack.log_dir / "beat.log"
    )
    try:
        done = re.compile(r"Task digilabo\.housekeeping\[[^\]]+\] succeeded")
        wait_for(lambda: bool(done.search(log.read_text())), 60, "a housekeeping run on the cpu worker")
    finally:
        beat.stop()


def test_stored_files_no_job_refers_to_are_swept_after_an_hour(service: Service, dept: str) -> None:
    api, headers, artifacts = service.api, service.token(dept), service.runtime.artifacts
    job = wait_finished(api, headers, submit(api, headers, [("kept.txt", f"{dept}\n".encode())]).json()["id"])
    kept = artifacts.path_for(job["inputs"][0]["sha256"])
    orphan = artifacts.put_chunks([f"left by a crash {dept}".encode()], 1 << 20)
    fresh = artifacts.put_chunks([f"an upload in progress {dept}".encode()], 1 << 20)
    two_hours_ago = time.time() - 7200
    for path in (kept, orphan.path):
        os.utime(path, (two_hours_ago, two_hours_ago))

    assert service.runtime.housekeeping()["orphan_blobs_deleted"] >= 1
    assert not orphan.path.exists()
    assert fresh.path.exists()  # its job may not be committed yet
    assert kept.exists()  # an old blob a job still refers to
    download = api.get(job["outputs"][0]["url"], headers=headers)
    assert download.status_code == 200 and download.content == f"{dept}\n".upper().encode()


def test_outputs_of_a_job_cancelled_while_running_are_not_kept(
    service: Service, dept: str, tmp_path: Path
) -> None:
    from jobs import store

    runtime = service.runtime
    with unit_of_work(runtime.factory) as session:
        store.ensure_department(dept, session=session)
        job_id = store.create_job(
            session=session, kind="echo", queue="cpu", department_code=dept, submitted_by=None, parameters={}
        ).id
        transition(session, job_id, State.RUNNING, attempts=1)
        transition(session, job_id, State.CANCELLED)
    output = tmp_path / "result.txt"
    output.write_text(f"a transcript nobody may keep {dept}\n")
    kind = runtime.registry.get("echo")
    outcome = JobOutcome(outputs=(OutputFile("result.txt", output, "text/plain"),), units=1.0)

    assert runtime.runner.finish(job_id, kind, outcome).state == "cancelled"
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    assert not runtime.artifacts.path_for(digest).exists()
    with runtime.factory() as session:
        assert (
            session.scalar(select(func.count()).select_from(Artifact).where(Artifact.job_id == job_id)) == 0
        )
