"""The operator's commands as an operator runs them: ``digilabo backup``
into a folder and onto a full disk (a real 1 MiB tmpfs, mounted by the test,
which runs as root like CI), ``digilabo restore``, and ``digilabo migrate``
on a database from a newer release."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.artifacts import ArtifactStore
from jobs.backup import run_backup
from jobs.restore import run_restore
from jobs.schema import SchemaTooNew, head_revisions
from tests.integration.helpers import submit
from tests.operations.conftest import Sites, cli
from tests.support.disk import small_tmpfs

FUTURE = "0099_future"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "small", 1024 * 1024) as folder:
        yield folder


def test_backup_and_restore_commands_and_a_full_disk(sites: Sites, tmp_path: Path, small_disk: Path) -> None:
    site = sites("site", "sqlite").open(worker=False)
    assert site.api is not None
    ids = []
    for i in range(2):  # queued, never run: 2 inputs of 700 kB
        body = bytes([65 + i]) * 700_000
        sent = submit(site.api, site.headers, [(f"{i}.txt", body)])
        assert sent.status_code == 202
        ids.append(sent.json()["id"])

    done = cli(site, "backup", "--out", str(tmp_path / "ok"))
    assert done.returncode == 0, done.stderr
    assert "2 jobs, 2 files (1400000 bytes); copied 2 new" in done.stdout
    # Residents' data: the backup is readable by the service user alone.
    snapshot = next((tmp_path / "ok" / "snapshots").iterdir())
    for private in (tmp_path / "ok", tmp_path / "ok" / "blobs", snapshot.parent, snapshot):
        assert private.stat().st_mode & 0o077 == 0, private
    assert (snapshot / "database.sqlite").stat().st_mode & 0o077 == 0

    full = cli(site, "backup", "--out", str(small_disk))
    assert full.returncode == 1
    assert "Not enough free space" in full.stderr and "空き容量が足りません" in full.stderr
    assert not list(small_disk.glob("snapshots/*/manifest.json"))
    assert not list(small_disk.rglob("*.part")), "no partial file is left on the full disk"

    new = sites("new", "sqlite")
    restored = cli(new, "restore", str(tmp_path / "ok"))
    assert restored.returncode == 0, restored.stderr
    assert "2 unfinished job(s) queued again" in restored.stdout
    assert all(f"queued again: {job_id}" in restored.stdout for job_id in ids)


def test_a_database_from_a_newer_release_is_refused_naming_its_revision(sites: Sites, tmp_path: Path) -> None:
    site = sites("site", "sqlite").open(worker=False)
    assert site.runtime is not None
    out = tmp_path / "backup"
    snapshot = run_backup(site.settings.database_url, site.runtime.artifacts, out).folder
    site.close()
    db = site.settings.database_url.split("///")[1]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (FUTURE,))

    refused = cli(site, "migrate")
    assert refused.returncode == 2
    assert FUTURE in refused.stderr and head_revisions()[0] in refused.stderr
    with sqlite3.connect(db) as conn:  # nothing was changed
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(FUTURE,)]

    # A backup written by a newer release: refused before anything is written.
    manifest = json.loads((snapshot / "manifest.json").read_text())
    (snapshot / "manifest.json").write_text(json.dumps(manifest | {"revisions": [FUTURE]}))
    new = sites("new", "sqlite")
    with pytest.raises(SchemaTooNew, match=FUTURE):
        run_restore(out, new.settings.database_url, ArtifactStore(new.settings.storage))
    assert not Path(new.settings.database_url.split("///")[1]).exists()
