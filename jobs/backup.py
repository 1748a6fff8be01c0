"""Backups taken while the service runs: a consistent database snapshot and
exactly the stored files that snapshot refers to.

Layout of a backup folder (one folder holds many backups)::

    DIR/blobs/aa/bb/<sha256>            content-addressed, shared by all backups
    DIR/snapshots/<UTC stamp>/database.sqlite | database.pgdump
    DIR/snapshots/<UTC stamp>/manifest.json   written last: no manifest, no backup

Consistency: the set of files is read from the snapshot itself (SQLite: from
the copy the online backup API made; PostgreSQL: in the transaction whose
snapshot ``pg_dump --snapshot`` dumps), never from the live database, so the
files and the rows agree. Files are never deleted while a row refers to them,
except by the retention purge, which marks its rows purged first: a file that
vanished during the backup and whose row the live database now shows purged
is listed in the manifest (``purged_during_backup``) and restore marks it so.

Blobs already in DIR (an earlier backup) are kept, so a second backup copies
only new files. Each copy is hashed before it is given its name: a stored file
whose content no longer matches its name is reported, never kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, make_url, text

from jobs.artifacts import CHUNK, ArtifactStore
from jobs.errors import DISK_FULL_ERRNOS, DigilaboError
from jobs.release import RELEASE
from jobs.schema import revisions_of

FORMAT = 1
MANIFEST = "manifest.json"
# progress(step, done, total): step is "database" or "files"; done/total in bytes.
Progress = Callable[[str, int, int], None]


class BackupError(DigilaboError):
    """The backup (or restore) cannot go on; the message says why in English
    and Japanese, for an operator at a terminal."""

    code = "backup_failed"


def disk_full(where: Path) -> BackupError:
    return BackupError(
        "disk_full",
        f"Not enough free space in {where}; free some space or choose another folder. "
        f"/ {where} の空き容量が足りません。",
        path=str(where),
    )


@contextmanager
def disk_errors(where: Path) -> Iterator[None]:
    """A full disk becomes one clear BackupError naming the folder."""
    try:
        yield
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:
            raise disk_full(where) from exc
        raise


@dataclass(frozen=True)
class Snapshot:
    """What a database snapshot says about the store and the ledger."""

    backend: str
    revisions: list[str]
    blobs: dict[str, tuple[int, str]]  # sha256 -> (size, one job id referring to it)
    counts: dict[str, Any]


def read_snapshot(conn: Connection, backend: str) -> Snapshot:
    """Read inside the snapshot's own transaction (or from its copy)."""
    blobs: dict[str, tuple[int, str]] = {}
    rows = conn.execute(text("SELECT sha256, size, job_id FROM artifacts WHERE purged_at IS NULL"))
    for sha, size, job_id in rows:
        blobs.setdefault(str(sha), (int(size), str(job_id)))
    by_state = conn.execute(text("SELECT state, count(*) FROM jobs GROUP BY state")).all()
    states = {str(state): int(count) for state, count in by_state}
    counts = {
        "jobs": int(sum(states.values())),
        "jobs_by_state": {str(k): int(v) for k, v in sorted(states.items())},
        "artifacts": int(conn.execute(text("SELECT count(*) FROM artifacts")).scalar_one()),
        "ledger_entries": int(conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one()),
        "ledger_saved_seconds": float(
            conn.execute(text("SELECT coalesce(sum(saved_seconds), 0) FROM ledger_entries")).scalar_one()
        ),
    }
    return Snapshot(backend, revisions_of(conn), blobs, counts)


# -- the database ------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        raise BackupError("unsupported_database", f"Cannot back up an in-memory database ({url}).")
    return Path(path)


def snapshot_sqlite(url: str, dest: Path) -> Snapshot:
    """SQLite's online backup API: one consistent copy while writers go on
    (in WAL mode the copy reads one snapshot and blocks no writer)."""
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise BackupError("database_missing", f"No database at {source_path}.")
    part = dest.with_name(dest.name + ".part")
    source = sqlite3.connect(source_path, timeout=30)
    try:
        target = sqlite3.connect(part)
        try:
            with disk_errors(dest.parent):
                source.backup(target)
                # One self-contained file: no -wal beside it.
                target.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.OperationalError as exc:
            part.unlink(missing_ok=True)
            if "full" in str(exc):  # SQLITE_FULL: "database or disk is full"
                raise disk_full(dest.parent) from exc
            raise BackupError("database_unreadable", f"Cannot copy the database: {exc}") from exc
        finally:
            target.close()
    finally:
        source.close()
    with disk_errors(dest.parent):
        _fsync(part)
        os.replace(part, dest)
    engine = create_engine(f"sqlite:///{dest}")
    try:
        with engine.connect() as conn:
            return read_snapshot(conn, "sqlite")
    finally:
        engine.dispose()


