"""The bulk-entry test bench: the stand-in financial system and a real rpa
worker driving Debian's Chromium, started once per test module (import ``entry_bench`` to use the ``entry``
fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from digilabo.embedded import Child, python_argv, spawn, start_standin
from tests.conftest import Service


@dataclass
class Entry:
    service: Service
    standin: str
    worker: Child
    env: dict[str, str]

    def entries(self) -> list[dict]:
        return httpx.get(f"{self.standin}/_admin/entries", timeout=10).json()


@pytest.fixture(scope="module", name="entry")
def entry_bench(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Entry]:
    root = tmp_path_factory.mktemp(f"rpa-{service.backend}")
    app, url = start_standin(root / "standin")
    try:
        env = {
            **service.stack.child_env(),
            "DIGILABO_RPA_TARGET_URLS": f'{{"zaimu-standin": "{url}"}}',
            "DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER": "demo",
            "DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD": "demo-password",
        }
        worker = spawn(
            "worker-rpa",
            python_argv("-m", "digilabo", "worker", "--pool", "rpa"),
            env=env,
            log_path=root / "worker-rpa.log",
        )
        try:
            yield Entry(service, url, worker, env)
        finally:
            worker.stop()
    finally:
        app.stop()
