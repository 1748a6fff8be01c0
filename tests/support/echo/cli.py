"""``digilabo echo``: the test kind's core run here, without the queue
(loaded by the ``digilabo`` command through ``JobKind.cli``)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from jobs.adapters import CommandHost


def register(app: typer.Typer, host: CommandHost) -> None:
    @app.command()
    def echo(
        files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
        out: Annotated[Path, typer.Option("--out", "-o", help="output folder")],
    ) -> None:
        """Upper-case text files here (test kind)."""
        from jobs.registry import InputFile, JobContext
        from tests.support.echo.kind import run

        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="digilabo-echo-") as work:
            ctx = JobContext(
                job_id="cli",
                department="",
                params={},
                inputs=tuple(InputFile(p.name, p, "text/plain", p.stat().st_size) for p in files),
                work_dir=Path(work),
                progress=lambda _f, _m="": None,
                options=host.options("echo"),
            )
            outcome = run(ctx)
            for output in outcome.outputs:
                shutil.copyfile(output.path, out / output.name)
                host.console.print(f"wrote {out / output.name}")
