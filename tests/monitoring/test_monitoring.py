"""The shipped Prometheus files are valid and their alerts behave (promtool),
and a real Prometheus server scraping the running stack sees what the ledger
and the queues say."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from digilabo.embedded import Child, free_port, spawn, wait_for
from digilabo.stack import Stack
from jobs import auth
from jobs.db import make_engine, session_factory, unit_of_work
from jobs.models import LedgerEntry
from tests.conftest import make_settings

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"


@pytest.mark.parametrize(
    "argv",
    [
        ["promtool", "check", "config", "prometheus.yml"],
        ["promtool", "check", "rules", "alerts.yml"],
        ["promtool", "test", "rules", "tests/alerts_test.yml"],
    ],
)
def test_promtool_accepts_the_shipped_files(argv: list[str]) -> None:
    result = subprocess.run(argv, cwd=MONITORING, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def used_metric_names() -> set[str]:
    dashboard = json.loads((MONITORING / "grafana" / "digilabo.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs.append((MONITORING / "alerts.yml").read_text(encoding="utf-8"))
    return {
        re.sub(r"_(bucket|sum|count)$", "", n) for e in exprs for n in re.findall(r"\bdigilabo_[a-z_]+", e)
    }


class Monitored:
    def __init__(self, stack: Stack, prometheus: str, token: str, database_url: str) -> None:
        self.stack, self.prometheus, self.database_url = stack, prometheus, database_url
        self.api = httpx.Client(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def query(self, promql: str) -> list[dict]:
        body = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": promql}, timeout=10).json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def submit(self, text: str = "a\nb\n") -> str:
        response = self.api.post(
            "/api/v1/jobs", data={"kind": "echo"}, files=[("files", ("a.txt", text.encode()))]
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def state(self, job_id: str) -> str:
        return str(self.api.get(f"/api/v1/jobs/{job_id}").json()["state"])


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Monitored]:
    root = tmp_path_factory.mktemp("monitored")
    settings = make_settings(
        root, f"sqlite:///{root / 'db.sqlite'}", redis_url.rsplit("/", 1)[0] + "/5", api_port=free_port()
    )
    stack = Stack(settings, pools=("cpu",), log_dir=root / "logs", metrics=True)
    stack.start()
    prometheus: Child | None = None
    try:
        port = free_port()
        config = root / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: digilabo\n    static_configs:\n"
            f"      - targets: {json.dumps(stack.metrics_targets)}\n",
            encoding="utf-8",
        )
        prometheus = spawn(
            "prometheus",
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            env={"PATH": "/usr/bin:/bin"},
            log_path=root / "logs" / "prometheus.log",
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ready(url), 60, "prometheus to start")
        engine = make_engine(settings.database_url)
        with unit_of_work(session_factory(engine)) as session:
            user = auth.ensure_user(f"m-{uuid.uuid4().hex[:6]}", session=session, department_code="kanri")
            token = auth.create_token(user, session=session)
        engine.dispose()
        yield Monitored(stack, url, token, settings.database_url)
    finally:
        if prometheus:
            prometheus.stop()
        stack.stop()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def ledger_total(database_url: str) -> float:
    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        total = float(session.scalar(select(func.coalesce(func.sum(LedgerEntry.saved_seconds), 0.0))) or 0.0)
    engine.dispose()
    return total


def test_time_saved_in_prometheus_equals_the_ledger(monitored: Monitored) -> None:
    ids = [monitored.submit("1\n2\n3\n") for _ in range(3)]
    wait_for(lambda: all(monitored.state(i) == "succeeded" for i in ids), 60, "jobs to finish")
    total = ledger_total(monitored.database_url)
    assert total == 3 * 3 * 60.0
    wait_for(
        lambda: monitored.value("sum(digilabo_time_saved_seconds_total)") == total,
        30,
        "Prometheus to see the ledger total",
    )
    wait_for(
        lambda: monitored.value('sum(digilabo_jobs_finished_total{outcome="succeeded"})') == 3,
        30,
        "finished jobs in the worker metrics",
    )
    wait_for(
        lambda: monitored.value('sum(digilabo_jobs_submitted_total{kind="echo"})') == 3,
        30,
        "submissions in the API metrics",
    )
    wait_for(
        lambda: monitored.value('digilabo_workers_online{pool="cpu"}') == 1, 30, "the worker to answer pings"
    )
    assert monitored.value('sum(digilabo_job_queue_wait_seconds_count{kind="echo"})') == 3
    assert monitored.value('digilabo_department_wait_seconds_count{pool="cpu",department="kanri"}') == 3


def test_waiting_work_rises_while_the_worker_is_away(monitored: Monitored) -> None:
    worker = next(c for c in monitored.stack.children if c.name == "worker-cpu")
    argv = list(worker.process.args)  # type: ignore[arg-type]
    worker.stop()
    ids = [monitored.submit() for _ in range(3)]
    # The fair dispatcher runs in the workers: with none, the jobs wait in the
    # database for their turn, but the first, sent to an idle pool, which
    # intake released itself (queues.fastpath): one message in Redis.
    wait_for(
        lambda: monitored.value('digilabo_department_queued_jobs{queue="cpu",department="kanri"}') == 3,
        30,
        "three jobs waiting for kanri",
    )
    assert monitored.value('digilabo_queue_length{queue="cpu"}') == 1
    wait_for(
        lambda: (monitored.value('digilabo_department_oldest_wait_seconds{department="kanri"}') or 0) > 0,
        30,
        "kanri's oldest wait",
    )
    wait_for(
        lambda: (monitored.value('digilabo_queue_oldest_job_age_seconds{queue="cpu"}') or 0) > 0,
        30,
        "the oldest job's age",
    )
    restarted = spawn("worker-cpu", argv, env=monitored.stack.child_env(), log_path=worker.log_path)
    monitored.stack.children.append(restarted)
    wait_for(lambda: all(monitored.state(i) == "succeeded" for i in ids), 90, "jobs to finish after restart")
    wait_for(lambda: monitored.value('digilabo_queue_length{queue="cpu"}') == 0, 30, "queue length back to 0")


def test_every_metric_in_the_dashboard_and_alerts_is_exposed(monitored: Monitored) -> None:
    job_id = monitored.submit()
    wait_for(lambda: monitored.state(job_id) == "succeeded", 60, "a job to finish")
    exposed: set[str] = set()
    for target in monitored.stack.metrics_targets:
        text = httpx.get(f"http://{target}/metrics", timeout=10).text
        exposed |= {f.name for f in text_string_to_metric_families(text)}
        exposed |= {f.name + "_total" for f in text_string_to_metric_families(text) if f.type == "counter"}
    missing = used_metric_names() - exposed
    assert not missing, missing
