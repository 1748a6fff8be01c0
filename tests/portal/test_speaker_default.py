"""A department's default for speaker labels (話者を区別する): set by an admin
in the portal, it checks the box on a fresh new-request form and fills in
``diarize`` for API requests that do not say; a request that says wins."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable

from jobs.db import unit_of_work
from jobs.models import Department, Job
from tests.conftest import Service
from tests.integration.helpers import submit
from tests.portal.conftest import Person

DIARIZE_BOX = 'name="diarize"'


def silence() -> bytes:
    """Half a second of silence: a valid recording that transcribes in no time."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16_000)
        w.writeframes(b"\0\0" * 8_000)
    return out.getvalue()


def box(page: str) -> str:
    """The 話者を区別する checkbox's tag on the new-request form."""
    start = page.index(DIARIZE_BOX)
    return page[page.rindex("<input", 0, start) : page.index(">", start) + 1]


def stored(service: Service, job_id: str) -> dict:
    with unit_of_work(service.runtime.factory) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return dict(job.parameters)


def test_department_default_checks_the_box_and_fills_api_requests(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff = person(dept)
    form = "/portal/jobs/new?kind=transcription"
    assert "checked" not in box(staff.client.get(form).text)  # off until an admin says so

    admin = person(f"{dept}a", "admin")
    saved = admin.post("/portal/admin/departments", {"code": dept, "name": f"{dept}課", "speakers": "on"})
    assert saved.status_code == 303
    page = admin.client.get("/portal/admin/departments").text
    assert "既定で区別する" in page.split(f"<code>{dept}</code>", 1)[1].split("</tr>", 1)[0]
    with unit_of_work(service.runtime.factory) as session:
        department = session.get(Department, dept)
        assert department is not None and department.speaker_labels_default

    assert "checked" in box(staff.client.get(form).text)
    # Unchecked on the form: the person said no, the default does not override it.
    answer = staff.post(
        "/portal/jobs/new",
        {"kind": "transcription"},
        token_from=form,
        files=[("files", ("silence.wav", silence(), "audio/wav"))],
    )
    assert answer.status_code == 303, answer.text
    assert stored(service, answer.headers["location"].rsplit("/", 1)[1])["diarize"] is False

    headers = service.token(dept)
    unsaid = submit(service.api, headers, [("a.wav", silence())], {}, kind="transcription")
    said = submit(service.api, headers, [("b.wav", silence())], {"diarize": False}, kind="transcription")
    assert unsaid.status_code == 202 and said.status_code == 202, unsaid.text + said.text
    assert stored(service, unsaid.json()["id"])["diarize"] is True
    assert stored(service, said.json()["id"])["diarize"] is False

    # Another department keeps the default off.
    other = service.token(f"{dept}x")
    plain = submit(service.api, other, [("c.wav", silence())], {}, kind="transcription")
    assert stored(service, plain.json()["id"])["diarize"] is False
