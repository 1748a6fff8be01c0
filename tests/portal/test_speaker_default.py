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


def test_speaker_bounds_from_the_form_and_the_api(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    """最少話者数 / 最多話者数: on the form next to the number (shown with
    話者を区別する), stored as the job's ``min_speakers``/``max_speakers``;
    bounds out of order, out of range or around a fixed number are refused
    with a message naming the fields."""
    staff = person(dept)
    form = "/portal/jobs/new?kind=transcription"
    page = staff.client.get(form).text
    for name, label in (
        ("speakers", "話者の人数"),
        ("min_speakers", "最少話者数"),
        ("max_speakers", "最多話者数"),
    ):
        group = page[page.rindex("<div", 0, page.index(f'name="{name}"')) :]
        assert (
            group.startswith('<div class="stack" data-shown-with="diarize">')
            and label in group.split("</div>")[0]
        )

    def send(fields: dict[str, str]):  # type: ignore[no-untyped-def]
        return staff.post(
            "/portal/jobs/new",
            {"kind": "transcription", **fields},
            token_from=form,
            files=[("files", ("silence.wav", silence(), "audio/wav"))],
        )

    answer = send({"diarize": "on", "min_speakers": "2", "max_speakers": "4"})
    assert answer.status_code == 303, answer.text
    params = stored(service, answer.headers["location"].rsplit("/", 1)[1])
    assert (params["diarize"], params["min_speakers"], params["max_speakers"]) == (True, 2, 4)
    job = staff.client.get(answer.headers["location"]).text
    assert "最少話者数" in job and "2人" in job and "4人" in job

    backwards = send({"diarize": "on", "min_speakers": "5", "max_speakers": "3"})
    assert backwards.status_code == 422 and "最少話者数（min_speakers: 5）は最多話者数" in backwards.text

    headers = service.token(dept)
    for params_sent, field, words in (
        ({"min_speakers": 4, "max_speakers": 2}, "min_speakers", "以下にしてください"),
        ({"max_speakers": 21}, "max_speakers", "最多話者数（max_speakers）は0〜20"),
        ({"min_speakers": -1}, "min_speakers", "最少話者数（min_speakers）は0〜20"),
        ({"speakers": 5, "max_speakers": 3}, "speakers", "1〜3人"),
        ({"speakers": 2, "min_speakers": 3}, "speakers", "3〜20人"),
    ):
        refused = submit(service.api, headers, [("a.wav", silence())], params_sent, kind="transcription")
        assert refused.status_code == 422, (params_sent, refused.text)
        error = refused.json()["error"]
        assert error["details"]["field"] == field and words in error["message"], error
    ok = submit(service.api, headers, [("a.wav", silence())], {"max_speakers": 3}, kind="transcription")
    assert ok.status_code == 202, ok.text
    params = stored(service, ok.json()["id"])
    assert (params["diarize"], params["min_speakers"], params["max_speakers"]) == (True, 0, 3)
