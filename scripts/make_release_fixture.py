"""Write the upgrade-test fixture: a database made by a released digilabo.

Run it with the RELEASE's code first on the path (not this checkout's), so
the database is exactly what that release wrote::

    git worktree add /tmp/rel v0.1.0        # or its commit, 54b9c29
    PYTHONPATH=/tmp/rel /tmp/rel/.venv/bin/python scripts/make_release_fixture.py \\
        tests/fixtures/release-0.1.0

(``.venv`` may be this checkout's: the release's dependencies are the same.)
It starts that release's embedded stack (Redis, a worker per pool, the
stand-in financial system, the API), runs every job kind's sample job, a
person's OCR review and transcript edit (each an adjusting ledger entry), a
cancelled job and a failed one, then writes into the folder:

- ``sqlite.sql``: the SQLite database as SQL text (``iterdump``);
- ``postgres.sql``: the same rows in a PostgreSQL database migrated by that
  release, dumped as plain SQL (when DIGILABO_FIXTURE_POSTGRES_URL names an
  admin connection, default the local server);
- ``blobs/``: the stored files the rows refer to (content-addressed);
- ``expected.json``: per job its kind, state, output files' SHA-256 and its
  ledger total, which the upgrade test checks after migrating to HEAD.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import MetaData, create_engine, func, select, text

from config.settings import Settings
from digilabo.demo import demo_token
from digilabo.stack import Stack
from jobs import ocr as ocr_kind
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.models import LedgerEntry
from jobs.registry import build_registry
from services import accounts

FINISHED = ("succeeded", "failed", "needs_review", "cancelled")
PG_ADMIN = os.environ.get(
    "DIGILABO_FIXTURE_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def wait(api: httpx.Client, job_id: str, timeout: float = 1800) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in FINISHED:
            return job
        time.sleep(1)
    raise TimeoutError(job_id)


def submit(api: httpx.Client, kind: str, files: list[Path], params: dict[str, Any]) -> str:
    response = api.post(
        "/api/v1/jobs",
        data={"kind": kind, "parameters": json.dumps(params)},
        files=[("files", (p.name, p.read_bytes())) for p in files],
    )
    response.raise_for_status()
    return str(response.json()["id"])


def people_work(api: httpx.Client, jobs: dict[str, dict[str, Any]]) -> None:
    """An OCR review and a transcript edit: each lowers the saving by the
    person's time, through an adjusting ledger entry."""
    for job_id, job in jobs.items():
        if job["kind"] == "ocr" and job["state"] == "needs_review":
            pending = api.get(f"/api/v1/jobs/{job_id}/review").json()["pending"]
            corrections = [{"form": e["form"], "field": e["field"], "confirm": True} for e in pending[1:]]
            if pending:
                first = pending[0]
                corrections.insert(0, {"form": first["form"], "field": first["field"], "value": "訂正済"})
            api.post(
                f"/api/v1/jobs/{job_id}/review", json={"corrections": corrections, "seconds_spent": 45}
            ).raise_for_status()
        if job["kind"] == "transcription" and job["state"] == "succeeded":
            found = api.get(f"/api/v1/jobs/{job_id}/transcript").json()
            edits = [{"op": "text", "index": 0, "text": "只今より会議を始めます。"}]
            body = {"edits": edits, "seconds_spent": 20, "version": found["version"]}
            api.put(f"/api/v1/jobs/{job_id}/transcript", json=body).raise_for_status()


def submit_for_review(settings: Settings, api: httpx.Client) -> str:
    """An OCR job a person must review: the sample template registered by an
    operator again under another id, with one field's type wrong for it."""
    engine = make_engine(settings.database_url)
    with unit_of_work(session_factory(engine)) as session:
        token = accounts.issue_token(session, department="kanri", role="operator", label="fixture")
    engine.dispose()
    samples = Path(ocr_kind.__file__).parent / "samples"
    definition = (samples / "kyufukin-shinsei.yaml").read_text(encoding="utf-8")
    definition = definition.replace("id: kyufukin-shinsei", "id: kyufukin-review")
    # The フリガナ field declared a phone number: its reading fails the check, so a person must look.
    definition = definition.replace("    type: kana", "    type: phone", 1)
    api.post(
        "/api/v1/templates",
        headers={"Authorization": f"Bearer {token}"},
        files=[
            ("definition", ("kyufukin-review.yaml", definition.encode())),
            ("reference", ("kyufukin-shinsei.pdf", (samples / "kyufukin-shinsei.pdf").read_bytes())),
        ],
    ).raise_for_status()
    return submit(api, "ocr", [samples / "scan-2.pdf"], {"template": "kyufukin-review"})


