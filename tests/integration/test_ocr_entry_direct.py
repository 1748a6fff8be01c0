"""「確認後に入力」 under direct dispatch (``DIGILABO_DISPATCH_MODE=direct``:
no fair dispatcher runs, intake sends each job to its queue): a real cpu
worker reads a 至急 scan, a person reviews it over the API, and the entry job
made by that last review is sent to the rpa queue at once and typed by a real
rpa worker into stand-in system A. The entry job is 至急 too, inherited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from composition.runtime import Runtime
from digilabo.embedded import python_argv, spawn, start_standin
from digilabo.stack import Stack
from intake_api.main import create_app
from jobs.db import migrate
from jobs.models import AuditEvent, Job
from jobs.ocr.kind import SAMPLES as OCR_SAMPLES
from jobs.ocr_entry import reference_for
from tests.conftest import Service, make_settings
from tests.integration.helpers import submit, wait_finished
from tests.integration.test_ocr_entry import approve, confirm_all, script_text
from tests.support.entry import Entry, api_credential, entry_env


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Entry]:
    """The service under direct dispatch, with a cpu worker, the stand-in and an rpa worker."""
    root = tmp_path_factory.mktemp("direct")
    settings = make_settings(
        root, f"sqlite:///{root / 'db.sqlite'}", redis_url.rsplit("/", 1)[0] + "/7", dispatch_mode="direct"
    )
    migrate(settings.database_url)
    stack = Stack(settings, pools=("cpu",), log_dir=root / "logs", api=False)
    stack.start()
    app, url = start_standin(root / "standin")
    env = {**stack.child_env(), **entry_env(url)}
    worker = spawn(
        "worker-rpa",
        python_argv("-m", "digilabo", "worker", "--pool", "rpa"),
        env=env,
        log_path=root / "rpa.log",
    )
    runtime = Runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as api, api_credential():
            yield Entry(Service(settings, runtime, api, stack, "sqlite"), url, worker, env)
    finally:
        worker.stop()
        app.stop()
        stack.stop()
        runtime.close()


def test_the_last_review_sends_the_entry_job_under_direct_dispatch(direct: Entry) -> None:
    api, operator = direct.service.api, direct.service.token("dops", "operator")
    script_id = "ocr-direct"
    assert approve(direct, script_id, script_text("application_date"))[1]["status"] == "approved"
    scan = sorted(OCR_SAMPLES.glob("scan-*"))[0]
    sent = submit(
        api,
        operator,
        [(scan.name, scan.read_bytes())],
        {"template": "kyufukin-shinsei", "entry_script": script_id},
        kind="ocr",
        fields={"urgent": "true"},
    )
    assert sent.status_code == 202, sent.text
    ocr = wait_finished(api, operator, sent.json()["id"], timeout=120)
    assert ocr["state"] == "needs_review" and ocr["entry_job_id"] is None, ocr

    done = confirm_all(api, operator, ocr["id"], 30)
    assert done["state"] == "succeeded", done

    entry_id = api.get(f"/api/v1/jobs/{ocr['id']}", headers=operator).json()["entry_job_id"]
    job = wait_finished(api, operator, entry_id, timeout=90)
    assert job["state"] == "succeeded" and job["summary"]["entered"] == 1, job
    mine = reference_for(ocr["id"], 0)[:8]  # the OCR job's prefix: typed once, one form
    assert len([e for e in direct.entries() if e["reference"].startswith(mine)]) == 1
    with direct.service.runtime.factory() as session:
        made = session.get(Job, entry_id)
        assert made is not None and made.urgent and made.released_at is None  # no dispatcher touched it
        inherited = session.scalar(
            select(AuditEvent).where(AuditEvent.job_id == entry_id, AuditEvent.action == "urgent")
        )
        assert inherited is not None and inherited.detail["inherited_from"] == ocr["id"]
