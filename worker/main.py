"""Starting a worker for one pool (gpu, cpu or rpa)."""

from __future__ import annotations

import logging
import os
import socket

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown, worker_ready

from composition.runtime import Runtime
from config.settings import QUEUES, Settings
from jobs.registry import build_registry
from queues.app import make_celery
from queues.fair import Dispatcher, start_dispatcher
from worker.tasks import register_tasks

log = logging.getLogger(__name__)

_runtime: Runtime | None = None
_settings: Settings | None = None


def current_runtime() -> Runtime:
    """This process's Runtime, built on first use (after the fork in pool
    processes, so no database connection is shared between processes)."""
    global _runtime
    if _runtime is None:
        assert _settings is not None, "worker settings not configured"
        _runtime = Runtime(_settings)
    return _runtime


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _reset_after_fork(**_: object) -> None:
    global _runtime
    # A pool process forked from a parent that had opened connections must
    # not reuse them; drop the inherited runtime and build a fresh one.
    if _runtime is not None:
        _runtime.engine.dispose(close=False)
    _runtime = None


@worker_ready.connect  # type: ignore[untyped-decorator]
def _start_reaper(**_: object) -> None:
    """The main process requeues jobs whose worker was lost (any host's) and
    runs the fair dispatcher (one pass at a time across the cluster)."""
    from worker.reaper import start_reaper

    if _settings is not None:
        start_reaper(current_runtime, _settings.reaper_interval_s)
        if _settings.dispatch_mode == "fair":
            start_dispatcher(lambda: dispatcher_for(current_runtime()))


def dispatcher_for(rt: Runtime) -> Dispatcher:
    return Dispatcher(rt.settings, rt.factory, rt.registry, rt.celery)


def build_worker_app(settings: Settings) -> Celery:
    global _settings
    _settings = settings
    app = make_celery(settings)
    register_tasks(app, current_runtime)
    return app


def default_concurrency(pool: str) -> int:
    # One model per process on the GPU; one browser per process for RPA.
    if pool in ("gpu", "rpa"):
        return 1
    return max(1, (os.cpu_count() or 2) // 2)


def setup_metrics(settings: Settings, pool: str, port: int | None) -> None:
    """Multiprocess metrics: the children write files in a folder of this
    worker's own (emptied now), the main process serves them on ``port``."""
    from monitoring.multiproc import prepare_multiprocess_dir

    prepare_multiprocess_dir(settings.var_dir.resolve() / "metrics" / f"{pool}-{os.getpid()}")
    from monitoring.exporter import serve_worker_metrics
    from monitoring.metrics import worker_metrics

    metrics = worker_metrics(pool)
    kinds = [k for k in build_registry(settings.extra_job_kinds).all() if k.queue == pool]
    metrics.precreate(k.name for k in kinds)
    for kind in kinds:
        if kind.load_observers is not None:
            kind.load_observers.append(lambda _name, seconds: metrics.model_load_seconds.observe(seconds))
    if port:
        serve_worker_metrics(port)
        log.info("%s worker metrics on port %d", pool, port)


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _child_exit(pid: int | None = None, **_: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


def run_worker(
    settings: Settings,
    pool: str,
    concurrency: int | None = None,
    loglevel: str = "INFO",
    metrics_port: int | None = None,
) -> None:
    if pool not in QUEUES:
        raise ValueError(f"pool must be one of {', '.join(QUEUES)}")
    setup_metrics(settings, pool, metrics_port)
    if settings.cpu_threads == 0 and pool != "rpa":
        # Share the machine's cores between the pool's processes.
        threads = max(1, (os.cpu_count() or 1) // (concurrency or default_concurrency(pool)))
        settings = settings.model_copy(update={"cpu_threads": threads})
    app = build_worker_app(settings)
    argv = [
        "worker",
        f"--queues={pool}",
        f"--concurrency={concurrency or default_concurrency(pool)}",
        f"--hostname={pool}@{socket.gethostname()}-{os.getpid()}",
        f"--loglevel={loglevel}",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
    ]
    log.info("starting %s worker: %s", pool, " ".join(argv))
    app.worker_main(argv)
