"""Transcript corrections: the pure edit core, every output regenerated, and
the editing time stored as an adjusting ledger entry (real SQLite, real
artifact store; no model needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs import ledger, store
from jobs.artifacts import ArtifactStore
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.errors import InvalidTransition, JobInputError
from jobs.lifecycle import State, transition
from jobs.models import AuditEvent, LedgerEntry
from jobs.outputs import add_output
from jobs.transcription.edit import apply_edits, regenerate
from jobs.transcription.review import TRANSCRIPT_JSON, load_transcript, save_edits

TRANSCRIPT: dict[str, Any] = {
    "language": "ja",
    "duration": 20.0,
    "model": "whisper-base",
    "speakers": ["話者1", "話者2"],
    "text": "国らきたくの避難所です。補正予算を説明します。以上です。",
    "segments": [
        {"start": 0.0, "end": 4.0, "text": "国らきたくの避難所です。", "speaker": "話者1"},
        {"start": 5.0, "end": 9.0, "text": "補正予算を説明します。", "speaker": "話者2"},
        {"start": 10.0, "end": 12.0, "text": "以上です。", "speaker": "話者1"},
    ],
}


def texts(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s.get("speaker", ""), s["text"]) for s in data["segments"]]


def test_text_rename_merge_split_in_order() -> None:
    edited = apply_edits(
        TRANSCRIPT,
        [
            {"op": "text", "index": 0, "text": "小倉北区の避難所です。"},
            {"op": "rename", "from": "話者1", "to": "危機管理室長"},
            {"op": "merge", "index": 1},
            {"op": "split", "index": 1, "at": 11},
            {"op": "speaker", "index": 2, "speaker": "総務課長"},
        ],
    )
    assert texts(edited) == [
        ("危機管理室長", "小倉北区の避難所です。"),
        ("話者2", "補正予算を説明します。"),
        ("総務課長", "以上です。"),
    ]
    # Split at the proportional time of the 11th of 16 characters of 5.0-12.0 s.
    assert (
        edited["segments"][1]["end"]
        == edited["segments"][2]["start"]
        == pytest.approx(5 + 7 * 11 / 16, abs=1e-3)
    )
    assert edited["language"] == "ja" and "text" not in edited
    assert TRANSCRIPT["segments"][0]["speaker"] == "話者1"  # the input is not changed


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"op": "text", "index": 3, "text": "x"}, "index"),
        ({"op": "merge", "index": 2}, "index"),
        ({"op": "rename", "from": "話者9", "to": "室長"}, "from"),
        ({"op": "rename", "from": "話者1", "to": ""}, "to"),
        ({"op": "split", "index": 0, "at": 0}, "at"),
        ({"op": "split", "index": 0, "at": 1, "time": 7.5}, "time"),
        ({"op": "delete", "index": 0}, "op"),
    ],
)
def test_bad_edits_name_the_edit_and_field(edit: dict[str, Any], field: str) -> None:
    with pytest.raises(JobInputError) as caught:
        apply_edits(TRANSCRIPT, [{"op": "text", "index": 0, "text": "ok"}, edit])
    assert caught.value.code == "invalid_edit"
    assert caught.value.details == {"edit": 1, "field": field}
    assert caught.value.message.startswith("2番目の修正: ")


def test_regenerate_writes_every_format_with_the_new_names(tmp_path: Path) -> None:
    edited = apply_edits(TRANSCRIPT, [{"op": "rename", "from": "話者1", "to": "危機管理室長"}])
    outputs = regenerate(tmp_path, edited, {"meeting_name": "防災会議"})
    assert sorted(o.name for o in outputs) == sorted(
        ["transcript.txt", "transcript.srt", "transcript.vtt", "transcript.json", "minutes.docx"]
    )
    assert (tmp_path / "transcript.txt").read_text(encoding="utf-8").splitlines()[0] == (
        "危機管理室長: 国らきたくの避難所です。"
    )
    assert "1\n00:00:00,000 --> 00:00:04,000\n危機管理室長: 国らきたく" in (
        tmp_path / "transcript.srt"
    ).read_text(encoding="utf-8")
    assert "<v 話者2>補正予算を説明します。" in (tmp_path / "transcript.vtt").read_text(encoding="utf-8")
    data = json.loads((tmp_path / "transcript.json").read_text(encoding="utf-8"))
    assert data["speakers"] == ["危機管理室長", "話者2"] and data["text"].startswith("国らきたく")
    paragraphs = [p.text for p in Document(str(tmp_path / "minutes.docx")).paragraphs]
    turns = [p for p in paragraphs if p.startswith(("危機管理室長", "話者2"))]
    assert turns == [
        "危機管理室長　[00:00:00] 国らきたくの避難所です。",
        "話者2　[00:00:05] 補正予算を説明します。",
        "危機管理室長　[00:00:10] 以上です。",
    ]


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    return session_factory(make_engine(url))


def finished_transcription(session: Session, artifacts: ArtifactStore, tmp_path: Path) -> str:
    store.ensure_department("a", session=session)
    job = store.create_job(
        session=session,
        kind="transcription",
        queue="gpu",
        department_code="a",
        submitted_by=None,
        parameters={},
    )
    tmp_path.mkdir()
    for out in regenerate(tmp_path, TRANSCRIPT, {}):
        add_output(session, job.id, out, artifacts.put_file(out.path))
    transition(session, job.id, State.RUNNING)
    transition(session, job.id, State.SUCCEEDED)
    ledger.record_job(
        job,
        session=session,
        service="minutes",
        unit_name="audio_minutes",
        units=10.0,
        seconds_per_unit=240.0,
        tz="Asia/Tokyo",
        at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    return job.id


def test_saved_edits_regenerate_outputs_and_adjust_the_ledger(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    artifacts = ArtifactStore(tmp_path / "store")
    artifacts.ensure()
    viewer = store.Viewer(user_id=None, name="係員", department_code="a", role="department")
    with unit_of_work(factory) as session:
        job_id = finished_transcription(session, artifacts, tmp_path / "first")
    with unit_of_work(factory) as session:
        job = store.get_job(job_id, session=session)
        edits = [
            {"op": "rename", "from": "話者1", "to": "危機管理室長"},
            {"op": "text", "index": 2, "text": "以上。"},
        ]
        save_edits(job, edits, 300.0, session=session, artifacts=artifacts, viewer=viewer, tz="Asia/Tokyo")
    with factory() as session:
        job = store.get_job(job_id, session=session)
        data = load_transcript(job, session=session, artifacts=artifacts)
        assert texts(data)[2] == ("危機管理室長", "以上。")
        docx = store.get_artifact(job_id, "minutes.docx", session=session)
        body = "\n".join(p.text for p in Document(str(artifacts.path_for(docx.sha256))).paragraphs)
        assert "危機管理室長　[00:00:00]" in body and "話者1" not in body
        assert job.human_seconds == 300.0 and job.summary["edits"] == 2
        entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        assert [(e.entry_type, e.saved_seconds) for e in entries] == [("job", 2400.0), ("adjustment", -300.0)]
        assert entries[1].reason == "文字起こしの修正"
        assert ledger.job_total(job_id, session=session) == 2100.0
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "transcript_edit")).all()
        assert [e.detail for e in events] == [{"edits": 2, "seconds": 300.0}]
        assert store.get_artifact(job_id, TRANSCRIPT_JSON, session=session).sha256 != ""


def test_a_bad_edit_saves_nothing(factory: sessionmaker[Session], tmp_path: Path) -> None:
    artifacts = ArtifactStore(tmp_path / "store")
    artifacts.ensure()
    viewer = store.Viewer(user_id=None, name="係員", department_code="a", role="department")
    with unit_of_work(factory) as session:
        job_id = finished_transcription(session, artifacts, tmp_path / "first")
    with pytest.raises(JobInputError), unit_of_work(factory) as session:
        job = store.get_job(job_id, session=session)
        save_edits(
            job,
            [{"op": "merge", "index": 9}],
            60.0,
            session=session,
            artifacts=artifacts,
            viewer=viewer,
            tz="Asia/Tokyo",
        )
    with factory() as session:
        assert store.get_job(job_id, session=session).human_seconds == 0.0
        assert len(session.scalars(select(LedgerEntry)).all()) == 1
        running = store.create_job(
            session=session,
            kind="transcription",
            queue="gpu",
            department_code="a",
            submitted_by=None,
            parameters={},
        )
        with pytest.raises(InvalidTransition):
            save_edits(running, [], 1.0, session=session, artifacts=artifacts, viewer=viewer, tz="Asia/Tokyo")
