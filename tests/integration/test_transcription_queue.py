"""Transcription through the queue: HTTP → gpu-pool worker (on the CPU here)
→ artifacts and a ledger entry; a long recording fans out into part tasks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from jobs.models import LedgerEntry
from jobs.transcription.japanese import character_error_rate
from jobs.transcription.kind import sample
from tests.conftest import Service
from tests.integration.helpers import submit, wait_finished
from tests.support.speech import SENTENCES, synthesise, write_audio


def test_sample_meeting_through_the_queue(service: Service, dept: str) -> None:
    api, headers = service.api, service.token(dept)
    glossary = api.put(
        "/api/v1/glossary", headers=headers, json={"terms": ["小倉北区", "危機管理室", "小倉北区"]}
    )
    assert glossary.status_code == 200 and glossary.json()["terms"] == ["小倉北区", "危機管理室"]
    params, files = sample()
    # Speaker bounds reach the worker's diarizer: the sample has one voice,
    # which the count found from the voices alone would call one speaker.
    params |= {"min_speakers": 2, "max_speakers": 3}
    response = submit(api, headers, [(files[0].name, files[0].read_bytes())], params, kind="transcription")
    assert response.status_code == 202, response.text
    job = wait_finished(api, headers, response.json()["id"], timeout=240)
    assert job["state"] == "succeeded", job
    assert job["queue"] == "gpu"
    assert job["parameters"]["diarize"] is True and 2 <= job["summary"]["speakers"] <= 3, job
    names = {o["name"] for o in job["outputs"]}
    assert names == {"transcript.txt", "transcript.srt", "transcript.vtt", "transcript.json", "minutes.docx"}
    text = api.get(f"/api/v1/jobs/{job['id']}/artifacts/transcript.txt", headers=headers).content.decode()
    assert {line.split(": ", 1)[0] for line in text.splitlines()} <= {"話者1", "話者2", "話者3"}
    spoken = "".join(line.split(": ", 1)[1] for line in text.splitlines())
    assert character_error_rate("".join(SENTENCES), spoken) < 0.25, text
    minutes = job["summary"]["audio_minutes"]
    assert 0.3 < minutes < 0.7
    assert job["saved_seconds"] == job["summary"]["units"] * 240.0
    savings = api.get("/api/v1/savings", headers=headers, params={"group_by": "service"}).json()
    assert (
        savings["rows"][0]["service"] == "minutes"
        and savings["rows"][0]["service_label"] == "会議録の文字起こし"
    )


def test_long_recording_fans_out_into_parts(service: Service, dept: str, tmp_path: Path) -> None:
    api, headers = service.api, service.token(dept)
    speech = synthesise(SENTENCES)
    audio = write_audio(np.concatenate([speech, speech, speech]), tmp_path / "long.m4a")
    response = submit(
        api, headers, [(audio.name, audio.read_bytes())], {"meeting_name": "長い会議"}, kind="transcription"
    )
    assert response.status_code == 202, response.text
    job = wait_finished(api, headers, response.json()["id"], timeout=300)
    assert job["state"] == "succeeded", job
    assert job["summary"]["parts"] >= 2
    assert job["attempts"] == 1 and job["progress"] == 1.0
    data = json.loads(api.get(f"/api/v1/jobs/{job['id']}/artifacts/transcript.json", headers=headers).content)
    starts = [s["start"] for s in data["segments"]]
    assert starts == sorted(starts) and data["segments"][-1]["end"] > 60
    assert character_error_rate("".join(SENTENCES) * 3, data["text"]) < 0.25
    with service.runtime.factory() as session:
        count = session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.job_id == job["id"])
        )
    assert count == 1


def test_non_audio_upload_is_refused(service: Service, dept: str) -> None:
    response = submit(
        service.api, service.token(dept), [("memo.wav", "会議メモ".encode())], kind="transcription"
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_glossary_belongs_to_the_department(service: Service, dept: str) -> None:
    api = service.api
    api.put("/api/v1/glossary", headers=service.token(dept), json={"terms": ["危機管理室"]})
    other = api.get("/api/v1/glossary", headers=service.token(dept + "x"), params={"department": dept}).json()
    assert other["terms"] == [] and other["department"] == dept + "x"
    operator = api.get(
        "/api/v1/glossary", headers=service.token("ops", "operator"), params={"department": dept}
    )
    assert operator.json()["terms"] == ["危機管理室"]
    too_many = api.put("/api/v1/glossary", headers=service.token(dept), json={"terms": ["x"] * 101})
    assert too_many.status_code == 422
