"""The commands that talk to a running service over HTTP: submit, status,
jobs, export (``digilabo.client``; the server side is the application
layer behind the API)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from digilabo.cli_host import console, err

ApiOpt = Annotated[str, typer.Option("--api", envvar="DIGILABO_API_URL", help="intake API base URL")]
TokenOpt = Annotated[
    str, typer.Option("--token", envvar="DIGILABO_TOKEN", help="bearer token", show_default=False)
]


def client(api: str, token: str) -> Any:
    from digilabo.client import ApiClient

    if not token:
        err.print("[red]No token: pass --token or set DIGILABO_TOKEN ('digilabo token create').[/red]")
        raise typer.Exit(2)
    return ApiClient(api, token)


def parse_params(pairs: list[str], raw: str) -> dict[str, Any]:
    params: dict[str, Any] = json.loads(raw) if raw else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def submit(
    kind: str,
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
    param: Annotated[list[str], typer.Option("--param", "-p", help="KEY=VALUE (JSON values allowed)")] = [],  # noqa: B006
    parameters: Annotated[str, typer.Option(help="parameters as one JSON object")] = "",
    wait: Annotated[bool, typer.Option(help="wait for the job and show progress")] = False,
    urgent: Annotated[bool, typer.Option(help="至急: taken before normal work (operator token)")] = False,
    entry_script: Annotated[
        str,
        typer.Option(
            help="確認後に入力 (ocr): the approved entry script that types the forms once they are reviewed"
        ),
    ] = "",
) -> None:
    """Submit a job; prints its id (and waits with --wait)."""
    from digilabo.client import ApiError
    from digilabo.progress import follow

    api_client = client(api, token)
    try:
        params = parse_params(param, parameters) | ({"entry_script": entry_script} if entry_script else {})
        job_id = api_client.submit(kind, files, params, urgent=urgent)
        console.print(job_id)
        if wait:
            job = follow(api_client, [job_id], console, timeout=24 * 3600)[job_id]
            raise typer.Exit(0 if job["state"] == "succeeded" else 1)
    except ApiError as exc:
        err.print(f"[red]{exc.message}[/red] ({exc.code})")
        raise typer.Exit(1) from exc


def urgent(job_id: str, api: ApiOpt = "http://127.0.0.1:8000", token: TokenOpt = "") -> None:
    """Mark a waiting job 至急 (operator token): released before every department's normal work."""
    from digilabo.client import ApiError

    try:
        job = client(api, token).mark_urgent(job_id)
    except ApiError as exc:
        err.print(f"[red]{exc.message}[/red] ({exc.code})")
        raise typer.Exit(1) from exc
    console.print(f"{job['id']} 至急 ({job['state_label']})")


def status(job_id: str, api: ApiOpt = "http://127.0.0.1:8000", token: TokenOpt = "") -> None:
    """Show one job as JSON."""
    console.print_json(data=client(api, token).job(job_id))


def list_jobs(
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
    state: str | None = None,
    kind: str | None = None,
    limit: int = 50,
) -> None:
    """List recent jobs."""
    page = client(api, token).jobs(state=state, kind=kind, limit=limit)
    table = Table("id", "種類", "部署", "状態", "進捗", "受付")
    for job in page["data"]:
        table.add_row(
            job["id"],
            job["kind_label"],
            job["department"],
            job["state_label"],
            f"{job['progress'] * 100:.0f}%",
            job["submitted_at"],
        )
    console.print(table)
    console.print(f"{page['count']} jobs")


def export(
    out: Annotated[Path, typer.Option(help="file to write")],
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    fiscal_year: int | None = None,
    group_by: str = "fiscal_year,month,department,service",
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
) -> None:
    """Export time-saved totals as CSV (Excel-ready, with BOM) or XLSX."""
    body = client(api, token).export(fmt, fiscal_year=fiscal_year, group_by=group_by)
    out.write_bytes(body)
    console.print(f"wrote {out} ({len(body):,} bytes)")


def register(app: typer.Typer) -> None:
    app.command()(submit)
    app.command()(urgent)
    app.command()(status)
    app.command("jobs")(list_jobs)
    app.command()(export)
