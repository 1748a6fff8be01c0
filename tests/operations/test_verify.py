"""``digilabo verify``: every live artifact row has its file with the right
hash, every file has a row; the daily beat task runs it on a real worker,
and the exporter shows the result."""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from jobs.verify import STATUS_FILE, read_status
from monitoring.storage_check import StorageCheckCollector
from queues.app import VERIFY_STORE, make_celery
from tests.integration.helpers import submit, wait_finished, wait_until
from tests.operations.conftest import Site, Sites, cli


def scrape(site: Site) -> str:
    assert site.runtime is not None
    registry = CollectorRegistry()
    registry.register(StorageCheckCollector(site.runtime.artifacts))
    return generate_latest(registry).decode()


def test_the_daily_check_and_verify_find_missing_damaged_and_stray_files(sites: Sites) -> None:
    site = sites("site", "sqlite").open()
    assert site.runtime is not None and site.api is not None
    ids = [
        submit(site.api, site.headers, [(f"{i}.txt", f"text {i}\n".encode())]).json()["id"] for i in range(3)
    ]
    for job_id in ids:
        assert wait_finished(site.api, site.headers, job_id)["state"] == "succeeded"
    assert 'digilabo_storage_verify_problems{problem="missing"} 0.0' in scrape(site)

    # Beat sends the check daily; a cpu worker runs it and records the result.
    app = make_celery(site.settings)
    entry = app.conf.beat_schedule["verify-store"]
    assert entry["task"] == VERIFY_STORE and entry["schedule"] == 86400.0
    status_file: Path = site.runtime.artifacts.root / STATUS_FILE
    assert not status_file.exists()
    app.send_task(VERIFY_STORE, queue="cpu", exchange="cpu", routing_key="cpu")
    wait_until(status_file.exists, 60, "the worker to run the check")
    status = read_status(site.runtime.artifacts)
    assert status is not None and status["counts"] == {"missing": 0, "mismatch": 0, "unreferenced": 0}
    assert status["files"] == 6 and time.time() - status["checked_at"] < 120

    clean = cli(site, "verify")
    assert clean.returncode == 0, clean.stderr
    assert "6 files" in clean.stdout and "missing 0, hash mismatch 0, without a row 0" in clean.stdout

    store = site.runtime.artifacts
    blobs = sorted(p for p in store.blob_dir.rglob("*") if p.is_file())
    blobs[0].unlink()
    blobs[1].write_bytes(b"bit rot\n")
    stray = store.path_for("ab" * 32)
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"left by a crash\n")
    os.utime(stray, (time.time() - 7200, time.time() - 7200))  # older than the upload grace period

    found = cli(site, "verify")
    assert found.returncode == 1
    assert "missing 1, hash mismatch 1, without a row 1" in found.stdout
    assert blobs[0].name in found.stderr and blobs[1].name in found.stderr and stray.name in found.stderr
    status = read_status(store)
    assert status is not None and status["counts"] == {"missing": 1, "mismatch": 1, "unreferenced": 1}
    metrics = scrape(site)
    assert 'digilabo_storage_verify_problems{problem="mismatch"} 1.0' in metrics
    assert "digilabo_storage_verify_files 5.0" in metrics
