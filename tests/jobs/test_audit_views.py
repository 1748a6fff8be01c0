"""Looking at a job is audited once per viewer and window, not once per poll."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from jobs import store
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.models import AuditEvent, utcnow
from tests.conftest import BACKENDS

ALICE = store.Viewer(user_id="u-alice", name="alice", department_code="a", role="department")
OPERATOR = store.Viewer(user_id="u-op", name="op", department_code="", role="operator")


@pytest.mark.parametrize("backend", BACKENDS)
def test_polling_a_job_audits_one_view_per_viewer_and_window(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'db.sqlite'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    migrate(url)
    factory = session_factory(make_engine(url))
    with unit_of_work(factory) as session:
        store.ensure_department("a", session=session)
        job = store.create_job(
            session=session, kind="echo", queue="cpu", department_code="a", submitted_by=None, parameters={}
        ).id

    def look(viewer: store.Viewer, window_s: float = 600) -> None:
        with unit_of_work(factory) as session:
            store.audit_view(session=session, viewer=viewer, job_id=job, window_s=window_s)

    def views() -> list[str]:
        with unit_of_work(factory) as session:
            return [e.actor_name for e in store.list_audit(session=session, job_id=job, action="view")]

    for _ in range(5):  # a page polling while the job runs
        look(ALICE)
    look(OPERATOR)
    assert views() == ["op", "alice"]  # each viewer once, newest first

    # Once the window has passed, the next look is a new entry.
    with unit_of_work(factory) as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.job_id == job).values(at=utcnow() - timedelta(seconds=601))
        )
    look(ALICE)
    assert views() == ["alice", "op", "alice"]

    # A window of 0 audits every look.
    look(ALICE, window_s=0)
    look(ALICE, window_s=0)
    assert views().count("alice") == 4
