"""Backup while jobs of every kind run, restore on a fresh installation:
finished jobs, their files and the ledger come back unchanged; jobs queued or
running at backup time come back queued and run exactly once. Real workers
(cpu, gpu on the CPU, rpa with Debian's Chromium against the stand-in),
Redis, SQLite and PostgreSQL; ``pg_dump``/``pg_restore`` from postgresql-client."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from digilabo.embedded import start_standin
from jobs.artifacts import ArtifactStore
from jobs.backup import BackupError, run_backup
from jobs.models import Job, LedgerEntry
from jobs.ocr.kind import sample as ocr_sample
from jobs.restore import RESTORED_JA, run_restore
from jobs.rpa.models import RpaReference
from jobs.transcription.model import ensure_embedded_model
from tests.corpus.inputs import records_csv, sample_rows
from tests.integration.helpers import FINISHED, submit, wait_finished, wait_until
from tests.operations.conftest import Site, Sites
from tests.support.entry import entry_env
from tests.support.speech import SENTENCES, synthesise, write_audio

POOLS = ("cpu", "gpu", "rpa")
TARGET = "zaimu-standin"  # the bundled script shishutsu_futan's target


def accepted(site: Site, name: str, body: bytes, *, kind: str = "echo", **params: Any) -> str:
    assert site.api is not None
    response = submit(site.api, site.headers, [(name, body)], params, kind=kind)
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


def ledger(database_url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
            return [
                (
                    r.id,
                    r.job_id,
                    r.entry_type,
                    r.units,
                    r.saved_seconds,
                    r.occurred_at,
                    r.fiscal_year,
                    r.month,
                )
                for r in rows
            ]
    finally:
        engine.dispose()


def runs(trace: Path, job_id: str) -> int:
    path = trace / f"{job_id}.runs"
    return len(path.read_text().split()) if path.exists() else 0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A short recording of known speech: one sentence, a few seconds."""
    return write_audio(synthesise(SENTENCES[:1]), tmp_path_factory.mktemp("clip") / "clip.wav").read_bytes()


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Whisper model assembled once: every installation here loads it."""
    return ensure_embedded_model(tmp_path_factory.mktemp("models") / "whisper-base")


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The financial system the entry jobs type into. It is not part of the
    installation: it outlives the lost machine and serves the restored one."""
    child, url = start_standin(tmp_path_factory.mktemp("standin"))
    try:
        yield url
    finally:
        child.stop()


def entered(standin: str, prefix: str) -> Counter[str]:
    """How often each reference starting with ``prefix`` was typed into the target."""
    rows = httpx.get(f"{standin}/_admin/entries", timeout=10).json()
    return Counter(str(r["reference"]) for r in rows if str(r["reference"]).startswith(prefix))


def claimed(site: Site, job_id: str) -> bool:
    """Whether the entry job has claimed a record in its exactly-once ledger."""
    assert site.runtime is not None
    with site.runtime.factory() as session:
        return session.scalar(select(RpaReference.job_id).where(RpaReference.job_id == job_id)) is not None


