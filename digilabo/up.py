"""``digilabo up``: the embedded stack in the foreground, supervised.

Only Ctrl-C or SIGTERM stops it (within ``digilabo.shutdown``'s bound), or a
child in a crash loop (the supervisor then names it and shows its last log
lines). Its children die with it however it ends (``digilabo.lifeline``), and
only one ``up`` runs per state folder (``digilabo.instance``)."""

from __future__ import annotations

import signal
import time
from typing import Any

from rich.console import Console

from config.settings import Settings
from digilabo.embedded import mask_url, port_is_free
from digilabo.instance import AlreadyRunning, Instance, recorded, stop_leftovers
from digilabo.privileges import RootRefused, secure_process
from digilabo.stack import Stack
from digilabo.supervisor import CrashLoop
from jobs.schema import SchemaTooNew


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run_up(settings: Settings, console: Console, err: Console, *, strict_port: bool = False) -> int:
    """Run until stopped; the exit status (0 after Ctrl-C/SIGTERM)."""
    instance = Instance(settings.var_dir)
    try:
        # First of all: a second ``up`` here must change nothing.
        previous = instance.acquire()
    except AlreadyRunning as exc:
        err.print(f"[red]{exc}[/red]")
        return 3
    except OSError as exc:  # a state folder this user cannot write
        err.print(f"[red]cannot lock {instance.lock_path}: {exc.strerror or exc}[/red]")
        return 2
    try:
        return _run(settings, instance, previous, console, err, strict_port=strict_port)
    finally:
        instance.release()


def _run(
    settings: Settings,
    instance: Instance,
    previous: dict[str, Any] | None,
    console: Console,
    err: Console,
    *,
    strict_port: bool,
) -> int:
    leftovers = recorded(previous)
    stop_leftovers(leftovers, report=lambda line: err.print(f"[yellow]{line}[/yellow]"))
    if strict_port and settings.api_port and not port_is_free(settings.api_port, settings.api_host):
        err.print(f"[red]{settings.api_host}:{settings.api_port} is already in use.[/red]")
        return 2
    try:
        user = secure_process(settings)
    except RootRefused as exc:
        err.print(f"[red]{exc}[/red]")
        return 2
    stack = Stack(settings, metrics=True, beat=True, standin=True)
    # SIGTERM behaves like Ctrl-C so service managers stop it cleanly too.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with console.status("starting Redis, workers, beat and the API…"):
            stack.start()
        instance.record(stack.api_url, stack.children, stack.worker_node)
        _requeue_previous(stack, [p.node for p in leftovers if p.node], err)
        console.print(f"API: {stack.api_url}  (OpenAPI: {stack.api_url}/docs)")
        console.print(f"Redis: {mask_url(stack.redis_url)}   database: {mask_url(settings.database_url)}")
        console.print(f"stand-in 財務会計システム (bulk-entry target): {stack.standin_url}")
        others = {t: u for t, u in stack.standin_urls.items() if u != stack.standin_url}
        console.print("other stand-ins: " + ", ".join(f"{t} {u}" for t, u in others.items()))
        console.print("Prometheus targets: " + ", ".join(stack.metrics_targets))
        console.print(f"running as {user}; a child that exits is restarted. Ctrl-C stops everything.")
        while True:
            stack.check()
            instance.record(stack.api_url, stack.children, stack.worker_node)
            time.sleep(0.5)
    except CrashLoop as exc:
        err.print(f"[red]{exc}[/red]")
        return 1
    except SchemaTooNew as exc:  # a database from a newer release: nothing was started on it
        err.print(f"[red]{exc.message}[/red]", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        # The stop is bounded; a second Ctrl-C must not cut it short and leave children.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop(report=lambda line: err.print(f"[yellow]{line}[/yellow]"))
    return 0


def _requeue_previous(stack: Stack, nodes: list[str], err: Console) -> None:
    """The jobs the previous ``up``'s workers were running when it ended go
    back to the queue now, not after the heartbeat timeout."""
    if not nodes:
        return
    try:
        requeued = stack.requeue_jobs_of_nodes(nodes)
    except Exception as exc:  # the workers' own reaper finds them later
        err.print(f"[yellow]could not requeue the previous workers' jobs yet: {exc}[/yellow]")
        return
    if requeued:
        err.print(
            f"requeued {len(requeued)} job(s) the previous digilabo up left running: {', '.join(requeued)}"
        )
