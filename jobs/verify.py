"""Checking the artifact store against the database: every artifact row not
purged has its file, with the right SHA-256, and every file belongs to such a
row. Run by ``digilabo verify`` and daily by beat; the result is written to
``<storage>/verify-status.json``, where the exporter reads it (the storage
folder is the one place every host of a cluster shares).

A file no row refers to is only counted once it is older than ``grace_s``:
an upload is stored before the transaction that records it commits.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.artifacts import CHUNK, ArtifactStore
from jobs.models import Artifact

STATUS_FILE = "verify-status.json"
PROBLEMS = ("missing", "mismatch", "unreferenced")


@dataclass
class VerifyReport:
    checked_at: float
    seconds: float = 0.0
    rows: int = 0
    files: int = 0
    bytes: int = 0
    # "<sha256> (job <id>)" for a row's file; "<sha256>" for a file without a row.
    missing: list[str] = field(default_factory=list)
    mismatch: list[str] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.mismatch or self.unreferenced)

    def counts(self) -> dict[str, int]:
        return {problem: len(getattr(self, problem)) for problem in PROBLEMS}


def _hash(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_store(
    *,
    session: Session,
    artifacts: ArtifactStore,
    grace_s: float = 3600.0,
    progress: Callable[[int, int], None] = lambda _d, _t: None,
) -> VerifyReport:
    started = time.monotonic()
    report = VerifyReport(checked_at=time.time())
    live: dict[str, tuple[int, str]] = {}
    for sha, size, job_id in session.execute(
        select(Artifact.sha256, Artifact.size, Artifact.job_id).where(Artifact.purged_at.is_(None))
    ):
        report.rows += 1
        live.setdefault(sha, (size, job_id))
    for done, (sha, (size, job_id)) in enumerate(sorted(live.items()), 1):
        try:
            digest, actual = _hash(artifacts.path_for(sha))
        except FileNotFoundError:
            report.missing.append(f"{sha} (job {job_id})")
        except OSError as exc:  # unreadable counts as damaged: its content cannot be served
            report.mismatch.append(f"{sha} (job {job_id}): {exc.strerror}")
        else:
            report.files += 1
            report.bytes += actual
            if digest != sha or actual != size:
                report.mismatch.append(f"{sha} (job {job_id})")
        progress(done, len(live))
    cutoff = time.time() - grace_s
    for sha, _path, mtime in artifacts.blobs():
        if sha not in live and mtime < cutoff:
            report.unreferenced.append(sha)
    report.unreferenced.sort()
    report.seconds = time.monotonic() - started
    return report


def write_status(report: VerifyReport, artifacts: ArtifactStore) -> None:
    """Atomically, so the exporter never reads half a file."""
    path = artifacts.root / STATUS_FILE
    part = path.with_name(f".{path.name}.{os.getpid()}")
    data = asdict(report) | {"counts": report.counts()}
    part.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(part, path)


def read_status(artifacts: ArtifactStore) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((artifacts.root / STATUS_FILE).read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        return None
