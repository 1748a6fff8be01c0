"""Quotas of waiting work in the kind's own unit (OCR pages, recording
minutes), on a real SQLite database: what counts as waiting, the refusal's
Japanese message and Retry-After, and the measures taken at intake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs import fairshare, quotas, store
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.models import Job, utcnow
from jobs.ocr.kind import KIND as OCR
from jobs.ocr.kind import sample as ocr_sample
from jobs.registry import InputFile
from jobs.transcription.kind import KIND as TRANSCRIPTION
from jobs.transcription.kind import sample as audio_sample


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    return session_factory(make_engine(url))


def job(session: Session, kind: str, work: float, state: str = "queued", department: str = "kikaku") -> Job:
    store.ensure_department(department, session=session)
    made = store.create_job(
        session=session, kind=kind, queue="cpu", department_code=department, submitted_by=None, parameters={}
    )
    made.work_amount, made.state = work, state
    session.flush()
    return made


def test_waiting_pages_count_queued_jobs_and_parts_not_started(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        job(session, "ocr", 30)
        job(session, "ocr", 500, state="succeeded")
        job(session, "transcription", 90)  # another unit
        job(session, "ocr", 40, department="other")
        running = job(session, "ocr", 100, state="running")
        running.attempts = 1
        fairshare.add_parts(running, 1, 4, session=session)
        session.flush()
        fairshare.mark_part_started(running.id, 1, 0, session=session)
    with unit_of_work(factory) as session:
        assert quotas.queued_work("kikaku", "ocr", session=session) == pytest.approx(30 + 75)
        assert quotas.queued_work("kikaku", "transcription", session=session) == 90


def test_a_job_past_the_pages_quota_is_refused_naming_it(factory: sessionmaker[Session]) -> None:
    quota = quotas.Quota(queued_pages=120, queued_audio_minutes=60)
    with unit_of_work(factory) as session:
        job(session, "ocr", 100)
        done = job(session, "ocr", 50, state="succeeded")
        now = utcnow()
        done.started_at, done.finished_at = now - timedelta(seconds=300), now  # 6 s a page
        quotas.check("kikaku", quota, session=session, incoming=quotas.Incoming(0, "ocr", "pages", 20))
        with pytest.raises(quotas.QuotaExceeded) as refused:
            quotas.check("kikaku", quota, session=session, incoming=quotas.Incoming(0, "ocr", "pages", 30))
        assert "処理待ちページ数が上限（120ページ）" in refused.value.message
        assert refused.value.details["limit"] == "queued_pages"
        assert refused.value.retry_after_s == 60  # 10 pages over, 6 s a page
        with pytest.raises(quotas.QuotaExceeded) as alone:
            quotas.check("kikaku", quota, session=session, incoming=quotas.Incoming(0, "ocr", "pages", 121))
        assert "このジョブだけで" in alone.value.message and "ファイルを分けて" in alone.value.message
        with pytest.raises(quotas.QuotaExceeded) as minutes:
            quotas.check(
                "kikaku",
                quota,
                session=session,
                incoming=quotas.Incoming(0, "transcription", "audio_minutes", 61),
            )
        assert "録音時間の上限（60分）" in minutes.value.message
        assert minutes.value.details["limit"] == "queued_audio_minutes"


def test_intake_measures_pages_and_recording_minutes() -> None:
    _, scans = ocr_sample()
    files = [InputFile(p.name, p, "application/pdf", p.stat().st_size) for p in scans]
    assert OCR.measure is not None and OCR.measure(files) == 3 and OCR.quota_unit == "pages"
    _, (audio,) = audio_sample()
    assert TRANSCRIPTION.measure is not None and TRANSCRIPTION.quota_unit == "audio_minutes"
    assert 0.2 < TRANSCRIPTION.measure([InputFile(audio.name, audio, "audio/flac", 1)]) < 5
