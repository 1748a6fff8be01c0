"""Fixtures for the entry tests: the real stand-in app on a port the system
chose, a fresh record ledger (SQLite) per test, and job contexts."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from jobs.db import make_engine, session_factory
from jobs.models import Base
from jobs.registry import InputFile, JobContext, JobOutcome
from jobs.rpa.ledger import SqlRecordLedger
from jobs.rpa.models import TABLES

REPO = Path(__file__).resolve().parents[3]
SAMPLE_SCRIPT = REPO / "jobs" / "rpa" / "samples" / "shishutsu_futan.yaml"
SCRIPT_B = REPO / "jobs" / "rpa" / "samples" / "saishutsu_b.yaml"
HEADER_FIELDS = ["reference", "entry_date", "kan", "kou", "moku", "setsu", "amount", "payee", "purpose"]
HEADERS = ["整理番号", "起票日", "款", "項", "目", "節", "金額", "支払先", "件名"]
USER, PASSWORD = "kaikei01", "Pw-7f3a9c-SECRET-d41e"


@dataclass
class StandIn:
    url: str
    process: subprocess.Popen[bytes]

    def switches(self, **values: Any) -> None:
        httpx.post(f"{self.url}/_admin/switches", json=values).raise_for_status()

    def submit(self, values: dict[str, str]) -> None:
        """Enter one record directly, as if a crashed job's submit had reached it."""
        with httpx.Client(base_url=self.url) as client:
            client.post("/login", data={"user": USER, "password": PASSWORD})
            assert client.post("/entry/commit", data=values).status_code == 303

    def entries(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/_admin/entries").json())


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


def start_standin(folder: Path, system: str = "a") -> Iterator[StandIn]:
    """The stand-in ``system`` (a, b or c) on a free port, its database in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    port_file = folder / "standin.port"
    env = {**os.environ, "STANDIN_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "standin", "--port", "0", "--port-file", str(port_file)]
    cmd += ["--db", str(folder / "standin.db"), "--user", USER, "--system", system]
    process = subprocess.Popen(cmd, env=env, cwd=REPO)
    try:
        wait_until(port_file.exists, 20, "stand-in app did not start")
        url = f"http://127.0.0.1:{port_file.read_text()}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/_admin/switches").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, 20, "stand-in app did not answer")
        yield StandIn(url, process)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandIn]:
    yield from start_standin(tmp_path)


@pytest.fixture
def standin_b(tmp_path: Path) -> Iterator[StandIn]:
    yield from start_standin(tmp_path / "system-b", "b")


@pytest.fixture
def standin_c(tmp_path: Path) -> Iterator[StandIn]:
    yield from start_standin(tmp_path / "system-c", "c")


@pytest.fixture
def ledger_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    Base.metadata.create_all(engine, tables=list(TABLES))
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(ledger_engine: Engine) -> SqlRecordLedger:
    return SqlRecordLedger(session_factory(ledger_engine))


@pytest.fixture(autouse=True)
def credential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER", USER)
    monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD", PASSWORD)
    monkeypatch.setenv("DIGILABO_CREDENTIAL_SAISHUTSU_DEMO_USER", USER)
    monkeypatch.setenv("DIGILABO_CREDENTIAL_SAISHUTSU_DEMO_PASSWORD", PASSWORD)
    monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_C_DEMO_USER", USER)
    monkeypatch.setenv("DIGILABO_CREDENTIAL_ZAIMU_C_DEMO_PASSWORD", PASSWORD)


def script_text(source: Path = SAMPLE_SCRIPT, **changes: str) -> str:
    """A bundled sample script with some top-level or target ``key: value``
    lines replaced (or, for a key it lacks, added at the top)."""
    text = source.read_text(encoding="utf-8")
    for key in [
        k for k in changes if not any(line.lstrip().startswith(f"{k}:") for line in text.splitlines())
    ]:
        text = f"{key}: {changes.pop(key)}\n{text}"
    for key, value in changes.items():
        lines = [
            f"{line[: len(line) - len(line.lstrip())]}{key}: {value}"
            if line.lstrip().startswith(f"{key}:")
            else line
            for line in text.splitlines()
        ]
        text = "\n".join(lines) + "\n"
    return text


def fast_script(source: Path = SAMPLE_SCRIPT, **changes: str) -> str:
    return script_text(source, **{"timeout_seconds": "3", "max_processing_seconds": "0.5", **changes})


def record(n: int, prefix: str = "T", **values: str) -> list[str]:
    row = {
        "整理番号": f"{prefix}-{n:05d}",
        "起票日": "2025-06-02",
        "款": "02",
        "項": "01",
        "目": "01",
        "節": ["07", "08", "10", "11", "13"][n % 5],
        "金額": str(1000 + n),
        "支払先": f"北九州商事{n}",
        "件名": f"消耗品の購入 {n}",
        **values,
    }
    return [row[h] for h in HEADERS]


def write_records(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows([HEADERS, *rows])
    return path


@dataclass
class Jobs:
    tmp: Path
    standin: StandIn
    ledger: SqlRecordLedger
    urls: dict[str, str] | None = None

    def context(self, script: str, records: Path, job_id: str | None = None, **params: Any) -> JobContext:
        job_id = job_id or str(uuid.uuid4())
        work = self.tmp / f"work-{job_id[:8]}-{uuid.uuid4().hex[:4]}"
        work.mkdir()
        script_path = work.parent / f"script-{uuid.uuid4().hex[:6]}.yaml"
        script_path.write_text(script, encoding="utf-8")
        inputs = (
            InputFile("script.yaml", script_path, "application/yaml", script_path.stat().st_size),
            InputFile(records.name, records, "text/csv", records.stat().st_size),
        )
        options = {
            "rpa_ledger": self.ledger,
            "rpa_target_urls": self.urls or {"zaimu-standin": self.standin.url},
            "chromium_path": "/usr/bin/chromium",
        }
        return JobContext(job_id, "somu", params, inputs, work, lambda f, m="": None, options)


@pytest.fixture
def jobs(tmp_path: Path, standin: StandIn, ledger: SqlRecordLedger) -> Jobs:
    return Jobs(tmp_path, standin, ledger)


@pytest.fixture
def jobs_b(tmp_path: Path, standin_b: StandIn, ledger: SqlRecordLedger) -> Jobs:
    """Jobs of the system B sample script against stand-in system B."""
    return Jobs(tmp_path, standin_b, ledger, {"saishutsu-b": standin_b.url})


@pytest.fixture
def jobs_c(tmp_path: Path, standin_c: StandIn, ledger: SqlRecordLedger) -> Jobs:
    """Jobs against stand-in system C (target ``zaimu-c``)."""
    return Jobs(tmp_path, standin_c, ledger, {"zaimu-c": standin_c.url})


def read_results(source: JobOutcome | Path) -> list[dict[str, str]]:
    """The rows of a job's results.json (or of a results file the CLI wrote
    with ``-o OUT.json``): row number, state code, message, reference and
    the captured values, flat."""
    path = (
        source
        if isinstance(source, Path)
        else next(o.path for o in source.outputs if o.name == "results.json")
    )
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    return [
        {"row": str(r["row"]), "state": r["state"], "message": r["message"], "reference": r["reference"]}
        | r["captured"]
        for r in rows
    ]