def libpq_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump/pg_restore, and the environment that
    carries the password (never the command line, which others can read)."""
    parsed = make_url(url)
    args = []
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return [*args, "--dbname", str(parsed.database)], env


def pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(
            "pg_tools_missing",
            f"{name} not found: install Debian's postgresql-client (a version at least the server's).",
        )
    return tool


def snapshot_postgres(url: str, dest: Path) -> Snapshot:
    """pg_dump of the snapshot this transaction exported, read in the same
    transaction: the dump and the list of files see the same instant."""
    tool = pg_tool("pg_dump")
    args, env = libpq_args(url)
    part = dest.with_name(dest.name + ".part")
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            exported = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
            snapshot = read_snapshot(conn, "postgresql")
            result = subprocess.run(  # fixed tool; arguments from the settings
                [tool, "--format=custom", f"--snapshot={exported}", "--file", str(part), *args],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            conn.rollback()
    finally:
        engine.dispose()
    if result.returncode != 0:
        part.unlink(missing_ok=True)
        if "No space left" in result.stderr:
            raise disk_full(dest.parent)
        raise BackupError("pg_dump_failed", f"pg_dump failed: {result.stderr.strip()[-500:]}")
    with disk_errors(dest.parent):
        _fsync(part)
        os.replace(part, dest)
    return snapshot


# -- the files ---------------------------------------------------------------------


@dataclass
class CopyReport:
    copied: int = 0
    copied_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    purged_during_backup: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def blob_path(root: Path, sha256: str) -> Path:
    return root / "blobs" / sha256[:2] / sha256[2:4] / sha256


HEX64 = re.compile(r"[0-9a-f]{64}")


def copy_threads() -> int:
    """Threads for copying or hashing stored files: two where there are two
    cores (hashing and file I/O release the GIL), else one."""
    return min(2, os.cpu_count() or 1)


# One buffer per copying thread, reused for every file: a fresh bytes object
# per read costs more than the copy of a small file. The store's own chunk
# (1 MiB); 256 KiB was no faster in a trial on the busy 2-core machine.
BUFFER = CHUNK
_buffers = threading.local()


def copy_checked(source: str, target: str, sha256: str) -> None:
    """Copy and hash in one pass; the target appears (by rename) only when
    its content matches its name. Raises ValueError on a mismatch.

    Each block is read once into a reused buffer, hashed there (hashlib
    releases the GIL for large buffers, so two threads hash on two cores)
    and written from it: every byte is read once. Copying in the kernel and
    then hashing the copy read it a second time: 1.28-1.72x ``cp -a``
    against 1.14-1.25x in the quieter runs of a busy machine
    (bench/backup.py --previous, docs/operations.md).
    No mmap: a stored file truncated while it is mapped kills the process
    with SIGBUS instead of failing this one copy. Plain string paths:
    pathlib's objects cost more than the copy of a small file."""
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(BUFFER)
    view = memoryview(buffer)
    digest = hashlib.sha256()
    part = target + ".part"
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        # The backup holds personal data: owner only, as var/ is.
        dst = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            while read := os.readv(src, [buffer]):
                digest.update(view[:read])
                written = 0
                while written < read:
                    written += os.write(dst, view[written:read])
        finally:
            os.close(dst)
        found = digest.hexdigest()
        if found != sha256:
            raise ValueError(f"content hash {found} differs from its name")
        os.replace(part, target)
    finally:
        os.close(src)
        if os.path.lexists(part):
            os.unlink(part)


