"""What every ``digilabo`` sub-command shares: the consoles, the settings
checked once, one transaction on the migrated database, and the host a
kind's own sub-commands are given (``jobs.adapters.CommandHost``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.orm import Session

from config.settings import Settings, get_settings

console = Console()
err = Console(stderr=True)


def settings_or_exit() -> Settings:
    """Validate the settings once, at start, with a readable message."""
    try:
        return get_settings()
    except ValidationError as exc:
        err.print(f"[red]Invalid settings:[/red]\n{exc}")
        raise typer.Exit(2) from exc


def secure_or_exit(settings: Settings) -> None:
    """Owner-only umask; leave root (or refuse with advice)."""
    from digilabo.privileges import RootRefused, secure_process

    try:
        secure_process(settings)
    except RootRefused as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


@contextmanager
def db_session() -> Iterator[Session]:
    """One transaction on the configured database, migrated first."""
    from jobs.db import make_engine, migrate, session_factory, unit_of_work

    settings = settings_or_exit()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


class Host:
    """The ``CommandHost`` a kind's sub-commands use."""

    console = console
    err = err

    def options(self, kind: str, **overrides: Any) -> Any:
        from jobs.db import make_engine, session_factory
        from jobs.registry import build_registry, kind_options

        settings = settings_or_exit()
        if overrides:
            settings = settings.model_copy(update=overrides)
        # The engine lives as long as the command: resources (the record ledger) use it.
        factory = session_factory(make_engine(settings.database_url))
        return kind_options(build_registry(settings.extra_job_kinds), settings.kind_options(), factory)[kind]

    def session(self) -> Any:
        return db_session()

    def fail(self, message: str, code: int = 1) -> NoReturn:
        err.print(f"[red]{message}[/red]")
        raise typer.Exit(code)
