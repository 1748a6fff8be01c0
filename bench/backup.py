"""Backup, incremental backup, restore and verify against ``cp -a`` of the
same files on the same disk (docs/operations.md quotes its figures).

    python bench/backup.py --jobs 1000 --kb 1000 --folder /var/tmp/bench-backup

makes an installation of ``--jobs`` finished jobs (one input and one output
file each, ``--kb`` kilobytes apiece, random content, a ledger entry each),
written straight through the store and the ORM (no worker runs: the point is
the copying), then times each step. ``sync`` runs before each timed step and
its own time is counted in the steps that must be durable (backup, restore
fsync every file; ``cp -a`` is timed with and without a final ``sync``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from jobs.artifacts import ArtifactStore
from jobs.backup import run_backup
from jobs.db import make_engine, migrate, read_only, session_factory, unit_of_work
from jobs.models import Artifact, Department, Job, LedgerEntry
from jobs.restore import run_restore
from jobs.verify import verify_store


def make_jobs(url: str, store: ArtifactStore, count: int, size: int, start: int = 0) -> None:
    engine = make_engine(url)
    now = datetime.now(UTC)
    with unit_of_work(session_factory(engine)) as session:
        if session.get(Department, "bench") is None:
            session.add(Department(code="bench", name="bench"))
            session.flush()
        for number in range(start, start + count):
            job = Job(kind="ocr", queue="cpu", department_code="bench", state="succeeded", finished_at=now)
            session.add(job)
            session.flush()
            for role in ("input", "output"):
                blob = store.put_chunks([os.urandom(size)], 1 << 40, f"{role}-{number}")
                session.add(
                    Artifact(
                        job_id=job.id,
                        role=role,
                        name=f"{role}-{number}.bin",
                        sha256=blob.sha256,
                        size=blob.size,
                        media_type="application/octet-stream",
                    )
                )
            session.add(
                LedgerEntry(
                    job_id=job.id,
                    entry_type="job",
                    department_code="bench",
                    service="ocr",
                    unit_name="forms",
                    units=1,
                    seconds_per_unit=150,
                    saved_seconds=150,
                    fiscal_year=2026,
                    month="2026-12",
                )
            )
    engine.dispose()


def timed(label: str, work: object) -> float:
    subprocess.run(["sync"], check=True)
    started = time.perf_counter()
    result = work() if callable(work) else None  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"{label:<42} {seconds:8.2f} s  {result if result is not None else ''}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--kb", type=int, default=1000)
    parser.add_argument("--folder", type=Path, default=Path("/var/tmp/bench-backup"))
    args = parser.parse_args()
    root = args.folder
    shutil.rmtree(root, ignore_errors=True)
    var, out, new = root / "var", root / "backup", root / "new"
    url = f"sqlite:///{var / 'digilabo.db'}"
    migrate(url)
    store = ArtifactStore(var / "storage")
    store.ensure()
    make_jobs(url, store, args.jobs, args.kb * 1024)
    total = sum(p.stat().st_size for p in store.blob_dir.rglob("*") if p.is_file())
    print(f"{args.jobs} jobs, {2 * args.jobs} files, {total / 1e6:.0f} MB (busy shared machine)")

    def cp(sync: bool) -> None:
        target = root / ("cp-sync" if sync else "cp")
        subprocess.run(["cp", "-a", str(store.blob_dir), str(target)], check=True)
        if sync:
            subprocess.run(["sync"], check=True)

    copy = timed("cp -a of the stored files", lambda: cp(False))
    copy_sync = timed("cp -a of the stored files, then sync", lambda: cp(True))
    backup = timed(
        "digilabo backup (full)",
        lambda: run_backup(url, store, out).manifest["files"]["copied"],
    )
    make_jobs(url, store, 10, args.kb * 1024, start=args.jobs)
    timed(
        "digilabo backup (after 10 new jobs): copied",
        lambda: run_backup(url, store, out).manifest["files"]["copied"],
    )
    restore = timed(
        "digilabo restore (newest backup)",
        lambda: run_restore(out, f"sqlite:///{new / 'digilabo.db'}", ArtifactStore(new / "storage")).files,
    )

    def verify() -> str:
        engine = make_engine(url)
        with read_only(session_factory(engine)) as session:
            report = verify_store(session=session, artifacts=store)
        engine.dispose()
        return f"{report.files} files, ok={report.ok}"

    timed("digilabo verify", verify)
    print(f"backup / cp -a: {backup / copy:.2f}   backup / (cp -a + sync): {backup / copy_sync:.2f}")
    print(f"restore / backup: {restore / backup:.2f}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
