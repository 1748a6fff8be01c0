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
