"""``digilabo ocr`` and ``digilabo template``: forms read here without the
queue, and the stored template definitions. Loaded by the ``digilabo``
command only (``JobKind.cli``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from jobs.adapters import CommandHost


def load_templates(host: CommandHost, refs: list[str]) -> list[Any]:
    """Each ref is a YAML file (its reference page beside it) or a stored id[@version]."""
    from jobs.ocr import store as templates
    from jobs.ocr.template import load_template_file, template_from_dict

    loaded = []
    for ref in refs:
        if Path(ref).is_file():
            loaded.append(load_template_file(Path(ref)))
            continue
        name, _, version = ref.partition("@")
        with host.session() as session:
            row = templates.get_version(name, int(version) if version else None, session=session)
            loaded.append(template_from_dict(row.stored))
    return loaded


def register(app: typer.Typer, host: CommandHost) -> None:
    template_app = typer.Typer(help="OCR template definitions (帳票定義).", no_args_is_help=True)
    app.add_typer(template_app, name="template")

    @app.command()
    def ocr(
        scans: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
        template: Annotated[
            list[str], typer.Option(help="YAML file or stored id[@version]; repeat for a mixed batch")
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="OUT.csv, OUT.xlsx or OUT.json")],
    ) -> None:
        """Read scanned forms here, without the queue."""
        from jobs.errors import DigilaboError
        from jobs.ocr.kind import read_files

        try:
            summary = read_files(load_templates(host, template), scans, out)
        except (DigilaboError, ValueError) as exc:
            host.fail(str(getattr(exc, "message", exc)))
        host.console.print(f"wrote {out}")
        host.console.print_json(data=summary)

    @template_app.command("upload")
    def template_upload(definition: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
        """Store a template version (the reference page named in the YAML lies beside it)."""
        from jobs.errors import DigilaboError
        from jobs.ocr import store as templates
        from jobs.ocr.template import load_template_file

        try:
            with host.session() as session:
                row, created = templates.save(
                    load_template_file(definition), session=session, created_by="cli"
                )
                host.console.print(f"{row.template_id}@{row.version} {'stored' if created else 'unchanged'}")
        except DigilaboError as exc:
            host.fail(exc.message)

    @template_app.command("list")
    def template_list(
        as_json: Annotated[bool, typer.Option("--json", help="one JSON array, for scripts")] = False,
    ) -> None:
        """The newest version of every stored template (whole ids, never cut short)."""
        from rich.table import Table

        from jobs.ocr import store as templates

        with host.session() as session:
            rows: list[dict[str, Any]] = [
                {
                    "id": row.template_id,
                    "version": row.version,
                    "name": row.name,
                    "fields": row.fields,
                    "seconds_per_form": row.seconds_per_form,
                }
                for row in templates.list_latest(session=session)
            ]
        if as_json:
            typer.echo(json.dumps(rows, ensure_ascii=False))
            return
        table = Table()
        # The id is what a job names: never truncated or wrapped, whatever the
        # terminal's width (the Japanese name folds instead).
        table.add_column("id", no_wrap=True, min_width=max((len(r["id"]) for r in rows), default=2))
        table.add_column("version", no_wrap=True)
        table.add_column("名称", overflow="fold")
        table.add_column("項目数", no_wrap=True)
        table.add_column("秒/枚", no_wrap=True)
        for r in rows:
            table.add_row(
                r["id"], str(r["version"]), r["name"], str(r["fields"]), f"{r['seconds_per_form']:.0f}"
            )
        host.console.print(table)
