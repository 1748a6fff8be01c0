"""A finished transcription job without running whisper: the sample meeting
as its input and every output written from a known transcript by the kind's
own writers (``jobs.transcription.edit.regenerate``), finished through
``jobs.finish`` so its ledger entry is the real one. The editor tests need a
transcript to correct, not a recognition run (the browser and integration
tests cover that)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from composition.runtime import Runtime
from jobs import store
from jobs.db import unit_of_work
from jobs.finish import finish_job
from jobs.lifecycle import State, transition
from jobs.outputs import add_output
from jobs.transcription.edit import regenerate
from jobs.transcription.kind import SAMPLES

AUDIO = SAMPLES / "sample_meeting.flac"
# 10 audio minutes at 240 s each: a saving of 2400 s before any correction.
UNITS, SECONDS_PER_UNIT = 10.0, 240.0
TRANSCRIPT: dict[str, Any] = {
    "language": "ja",
    "duration": 25.8,
    "model": "base",
    "speakers": ["話者1", "話者2"],
    "segments": [
        {"start": 0.0, "end": 6.0, "text": "国楽北区の避難所について報告します。", "speaker": "話者1"},
        {"start": 6.0, "end": 12.0, "text": "0は7年度の補正予算を説明します。", "speaker": "話者2"},
        {"start": 12.0, "end": 18.0, "text": "避難所は三か所です。", "speaker": "話者1"},
        {"start": 18.0, "end": 25.0, "text": "以上です。", "speaker": "話者2"},
    ],
}


def finished_transcription(runtime: Runtime, department: str) -> str:
    """The id of a succeeded transcription job of ``department``."""
    kind = runtime.registry.get("transcription")
    audio = runtime.artifacts.put_file(AUDIO)
    with tempfile.TemporaryDirectory() as folder:
        outputs = [
            (out, runtime.artifacts.put_file(out.path)) for out in regenerate(Path(folder), TRANSCRIPT, {})
        ]
    with unit_of_work(runtime.factory) as session:
        store.ensure_department(department, f"{department}課", session=session)
        job = store.create_job(
            session=session,
            kind="transcription",
            queue="gpu",
            department_code=department,
            submitted_by=None,
            parameters={"meeting_name": "防災対策検討会議"},
        )
        store.add_artifact(
            session=session,
            job_id=job.id,
            role="input",
            name=AUDIO.name,
            sha256=audio.sha256,
            size=audio.size,
            media_type="audio/flac",
        )
        for out, blob in outputs:
            add_output(session, job.id, out, blob)
        transition(session, job.id, State.RUNNING)
        summary = {"units": UNITS, "seconds_per_unit": SECONDS_PER_UNIT, "segments": 4}
        finish_job(session, job.id, kind, State.SUCCEEDED, tz=runtime.settings.timezone, summary=summary)
        return job.id
