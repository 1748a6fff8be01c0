"""The embedded stack behind ``digilabo up`` and ``digilabo demo``: migrate,
Redis (unless a URL is set), the API and one worker per pool, each a child
process that ``stop()`` ends cleanly."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import httpx

from config.settings import QUEUES, Settings
from digilabo.embedded import (
    Child,
    free_port,
    port_is_free,
    python_argv,
    spawn,
    start_redis,
    start_standin,
    wait_for,
)
from jobs.db import migrate

log = logging.getLogger(__name__)


# The stand-in's demo user, as the bundled sample script's credential.
STANDIN_CREDENTIAL = {
    "DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER": "demo",
    "DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD": "demo-password",
}


def standin_credential_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The stand-in's credential for child processes, unless the
    environment names one already (an operator's own setting wins)."""
    if any(key in environ for key in STANDIN_CREDENTIAL):
        return {}
    return dict(STANDIN_CREDENTIAL)


class Stack:
    def __init__(
        self,
        settings: Settings,
        *,
        pools: tuple[str, ...] = QUEUES,
        log_dir: Path | None = None,
        api: bool = True,
        metrics: bool = False,
        beat: bool = False,
        standin: bool = False,
    ) -> None:
        self.settings = settings
        self.pools = pools
        self.log_dir = log_dir  # None: children write to this terminal
        self.with_api = api
        self.children: list[Child] = []
        self.redis_url = settings.redis_url
        self.api_url = ""
        # With ``metrics``: each worker serves its metrics and an exporter runs.
        self.metrics = metrics
        self.metrics_targets: list[str] = []
        self.beat = beat  # the hourly housekeeping schedule
        # The demo's stand-in financial system, as the bulk-entry target.
        self.standin = standin
        self.standin_url = ""
        # Its credential, for the API (intake checks it) and the workers alike.
        self.standin_env: dict[str, str] = {}

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _log(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir else None

    def child_env(self) -> dict[str, str]:
        settings = self.settings.model_copy(
            update={
                "redis_url": self.redis_url,
                "var_dir": self.settings.var_dir.resolve(),
                "storage_dir": self.settings.storage,
            }
        )
        env = {**os.environ, **settings.as_env(), **self.standin_env}
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        migrate(self.settings.database_url)
        if not self.redis_url:
            child, self.redis_url = start_redis(self.settings.var_dir / "redis", log_path=self._log("redis"))
            self.children.append(child)
        if self.standin:
            self._start_standin()
        env = self.child_env()
        for pool in self.pools:
            argv = python_argv("-m", "digilabo", "worker", "--pool", pool)
            if self.metrics:
                argv += ["--metrics-port", str(self._metrics_port())]
            self.children.append(spawn(f"worker-{pool}", argv, env=env, log_path=self._log(f"worker-{pool}")))
        if self.metrics:
            argv = python_argv(
                "-m", "digilabo", "exporter", "--host", "127.0.0.1", "--port", str(self._metrics_port())
            )
            self.children.append(spawn("exporter", argv, env=env, log_path=self._log("exporter")))
        if self.with_api:
            self._start_api(env)

    def _start_standin(self) -> None:
        """The bundled 財務会計システム stand-in on a free port; its demo user
        becomes the sample script's credential for the workers."""
        child, self.standin_url = start_standin(
            self.settings.var_dir.resolve(), log_path=self._log("standin")
        )
        self.children.append(child)
        urls = {**self.settings.rpa_target_urls, "zaimu-standin": self.standin_url}
        self.settings = self.settings.model_copy(update={"rpa_target_urls": urls})
        self.standin_env = standin_credential_env(os.environ)

    def _metrics_port(self) -> int:
        port = free_port()
        self.metrics_targets.append(f"127.0.0.1:{port}")
        return port

    def _start_api(self, env: dict[str, str]) -> None:
        host, port = self.settings.api_host, self.settings.api_port
        if not port or not port_is_free(port, host):
            wanted, port = port, free_port(host)
            if wanted:
                log.warning("port %d is in use; the API listens on %d instead", wanted, port)
        argv = python_argv(
            "-m",
            "uvicorn",
            "intake_api.main:create_app",
            "--factory",
            "--host",
            host,
            "--port",
            str(port),
            "--no-access-log",
        )
        child = spawn("api", argv, env=env, log_path=self._log("api"))
        self.children.append(child)
        self.api_url = f"http://{host}:{port}"
        if self.metrics:
            self.metrics_targets.append(f"{host}:{port}")
        wait_for(lambda: self._api_up() or not child.alive(), 60, "the API to answer /healthz")
        if not child.alive():
            raise RuntimeError(f"the API exited:\n{child.tail()}")

    def _api_up(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def dead_children(self) -> list[Child]:
        return [c for c in self.children if not c.alive()]

    def stop(self) -> None:
        # Workers and API first (they finish or give back their task), Redis last.
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
