"""A real full disk: the storage directory is a 4 MiB tmpfs (mounted by the
test, which runs as root on the CI machine), the database and Redis live
elsewhere. A job whose output does not fit fails with a message a person can
act on, frees what it wrote, and the next job runs; an upload that does not
fit is refused with 507 and nothing half-written is kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jobs.models import Artifact, Job
from tests.faults.conftest import Cluster
from tests.integration.helpers import submit, wait_finished
from tests.support.disk import small_tmpfs

pytestmark = [pytest.mark.faults, pytest.mark.cluster(max_upload_bytes=3 * 1024 * 1024)]
DISK = 4 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """tmpfs at the cluster's default storage directory (``var_dir/storage``)."""
    with small_tmpfs(tmp_path / "storage", DISK) as storage:
        yield storage


def lines(megabytes: float) -> bytes:
    return b"abcdefghijklmnopqrstuvwxyz012345678\n" * int(megabytes * 1024 * 1024 / 36)


def outputs_and_ledger(cluster: Cluster, job_id: str) -> tuple[int, int]:
    with cluster.runtime.factory() as session:
        outputs = session.scalar(
            select(func.count())
            .select_from(Artifact)
            .where(Artifact.job_id == job_id, Artifact.role == "output")
        )
    return int(outputs or 0), cluster.ledger_count(job_id)


@pytest.mark.parametrize("megabytes", [2.2, 1.5], ids=["full-while-writing", "full-while-storing"])
def test_job_that_fills_the_disk_fails_and_the_next_one_runs(
    small_disk: Path, cluster: Cluster, megabytes: float
) -> None:
    """2.2 MB in, 2.2 MB out: the core's own write fails. 1.5 MB: the output
    is written, and storing it as an artifact fails."""
    cluster.start_worker()
    big = submit(cluster.api, cluster.headers, [("big.txt", lines(megabytes))]).json()["id"]
    failed = wait_finished(cluster.api, cluster.headers, big, timeout=60)
    assert failed["state"] == "failed" and failed["error_code"] == "storage_full", failed
    assert "空き" in failed["error_message"] and failed["attempts"] == 1
    assert outputs_and_ledger(cluster, big) == (0, 0)
    assert not list((small_disk / "work").rglob("*.txt")), "the failed attempt's files were kept"
    assert not list((small_disk / "tmp").iterdir())

    small = submit(cluster.api, cluster.headers, [("small.txt", b"ok\n")]).json()["id"]
    done = wait_finished(cluster.api, cluster.headers, small, timeout=60)
    assert done["state"] == "succeeded"
    assert outputs_and_ledger(cluster, small) == (1, 1)


def test_upload_to_a_full_disk_is_refused_and_can_be_retried(small_disk: Path, cluster: Cluster) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (DISK - 300 * 1024))
    body = lines(1.0)
    with cluster.runtime.factory() as session:
        jobs_before = session.scalar(select(func.count()).select_from(Job))
    refused = submit(cluster.api, cluster.headers, [("minutes.txt", body)])
    assert refused.status_code == 507, refused.text
    error = refused.json()["error"]
    assert error["code"] == "storage_full" and "空き" in error["message"]
    with cluster.runtime.factory() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == jobs_before
    assert not list((small_disk / "tmp").iterdir()), "a partial upload was left behind"
    assert not [p for p in (small_disk / "blobs").rglob("*") if p.is_file()]

    filler.unlink()
    cluster.start_worker()
    retried = submit(cluster.api, cluster.headers, [("minutes.txt", body)])
    assert retried.status_code == 202
    assert wait_finished(cluster.api, cluster.headers, retried.json()["id"])["state"] == "succeeded"
