"""Upgrades: a database written by the previous release (v0.1.0, built by
``scripts/make_release_fixture.py`` with that release's own code: every job
kind's sample job, an OCR review, a transcript edit, a cancelled and a failed
job) migrates to HEAD on SQLite and on PostgreSQL, and the service then
serves every old job's results, files and savings unchanged."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url

from jobs import auth
from jobs.db import unit_of_work
from jobs.schema import head_revisions, revisions_of
from tests.conftest import REPO
from tests.operations.conftest import Site

Sites = Callable[[str, str], Site]
FIXTURE = REPO / "tests" / "fixtures" / "release-0.1.0"
RELEASE_REVISION = "0007"


def load_release_database(site: Site, backend: str) -> None:
    url = site.settings.database_url
    if backend == "sqlite":
        path = url.split("///")[1]
        site.settings.var_dir.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as conn:
            conn.executescript((FIXTURE / "sqlite.sql").read_text(encoding="utf-8"))
    else:
        parsed = make_url(url)
        subprocess.run(
            [
                "psql",
                "--quiet",
                "--set",
                "ON_ERROR_STOP=1",
                "--host",
                str(parsed.host),
                "--port",
                str(parsed.port or 5432),
                "--username",
                str(parsed.username),
                "--dbname",
                str(parsed.database),
                "--file",
                str(FIXTURE / "postgres.sql"),
            ],
            check=True,
            capture_output=True,
        )
    shutil.copytree(FIXTURE / "blobs", site.settings.storage / "blobs")


def revisions(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = revisions_of(conn)
    engine.dispose()
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_release_database_migrates_to_head_and_serves_every_old_job(sites: Sites, backend: str) -> None:
    expected: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    site = sites("site", backend)
    load_release_database(site, backend)
    assert revisions(site.settings.database_url) == [RELEASE_REVISION]
    site.open(worker=False)  # starting the service migrates
    assert revisions(site.settings.database_url) == head_revisions()
    assert site.runtime is not None and site.api is not None
    with unit_of_work(site.runtime.factory) as session:
        admin = auth.ensure_user(
            f"adm-{uuid.uuid4().hex[:6]}", session=session, department_code="kanri", role="admin"
        )
        headers = {"Authorization": f"Bearer {auth.create_token(admin, session=session)}"}

    kinds = {job["kind"] for job in expected["jobs"].values()}
    assert {"ocr", "transcription", "rpa_entry"} <= kinds
    assert {"succeeded", "failed", "cancelled"} <= {job["state"] for job in expected["jobs"].values()}
    assert expected["adjustments"] >= 1  # the transcript edit (an OCR review counts in the job's own entry)
    for job_id, was in expected["jobs"].items():
        job = site.api.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        assert (job["kind"], job["state"]) == (was["kind"], was["state"]), job_id
        assert (job["saved_seconds"] or 0.0) == pytest.approx(was["saved_seconds"]), job_id
        served = {}
        for item in job["outputs"]:
            response = site.api.get(item["url"], headers=headers)
            assert response.status_code == 200, (job_id, item["name"])
            served[item["name"]] = hashlib.sha256(response.content).hexdigest()
        assert served == was["outputs"], job_id
        if was["kind"] == "transcription" and was["state"] == "succeeded":
            transcript = site.api.get(f"/api/v1/jobs/{job_id}/transcript", headers=headers).json()
            assert transcript["transcript"]["segments"][0]["text"] == "只今より会議を始めます。"
