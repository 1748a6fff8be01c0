"""``digilabo rpa``: records entered here, without the queue, with the same
record ledger as queued jobs. Loaded by the ``digilabo`` command only
(``JobKind.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobs.adapters import CommandHost


def register(app: typer.Typer, host: CommandHost) -> None:
    @app.command()
    def rpa(
        records: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="CSV or XLSX of records")],
        script: Annotated[str, typer.Option(help="script YAML file, or an approved script id[@version]")],
        out: Annotated[
            Path,
            typer.Option(
                "--out", "-o", help="OUT.csv or OUT.xlsx (for people), OUT.json (state codes, for programs)"
            ),
        ],
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="validate and walk the steps without submitting")
        ] = False,
        unapproved: Annotated[
            bool, typer.Option("--unapproved", help="enter with a script file nobody approved (loud warning)")
        ] = False,
        attachments: Annotated[
            Path | None,
            typer.Option(
                exists=True, dir_okay=False, help="ZIP of the files the script's upload steps attach"
            ),
        ] = None,
    ) -> None:
        """Enter records into the target system here, without the queue."""
        from rich.progress import Progress

        from jobs.errors import DigilaboError
        from jobs.rpa import scripts
        from jobs.rpa.direct import enter_file
        from jobs.rpa.results import not_done

        if Path(script).is_file() and not dry_run:
            refuse_unapproved(host, script, unapproved=unapproved)
        source: Path | str = Path(script)
        with host.session() as session:  # also creates the record ledger's tables
            if not Path(script).is_file():
                name, _, version = script.partition("@")
                source = scripts.get(name, int(version) if version else None, session=session).text
        try:
            with Progress(console=host.console) as bars:
                bar = bars.add_task(records.name, total=1.0)
                outcome = enter_file(
                    source,
                    records,
                    out,
                    dry_run=dry_run,
                    attachments=attachments,
                    options=host.options("rpa_entry"),
                    progress=lambda f, m="": bars.update(bar, completed=f, description=f"{records.name} {m}"),
                )
        except DigilaboError as exc:
            host.fail(exc.message)
        host.console.print(f"wrote {out}")
        host.console.print(str(outcome.summary.get("summary_line", "")))
        host.console.print_json(data=dict(outcome.summary))
        if not dry_run and not_done(dict(outcome.summary)):
            # A row failed for a system or session reason, or was not reached: a
            # script running this must notice (rows refused for their data do not).
            raise typer.Exit(1)


def refuse_unapproved(host: CommandHost, script: str, *, unapproved: bool) -> None:
    """A script file has not been through approval: refuse it against a real
    target unless the operator said ``--unapproved``, and then say so loudly."""
    if not unapproved:
        host.fail(
            "承認されていない入力スクリプトのファイルでは対象システムに入力できません。"
            "承認済みのスクリプトIDを指定するか、--dry-run で確認してください"
            "（承認なしで入力するには --unapproved）。",
            2,
        )
    host.err.print(
        "[bold red]警告: 承認されていない入力スクリプトで対象システムに入力します"
        f"（{script}）。WARNING: entering with an UNAPPROVED script.[/bold red]"
    )
