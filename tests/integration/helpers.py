"""Small helpers for the integration tests: submit over HTTP, wait on a
condition with a deadline (never sleep-and-hope)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

FINISHED = ("succeeded", "failed", "needs_review", "cancelled")


def submit(
    api: TestClient,
    headers: dict[str, str],
    files: list[tuple[str, bytes]],
    params: dict[str, Any] | None = None,
    kind: str = "echo",
) -> Any:
    return api.post(
        "/api/v1/jobs",
        headers=headers,
        data={"kind": kind, "parameters": json.dumps(params or {})},
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