def attempts(database_url: str, ids: list[str]) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.execute(select(Job.id, Job.attempts).where(Job.id.in_(ids)))
            return {str(job_id): int(count) for job_id, count in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_backup_under_load_restores_every_job_exactly_once(
    sites: Sites,
    backend: str,
    tmp_path: Path,
    clip: bytes,
    model_cache: Path,
    standin: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in entry_env(standin).items():  # for intake (this process) and the rpa workers
        if key.startswith("DIGILABO_CREDENTIAL_"):
            monkeypatch.setenv(key, value)
    settings = {"rpa_target_urls": {TARGET: standin}, "model_cache_dir": model_cache}
    old = sites("old", backend, **settings).open(pools=POOLS)
    trace = tmp_path / "trace"
    trace.mkdir()
    ocr_params, scans = ocr_sample()
    scan = scans[0].read_bytes()  # one page: one task, no parts
    ref = f"K{uuid.uuid4().hex[:6].upper()}"  # the stand-in serves both backends

    def transcription(tag: str) -> str:
        return accepted(old, "clip.wav", clip, kind="transcription", meeting_name=f"会議{tag}")

    def ocr() -> str:
        return accepted(old, scans[0].name, scan, kind="ocr", **ocr_params)

    def entry(tag: str, count: int) -> str:
        body = records_csv(*sample_rows(f"{ref}{tag}", count))
        return accepted(old, "records.csv", body, kind="rpa_entry", script="shishutsu_futan")

    # Finished before the backup: jobs of every kind, with their files.
    done = [accepted(old, f"f{i}.txt", f"行 {i}\n".encode() * (i + 1)) for i in range(2)]
    done += [transcription("A"), ocr(), entry("A", 2)]
    for job_id in done:
        state = wait_finished(old.api, old.headers, job_id, timeout=240)["state"]  # type: ignore[arg-type]
        assert state in ("succeeded", "needs_review"), job(old, job_id)  # OCR: fields to review
    expected = {job_id: (job(old, job_id), downloads(old, job_id)) for job_id in done}

    # Running during the backup: each pool busy with a job of its kind, and
    # one more queued behind the transcription (a gpu worker runs one job at
    # a time), so some are certainly unfinished. One entry job is backed up
    # once it has claimed its record; the other goes on typing on the old
    # machine after the backup, records the restored ledger never saw, which
    # the restored job must find in the target instead of typing again.
    typing = entry("B", 1)
    wait_until(lambda: claimed(old, typing) or job(old, typing)["state"] in FINISHED, 120, "the entry job")
    after = entry("C", 2)
    slow = accepted(old, "slow.txt", b"slow\n", sleep=5, trace_dir=str(trace))
    busy = [typing, slow, ocr(), accepted(old, "q.txt", b"q\n", trace_dir=str(trace)), after]
    busy += [transcription("B"), transcription("C")]
    wait_until(lambda: job(old, slow)["state"] == "running", 60, "the slow echo job to start")
    wait_until(lambda: job(old, busy[-2])["state"] != "queued", 60, "the transcription to start")
    out = tmp_path / "backup"
    assert old.runtime is not None
    result = run_backup(old.settings.database_url, old.runtime.artifacts, out)
    before = ledger(old.settings.database_url)
    # Jobs that finished during the backup may be in it as finished: as the old machine served them.
    late = {j: (job(old, j), downloads(old, j)) for j in busy if job(old, j)["state"] in FINISHED}
    # The old machine types the second entry job's records before it is lost.
    wait_finished(old.api, old.headers, after, timeout=120)  # type: ignore[arg-type]
    old.close()  # the machine is lost; jobs it finished after the backup are lost with it
    echo_runs = {job_id: runs(trace, job_id) for job_id in (slow, busy[3])}

    manifest = result.manifest
    assert manifest["backend"] == ("sqlite" if backend == "sqlite" else "postgresql")
    assert manifest["files"]["count"] == manifest["files"]["copied"] == len(manifest["blobs"])

    new = sites("new", backend, **settings)
    restored = run_restore(out, new.settings.database_url, ArtifactStore(new.settings.storage))
    assert {slow, busy[-1]} <= set(restored.requeued) <= set(busy), restored.requeued
    unfinished = manifest["counts"]["jobs_by_state"]
    assert unfinished.get("queued", 0) + unfinished.get("running", 0) == len(restored.requeued), unfinished
    with Session(create_engine(new.settings.database_url)) as session:  # before any worker sees them
        back = session.execute(
            select(Job.state, Job.enqueued_at, Job.progress_message).where(Job.id.in_(restored.requeued))
        )
        assert {tuple(row) for row in back} == {("queued", None, RESTORED_JA)}
    tries = attempts(new.settings.database_url, restored.requeued)
    # The ledger: the snapshot's entries, to the second.
    snapshot_ledger = [row for row in before if row[1] not in restored.requeued]
    assert ledger(new.settings.database_url) == snapshot_ledger
    assert sum(r[4] for r in snapshot_ledger) == manifest["counts"]["ledger_saved_seconds"]
    for job_id in restored.requeued:
        late.pop(job_id, None)  # finished after the snapshot: lost with the old machine
    expected.update(late)

    new.open(pools=POOLS)
    # 100 % of finished jobs: state, summary and every file byte for byte.
    for job_id, (was, files) in expected.items():
        now = job(new, job_id)
        for key in ("state", "summary", "finished_at", "saved_seconds", "attempts", "parameters"):
            assert now[key] == was[key], (job_id, key)
        assert downloads(new, job_id) == files

    # The workers sent them: each job unfinished at backup time runs exactly once more.
    for job_id in restored.requeued:
        finished = wait_finished(new.api, new.headers, job_id, timeout=240)  # type: ignore[arg-type]
        assert finished["state"] in ("succeeded", "needs_review"), finished
        assert finished["attempts"] == tries[job_id] + 1, job_id
        assert downloads(new, job_id)
    for job_id, count in echo_runs.items():
        assert runs(trace, job_id) - count == (1 if job_id in restored.requeued else 0), job_id
    assert new.runtime is not None
    with new.runtime.factory() as session:
        primaries = Counter(session.scalars(select(LedgerEntry.job_id).where(LedgerEntry.job_id.in_(busy))))
    succeeded = {job_id for job_id in busy if job(new, job_id)["state"] == "succeeded"}
    assert set(primaries) == succeeded and set(primaries.values()) == {1}, primaries  # none twice
    # Each record typed into the financial system exactly once, across both machines.
    typed = entered(standin, ref)
    assert sorted(typed) == [f"{ref}A-000", f"{ref}A-001", f"{ref}B-000", f"{ref}C-000", f"{ref}C-001"]
    assert set(typed.values()) == {1}, typed


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
