"""The stored-file check's result (``jobs.verify``, run daily by beat) and
the storage folder's free space as metrics of the exporter. The check writes
its result into the storage folder that every host shares; the exporter only
reads it, so a scrape never hashes anything."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jobs.artifacts import ArtifactStore
from jobs.verify import PROBLEMS, read_status


class StorageCheckCollector(Collector):
    def __init__(self, artifacts: ArtifactStore) -> None:
        self.artifacts = artifacts

    def collect(self) -> Iterator[Any]:
        status = read_status(self.artifacts) or {}
        counts = status.get("counts", {})
        problems = GaugeMetricFamily(
            "digilabo_storage_verify_problems",
            "Stored files found wrong by the last check: missing, mismatch (hash), unreferenced (no row).",
            labels=["problem"],
        )
        for problem in PROBLEMS:  # every series at zero before the first check
            problems.add_metric([problem], float(counts.get(problem, 0)))
        yield problems
        yield GaugeMetricFamily(
            "digilabo_storage_verify_files",
            "Stored files the last check hashed.",
            value=float(status.get("files", 0)),
        )
        yield GaugeMetricFamily(
            "digilabo_storage_verify_last_run_timestamp_seconds",
            "When the last check of the stored files ran (0: never).",
            value=float(status.get("checked_at", 0.0)),
        )
        yield from self._space()

    def _space(self) -> Iterator[Any]:
        """Free and total bytes of the file system holding the stored files:
        a full disk fails jobs (storage_full) and refuses uploads (507), so
        the alert must come before that. Both series are left out while the
        folder cannot be read, instead of reporting a full disk."""
        try:
            usage = shutil.disk_usage(_existing(self.artifacts.root))
        except OSError:
            return
        yield GaugeMetricFamily(
            "digilabo_storage_free_bytes",
            "Bytes free for the service on the file system of the storage folder.",
            value=float(usage.free),
        )
        yield GaugeMetricFamily(
            "digilabo_storage_size_bytes",
            "Size in bytes of the file system of the storage folder.",
            value=float(usage.total),
        )


def _existing(path: Path) -> Path:
    """The folder itself, or before the first upload created it, its nearest
    existing parent (on the same file system unless a mount is yet to come)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
