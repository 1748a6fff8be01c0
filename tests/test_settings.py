from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.settings import Settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DIGILABO_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DIGILABO_EXTRA_JOB_KINDS", "a.b:C, d.e:F")
    monkeypatch.setenv("DIGILABO_BASELINES", '{"minutes": 240}')
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'digilabo.db'}"
    assert settings.redis_url == ""
    assert settings.annual_target_hours == 30_000
    assert settings.extra_job_kinds == ["a.b:C", "d.e:F"]
    assert settings.baselines == {"minutes": 240.0}
    assert settings.storage == (tmp_path / "storage").resolve()
    # Child processes get the same settings back from the environment.
    for key, value in settings.as_env().items():
        monkeypatch.setenv(key, value)
    assert Settings() == settings


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("redis_url", "http://x"),
        ("time_limits", {"cpu": (100, 50)}),
        ("retention_days", 0),
        ("max_upload_bytes", 0),
    ],
)
def test_bad_values_are_refused_at_start(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_each_kind_gets_its_typed_options_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from jobs.db import make_engine, session_factory
    from jobs.ocr.options import OcrOptions
    from jobs.registry import build_registry, kind_options
    from jobs.rpa.ledger import SqlRecordLedger
    from jobs.rpa.liveness import Timings
    from jobs.rpa.options import EntryOptions
    from jobs.transcription.options import TranscriptionOptions

    monkeypatch.setenv("DIGILABO_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DIGILABO_MAX_OCR_PAGES", "7")
    monkeypatch.setenv("DIGILABO_TRANSCRIPTION_PART_SECONDS", "120")
    monkeypatch.setenv("DIGILABO_RPA_HEARTBEAT_SECONDS", "2")
    monkeypatch.setenv("DIGILABO_RPA_TARGET_URLS", '{"zaimu": "http://127.0.0.1:9"}')
    settings = Settings(extra_job_kinds=["tests.support.echo.kind:ECHO"])
    engine = make_engine(settings.database_url)
    try:
        registry = build_registry(settings.extra_job_kinds)
        options = kind_options(registry, settings.kind_options(), session_factory(engine))
    finally:
        engine.dispose()
    assert options["ocr"] == OcrOptions(max_pages=7)
    transcription = options["transcription"]
    assert isinstance(transcription, TranscriptionOptions)
    assert transcription.part_seconds == 120.0
    assert transcription.model_cache_dir == str((tmp_path / "models").resolve())
    entry = options["rpa_entry"]
    assert isinstance(entry, EntryOptions)
    assert isinstance(entry.ledger, SqlRecordLedger)
    assert entry.timings == Timings(heartbeat_seconds=2.0)
    assert dict(entry.target_urls) == {"zaimu": "http://127.0.0.1:9"}
    # A kind without an options type gets the plain values.
    assert options["echo"]["max_ocr_pages"] == 7
    assert {k.name: k.options_type for k in registry.all()} == {
        "echo": None,
        "ocr": OcrOptions,
        "rpa_entry": EntryOptions,
        "transcription": TranscriptionOptions,
    }
