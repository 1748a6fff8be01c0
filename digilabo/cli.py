"""The ``digilabo`` command: the service's processes (migrate, worker,
exporter, housekeeping, beat, up, demo). Accounts are in ``cli_accounts``,
the HTTP commands in ``cli_remote``; each job kind's own sub-commands live
in its folder (``JobKind.cli``) and are added here when the command starts."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from config.settings import QUEUES, get_settings
from digilabo import cli_accounts, cli_backup, cli_remote
from digilabo.cli_host import Host, console, err, secure_or_exit, settings_or_exit
from digilabo.lifeline import watch_parent

app = typer.Typer(help="Digi-Labo job-concentration service.", no_args_is_help=True, add_completion=False)
app.add_typer(cli_accounts.token_app, name="token")
app.add_typer(cli_accounts.user_app, name="user")


@app.callback()
def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # faster-whisper narrates every file at INFO; keep the terminal for progress.
    for noisy in ("faster_whisper", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from jobs.db import migrate as run_migrations
    from jobs.schema import SchemaTooNew

    settings = settings_or_exit()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    try:
        run_migrations(settings.database_url)
    except SchemaTooNew as exc:
        err.print(f"[red]{exc.message}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    console.print("database is up to date")


@app.command()
def worker(
    pool: Annotated[str, typer.Option(help="gpu, cpu or rpa")],
    concurrency: Annotated[int | None, typer.Option(min=1)] = None,
    loglevel: str = "INFO",
    metrics_port: Annotated[int | None, typer.Option(help="serve this worker's Prometheus metrics")] = None,
) -> None:
    """Start a Celery worker on one pool's queue."""
    from worker.main import run_worker

    if pool not in QUEUES:
        err.print(f"[red]--pool must be one of {', '.join(QUEUES)}[/red]")
        raise typer.Exit(2)
    settings = settings_or_exit()
    if not settings.redis_url:
        err.print("[red]DIGILABO_REDIS_URL is not set; 'digilabo up' starts an embedded Redis.[/red]")
        raise typer.Exit(2)
    secure_or_exit(settings)
    watch_parent()  # under ``up``: gone within seconds of it, however it ends
    run_worker(settings, pool, concurrency, loglevel, metrics_port)


@app.command()
def exporter(
    port: Annotated[int, typer.Option(help="port for Prometheus")] = 9808,
    host: str = "0.0.0.0",  # noqa: S104 - Prometheus scrapes it
) -> None:
    """Serve cluster metrics (queues, workers, jobs, time saved) for Prometheus."""
    from composition.runtime import Runtime
    from monitoring.exporter import serve_exporter

    settings = settings_or_exit()
    secure_or_exit(settings)
    serve_exporter(Runtime(settings), port, host)
    console.print(f"exporter on http://{host}:{port}/metrics")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


@app.command()
def housekeeping() -> None:
    """Purge files past the retention period and fail jobs stuck running (also run hourly by beat)."""
    from composition.runtime import Runtime

    runtime = Runtime(settings_or_exit())
    try:
        console.print_json(data=runtime.housekeeping())
    finally:
        runtime.close()


@app.command()
def beat() -> None:
    """Celery beat: sends the hourly housekeeping task (one per cluster)."""
    from queues.app import make_celery

    settings = settings_or_exit()
    if not settings.redis_url:
        err.print("[red]DIGILABO_REDIS_URL is not set; 'digilabo up' starts an embedded Redis.[/red]")
        raise typer.Exit(2)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    secure_or_exit(settings)
    watch_parent()
    make_celery(settings).Beat(
        schedule=str(settings.var_dir.resolve() / "beat-schedule"), loglevel="INFO"
    ).run()


@app.command()
def up(
    port: Annotated[int | None, typer.Option(help="API port (default DIGILABO_API_PORT, 8000)")] = None,
    host: Annotated[str | None, typer.Option(help="API address (default 127.0.0.1)")] = None,
    allow_root: Annotated[bool, typer.Option("--allow-root", help="run as root (CI containers)")] = False,
) -> None:
    """Run the embedded stack in the foreground, restarting children that die, until Ctrl-C."""
    from digilabo.up import run_up

    settings = settings_or_exit()
    changes: dict[str, Any] = {"api_port": port, "api_host": host, "allow_root": allow_root or None}
    settings = settings.model_copy(update={k: v for k, v in changes.items() if v is not None})
    raise typer.Exit(run_up(settings, console, err, strict_port=port is not None))


@app.command()
def demo(timeout: Annotated[float, typer.Option(help="seconds to wait per job")] = 900) -> None:
    """Start the embedded stack, run every job kind's sample job, print savings."""
    from digilabo.demo import run_demo

    settings = settings_or_exit()
    # A demonstration on the machine it was installed on: root is allowed.
    settings = settings.model_copy(update={"allow_root": True})
    secure_or_exit(settings)
    raise typer.Exit(run_demo(settings, console, timeout=timeout))


cli_remote.register(app)
cli_backup.register(app)


def add_kind_commands(target: typer.Typer) -> None:
    """Each installed kind's own sub-commands (``JobKind.cli``), imported now."""
    from jobs.registry import build_registry, load_adapter

    try:
        extra = get_settings().extra_job_kinds
    except ValidationError:
        extra = []  # the command itself reports the settings' problem
    for kind in build_registry(extra).all():
        if kind.cli:
            load_adapter(kind.cli)(target, Host())


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.umask(0o077)  # files this process and its children create: owner only
    add_kind_commands(app)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
