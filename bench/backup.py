"""Backup, incremental backup, restore and verify against ``cp -a`` of the
same files on the same disk (docs/operations.md quotes its figures).

    python bench/backup.py --jobs 1000 --kb 1000 --rounds 2 --folder /var/tmp/bench-backup

makes an installation of ``--jobs`` finished jobs (one input and one output
file each, ``--kb`` kilobytes apiece, random content, a ledger entry each),
written straight through the store and the ORM (no worker runs: the point is
the copying), then times each step. ``sync`` runs before each timed step and
its own time is counted in the steps that must be durable (a backup syncs once
at the end, restore syncs; ``cp -a`` is followed by ``sync``). ``cp -a`` and the
full backup alternate ``--rounds`` times; with ``--previous`` each round also
takes a full backup copying as the previous version did (kernel copy, then
hash the copy), the two backups taking turns going first. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import jobs.backup
from bench.backup_copy import kernel_copy_then_hash
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
    result = work() if callable(work) else None
    seconds = time.perf_counter() - started
    print(f"{label:<42} {seconds:8.2f} s  {result if result is not None else ''}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--kb", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="cp -a and backup, interleaved")
    parser.add_argument("--folder", type=Path, default=Path("/var/tmp/bench-backup"))
    parser.add_argument(
        "--previous",
        action="store_true",
        help="also time, each round, a full backup that copies as the previous version did "
        "(in the kernel, then hashes the copy: bench/backup_copy.py)",
    )
    args = parser.parse_args()
    root = args.folder
    shutil.rmtree(root, ignore_errors=True)
    var, new = root / "var", root / "new"
    url = f"sqlite:///{var / 'digilabo.db'}"
    migrate(url)
    store = ArtifactStore(var / "storage")
    store.ensure()
    make_jobs(url, store, args.jobs, args.kb * 1024)
    total = sum(p.stat().st_size for p in store.blob_dir.rglob("*") if p.is_file())
    load = os.getloadavg()[0]
    print(f"{args.jobs} jobs, {2 * args.jobs} files, {total / 1e6:.0f} MB, load {load:.1f}")

    def cp(target: Path) -> None:
        subprocess.run(["cp", "-a", str(store.blob_dir), str(target)], check=True)
        subprocess.run(["sync"], check=True)

    # Interleaved, each into a fresh folder: a backup fsyncs (one sync at the
    # end), so it is compared with cp -a followed by sync.
    copies: list[float] = []
    backups: list[float] = []
    previous: list[float] = []
    for n in range(args.rounds):
        copies.append(timed(f"cp -a, then sync (round {n + 1})", lambda n=n: cp(root / f"cp{n}")))
        shutil.rmtree(root / f"cp{n}")

        def full(n: int = n) -> None:
            backups.append(
                timed(
                    f"digilabo backup, full (round {n + 1})",
                    lambda: run_backup(url, store, root / f"backup{n}").manifest["files"]["copied"],
                )
            )

        def before(n: int = n) -> None:
            with patch.object(jobs.backup, "copy_checked", kernel_copy_then_hash):
                previous.append(
                    timed(
                        f"backup copying as before (round {n + 1})",
                        lambda: run_backup(url, store, root / "previous").manifest["files"]["copied"],
                    )
                )
            shutil.rmtree(root / "previous")

        # With --previous the two backups take turns going first.
        for step in ([full, before] if n % 2 == 0 else [before, full]) if args.previous else [full]:
            step()
    out = root / f"backup{args.rounds - 1}"
    make_jobs(url, store, 10, args.kb * 1024, start=args.jobs)
    incremental: dict[str, Any] = {}

    def again() -> int:
        incremental.update(run_backup(url, store, out).manifest["files"])
        return int(incremental["copied"])

    timed("digilabo backup (after 10 new jobs): copied", again)
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

    verified = timed("digilabo verify", verify)
    backup, copy = statistics.median(backups), statistics.median(copies)
    print(
        json.dumps(
            {
                "bench": "backup",
                "jobs": args.jobs,
                "megabytes": round(total / 1e6),
                "load_at_start": round(load, 1),
                "cp_a_sync_s": [round(c, 2) for c in copies],
                "backup_s": [round(b, 2) for b in backups],
                "backup_over_cp_a": round(backup / copy, 2),
                "backup_over_cp_a_by_round": [round(b / c, 2) for b, c in zip(backups, copies, strict=True)],
                **(
                    {
                        "previous_s": [round(p, 2) for p in previous],
                        "previous_over_cp_a": round(statistics.median(previous) / copy, 2),
                    }
                    if previous
                    else {}
                ),
                "incremental_copied_files": incremental.get("copied"),
                "restore_over_backup": round(restore / backup, 2),
                "verify_s": round(verified, 2),
            }
        )
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
