"""An alert really reaches someone: Debian's Prometheus scrapes a running
stack (a cpu worker with its metrics, the exporter), evaluates a copy of the
shipped ``alerts.yml`` and sends to Debian's Alertmanager, which posts to a
webhook receiver in this test. A worker is killed; DigilaboWorkerDown with its
Japanese summary must arrive within the rule's ``for:`` plus 30 s.

Shortened for a test, and only here: scrape every 2 s, evaluate every second,
and in the rules' copy DigilaboWorkerDown's ``for: 2m`` becomes ``for: 10s``;
Alertmanager groups for one second. The rule's expression and annotations
are the shipped ones."""

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

from digilabo.embedded import Child, free_port, spawn
from digilabo.stack import Stack
from tests.conftest import make_settings
from tests.monitoring.test_monitoring import MONITORING

FOR_S = 10
SLACK_S = 30


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
    block = rules.index("- alert: DigilaboWorkerDown")
    shortened = re.sub(r"for: 2m", f"for: {FOR_S}s", rules[block:], count=1)
    assert shortened != rules[block:], "DigilaboWorkerDown's for: changed; update this test"
    path = folder / "alerts.yml"
    path.write_text(rules[:block] + shortened, encoding="utf-8")
    return path


def start(name: str, argv: list[str], root: Path, url: str) -> Child:
    child = spawn(name, argv, env={"PATH": "/usr/bin:/bin"}, log_path=root / f"{name}.log")
    wait_for(lambda: ready(url), 60, f"{name} to start")
    return child


def test_a_killed_worker_reaches_the_webhook_in_japanese(
    tmp_path: Path, redis_url: str, receiver: Receiver
) -> None:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", redis_url.rsplit("/", 1)[0] + "/6"
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
        killed = time.monotonic()

        def delivered() -> tuple[float, dict[str, Any]] | None:
            return next(
                (
                    a
                    for a in receiver.alerts
                    if a[0] > killed
                    and a[1]["labels"]["alertname"] == "DigilaboWorkerDown"
                    and a[1]["status"] == "firing"
                ),
                None,
            )

        at, alert = wait_for(delivered, FOR_S + SLACK_S + 30, "DigilaboWorkerDown at the webhook")
        print(f"DigilaboWorkerDown delivered {at - killed:.1f}s after the kill (for: {FOR_S}s)")
        assert at - killed <= FOR_S + SLACK_S, f"delivered {at - killed:.1f}s after the kill"
        assert alert["status"] == "firing" and alert["labels"]["severity"] == "critical"
        assert alert["labels"]["instance"] == worker_target
        assert alert["annotations"]["summary"] == f"ワーカー {worker_target} が応答しません"
    finally:
        for child in children:
            child.stop()
        stack.stop()
