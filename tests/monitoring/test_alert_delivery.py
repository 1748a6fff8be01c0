"""Alerts really reach someone: Debian's Prometheus scrapes a running stack
(a cpu worker with its metrics, the exporter), evaluates a copy of the shipped
``alerts.yml`` and sends to Debian's Alertmanager, which posts to a webhook
receiver in this test. Three faults are caused for real, at once: a worker is
killed, the storage folder's disk (a small tmpfs the test mounts; it runs as
root, as CI does) is filled, and a department's job waits on a pool with no
worker past the pool's wait target. DigilaboWorkerDown, DigilaboStorageSpaceLow
and DigilaboDepartmentWaitOverTarget, each with its Japanese summary, must
arrive within the rule's ``for:`` plus 30 s.

Shortened for a test, and only here: scrape every 2 s, evaluate every second,
the rules' ``for:`` becomes 10 s, the gpu pool's wait target 5 s; Alertmanager
groups for one second. The rules' expressions and annotations are the shipped
ones."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from composition.runtime import Runtime
from digilabo.embedded import Child, free_port, spawn
from digilabo.stack import Stack
from jobs import store
from jobs.db import unit_of_work
from tests.conftest import make_settings
from tests.monitoring.test_monitoring import MONITORING
from tests.support.disk import small_tmpfs

FOR_S = 10
SLACK_S = 30
# The alerts this test causes, with their shipped for: (shortened to FOR_S here).
DELIVERED = {
    "DigilaboWorkerDown": "2m",
    "DigilaboStorageSpaceLow": "10m",
    "DigilaboDepartmentWaitOverTarget": "5m",
}
DISK = 8 * 1024 * 1024
WAIT_TARGET_S = 5.0


class Receiver(ThreadingHTTPServer):
    """Alertmanager's webhook target: keeps every alert it is sent, with the time."""

    def __init__(self) -> None:
        self.alerts: list[tuple[float, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.alerts += [(time.monotonic(), alert) for alert in body["alerts"]]
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def rules_copy(folder: Path) -> Path:
    rules = (MONITORING / "alerts.yml").read_text(encoding="utf-8")
    for name, shipped in DELIVERED.items():
        block = rules.index(f"- alert: {name}\n")
        shortened = re.sub(f"for: {shipped}\n", f"for: {FOR_S}s\n", rules[block:], count=1)
        assert shortened != rules[block:], f"{name}'s for: changed; update this test"
        rules = rules[:block] + shortened
    path = folder / "alerts.yml"
    path.write_text(rules, encoding="utf-8")
    return path


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """tmpfs at the stack's default storage folder (``var_dir/storage``)."""
    with small_tmpfs(tmp_path / "storage", DISK) as storage:
        yield storage


def start(name: str, argv: list[str], root: Path, url: str) -> Child:
    child = spawn(name, argv, env={"PATH": "/usr/bin:/bin"}, log_path=root / f"{name}.log")
    wait_for(lambda: ready(url), 60, f"{name} to start")
    return child


def test_worker_down_full_disk_and_long_wait_reach_the_webhook_in_japanese(
    tmp_path: Path, redis_url: str, receiver: Receiver, small_disk: Path
) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        redis_url.rsplit("/", 1)[0] + "/6",
        wait_targets_s={"cpu": 600.0, "gpu": WAIT_TARGET_S, "rpa": 3600.0},
    )
    stack = Stack(settings, pools=("cpu",), log_dir=tmp_path / "logs", api=False, metrics=True)
    children: list[Child] = []
    try:
        stack.start()
        worker_target, exporter_target = stack.metrics_targets
        am_port, prom_port = free_port(), free_port()
        (tmp_path / "alertmanager.yml").write_text(
            "route: {receiver: webhook, group_wait: 1s, group_interval: 1s, repeat_interval: 1h}\n"
            "receivers:\n  - name: webhook\n    webhook_configs:\n"
            f"      - url: http://127.0.0.1:{receiver.server_address[1]}/\n",
            encoding="utf-8",
        )
        am_url = f"http://127.0.0.1:{am_port}"
        children.append(
            start(
                "alertmanager",
                [
                    "prometheus-alertmanager",
                    f"--config.file={tmp_path / 'alertmanager.yml'}",
                    f"--storage.path={tmp_path / 'am'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                tmp_path,
                am_url,
            )
        )
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 1s}\n"
            f"rule_files: [{rules_copy(tmp_path)}]\n"
            f"alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"
            "scrape_configs:\n"
            f"  - {{job_name: digilabo-workers, static_configs: [{{targets: ['{worker_target}']}}]}}\n"
            f"  - {{job_name: digilabo-exporter, static_configs: [{{targets: ['{exporter_target}']}}]}}\n",
            encoding="utf-8",
        )
        prom_url = f"http://127.0.0.1:{prom_port}"
        children.append(
            start(
                "prometheus",
                [
                    "prometheus",
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                tmp_path,
                prom_url,
            )
        )

        def query(promql: str) -> list[dict[str, Any]]:
            body = httpx.get(f"{prom_url}/api/v1/query", params={"query": promql}).json()
            return list(body["data"]["result"])

        def steadily_up() -> bool:
            """Answering every scrape for 20 s and no alert pending: a loaded
            machine may miss a scrape, which is what the rule's for: absorbs."""
            up = query('min_over_time(up{job="digilabo-workers"}[20s])')
            pending = query('ALERTS{alertname="DigilaboWorkerDown"}')
            return bool(up) and up[0]["value"][1] == "1" and not pending

        wait_for(steadily_up, 120, "Prometheus to scrape the worker steadily")
        worker = next(c for c in stack.children if c.name == "worker-cpu")
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        # 92 % of the disk taken; a job of the gpu pool, which has no worker here.
        (small_disk / "filler").write_bytes(b"\0" * int(DISK * 0.92))
        runtime = Runtime(settings)
        with unit_of_work(runtime.factory) as session:
            store.ensure_department("kikaku", "企画課", session=session)
            store.create_job(
                session=session,
                kind="echo",
                queue="gpu",
                department_code="kikaku",
                submitted_by=None,
                parameters={},
            )
        runtime.close()
        caused = time.monotonic()

        def delivered() -> dict[str, tuple[float, dict[str, Any]]] | None:
            firing = {
                a["labels"]["alertname"]: (at, a)
                for at, a in reversed(receiver.alerts)
                if a["status"] == "firing" and at > caused
            }
            return firing if set(DELIVERED) <= set(firing) else None

        alerts = wait_for(delivered, FOR_S + SLACK_S + 60, f"{', '.join(DELIVERED)} at the webhook")
        for name, (at, _) in alerts.items():
            print(f"{name} delivered {at - caused:.1f}s after the fault (for: {FOR_S}s)")
        late = {
            name: round(at - caused, 1) for name, (at, _) in alerts.items() if at - caused > FOR_S + SLACK_S
        }
        assert not late, f"delivered later than for: + {SLACK_S}s: {late}"

        down = alerts["DigilaboWorkerDown"][1]
        assert down["labels"]["severity"] == "critical"
        assert down["labels"]["instance"] == worker_target
        assert down["annotations"]["summary"] == f"ワーカー {worker_target} が応答しません"
        disk = alerts["DigilaboStorageSpaceLow"][1]
        assert disk["labels"]["instance"] == exporter_target
        assert re.fullmatch(r"保存領域の空きが残り [0-9.]+% です", disk["annotations"]["summary"]), disk
        wait = alerts["DigilaboDepartmentWaitOverTarget"][1]
        assert wait["labels"]["department"] == "kikaku" and wait["labels"]["queue"] == "gpu"
        assert wait["annotations"]["summary"].startswith("部署 kikaku のジョブが gpu プールで "), wait
        # Not the critical one: 8 % free is low, not almost full.
        assert "DigilaboStorageAlmostFull" not in {a["labels"]["alertname"] for _, a in receiver.alerts}
    finally:
        for child in children:
            child.stop()
        stack.stop()
