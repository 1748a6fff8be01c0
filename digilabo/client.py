"""A small HTTP client for the intake API, used by the CLI and the demo."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

FINISHED = ("succeeded", "failed", "needs_review", "cancelled")


class ApiError(RuntimeError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class ApiClient:
    def __init__(self, base_url: str, token: str, timeout: float = 60.0) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                raise ApiError(response.status_code, error["code"], error["message"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, "http_error", response.text[:200]) from None
        return response

    def submit(
        self, kind: str, files: list[Path], parameters: dict[str, Any] | None = None, *, urgent: bool = False
    ) -> str:
        data = {"kind": kind, "parameters": json.dumps(parameters or {}, ensure_ascii=False)}
        if urgent:
            data["urgent"] = "true"
        with ExitStack() as stack:
            parts = [("files", (p.name, stack.enter_context(p.open("rb")))) for p in files]
            response = self.http.post("/api/v1/jobs", data=data, files=parts)
        return str(self._check(response).json()["id"])

    def mark_urgent(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._check(self.http.post(f"/api/v1/jobs/{job_id}/urgent")).json()
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._check(self.http.get(f"/api/v1/jobs/{job_id}")).json()
        return result

    def jobs(self, **filters: Any) -> dict[str, Any]:
        params = {k: v for k, v in filters.items() if v is not None}
        result: dict[str, Any] = self._check(self.http.get("/api/v1/jobs", params=params)).json()
        return result

    def savings(self, **params: Any) -> dict[str, Any]:
        query = {k: v for k, v in params.items() if v is not None}
        result: dict[str, Any] = self._check(self.http.get("/api/v1/savings", params=query)).json()
        return result

    def export(self, fmt: str, **params: Any) -> bytes:
        query = {"format": fmt, **{k: v for k, v in params.items() if v is not None}}
        return self._check(self.http.get("/api/v1/savings/export", params=query)).content

    def download(self, url: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.http.stream("GET", url) as response:
            self._check(response)
            with dest.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        return dest

    def wait(
        self,
        job_id: str,
        *,
        timeout: float,
        on_update: Callable[[dict[str, Any]], None] | None = None,
        interval: float = 0.5,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if on_update:
                on_update(job)
            if job["state"] in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout:.0f}s")
            time.sleep(interval)
