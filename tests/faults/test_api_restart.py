"""The API process killed in the middle of an upload and started again: the
client sees the connection fail, nothing of the half-sent upload is stored
or becomes a job, and sending the same file again works."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from digilabo.embedded import Child, free_port, python_argv, spawn, wait_for
from jobs.models import Artifact, Job
from tests.faults.conftest import Cluster
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.faults


def start_api(cluster: Cluster, port: int) -> Child:
    argv = python_argv(
        "-m", "uvicorn", "intake_api.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)
    )
    child = spawn(
        "api", argv, env={**os.environ, **cluster.settings.as_env()}, log_path=cluster.root / "api.log"
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, 60, "the API to answer")
    return child


def multipart(body: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\necho\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="minutes.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    return head + body + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def stored(cluster: Cluster) -> tuple[int, int, list[str]]:
    with cluster.runtime.factory() as session:
        jobs = int(session.scalar(select(func.count()).select_from(Job)) or 0)
        artifacts = int(session.scalar(select(func.count()).select_from(Artifact)) or 0)
    blobs = [p.name for p in cluster.runtime.artifacts.blob_dir.rglob("*") if p.is_file()]
    return jobs, artifacts, blobs


def test_api_killed_mid_upload_keeps_nothing_and_the_retry_works(cluster: Cluster) -> None:
    port = free_port()
    api = start_api(cluster, port)
    content = b"".join(f"{i:06d} 議事録の行です。\n".encode() for i in range(20_000))  # ~600 KB
    body, content_type = multipart(content)
    request = (
        f"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: {cluster.headers['Authorization']}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    before = stored(cluster)
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        client.sendall(request + body[: len(body) // 2])
        time.sleep(0.5)  # the server is reading the body now
        os.killpg(api.process.pid, signal.SIGKILL)
        api.process.wait()
        # The client learns that the upload failed: the connection is closed
        # without a response (or reset while it still sends).
        try:
            client.sendall(body[len(body) // 2 :])
            answer = client.recv(1024)
        except OSError:
            answer = b""
        assert answer == b"", answer
    finally:
        client.close()
    assert stored(cluster) == before, "a half-sent upload left a job, an artifact or a blob"

    api = start_api(cluster, port)
    try:
        swept = cluster.runtime.artifacts.sweep_tmp(older_than_s=0)  # what housekeeping does hourly
        assert not list(cluster.runtime.artifacts.tmp_dir.glob("*.part")), swept
        cluster.start_worker()
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/jobs",
            headers={**cluster.headers, "Content-Type": content_type},
            content=body,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        def finished() -> dict | None:
            job = httpx.get(f"http://127.0.0.1:{port}/api/v1/jobs/{job_id}", headers=cluster.headers).json()
            return job if job["state"] in ("succeeded", "failed") else None

        job = wait_until(finished, 60, "the retried job")
        assert job["state"] == "succeeded" and job["inputs"][0]["size"] == len(content)
        jobs, _, _ = stored(cluster)
        assert jobs == before[0] + 1
    finally:
        api.stop()
