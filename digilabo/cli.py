"""The ``digilabo`` command."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from digilabo.settings import QUEUES, Settings, get_settings

app = typer.Typer(help="Digi-Labo job-concentration service.", no_args_is_help=True, add_completion=False)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
template_app = typer.Typer(help="OCR template definitions (帳票定義).", no_args_is_help=True)
app.add_typer(template_app, name="template")
user_app = typer.Typer(help="Web portal users.", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = Console()
err = Console(stderr=True)

ApiOpt = Annotated[str, typer.Option("--api", envvar="DIGILABO_API_URL", help="intake API base URL")]
TokenOpt = Annotated[
    str, typer.Option("--token", envvar="DIGILABO_TOKEN", help="bearer token", show_default=False)
]


def settings_or_exit() -> Settings:
    """Validate the settings once, at start, with a readable message."""
    try:
        return get_settings()
    except ValidationError as exc:
        err.print(f"[red]Invalid settings:[/red]\n{exc}")
        raise typer.Exit(2) from exc


def client(api: str, token: str) -> Any:
    from digilabo.client import ApiClient

    if not token:
        err.print("[red]No token: pass --token or set DIGILABO_TOKEN ('digilabo token create').[/red]")
        raise typer.Exit(2)
    return ApiClient(api, token)


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

    settings = settings_or_exit()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings.database_url)
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
    run_worker(settings, pool, concurrency, loglevel, metrics_port)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@app.command()
def exporter(
    port: Annotated[int, typer.Option(help="port for Prometheus")] = 9808,
    host: str = "0.0.0.0",  # noqa: S104 - Prometheus scrapes it
) -> None:
    """Serve cluster metrics (queues, workers, jobs, time saved) for Prometheus."""
    from digilabo.runtime import Runtime
    from monitoring.exporter import serve_exporter

    settings = settings_or_exit()
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
    from digilabo.runtime import Runtime

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
    make_celery(settings).Beat(
        schedule=str(settings.var_dir.resolve() / "beat-schedule"), loglevel="INFO"
    ).run()


@app.command()
def up() -> None:
    """Run the embedded stack in the foreground until Ctrl-C."""
    from digilabo.stack import Stack

    settings = settings_or_exit()
    stack = Stack(settings, metrics=True, beat=True, standin=True)
    # SIGTERM behaves like Ctrl-C so service managers stop it cleanly too.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with console.status("starting Redis, workers and the API…"):
            stack.start()
        console.print(f"API: {stack.api_url}  (OpenAPI: {stack.api_url}/docs)")
        console.print(f"Redis: {stack.redis_url}   database: {settings.database_url}")
        console.print(f"stand-in 財務会計システム (bulk-entry target): {stack.standin_url}")
        console.print("Prometheus targets: " + ", ".join(stack.metrics_targets))
        console.print("Ctrl-C stops everything.")
        while not stack.dead_children():
            time.sleep(0.5)
        for child in stack.dead_children():
            err.print(f"[red]{child.name} exited with {child.process.returncode}[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        stack.stop()


@app.command()
def demo(timeout: Annotated[float, typer.Option(help="seconds to wait per job")] = 900) -> None:
    """Start the embedded stack, run every job kind's sample job, print savings."""
    from digilabo.demo import run_demo

    raise typer.Exit(run_demo(settings_or_exit(), console, timeout=timeout))


@app.command()
def transcribe(
    audio: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")],
    fmt: Annotated[
        str, typer.Option("--format", help="comma list of txt,srt,vtt,json,docx")
    ] = "txt,srt,vtt,json,docx",
    glossary: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="terms, one per line")
    ] = None,
    model_dir: Annotated[Path | None, typer.Option(help="a CTranslate2 Whisper folder")] = None,
    language: str = "ja",
) -> None:
    """Transcribe recordings here, without the queue: DIR/<audio stem>.<format>."""
    from rich.progress import Progress

    from jobs.errors import JobInputError
    from jobs.transcription.direct import read_glossary, transcribe_file

    settings = settings_or_exit()
    if model_dir:
        settings = settings.model_copy(update={"whisper_model_dir": model_dir})
    options = settings.kind_options()
    params = {"language": language, "glossary": read_glossary(glossary) if glossary else []}
    formats = [f.strip() for f in fmt.split(",") if f.strip()]
    failed = 0
    with Progress(console=console) as bars:
        for path in audio:
            bar = bars.add_task(path.name, total=1.0)
            try:
                written = transcribe_file(
                    path,
                    out,
                    formats=formats,
                    params=params,
                    options=options,
                    progress=lambda f, m="", bar=bar, name=path.name: bars.update(
                        bar, completed=f, description=f"{name} {m}"
                    ),
                )
            except (JobInputError, ValueError) as exc:
                failed += 1
                bars.console.print(f"[red]{path.name}: {getattr(exc, 'message', exc)}[/red]")
                continue
            bars.update(bar, completed=1.0, description=path.name)
            for file in written:
                bars.console.print(f"  {file}")
    raise typer.Exit(1 if failed else 0)


@contextmanager
def _session() -> Iterator[Any]:
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


