"""Backup while jobs run, restore on a fresh installation: finished jobs,
their files and the ledger come back unchanged; jobs queued or running at
backup time come back queued and run exactly once. Real worker, Redis,
SQLite and PostgreSQL; ``pg_dump``/``pg_restore`` from postgresql-client."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from jobs.artifacts import ArtifactStore
from jobs.backup import BackupError, run_backup
from jobs.models import Job, LedgerEntry
from jobs.restore import RESTORED_JA, run_restore
from tests.integration.helpers import submit, wait_finished, wait_until
from tests.operations.conftest import Site

Sites = Callable[[str, str], Site]


def accepted(site: Site, name: str, body: bytes, **params: Any) -> str:
    assert site.api is not None
    response = submit(site.api, site.headers, [(name, body)], params)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def job(site: Site, job_id: str) -> dict[str, Any]:
    assert site.api is not None
    body: dict[str, Any] = site.api.get(f"/api/v1/jobs/{job_id}", headers=site.headers).json()
    return body


def downloads(site: Site, job_id: str) -> dict[str, str]:
    """Every file of the job, fetched over the API, by name: its SHA-256."""
    assert site.api is not None
    found = {}
    for item in job(site, job_id)["outputs"] + job(site, job_id)["inputs"]:
        response = site.api.get(item["url"], headers=site.headers)
        assert response.status_code == 200, (item, response.text)
        found[f"{item['role']}/{item['name']}"] = hashlib.sha256(response.content).hexdigest()
    return found


def ledger(site: Site) -> list[tuple[Any, ...]]:
    assert site.runtime is not None
    with site.runtime.factory() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        return [
            (r.id, r.job_id, r.entry_type, r.units, r.saved_seconds, r.occurred_at, r.fiscal_year, r.month)
            for r in rows
        ]


def runs(trace: Path, job_id: str) -> int:
    path = trace / f"{job_id}.runs"
    return len(path.read_text().split()) if path.exists() else 0


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_backup_under_load_restores_every_job_exactly_once(
    sites: Sites, backend: str, tmp_path: Path
) -> None:
    old = sites("old", backend).open()
    trace = tmp_path / "trace"
    trace.mkdir()
    done = [accepted(old, f"f{i}.txt", f"行 {i}\n".encode() * (i + 1)) for i in range(3)]
    for job_id in done:
        assert wait_finished(old.api, old.headers, job_id)["state"] == "succeeded"  # type: ignore[arg-type]
    expected = {job_id: (job(old, job_id), downloads(old, job_id)) for job_id in done}
    # Three jobs that cannot finish before the backup: one running, the others
    # queued behind it (or running beside it on a machine with more cores).
    busy = [accepted(old, f"slow{i}.txt", b"slow\n", sleep=6, trace_dir=str(trace)) for i in range(3)]
    wait_until(lambda: job(old, busy[0])["state"] == "running", 30, "the first slow job to start")
    out = tmp_path / "backup"
    assert old.runtime is not None
    result = run_backup(old.settings.database_url, old.runtime.artifacts, out)
    before = ledger(old)
    old.close()  # the machine is lost; jobs it finished after the backup are lost with it
    ran_before = {job_id: runs(trace, job_id) for job_id in busy}

    manifest = result.manifest
    assert manifest["backend"] == ("sqlite" if backend == "sqlite" else "postgresql")
    unfinished = manifest["counts"]["jobs_by_state"]
    assert unfinished.get("queued", 0) + unfinished.get("running", 0) == 3, unfinished
    assert manifest["files"]["count"] == manifest["files"]["copied"] == len(manifest["blobs"])

    new = sites("new", backend)
    restored = run_restore(out, new.settings.database_url, ArtifactStore(new.settings.storage))
    assert sorted(restored.requeued) == sorted(busy)
    with Session(create_engine(new.settings.database_url)) as session:  # before any worker sees them
        back = session.execute(
            select(Job.state, Job.enqueued_at, Job.progress_message).where(Job.id.in_(busy))
        )
        assert {tuple(row) for row in back} == {("queued", None, RESTORED_JA)}
    new.open()
    # Finished jobs, their files and the ledger: unchanged.
    for job_id, (was, files) in expected.items():
        now = job(new, job_id)
        for key in ("state", "summary", "finished_at", "saved_seconds", "attempts", "parameters"):
            assert now[key] == was[key], (job_id, key)
        assert downloads(new, job_id) == files
    snapshot_ledger = [row for row in before if row[1] not in busy]
    assert ledger(new) == snapshot_ledger
    assert sum(r[4] for r in ledger(new)) == manifest["counts"]["ledger_saved_seconds"]

    # The worker sent them: each job unfinished at backup time runs exactly once more.
    for job_id in busy:
        assert wait_finished(new.api, new.headers, job_id, timeout=90)["state"] == "succeeded"  # type: ignore[arg-type]
        assert runs(trace, job_id) - ran_before[job_id] == 1, job_id
    assert new.runtime is not None
    with new.runtime.factory() as session:
        primaries = session.scalars(select(LedgerEntry.job_id).where(LedgerEntry.job_id.in_(busy))).all()
    assert sorted(primaries) == sorted(busy)


def test_second_backup_copies_only_new_files_and_restore_takes_the_newest(
    sites: Sites, tmp_path: Path
) -> None:
    site = sites("site", "sqlite").open(worker=False)  # the jobs wait: their inputs are stored files
    assert site.runtime is not None
    first = [accepted(site, f"a{i}.txt", f"first {i}\n".encode()) for i in range(3)]
    out = tmp_path / "backup"
    one = run_backup(site.settings.database_url, site.runtime.artifacts, out).manifest
    assert one["files"]["copied"] == 3
    later = [accepted(site, f"b{i}.txt", f"second {i}\n".encode()) for i in range(2)]
    two = run_backup(site.settings.database_url, site.runtime.artifacts, out).manifest
    new_blobs = set(two["blobs"]) - set(one["blobs"])
    assert len(new_blobs) == 2
    assert two["files"]["copied"] == 2 and two["files"]["already_in_backup"] == 3
    # Every file the manifest names is there with its hash, and nothing else.
    stored = {p.name: p for p in (out / "blobs").rglob("*") if p.is_file()}
    assert set(stored) == set(two["blobs"])
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == sha for sha, p in stored.items())
    assert two["release"] and two["revisions"]

    new = sites("new", "sqlite")
    restored = run_restore(out, new.settings.database_url, ArtifactStore(new.settings.storage))
    assert restored.files == 5 and sorted(restored.requeued) == sorted(first + later)


def test_restore_refuses_a_target_that_is_not_empty_and_a_damaged_backup(
    sites: Sites, tmp_path: Path
) -> None:
    site = sites("site", "sqlite").open(worker=False)
    assert site.runtime is not None
    accepted(site, "a.txt", b"queued, never run\n")
    out = tmp_path / "backup"
    manifest = run_backup(site.settings.database_url, site.runtime.artifacts, out).manifest

    # Over a live installation: refused, nothing touched.
    with pytest.raises(BackupError) as refused:
        run_restore(out, site.settings.database_url, site.runtime.artifacts)
    assert refused.value.code == "target_not_empty"

    # One flipped byte in one stored file: nothing is written at all.
    sha = next(iter(manifest["blobs"]))
    blob = out / "blobs" / sha[:2] / sha[2:4] / sha
    blob.write_bytes(b"X" + blob.read_bytes()[1:])
    new = sites("new", "sqlite")
    with pytest.raises(BackupError) as damaged:
        run_restore(out, new.settings.database_url, ArtifactStore(new.settings.storage))
    assert damaged.value.code == "backup_damaged" and sha in damaged.value.message
    assert not Path(new.settings.database_url.split("///")[1]).exists()
    assert not any(ArtifactStore(new.settings.storage).blobs())


def test_backup_of_a_damaged_stored_file_fails_naming_it(sites: Sites, tmp_path: Path) -> None:
    site = sites("site", "sqlite").open(worker=False)
    assert site.runtime is not None
    job_id = accepted(site, "a.txt", b"will be damaged\n")
    (sha,) = [p.name for p in site.runtime.artifacts.blob_dir.rglob("*") if p.is_file()]  # its input
    site.runtime.artifacts.path_for(sha).write_bytes(b"bit rot\n")
    out = tmp_path / "backup"
    with pytest.raises(BackupError) as failed:
        run_backup(site.settings.database_url, site.runtime.artifacts, out)
    assert failed.value.code == "unreadable_files"
    assert sha in failed.value.message and job_id in failed.value.message
    assert not list((out / "snapshots").glob("*")), "no snapshot folder is left half-made"
    assert json.dumps(failed.value.details)
