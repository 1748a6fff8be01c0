"""``digilabo backup``, ``restore`` and ``verify``: the operator's commands
for the data (cores in ``jobs.backup``, ``jobs.restore``, ``jobs.verify``).
Each prints progress, ends with a one-line summary, and exits non-zero with
a message naming the problem."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from digilabo.cli_host import console, err, settings_or_exit
from jobs.errors import DigilaboError

STEPS = {
    "database": "database snapshot",
    "files": "stored files",
    "check": "checking hashes",
    "migrate": "migrating",
}


@contextmanager
def bars() -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback for the cores: one bar per step, in bytes."""
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as progress:
        tasks: dict[str, object] = {}

        def update(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(STEPS.get(step, step), total=max(total, 1))
            progress.update(tasks[step], completed=done, total=max(total, 1))  # type: ignore[arg-type]

        yield update


REQUEUED_SHOWN = 50


def _fail(exc: DigilaboError) -> typer.Exit:
    err.print(f"[red]{exc.message}[/red]", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def backup(
    out: Annotated[Path, typer.Option("--out", help="backup folder (blobs shared by its backups)")],
) -> None:
    """Back up the database and its stored files while the service runs."""
    from jobs.artifacts import ArtifactStore
    from jobs.backup import run_backup

    settings = settings_or_exit()
    try:
        with bars() as progress:
            result = run_backup(
                settings.database_url, ArtifactStore(settings.storage), out, progress=progress
            )
    except DigilaboError as exc:
        raise _fail(exc) from exc
    files = result.manifest["files"]
    console.print(
        f"backup {result.folder}: {result.manifest['counts']['jobs']} jobs, {files['count']} files "
        f"({files['bytes']} bytes); copied {files['copied']} new ({files['copied_bytes']} bytes), "
        f"{files['already_in_backup']} already in {out}",
        soft_wrap=True,
    )


def restore(
    path: Annotated[Path, typer.Argument(help="a backup folder (its newest backup) or one snapshot folder")],
) -> None:
    """Restore a backup into an empty var/ (or an empty PostgreSQL database)."""
    from jobs.artifacts import ArtifactStore
    from jobs.restore import run_restore

    settings = settings_or_exit()
    try:
        with bars() as progress:
            result = run_restore(
                path, settings.database_url, ArtifactStore(settings.storage), progress=progress
            )
    except DigilaboError as exc:
        raise _fail(exc) from exc
    console.print(
        f"restored {result.snapshot}: {result.files} files ({result.bytes} bytes); "
        f"{len(result.requeued)} unfinished job(s) queued again, sent when a worker starts",
        soft_wrap=True,
    )
    # The operator tells the departments whose work will run again.
    for job_id in result.requeued[:REQUEUED_SHOWN]:
        console.print(f"  queued again: {job_id}", highlight=False)
    if len(result.requeued) > REQUEUED_SHOWN:
        console.print(
            f"  … and {len(result.requeued) - REQUEUED_SHOWN} more (see the audit log)", highlight=False
        )


def verify(
    grace: Annotated[
        float, typer.Option(help="seconds a file without a row may be an upload in progress")
    ] = 3600,
    as_json: Annotated[bool, typer.Option("--json", help="print the whole report")] = False,
) -> None:
    """Check every stored file against its row's hash, and that every file has a row (beat runs it daily)."""
    from dataclasses import asdict

    from jobs.artifacts import ArtifactStore
    from jobs.db import make_engine, read_only, session_factory
    from jobs.verify import verify_store, write_status

    settings = settings_or_exit()
    store = ArtifactStore(settings.storage)
    engine = make_engine(settings.database_url)
    try:
        with read_only(session_factory(engine)) as session:
            report = verify_store(session=session, artifacts=store, grace_s=grace)
    finally:
        engine.dispose()
    if store.root.is_dir():
        write_status(report, store)
    if as_json:
        console.print_json(json.dumps(asdict(report)))
    console.print(
        f"{report.rows} rows, {report.files} files ({report.bytes} bytes) checked in {report.seconds:.1f}s; "
        f"missing {len(report.missing)}, hash mismatch {len(report.mismatch)}, "
        f"without a row {len(report.unreferenced)}",
        soft_wrap=True,
    )
    for problem in ("missing", "mismatch", "unreferenced"):
        for item in getattr(report, problem)[:20]:
            err.print(f"[red]{problem}[/red]: {item}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
    app.command()(verify)