def _load_templates(refs: list[str]) -> list[Any]:
    """Each ref is a YAML file (its reference page beside it) or a stored id[@version]."""
    from jobs.ocr import store as templates
    from jobs.ocr.template import load_template_file, template_from_dict

    loaded = []
    for ref in refs:
        if Path(ref).is_file():
            loaded.append(load_template_file(Path(ref)))
            continue
        name, _, version = ref.partition("@")
        with _session() as session:
            row = templates.get_version(name, int(version) if version else None, session=session)
            loaded.append(template_from_dict(row.stored))
    return loaded


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
        summary = read_files(_load_templates(template), scans, out)
    except (DigilaboError, ValueError) as exc:
        err.print(f"[red]{getattr(exc, 'message', exc)}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"wrote {out}")
    console.print_json(data=summary)


@app.command()
def rpa(
    records: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="CSV or XLSX of records")],
    script: Annotated[str, typer.Option(help="script YAML file, or an approved script id[@version]")],
    out: Annotated[Path, typer.Option("--out", "-o", help="OUT.csv or OUT.xlsx")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="validate and walk the steps without submitting")
    ] = False,
) -> None:
    """Enter records into the target system here, without the queue."""
    from rich.progress import Progress

    from jobs.errors import DigilaboError
    from jobs.rpa import scripts
    from jobs.rpa.direct import enter_file

    settings = settings_or_exit()
    source: Path | str = Path(script)
    with _session() as session:  # also creates the record ledger's tables
        if not Path(script).is_file():
            name, _, version = script.partition("@")
            source = scripts.get(name, int(version) if version else None, session=session).text
    try:
        with Progress(console=console) as bars:
            bar = bars.add_task(records.name, total=1.0)
            outcome = enter_file(
                source,
                records,
                out,
                dry_run=dry_run,
                options=settings.kind_options(),
                progress=lambda f, m="": bars.update(bar, completed=f, description=f"{records.name} {m}"),
            )
    except DigilaboError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"wrote {out}")
    console.print_json(data=dict(outcome.summary))


@template_app.command("upload")
def template_upload(definition: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Store a template version (the reference page named in the YAML lies beside it)."""
    from jobs.errors import DigilaboError
    from jobs.ocr import store as templates
    from jobs.ocr.template import load_template_file

    try:
        with _session() as session:
            row, created = templates.save(load_template_file(definition), session=session, created_by="cli")
            console.print(f"{row.template_id}@{row.version} {'stored' if created else 'unchanged'}")
    except DigilaboError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc


@template_app.command("list")
def template_list() -> None:
    """The newest version of every stored template."""
    from jobs.ocr import store as templates

    table = Table("id", "version", "名称", "項目数", "秒/枚")
    with _session() as session:
        for row in templates.list_latest(session=session):
            table.add_row(
                row.template_id, str(row.version), row.name, str(row.fields), f"{row.seconds_per_form:.0f}"
            )
    console.print(table)


@token_app.command("create")
def token_create(
    department: Annotated[str, typer.Option(help="department code")],
    role: Annotated[str, typer.Option(help="department, operator or admin")] = "department",
    name: Annotated[str, typer.Option(help="user name (default: <department>-<role>)")] = "",
    department_name: Annotated[str, typer.Option(help="department's Japanese name")] = "",
    label: str = "",
) -> None:
    """Create a user (if needed) and print a new token, shown only this once."""
    from jobs import auth, store

    try:
        with _session() as session:
            store.ensure_department(department, department_name, session=session)
            user = auth.ensure_user(
                name or f"{department}-{role}", session=session, department_code=department, role=role
            )
            token = auth.create_token(user, session=session, label=label)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    print(token)


@user_app.command("create")
def user_create(
    name: str,
    department: Annotated[str, typer.Option(help="department code")],
    role: Annotated[str, typer.Option(help="department, operator or admin")] = "department",
    display_name: Annotated[str, typer.Option(help="name shown in the portal")] = "",
    department_name: Annotated[str, typer.Option(help="department's Japanese name")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a portal user (or update one) with a password; asks for it unless --password-stdin."""
    from jobs import auth, store
    from jobs.errors import DigilaboError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        with _session() as session:
            store.ensure_department(department, department_name, session=session)
            user = auth.create_user(
                name,
                session=session,
                department_code=department,
                role=role,
                password=password,
                display_name=display_name,
            )
            user_name, user_role = user.name, user.role
    except DigilaboError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"user {user_name} ({user_role}, {department}) is ready")


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


@app.command()
def submit(
    kind: str,
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    api: ApiOpt = "http://127.0.0.1:8000",
    token: TokenOpt = "",
    param: Annotated[list[str], typer.Option("--param", "-p", help="KEY=VALUE (JSON values allowed)")] = [],  # noqa: B006
    parameters: Annotated[str, typer.Option(help="parameters as one JSON object")] = "",
    wait: Annotated[bool, typer.Option(help="wait for the job and show progress")] = False,
) -> None:
    """Submit a job; prints its id (and waits with --wait)."""
    from digilabo.client import ApiError
    from digilabo.progress import follow

    api_client = client(api, token)
    try:
        job_id = api_client.submit(kind, files, parse_params(param, parameters))
        console.print(job_id)
        if wait:
            job = follow(api_client, [job_id], console, timeout=24 * 3600)[job_id]
            raise typer.Exit(0 if job["state"] == "succeeded" else 1)
    except ApiError as exc:
        err.print(f"[red]{exc.message}[/red] ({exc.code})")
        raise typer.Exit(1) from exc


@app.command()
def status(job_id: str, api: ApiOpt = "http://127.0.0.1:8000", token: TokenOpt = "") -> None:
    """Show one job as JSON."""
    console.print_json(data=client(api, token).job(job_id))


@app.command("jobs")
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


@app.command()
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


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
