"""The API process killed in the middle of an upload and started again: the
client sees the connection fail, nothing of the half-sent upload is stored
or becomes a job, and sending the same file again works."""

from __future__ import annotations

import os
import signal
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from digilabo.embedded import free_port
from digilabo.stack import Stack
from tests.faults.conftest import Cluster
from tests.integration.helpers import blob_names, counts, raw_multipart, wait_until

pytestmark = pytest.mark.faults


def start_api(cluster: Cluster, port: int) -> Stack:
    """The API alone, launched as ``digilabo up`` launches it."""
    settings = cluster.settings.model_copy(update={"api_host": "127.0.0.1", "api_port": port})
    stack = Stack(settings, pools=(), log_dir=cluster.root / "api-logs", api=True)
    stack.start()
    return stack


def test_api_killed_mid_upload_keeps_nothing_and_the_retry_works(cluster: Cluster) -> None:
    api = start_api(cluster, free_port())
    port = urlsplit(api.api_url).port
    content = b"".join(f"{i:06d} 議事録の行です。\n".encode() for i in range(20_000))  # ~600 KB
    body, content_type = raw_multipart([("minutes.txt", content)])
    request = (
        f"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: {cluster.headers['Authorization']}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    before = counts(cluster.runtime), blob_names(cluster.runtime)
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        client.sendall(request + body[: len(body) // 2])
        time.sleep(0.5)  # the server is reading the body now
        (child,) = api.children
        os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait()
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
    after = counts(cluster.runtime), blob_names(cluster.runtime)
    assert after == before, "a half-sent upload left a job, an artifact or a blob"

    api = start_api(cluster, port or free_port())
    try:
        swept = cluster.runtime.artifacts.sweep_tmp(older_than_s=0)  # what housekeeping does hourly
        assert not list(cluster.runtime.artifacts.tmp_dir.glob("*.part")), swept
        cluster.start_worker()
        response = httpx.post(
            f"{api.api_url}/api/v1/jobs",
            headers={**cluster.headers, "Content-Type": content_type},
            content=body,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        def finished() -> dict | None:
            job = httpx.get(f"{api.api_url}/api/v1/jobs/{job_id}", headers=cluster.headers).json()
            return job if job["state"] in ("succeeded", "failed") else None

        job = wait_until(finished, 60, "the retried job")
        assert job["state"] == "succeeded" and job["inputs"][0]["size"] == len(content)
        assert counts(cluster.runtime)[0] == before[0][0] + 1
    finally:
        api.stop()
