"""Restoring a backup (``jobs.backup``) into an empty database and store.

Order: read the manifest and refuse a schema this release does not know;
refuse a target that holds anything; check the SHA-256 of the database file
and of every stored file before writing one byte; then copy the files, load
the database, migrate it forward, and put the jobs that were queued or
running at backup time back in the queue.

Those jobs come back ``queued`` with no ``enqueued_at``: nothing has sent
their task yet (the broker's messages are not part of a backup). The first
worker's reaper claims each one with a compare-and-set on that empty column
(``claim_unsent``) and sends one task, so each runs exactly once whichever
worker and however many reapers see it. Under fair dispatch (the default)
they also come back unreleased (``released_at`` empty), and the dispatcher
sends them in the departments' turn instead of the reaper.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, inspect, or_, select, update
from sqlalchemy.orm import Session

from jobs import store as job_store
from jobs.artifacts import ArtifactStore, private_dirs
from jobs.backup import (
    FORMAT,
    MANIFEST,
    BackupError,
    Progress,
    blob_path,
    copy_threads,
    disk_errors,
    file_sha256,
    libpq_args,
    pg_tool,
    sqlite_path,
)
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.lifecycle import State
from jobs.models import Artifact, Job, utcnow
from jobs.registry import RESTORED_PARAM
from jobs.schema import SchemaTooNew, head_revisions, known_revisions

RESTORED_JA = "バックアップから復元しました。処理の順番を待っています。"
UNFINISHED = (State.QUEUED.value, State.RUNNING.value)


def find_snapshot(path: Path) -> Path:
    """A snapshot folder itself, or the newest complete one in a backup folder."""
    if (path / MANIFEST).is_file():
        return path
    candidates = sorted(p for p in (path / "snapshots").glob("*") if (p / MANIFEST).is_file())
    if not candidates:
        raise BackupError("no_backup", f"No backup in {path} (no snapshots/*/{MANIFEST}).")
    return candidates[-1]


def load_manifest(snapshot: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((snapshot / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError("bad_manifest", f"Cannot read {snapshot / MANIFEST}: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError("bad_manifest", f"Unknown backup format {manifest.get('format')!r}.")
    known = known_revisions()
    for revision in manifest.get("revisions", []):
        if revision not in known:
            raise SchemaTooNew(revision, head_revisions())
    return manifest


def backup_root(snapshot: Path) -> Path:
    """Blobs live two levels above a snapshot (DIR/snapshots/<stamp>)."""
    return snapshot.parent.parent


def check_target_empty(database_url: str, store: ArtifactStore) -> None:
    """Refuse to restore over anything: a restore never merges."""
    if database_url.startswith("sqlite"):
        path = sqlite_path(database_url)
        if path.exists() and path.stat().st_size > 0:
            raise BackupError("target_not_empty", f"The database {path} exists; restore needs an empty var/.")
    else:
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                tables = inspect(conn).get_table_names()
        finally:
            engine.dispose()
        if tables:
            raise BackupError(
                "target_not_empty",
                f"The PostgreSQL database has {len(tables)} table(s); restore needs an empty database.",
            )
    if any(True for _ in store.blobs()):
        raise BackupError(
            "target_not_empty", f"{store.blob_dir} already holds files; restore needs it empty."
        )


def check_files(snapshot: Path, manifest: dict[str, Any], progress: Progress) -> None:
    """Every byte of the backup against the manifest, before anything is written."""
    problems = []
    database = snapshot / manifest["database"]["file"]
    if not database.is_file() or file_sha256(database) != manifest["database"]["sha256"]:
        problems.append(f"{database} is missing or damaged")
    root = backup_root(snapshot)
    blobs: dict[str, int] = manifest["blobs"]
    total, done = sum(blobs.values()), 0

    def check(sha: str) -> str | None:
        path = blob_path(root, sha)
        try:
            if file_sha256(path) != sha:
                return f"{path} is damaged (its SHA-256 differs from its name)"
        except OSError as exc:
            return f"{path} cannot be read: {exc.strerror}"
        return None

    # Two threads, as the backup copies: hashing releases the GIL, so two
    # files are hashed at once on two cores.
    names = sorted(blobs)
    with ThreadPoolExecutor(max_workers=copy_threads(), thread_name_prefix="restore-check") as pool:
        for sha, problem in zip(names, pool.map(check, names), strict=True):
            if problem:
                problems.append(problem)
            done += blobs[sha]
            progress("check", done, total)
    if problems:
        raise BackupError(
            "backup_damaged",
            f"The backup is damaged; nothing was restored / バックアップが壊れているため復元しませんでした "
            f"({len(problems)}):\n" + "\n".join(problems[:20]),
            problems=problems,
        )


def restore_blobs(snapshot: Path, manifest: dict[str, Any], store: ArtifactStore, progress: Progress) -> None:
    store.ensure()
    root = backup_root(snapshot)
    blobs: dict[str, int] = manifest["blobs"]
    total, done = sum(blobs.values()), 0

    def copy(sha: str) -> None:
        final = store.path_for(sha)
        part = store.tmp_dir / f"{uuid.uuid4().hex}.part"
        shutil.copyfile(blob_path(root, sha), part)
        os.chmod(part, 0o600)
        private_dirs(final.parent)
        os.replace(part, final)

    # Two threads, as the check: two files copied at once on two cores.
    names = sorted(blobs)
    with ThreadPoolExecutor(max_workers=copy_threads(), thread_name_prefix="restore-copy") as pool:
        try:
            with disk_errors(store.root):
                for sha, _ in zip(names, pool.map(copy, names), strict=True):
                    done += blobs[sha]
                    progress("files", done, total)
        except BaseException:
            # A full disk (BackupError) or an interrupt: queued copies are not started.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    os.sync()  # the copies are durable before the database that refers to them is loaded


def restore_database(snapshot: Path, manifest: dict[str, Any], database_url: str) -> None:
    source = snapshot / manifest["database"]["file"]
    is_sqlite = database_url.startswith("sqlite")
    if (manifest["backend"] == "sqlite") != is_sqlite:
        raise BackupError(
            "backend_mismatch",
            f"This backup is of a {manifest['backend']} database; the settings name another kind "
            f"({database_url.split(':', 1)[0]}).",
        )
    if is_sqlite:
        target = sqlite_path(database_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".restoring")
        with disk_errors(target.parent):
            shutil.copyfile(source, part)
            os.chmod(part, 0o600)
            os.replace(part, target)
        return
    args, env = libpq_args(database_url)
    result = subprocess.run(  # fixed tool; arguments from the settings
        [
            pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            *args,
            str(source),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError("pg_restore_failed", f"pg_restore failed: {result.stderr.strip()[-500:]}")


@dataclass(frozen=True)
class RestoreResult:
    snapshot: Path
    requeued: list[str]
    files: int
    bytes: int


def run_restore(
    path: Path,
    database_url: str,
    store: ArtifactStore,
    *,
    progress: Progress = lambda _s, _d, _t: None,
) -> RestoreResult:
    snapshot = find_snapshot(path)
    manifest = load_manifest(snapshot)
    check_target_empty(database_url, store)
    check_files(snapshot, manifest, progress)
    restore_blobs(snapshot, manifest, store, progress)
    restore_database(snapshot, manifest, database_url)
    progress("migrate", 0, 1)
    migrate(database_url)
    progress("migrate", 1, 1)
    engine = make_engine(database_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            mark_purged(manifest.get("purged_during_backup", []), session=session)
            requeued = requeue_unfinished(session=session)
    finally:
        engine.dispose()
    return RestoreResult(snapshot, requeued, len(manifest["blobs"]), sum(manifest["blobs"].values()))


def mark_purged(shas: list[str], *, session: Session, now: datetime | None = None) -> None:
    """Files the retention purge deleted while the backup ran."""
    if shas:
        session.execute(
            update(Artifact)
            .where(Artifact.sha256.in_(shas), Artifact.purged_at.is_(None))
            .values(purged_at=now or utcnow())
        )


def requeue_unfinished(*, session: Session) -> list[str]:
    """Jobs queued or running at backup time: queued again, not yet sent.
    This writes past ``jobs.lifecycle`` on purpose: no worker can hold these
    jobs (no service has run on this database yet), and queued→queued is no
    transition a running service makes."""
    ids = sorted(session.scalars(select(Job.id).where(Job.state.in_(UNFINISHED))))
    if ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(ids))
            .values(
                state=State.QUEUED.value,
                task_id=None,
                worker=None,
                enqueued_at=None,
                released_at=None,
                started_at=None,
                heartbeat_at=None,
                finished_at=None,
                progress=0.0,
                progress_message=RESTORED_JA,
            )
        )
    restored_at = utcnow().isoformat(timespec="seconds")
    for job in session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id)):
        # Marked, so a kind whose work reaches outside digilabo checks it
        # first: the entry job looks each record up before typing it.
        job.parameters = {**(job.parameters or {}), RESTORED_PARAM: restored_at}
        job_store.audit("restore_requeue", session=session, viewer=job_store.SYSTEM, job_id=job.id)
    return ids


@dataclass(frozen=True)
class Unsent:
    job_id: str
    kind: str
    task_id: str


def claim_unsent(
    *, session: Session, now: datetime | None = None, source_job_id: str | None = None
) -> list[Unsent]:
    """Queued jobs nobody has sent yet, each claimed by one caller only
    (compare-and-set on the empty ``enqueued_at`` or ``task_id``): jobs a
    restore put back, and jobs another job's success hook made (an entry job
    from a reviewed OCR job has no task id until it is sent). With
    ``source_job_id``, only the jobs made from that one. The caller commits,
    then sends each task under its ``task_id``. Under fair dispatch the
    dispatcher sends these instead (it releases any unreleased job)."""
    unsent = or_(Job.enqueued_at.is_(None), Job.task_id.is_(None))
    query = select(Job.id, Job.kind).where(Job.state == State.QUEUED.value, unsent)
    if source_job_id is not None:
        query = query.where(Job.source_job_id == source_job_id)
    claimed = []
    for job_id, kind in session.execute(query).all():
        task_id = str(uuid.uuid4())
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == State.QUEUED.value, unsent)
            # An entry job keeps the time it was made: its wait counts from then.
            .values(enqueued_at=func.coalesce(Job.enqueued_at, now or utcnow()), task_id=task_id)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(Unsent(job_id, kind, task_id))
    return claimed
