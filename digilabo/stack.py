"""The embedded stack behind ``digilabo up`` and ``digilabo demo``: migrate,
Redis (unless a URL is set), the API, one worker per pool, the exporter and
Celery beat, each a child process that ``stop()`` ends cleanly. With
``supervise()`` (``digilabo up``) a child that dies is started again
(``digilabo.supervisor``); a worker's running jobs are requeued at once."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from config.settings import QUEUES, Settings
from digilabo.embedded import (
    Child,
    free_port,
    port_is_free,
    python_argv,
    secret_file,
    spawn,
    start_redis,
    start_standin,
    wait_for,
)
from digilabo.shutdown import stop_all
from digilabo.supervisor import Supervisor
from jobs.db import migrate

log = logging.getLogger(__name__)


# The stand-ins' demo user, as the bundled sample scripts' credentials: system A
# (``shishutsu_futan``, credential zaimu_demo), system B (``saishutsu_b``) and
# system C (target zaimu-c, credential zaimu_c_demo).
STANDIN_CREDENTIALS = {
    "ZAIMU_DEMO": {"USER": "demo", "PASSWORD": "demo-password"},
    "SAISHUTSU_DEMO": {"USER": "demo", "PASSWORD": "demo-password"},
    "ZAIMU_C_DEMO": {"USER": "demo", "PASSWORD": "demo-password"},
}
# The stand-ins under ``up`` and ``demo``: system, target name, folder under var/.
STANDINS = (("a", "zaimu-standin", "."), ("b", "saishutsu-b", "standin-b"), ("c", "zaimu-c", "standin-c"))
STANDIN_CREDENTIAL = {
    f"DIGILABO_CREDENTIAL_{name}_{part}": value
    for name, parts in STANDIN_CREDENTIALS.items()
    for part, value in parts.items()
}


def standin_credential_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The stand-ins' credentials for child processes, each unless the
    environment names that credential already (an operator's own setting wins)."""
    env: dict[str, str] = {}
    for name, parts in STANDIN_CREDENTIALS.items():
        keys = {f"DIGILABO_CREDENTIAL_{name}_{part}": value for part, value in parts.items()}
        if not any(key in environ for key in keys):
            env.update(keys)
    return env


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
        self.standin_urls: dict[str, str] = {}  # target name → URL, every stand-in
        self.supervisor = Supervisor()
        self._runtime: Any = None  # built when a dead worker's jobs are requeued
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
        self.settings.var_dir.chmod(0o700)  # the database, Redis's files, logs: owner only
        migrate(self.settings.database_url)
        if not self.redis_url:
            self._start_redis()
        if self.standin:
            self._start_standin()
        env = self.child_env()
        for pool in self.pools:
            argv = python_argv("-m", "digilabo", "worker", "--pool", pool)
            if self.metrics:
                argv += ["--metrics-port", str(self._metrics_port())]
            self._add(f"worker-{pool}", argv, env, on_exit=self._requeue_dead_worker)
        if self.metrics:
            argv = python_argv(
                "-m", "digilabo", "exporter", "--host", "127.0.0.1", "--port", str(self._metrics_port())
            )
            self._add("exporter", argv, env)
        if self.beat:
            self._add("beat", python_argv("-m", "digilabo", "beat"), env)
        if self.with_api:
            self._start_api(env)

    def _add(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        on_exit: Callable[[Child], None] | None = None,
    ) -> None:
        def start() -> Child:
            return spawn(name, argv, env=env, log_path=self._log(name))

        self.children.append(self.supervisor.add(name, start, on_exit))

    def _start_redis(self) -> None:
        """The embedded Redis with a random password (kept in a 0600 file),
        restarted on the same port and AOF folder by the supervisor."""
        folder = self.settings.var_dir / "redis"
        password = secret_file(folder / "password")
        port = free_port()

        def start() -> Child:
            child, _url = start_redis(folder, port=port, log_path=self._log("redis"), password=password)
            return child

        self.children.append(self.supervisor.add("redis", start))
        self.redis_url = f"redis://:{password}@127.0.0.1:{port}/0"

    def _requeue_dead_worker(self, child: Child) -> None:
        """After a worker died: the jobs it was running go back to the queue
        now, not after a heartbeat timeout."""
        requeued = self.requeue_jobs_of_nodes([self.worker_node(child)])
        if requeued:
            log.warning("%s: requeued the jobs it was running: %s", child.name, ", ".join(requeued))

    @staticmethod
    def worker_node(child: Child) -> str:
        """A worker child's Celery node name, ``pool@host-pid`` ("" for others)."""
        if not child.name.startswith("worker-"):
            return ""
        return f"{child.name.removeprefix('worker-')}@{socket.gethostname()}-{child.process.pid}"

    def requeue_jobs_of_nodes(self, nodes: list[str]) -> list[str]:
        """Requeue the running jobs of workers known dead (by node name)."""
        from composition.runtime import Runtime
        from worker.reaper import reap_once

        if self._runtime is None:
            self._runtime = Runtime(self.settings.model_copy(update={"redis_url": self.redis_url}))
        return reap_once(self._runtime, dead_workers=nodes)

    def _start_standin(self) -> None:
        """The bundled 財務会計システム stand-ins (systems A, B and C) on free
        ports (each restarted on its port by the supervisor); their demo user
        becomes the sample scripts' credentials for the API and the workers."""
        urls = dict(self.settings.rpa_target_urls)
        for system, target, folder in STANDINS:
            url = self._supervise_standin(system, self.settings.var_dir.resolve() / folder)
            urls[target] = self.standin_urls[target] = url
            if system == "a":
                self.standin_url = url
        self.settings = self.settings.model_copy(update={"rpa_target_urls": urls})
        self.standin_env = standin_credential_env(os.environ)

    def _supervise_standin(self, system: str, folder: Path) -> str:
        port = free_port()
        name = "standin" if system == "a" else f"standin-{system}"

        def start() -> Child:
            # Named apart: the supervisor keeps its children by name.
            child, _url = start_standin(folder, log_path=self._log(name), port=port, system=system, name=name)
            return child

        self.children.append(self.supervisor.add(name, start))
        return f"http://127.0.0.1:{port}"

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
        self.api_url = f"http://{host}:{port}"
        if self.metrics:
            self.metrics_targets.append(f"{host}:{port}")

        def start() -> Child:
            child = spawn("api", argv, env=env, log_path=self._log("api"))
            try:
                wait_for(lambda: self._api_up() or not child.alive(), 60, "the API to answer /healthz")
                if not child.alive():
                    raise RuntimeError(f"the API exited:\n{child.tail()}")
            except BaseException:
                child.stop()
                raise
            return child

        self.children.append(self.supervisor.add("api", start))

    def _api_up(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def dead_children(self) -> list[Child]:
        return [c for c in self.children if not c.alive()]

    def check(self) -> None:
        """Restart children that died (raises CrashLoop when one keeps dying)."""
        self.supervisor.check()
        self._sync()

    def supervise(self, *, interval_s: float = 0.5, until: Callable[[], bool] = lambda: False) -> None:
        """Keep the stack up until ``until()`` (or Ctrl-C, or a crash loop)."""
        while not until():
            self.check()
            time.sleep(interval_s)

    def stop(self, report: Callable[[str], None] = log.warning) -> list[str]:
        """Stop every child within a bounded time (``digilabo.shutdown``):
        workers and API together first (they finish or give back their task),
        Redis last. Returns the slow children, one line each."""
        self._sync()
        slow = stop_all(self.children, report=report)
        self.children.clear()
        self.supervisor.entries.clear()
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
        return slow

    def _sync(self) -> None:
        """The supervisor's current child of each name (a restarted one)."""
        current = {c.name: c for c in self.supervisor.children()}
        self.children = [current.get(c.name, c) for c in self.children]
