"""The operators' fair-share controls in the portal: each department's share
of the waiting work on the queue page, and the 至急 button on a job page."""

from __future__ import annotations

import re
from collections.abc import Callable

from jobs import store
from jobs.ocr.kind import sample as ocr_sample
from tests.conftest import Service
from tests.integration.helpers import submit, wait_finished
from tests.integration.test_fairshare import held_dispatch
from tests.portal.conftest import Person


def test_operator_sees_department_shares_and_raises_a_job(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    headers = service.token(dept)
    operator = person(f"ops{dept}", "operator")
    with held_dispatch(service):  # the jobs wait in the database meanwhile
        ids = [submit(service.api, headers, [("a.txt", b"a\n")]).json()["id"] for _ in range(3)]
        params, scans = ocr_sample()
        forms = submit(service.api, headers, [(p.name, p.read_bytes()) for p in scans], params, kind="ocr")
        page = operator.client.get("/portal/ops/queues")
        assert page.status_code == 200 and "部署ごとの待機" in page.text
        shares = page.text.split('id="department-shares"', 1)[1].split("</table>", 1)[0]
        row = next(r for r in shares.split("<tr>") if f"<td>{dept}</td>" in r and "<td>cpu</td>" in r)
        cells = re.findall(r'<td class="num">([^<]*)</td>', row)
        # jobs waiting, parts, pages (the OCR job's three scans), recording minutes, share
        assert cells[:4] == ["4", "0", "3", "—"], cells
        cancelled = service.api.post(f"/api/v1/jobs/{forms.json()['id']}/cancel", headers=headers)
        assert cancelled.status_code == 200, cancelled.text
        last = ids[-1]
        raise_it(service, operator, person(dept), last)
    with service.runtime.factory() as session:
        events = store.list_audit(session=session, job_id=last, action="urgent")
    assert [e.actor_name for e in events] == [operator.name]
    for job_id in ids:
        assert wait_finished(service.api, headers, job_id)["state"] == "succeeded"


def raise_it(service: Service, operator: Person, staff: Person, last: str) -> None:
    headers = service.token(staff.department)
    job_page = operator.client.get(f"/portal/jobs/{last}")
    assert "至急にする" in job_page.text
    assert "至急にする" not in staff.client.get(f"/portal/jobs/{last}").text
    raised = operator.post(f"/portal/jobs/{last}/urgent", {"back": ""})
    assert raised.status_code == 303, raised.text
    assert service.api.get(f"/api/v1/jobs/{last}", headers=headers).json()["urgent"] is True
    assert "至急にする" not in operator.client.get(f"/portal/jobs/{last}").text