def copy_blobs(
    snapshot: Snapshot,
    store: ArtifactStore,
    out: Path,
    still_live: Callable[[list[str]], set[str]],
    progress: Progress,
    threads: int | None = None,
) -> CopyReport:
    """Copy the snapshot's blobs that ``out`` lacks. ``still_live`` tells,
    for blobs missing from the store, which ones the live database still
    needs (the others were purged by retention while we copied).

    Copies run on two threads: reading, hashing (which ``cp -a`` does not
    do) and writing all release the GIL, so two files are hashed at once on
    two cores."""
    report = CopyReport()
    total = sum(size for size, _ in snapshot.blobs.values())
    done = 0
    missing: dict[str, str] = {}
    source_root, target_root = str(store.blob_dir), str(out / "blobs")
    todo: list[tuple[str, int, str]] = []
    for sha, (size, job_id) in sorted(snapshot.blobs.items()):
        if not HEX64.fullmatch(sha):  # a name from the database never becomes a path unchecked
            report.problems.append(f"artifact of job {job_id} has an invalid SHA-256 {sha!r}")
            continue
        try:
            kept = os.stat(f"{target_root}/{sha[:2]}/{sha[2:4]}/{sha}").st_size == size
        except FileNotFoundError:
            kept = False
        if kept:
            report.kept += 1
            report.kept_bytes += size
            done += size
        else:
            todo.append((sha, size, job_id))
    progress("files", done, total)
    with disk_errors(out):
        for folder in sorted({f"{sha[:2]}/{sha[2:4]}" for sha, _, _ in todo}):
            os.makedirs(f"{target_root}/{folder}", exist_ok=True)

    def copy(sha: str) -> None:
        folder = f"{sha[:2]}/{sha[2:4]}"
        copy_checked(f"{source_root}/{folder}/{sha}", f"{target_root}/{folder}/{sha}", sha)

    workers = threads or copy_threads()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backup-copy") as pool:
        futures = {pool.submit(copy, sha): (sha, size, job_id) for sha, size, job_id in todo}
        try:
            for future in as_completed(futures):
                sha, size, job_id = futures[future]
                try:
                    with disk_errors(out):
                        future.result()
                    report.copied += 1
                    report.copied_bytes += size
                except FileNotFoundError:
                    missing[sha] = job_id
                except ValueError as exc:
                    report.problems.append(f"stored file {sha} (job {job_id}) is damaged: {exc}")
                except OSError as exc:  # unreadable: permissions, an I/O error
                    report.problems.append(f"stored file {sha} (job {job_id}) cannot be read: {exc.strerror}")
                done += size
                progress("files", done, total)
        except BaseException:
            # A full disk (BackupError) or an interrupt: queued copies are not started.
            for future in futures:
                future.cancel()
            raise
    report.problems.sort()
    live = still_live(sorted(missing)) if missing else set()
    for sha, job_id in sorted(missing.items()):
        if sha in live:
            report.problems.append(f"stored file {sha} (job {job_id}) is missing from {store.blob_dir}")
        else:
            report.purged_during_backup.append(sha)
    return report


# -- the whole backup --------------------------------------------------------------


def stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class BackupResult:
    folder: Path
    manifest: dict[str, Any]


def run_backup(
    database_url: str,
    store: ArtifactStore,
    out: Path,
    *,
    progress: Progress = lambda _s, _d, _t: None,
    now: datetime | None = None,
) -> BackupResult:
    """Take one backup into ``out``. Raises BackupError (nothing half-made
    is left: an incomplete snapshot folder is removed)."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with disk_errors(out):
        folder = out / "snapshots" / stamp(now)
        private_folders(out, out / "blobs", folder.parent)
        folder.mkdir(mode=0o700)
    try:
        progress("database", 0, 1)
        db_file = folder / ("database.sqlite" if backend == "sqlite" else "database.pgdump")
        snap = (snapshot_sqlite if backend == "sqlite" else snapshot_postgres)(database_url, db_file)
        os.chmod(db_file, 0o600)
        progress("database", 1, 1)
        report = copy_blobs(snap, store, out, lambda shas: live_blobs(database_url, shas), progress)
        if report.problems:
            raise BackupError(
                "unreadable_files",
                f"{len(report.problems)} stored file(s) could not be backed up "
                f"/ {len(report.problems)} 件のファイルをバックアップできませんでした:\n"
                + "\n".join(report.problems[:20]),
                problems=report.problems,
            )
        manifest = build_manifest(snap, db_file, report, now)
        with disk_errors(out):
            # One sync for all the copies (an fsync per file costs ten times
            # the copy): the manifest, which makes the backup count, comes after.
            os.sync()
            write_json_atomic(folder / MANIFEST, manifest)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return BackupResult(folder, manifest)


def private_folders(out: Path, *folders: Path) -> None:
    """A backup holds residents' recordings, forms and payment records: its
    folders are the service user's alone, like var/ (``out`` itself is made
    so when new; an existing one is the operator's choice and left as it is)."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in folders:
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask, and old backups predate this


def build_manifest(snap: Snapshot, db_file: Path, report: CopyReport, now: datetime | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "created_at": (now or datetime.now(UTC)).isoformat(),
        "release": RELEASE,
        "revisions": snap.revisions,
        "backend": snap.backend,
        "database": {"file": db_file.name, "size": db_file.stat().st_size, "sha256": file_sha256(db_file)},
        "counts": snap.counts,
        "files": {
            "count": len(snap.blobs),
            "bytes": sum(size for size, _ in snap.blobs.values()),
            "copied": report.copied,
            "copied_bytes": report.copied_bytes,
            "already_in_backup": report.kept,
        },
        # The name of each file is its SHA-256; restore checks every byte.
        "blobs": {sha: size for sha, (size, _) in sorted(snap.blobs.items())},
        "purged_during_backup": report.purged_during_backup,
    }


def live_blobs(database_url: str, shas: list[str]) -> set[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            found: set[str] = set()
            for start in range(0, len(shas), 500):
                rows = conn.execute(
                    text(
                        "SELECT sha256 FROM artifacts WHERE purged_at IS NULL AND sha256 IN :shas"
                    ).bindparams(_expanding("shas")),
                    {"shas": shas[start : start + 500]},
                )
                found |= {str(r) for r in rows.scalars()}
            return found
    finally:
        engine.dispose()


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync(part)
    os.replace(part, path)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
