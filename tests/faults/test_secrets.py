"""Secrets never reach what a run writes: after bulk-entry jobs (one that
enters records and has rows the target refuses, one with a wrong password)
every file under the service's folder — database, logs, Redis's append-only
file, artifacts, the insides of zip files (traces, workbooks) — is searched
for the entry password and the API tokens."""

from __future__ import annotations

import io
import os
import secrets
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from digilabo.embedded import start_standin
from jobs import auth
from jobs.db import unit_of_work
from jobs.rpa.kind import SAMPLES
from tests.faults.conftest import Cluster
from tests.integration.helpers import wait_finished
from tests.support.entry import entry_env, submit_records

pytestmark = [
    pytest.mark.faults,
    pytest.mark.cluster(time_limits={"gpu": (20, 30), "cpu": (20, 30), "rpa": (180, 200)}),
]


def contents(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file's bytes, and each member of every zip file unpacked."""
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        yield str(path), data
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.namelist():
                    yield f"{path}!{member}", archive.read(member)


def test_no_secret_in_anything_a_run_wrote(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    password = f"pw-{secrets.token_urlsafe(12)}"
    outside = tmp_path_factory.mktemp("target")  # the target system legitimately knows it
    app, url = start_standin(outside, env={**os.environ, "STANDIN_PASSWORD": password})
    try:
        worker = cluster.start_worker("rpa", entry_env(url, password))
        with unit_of_work(cluster.runtime.factory) as session:
            operator = auth.ensure_user(
                f"op-{uuid.uuid4().hex[:6]}", session=session, department_code="digilabo", role="operator"
            )
            operator_token = auth.create_token(operator, session=session)
        tokens = [cluster.headers["Authorization"].split()[-1], operator_token]
        records = (SAMPLES / "records.csv").read_bytes()  # 18 good rows, one refused, one invalid
        good = submit_records(cluster.api, cluster.headers, records)
        job = wait_finished(cluster.api, cluster.headers, good, timeout=240)
        assert job["state"] == "succeeded" and job["summary"]["rejected"] == 1, job
        for output in job["outputs"]:
            assert cluster.api.get(output["url"], headers=cluster.headers).status_code == 200
        operator_view = {"Authorization": f"Bearer {operator_token}"}
        assert cluster.api.get("/api/v1/audit", headers=operator_view).status_code == 200
        worker.stop()

        worker = cluster.start_worker("rpa", entry_env(url, password[::-1]))  # wrong: login fails
        wrong = submit_records(cluster.api, cluster.headers, records)
        failed = wait_finished(cluster.api, cluster.headers, wrong, timeout=240)
        assert failed["state"] == "failed" and failed["error_code"] == "login_failed", failed
        worker.stop()
    finally:
        app.stop()

    needles = [password.encode(), password[::-1].encode(), *(t.encode() for t in tokens)]
    searched = 0
    for name, data in contents(cluster.root):
        searched += 1
        for needle in needles:
            assert needle not in data, f"a secret is in {name}"
    assert searched > 20  # database, logs, AOF, every artifact and zip member
