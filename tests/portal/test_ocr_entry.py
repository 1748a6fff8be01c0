"""「確認後に入力」 on the portal, without workers: the new-job form offers it,
an OCR job page says why no entry job exists (failed, cancelled) or links to
it, and the entry job page links back. Jobs are recorded straight in the
database in the states the pages must explain."""

from __future__ import annotations

from collections.abc import Callable

from jobs import store
from jobs.db import unit_of_work
from jobs.lifecycle import State
from tests.conftest import Service
from tests.portal.conftest import Person


def _job(service: Service, dept: str, kind: str, state: State, **fields: object) -> str:
    with unit_of_work(service.runtime.factory) as session:
        store.ensure_department(dept, session=session)
        job = store.create_job(
            session=session,
            kind=kind,
            queue="cpu" if kind == "ocr" else "rpa",
            department_code=dept,
            submitted_by=None,
            parameters=dict(fields.pop("parameters", {})),  # type: ignore[call-overload]
        )
        job.state = state.value
        for name, value in fields.items():
            setattr(job, name, value)
        return job.id


def test_the_form_offers_it_and_the_pages_link_both_ways(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff = person(dept)
    form = staff.client.get("/portal/jobs/new?kind=ocr").text
    assert "確認後に入力" in form and 'name="entry_script"' in form
    assert '<option value="none" selected>入力しない（読み取りと確認だけ）</option>' in form

    entry = {"entry_script": "kyufukin-shiharai@1"}
    failed = _job(service, dept, "ocr", State.FAILED, parameters=entry)
    cancelled = _job(service, dept, "ocr", State.CANCELLED, parameters=entry)
    assert (
        "OCRジョブが失敗したため、入力ジョブは作成していません"
        in staff.client.get(f"/portal/jobs/{failed}").text
    )
    assert (
        "取り消されたため、入力ジョブは作成していません" in staff.client.get(f"/portal/jobs/{cancelled}").text
    )
    api = service.api.get(f"/api/v1/jobs/{failed}", headers=service.token(dept)).json()
    assert api["entry_job_id"] is None and "失敗したため" in api["entry_note"]

    done = _job(service, dept, "ocr", State.SUCCEEDED, parameters=entry, summary={"entry_rows": 2})
    typed = _job(service, dept, "rpa_entry", State.QUEUED, source_job_id=done)
    page = staff.client.get(f"/portal/jobs/{done}").text
    assert f'href="/portal/jobs/{typed}" id="entry-job-link"' in page and "確認済み 2件" in page
    back = staff.client.get(f"/portal/jobs/{typed}").text
    assert f'href="/portal/jobs/{done}" id="source-job-link"' in back
    api = service.api.get(f"/api/v1/jobs/{done}", headers=service.token(dept)).json()
    assert api["entry_job_id"] == typed
    assert (
        service.api.get(f"/api/v1/jobs/{typed}", headers=service.token(dept)).json()["source_job_id"] == done
    )
