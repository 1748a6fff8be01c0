"""Small helpers for the integration tests: submit over HTTP, wait on a
condition with a deadline (never sleep-and-hope)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from composition.runtime import Runtime
from jobs.models import Artifact, Job

FINISHED = ("succeeded", "failed", "needs_review", "cancelled")


def submit(
    api: TestClient,
    headers: dict[str, str],
    files: list[tuple[str, bytes]],
    params: dict[str, Any] | None = None,
    kind: str = "echo",
    fields: dict[str, str] | None = None,
) -> Any:
    """``fields``: more form fields (``urgent``)."""
    return api.post(
        "/api/v1/jobs",
        headers=headers,
        data={"kind": kind, "parameters": json.dumps(params or {}), **(fields or {})},
        files=[("files", (name, body, "application/octet-stream")) for name, body in files],
    )


def wait_until(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_finished(
    api: TestClient, headers: dict[str, str], job_id: str, timeout: float = 60.0
) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = api.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        return job if job["state"] in FINISHED else None

    result: dict[str, Any] = wait_until(done, timeout, f"job {job_id} to finish")
    return result


def counts(runtime: Runtime) -> tuple[int, int]:
    """Jobs and artifacts in the database (a refused upload adds neither)."""
    with runtime.factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Job)) or 0,
            session.scalar(select(func.count()).select_from(Artifact)) or 0,
        )


def blob_names(runtime: Runtime) -> set[str]:
    return {p.name for p in runtime.artifacts.blob_dir.rglob("*") if p.is_file()}


def raw_multipart(files: list[tuple[str, bytes]], kind: str = "echo") -> tuple[bytes, str]:
    """A job submission's body written by hand, and its content type: HTTP
    clients escape control characters in file names and send a body whole,
    a hostile or interrupted client does neither."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n{kind}\r\n'.encode()]
    for name, body in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        parts.append(head.encode() + b"Content-Type: text/plain\r\n\r\n" + body + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
