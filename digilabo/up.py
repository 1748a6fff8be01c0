"""``digilabo up``: the embedded stack in the foreground, supervised.

Only Ctrl-C or SIGTERM stops it, or a child in a crash loop (the supervisor
then names it and shows its last log lines)."""

from __future__ import annotations

import signal

from rich.console import Console

from config.settings import Settings
from digilabo.embedded import mask_url, port_is_free
from digilabo.privileges import RootRefused, secure_process
from digilabo.stack import Stack
from digilabo.supervisor import CrashLoop
from jobs.schema import SchemaTooNew


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run_up(settings: Settings, console: Console, err: Console, *, strict_port: bool = False) -> int:
    """Run until stopped; the exit status (0 after Ctrl-C/SIGTERM)."""
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
        console.print(f"API: {stack.api_url}  (OpenAPI: {stack.api_url}/docs)")
        console.print(f"Redis: {mask_url(stack.redis_url)}   database: {mask_url(settings.database_url)}")
        console.print(f"stand-in 財務会計システム (bulk-entry target): {stack.standin_url}")
        console.print("Prometheus targets: " + ", ".join(stack.metrics_targets))
        console.print(f"running as {user}; a child that exits is restarted. Ctrl-C stops everything.")
        stack.supervise()
    except CrashLoop as exc:
        err.print(f"[red]{exc}[/red]")
        return 1
    except SchemaTooNew as exc:  # a database from a newer release: nothing was started on it
        err.print(f"[red]{exc.message}[/red]", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        stack.stop()
    return 0
