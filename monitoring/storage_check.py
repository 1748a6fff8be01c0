"""The stored-file check's result (``jobs.verify``, run daily by beat) as
metrics of the exporter. The check writes its result into the storage folder
that every host shares; the exporter only reads it, so a scrape never hashes
anything."""

from __future__ import annotations

from collections.abc import Iterator
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