def run_jobs(settings: Settings) -> None:
    kinds = [k for k in build_registry(settings.extra_job_kinds).all() if k.sample is not None]
    with Stack(
        settings, pools=("gpu", "cpu", "rpa"), log_dir=settings.var_dir / "logs", standin=True
    ) as stack:
        api = httpx.Client(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {demo_token(settings)}"}, timeout=120
        )
        ids = []
        for kind in kinds:
            params, files = kind.sample()  # type: ignore[misc]
            # One scan of the three keeps the fixture small.
            ids.append(submit(api, kind.name, files[:1], params))
        ids.append(submit_for_review(settings, api))
        jobs = {job_id: wait(api, job_id) for job_id in ids}
        people_work(api, {job_id: api.get(f"/api/v1/jobs/{job_id}").json() for job_id in jobs})
        # A cancelled job, and a failed one: a recording whose audio cannot be decoded.
        audio = next(k for k in kinds if k.name == "transcription").sample()[1][0]  # type: ignore[misc]
        cancelled = submit(api, "transcription", [audio], {})
        api.post(f"/api/v1/jobs/{cancelled}/cancel").raise_for_status()
        bad = Path(tempfile.mkdtemp()) / "broken.wav"
        bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8)
        failed = submit(api, "transcription", [bad], {})
        for job_id in (cancelled, failed):
            wait(api, job_id)


def expected(settings: Settings) -> dict[str, Any]:
    engine = make_engine(settings.database_url)
    found: dict[str, Any] = {}
    with engine.connect() as conn:
        jobs = conn.execute(text("SELECT id, kind, state FROM jobs ORDER BY submitted_at")).all()
        for job_id, kind, state in jobs:
            outputs = conn.execute(
                text(
                    "SELECT name, sha256 FROM artifacts WHERE job_id = :j AND role = 'output' ORDER BY name"
                ),
                {"j": job_id},
            ).all()
            total = conn.execute(
                select(func.coalesce(func.sum(LedgerEntry.saved_seconds), 0.0)).where(
                    (LedgerEntry.job_id == job_id) | (LedgerEntry.adjusts_job_id == job_id)
                )
            ).scalar_one()
            found[job_id] = {"kind": kind, "state": state, "outputs": dict(outputs), "saved_seconds": total}
        found_adjustments = conn.execute(
            text("SELECT count(*) FROM ledger_entries WHERE entry_type = 'adjustment'")
        ).scalar_one()
    engine.dispose()
    return {"jobs": found, "adjustments": found_adjustments}


def copy_to_postgres(sqlite_url: str, out: Path) -> None:
    """The same rows in a PostgreSQL database that this release migrated."""
    name = f"digilabo_fixture_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_ADMIN.rpartition('/')[0]}/{name}"
    try:
        migrate(url)
        source, target = create_engine(sqlite_url), create_engine(url)
        meta = MetaData()
        meta.reflect(source)
        with source.connect() as src, target.begin() as dst:
            for table in meta.sorted_tables:
                if table.name == "alembic_version":
                    continue
                rows = [dict(r._mapping) for r in src.execute(table.select())]
                if rows:
                    dst.execute(table.insert(), rows)
                if "id" in table.c and str(table.c.id.type).startswith("INTEGER"):
                    # Explicit ids were inserted: move the sequence past them.
                    # Table names come from our own schema, not from input.
                    serial = f"pg_get_serial_sequence('{table.name}', 'id')"
                    highest = f"coalesce((SELECT max(id) FROM {table.name}), 1)"  # noqa: S608
                    dst.execute(text(f"SELECT setval({serial}, {highest})"))
        source.dispose()
        target.dispose()
        parsed = target.url
        dump = subprocess.run(
            [
                "pg_dump",
                "--no-owner",
                "--no-privileges",
                "--host",
                str(parsed.host),
                "--port",
                str(parsed.port or 5432),
                "--username",
                str(parsed.username),
                "--dbname",
                name,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        (out / "postgres.sql").write_text(dump.stdout, encoding="utf-8")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="release-fixture-"))
    settings = Settings(var_dir=var, allow_root=True, run_as="")  # type: ignore[call-arg]
    migrate(settings.database_url)
    run_jobs(settings)
    db = settings.var_dir / "digilabo.db"
    with sqlite3.connect(db) as conn:
        (out / "sqlite.sql").write_text("\n".join(conn.iterdump()) + "\n", encoding="utf-8")
    shutil.rmtree(out / "blobs", ignore_errors=True)
    shutil.copytree(settings.storage / "blobs", out / "blobs")
    (out / "expected.json").write_text(json.dumps(expected(settings), ensure_ascii=False, indent=1), "utf-8")
    copy_to_postgres(settings.database_url, out)
    print(f"fixture written to {out} (var: {var})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
