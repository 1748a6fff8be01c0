"""``digilabo demo``: the embedded stack, every kind's sample job, the savings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from config.settings import Settings
from digilabo.client import ApiClient
from digilabo.progress import follow
from digilabo.stack import Stack
from jobs.db import make_engine, session_factory, unit_of_work
from jobs.registry import JobKind, build_registry
from services import accounts

DEMO_DEPARTMENT = ("demo", "デジタル推進課（デモ）")


def demo_token(settings: Settings) -> str:
    """A fresh token for the demo department's user (only held in memory)."""
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            return accounts.issue_token(
                session,
                department=DEMO_DEPARTMENT[0],
                department_name=DEMO_DEPARTMENT[1],
                name="demo-user",
                label="demo",
            )
    finally:
        engine.dispose()


def savings_table(savings: dict[str, Any]) -> Table:
    table = Table(
        "部署",
        "サービス",
        "件数",
        "処理量",
        "削減時間（時間）",
        title=f"削減時間 {savings['fiscal_year_label']}",
    )
    for row in savings["rows"]:
        table.add_row(
            row.get("department_name") or row["department"],
            row.get("service_label", row["service"]),
            str(row["jobs"]),
            f"{row['units']:.2f} {row.get('unit', '')}".strip(),
            f"{row['saved_hours']:.2f}",
        )
    table.add_row("合計", "", "", "", f"{savings['total_hours']:.2f}")
    return table


def submit_samples(client: ApiClient, kinds: list[JobKind], console: Console) -> list[str]:
    job_ids = []
    for kind in kinds:
        assert kind.sample is not None
        params, files = kind.sample()
        job_id = client.submit(kind.name, files, params)
        console.print(
            f"submitted {kind.label_ja} ({kind.name}): {job_id}  inputs: {', '.join(p.name for p in files)}"
        )
        job_ids.append(job_id)
    return job_ids


def fetch_outputs(client: ApiClient, job: dict[str, Any], dest: Path) -> list[Path]:
    return [client.download(out["url"], dest / out["name"]) for out in job["outputs"]]


def run_demo(settings: Settings, console: Console, *, timeout: float) -> int:
    kinds = [k for k in build_registry(settings.extra_job_kinds).all() if k.sample is not None]
    if not kinds:
        console.print("[yellow]No job kind with a sample is installed.[/yellow]")
        return 1
    pools = tuple(sorted({k.queue for k in kinds}))
    log_dir = settings.var_dir / "logs"
    with Stack(settings, pools=pools, log_dir=log_dir, standin="rpa" in pools) as stack:
        console.print(f"API {stack.api_url} (OpenAPI {stack.api_url}/docs); logs in {log_dir}/")
        client = ApiClient(stack.api_url, demo_token(settings))
        try:
            jobs = follow(client, submit_samples(client, kinds, console), console, timeout=timeout)
            failed = 0
            for job_id, job in jobs.items():
                dest = settings.var_dir / "demo" / job_id
                if job["state"] not in ("succeeded", "needs_review"):
                    failed += 1
                    console.print(
                        f"[red]{job['kind_label']} {job_id}: {job['state_label']} — {job['error_message']}[/red]"
                    )
                    continue
                paths = fetch_outputs(client, job, dest)
                console.print(
                    f"[green]{job['kind_label']}[/green] {job['state_label']}: {len(paths)} files in {dest}/"
                )
                for path in paths:
                    console.print(f"  {path}")
                preview = next((p for p in paths if p.suffix == ".txt"), None)
                if preview:
                    console.print(
                        "[bold]" + "\n".join(preview.read_text(encoding="utf-8").splitlines()[:4]) + "[/bold]"
                    )
            console.print(savings_table(client.savings(group_by="department,service")))
        finally:
            client.close()
    return 1 if failed else 0
