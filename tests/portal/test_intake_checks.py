"""Entry jobs that cannot run are refused at upload, with a message for the
right person: department staff (portal and API) get the service's message
and never a setting name; operators see the missing setting on the queues
page and in the refusal metric the failed-setup alert watches. A records
file without the script's required columns is refused with the columns."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from jobs.rpa.intake_check import UNAVAILABLE_JA
from jobs.rpa.kind import SAMPLES
from tests.conftest import Service
from tests.integration.helpers import submit
from tests.portal.conftest import Person
from tests.support.entry import api_credential

RECORDS = (SAMPLES / "records.csv").read_bytes()
CREDENTIAL = ("DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER", "DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD")
REFUSED_SETUP = re.compile(r'digilabo_jobs_refused_total\{kind="rpa_entry",reason="setup"\} ([0-9.]+)')


def _entry_form(staff: Person, body: bytes, name: str = "支出.csv"):  # type: ignore[no-untyped-def]
    return staff.post(
        "/portal/jobs/new",
        {"kind": "rpa_entry", "script": "shishutsu_futan", "invalid_rows": "skip"},
        token_from="/portal/jobs/new?kind=rpa_entry",
        files=[("files", (name, body, "text/csv"))],
    )


def _refused_setup(service: Service) -> float:
    found = REFUSED_SETUP.search(service.api.get("/metrics").text)
    return float(found.group(1)) if found else -1.0


def test_entry_without_its_credential_is_refused_at_upload(
    service: Service, dept: str, person: Callable[..., Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in CREDENTIAL:
        monkeypatch.delenv(key, raising=False)
    staff, ops = person(dept), person(f"{dept}o", "operator")
    before = _refused_setup(service)
    assert before >= 0  # pre-created at zero

    page = _entry_form(staff, RECORDS)
    assert page.status_code == 409 and UNAVAILABLE_JA in page.text
    assert "DIGILABO_" not in page.text and "zaimu_demo" not in page.text
    answer = submit(
        service.api, service.token(dept), [("r.csv", RECORDS)], {"script": "shishutsu_futan"}, "rpa_entry"
    )
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "entry_unavailable"
    assert answer.json()["error"]["message"] == UNAVAILABLE_JA and "DIGILABO_" not in answer.text
    assert "該当するジョブはありません" in staff.client.get("/portal/jobs").text  # nothing was queued
    assert _refused_setup(service) == before + 2

    queues = ops.client.get("/portal/ops/queues").text
    assert 'id="setup-problems"' in queues and "DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER / _PASSWORD" in queues
    assert "shishutsu_futan@" in queues


def test_records_without_required_columns_are_refused_with_the_columns(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff, ops = person(dept), person(f"{dept}o", "operator")
    wrong = RECORDS.decode("utf-8-sig").replace("金額", "金額（円）").replace("支払先", "相手先").encode()
    with api_credential():
        page = _entry_form(staff, wrong)
        assert page.status_code == 422
        assert "レコードファイルに必要な列がありません: 金額、支払先" in page.text
        assert 'id="setup-problems"' not in ops.client.get("/portal/ops/queues").text
        answer = submit(
            service.api, service.token(dept), [("r.csv", wrong)], {"script": "shishutsu_futan"}, "rpa_entry"
        )
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "missing_columns"
        accepted = _entry_form(staff, RECORDS)
        assert accepted.status_code == 303, accepted.text
