"""The bulk-entry test bench: the stand-in financial system and a real rpa
worker driving Debian's Chromium, started once per test module (import ``entry_bench`` to use the ``entry``
fixture)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from digilabo.embedded import Child, python_argv, spawn, start_standin
from tests.conftest import Service
from tests.integration.helpers import submit


@dataclass
class Entry:
    service: Service
    standin: str
    worker: Child
    env: dict[str, str]

    def entries(self) -> list[dict]:
        return httpx.get(f"{self.standin}/_admin/entries", timeout=10).json()


def entry_env(url: str, password: str = "demo-password") -> dict[str, str]:
    """What an rpa worker needs to reach the stand-in at ``url`` as the
    sample script's target, logged in as its demo user."""
    return {
        "DIGILABO_RPA_TARGET_URLS": f'{{"zaimu-standin": "{url}"}}',
        "DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER": "demo",
        "DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD": password,
    }


def entry_env_b(url: str, password: str = "demo-password") -> dict[str, str]:
    """The same for stand-in system B and its sample script ``saishutsu_b``."""
    return {
        "DIGILABO_RPA_TARGET_URLS": json.dumps({"saishutsu-b": url}),
        "DIGILABO_CREDENTIAL_SAISHUTSU_DEMO_USER": "demo",
        "DIGILABO_CREDENTIAL_SAISHUTSU_DEMO_PASSWORD": password,
    }


def start_standin_b(folder: Path, password: str = "demo-password") -> tuple[Child, str]:
    """Stand-in system B (``python -m standin --system b``) on a free port."""
    return start_standin(folder, env={**os.environ, "STANDIN_PASSWORD": password}, system="b")


def entry_env_c(url: str, password: str = "demo-password") -> dict[str, str]:
    """The same for stand-in system C (target ``zaimu-c``, credential ``zaimu_c_demo``)."""
    return {
        "DIGILABO_RPA_TARGET_URLS": json.dumps({"zaimu-c": url}),
        "DIGILABO_CREDENTIAL_ZAIMU_C_DEMO_USER": "demo",
        "DIGILABO_CREDENTIAL_ZAIMU_C_DEMO_PASSWORD": password,
    }


def start_standin_c(folder: Path, password: str = "demo-password") -> tuple[Child, str]:
    """Stand-in system C (``python -m standin --system c``) on a free port."""
    return start_standin(folder, env={**os.environ, "STANDIN_PASSWORD": password}, system="c")


@contextlib.contextmanager
def api_credential() -> Iterator[None]:
    """The sample scripts' credentials (systems A, B and C) set in this
    process too: intake (the in-process API) refuses an entry job whose
    credential is not configured."""
    with pytest.MonkeyPatch.context() as patch:
        both = {**entry_env("http://unused"), **entry_env_b("http://unused"), **entry_env_c("http://unused")}
        for key, value in both.items():
            if key.startswith("DIGILABO_CREDENTIAL_"):
                patch.setenv(key, value)
        yield


def submit_records(api: TestClient, headers: dict[str, str], body: bytes, name: str = "r.csv") -> str:
    """An entry job of the bundled sample script over the record file
    ``body`` (CSV or XLSX, by ``name``); its id."""
    with api_credential():
        response = submit(api, headers, [(name, body)], {"script": "shishutsu_futan"}, kind="rpa_entry")
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module", name="entry")
def entry_bench(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Entry]:
    root = tmp_path_factory.mktemp(f"rpa-{service.backend}")
    app, url = start_standin(root / "standin")
    try:
        env = {**service.stack.child_env(), **entry_env(url)}
        worker = spawn(
            "worker-rpa",
            python_argv("-m", "digilabo", "worker", "--pool", "rpa"),
            env=env,
            log_path=root / "worker-rpa.log",
        )
        try:
            with api_credential():
                yield Entry(service, url, worker, env)
        finally:
            worker.stop()
    finally:
        app.stop()
