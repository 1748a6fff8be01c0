"""Tracing while a record is retried, and only then: in real Chromium, a
record's trace ends with the record. Once started, Playwright's trace records
every response of the context (bodies included) until it is stopped, between
chunks too, so a trace only paused after one retried record made every later
record of the job pay for it (a hand-written driver does not)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.rpa import browser
from jobs.rpa.script import parse_script
from jobs.rpa.session import TargetSession
from tests.jobs.rpa.conftest import script_text


@pytest.fixture
def session(tmp_path: Path) -> Iterator[TargetSession]:
    target = parse_script(script_text(timeout_seconds="5")).target
    with browser.launch({"chromium_path": "/usr/bin/chromium"}) as chromium:
        s = TargetSession(chromium, target, "http://tracing.test", "job-tracing", tmp_path)

        def serve(route: Any) -> None:
            route.fulfill(body="<!doctype html><p id='out'>ok</p>", content_type="text/html")

        s.context.route("**/*", serve)
        yield s
        s.close()


def test_a_retried_records_trace_ends_with_it(session: TargetSession, tmp_path: Path) -> None:
    for kept in (tmp_path / "row00002-trace.zip", None):  # one kept (a failure), one dropped
        session.next_record()
        session.trace_start()
        session.page.goto("/entry")
        session.trace_stop(kept)
        assert not session.tracing_chunk
        # Stopped, not paused: a new trace can start (Playwright refuses a
        # second start while one is running, recording or not).
        session.context.tracing.start()
        session.context.tracing.stop()
    with zipfile.ZipFile(tmp_path / "row00002-trace.zip") as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())
