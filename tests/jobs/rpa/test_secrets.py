"""A credential's password never appears in a log line, an artifact (traces
included) or a database row, even when records fail and evidence is kept."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import pytest

from jobs.rpa.core import run
from tests.jobs.rpa.conftest import PASSWORD, Jobs, fast_script, record, write_records


def texts(path: Path) -> list[bytes]:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            return [archive.read(name) for name in archive.namelist()]
    return [path.read_bytes()]


def test_password_is_nowhere(jobs: Jobs, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    jobs.standin.switches(fail_submits=[1, 2, 3, 4])  # row 2 fails every attempt: evidence is kept
    records = write_records(tmp_path / "r.csv", [record(1), record(2)])
    ctx = jobs.context(fast_script(), records)
    outcome = run(ctx)
    names = {o.name for o in outcome.outputs}
    assert "failures/row00002.png" in names and "failures/row00002-trace.zip" in names
    assert outcome.needs_review
    needles = (PASSWORD.encode(), PASSWORD.encode("utf-16-le"))
    blobs = [b for f in ctx.work_dir.rglob("*") if f.is_file() for b in texts(f)]
    blobs += [f.read_bytes() for f in tmp_path.glob("ledger.db*")]
    blobs.append(caplog.text.encode())
    assert blobs and not [b for b in blobs if any(n in b for n in needles)]
    assert all(PASSWORD not in str(o.path) for o in outcome.outputs)
