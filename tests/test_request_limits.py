"""The request cap and the parameter limits with the production defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from intake_api.main import create_app
from jobs.errors import JobInputError
from jobs.jsonlimits import load_object, nesting_depth


def test_a_request_declaring_3_gb_is_refused_before_its_body_with_the_default_cap(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")
    assert settings.max_request_bytes < 3_000_000_000 < settings.max_upload_bytes * settings.max_files_per_job
    api = TestClient(create_app(settings))  # no lifespan: nothing behind the cap is reached
    response = api.post(
        "/api/v1/jobs",
        headers={"Content-Type": "multipart/form-data; boundary=x", "Content-Length": "3000000000"},
        content=b"--x--\r\n",
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large" and "大きすぎます" in error["message"]
    assert f"{settings.max_request_bytes:,}" in error["message"]


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert nesting_depth('{"a": "[[[{{{\\"]]]", "b": [[1]]}') == 3
    assert nesting_depth("[" * 10_000 + "]" * 10_000) == 10_000


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ('{"a": ' + "[" * 40 + "]" * 40 + "}", "parameters_too_deep", ("41段", "上限 16段")),
        ('{"a": "' + "x" * 70_000 + '"}', "parameters_too_large", ("上限 65,536バイト",)),
        ("{not json", "invalid_parameters", ("1行2文字目",)),
        ("[1]", "invalid_parameters", ("JSONオブジェクト",)),
    ],
)
def test_parameters_outside_the_limits_name_their_problem(
    raw: str, code: str, words: tuple[str, ...]
) -> None:
    with pytest.raises(JobInputError) as caught:
        load_object(raw, max_bytes=64 * 1024, max_depth=16)
    assert caught.value.code == code and caught.value.http_status == 422
    for word in words:
        assert word in caught.value.message


def test_parameters_within_the_limits_load() -> None:
    assert load_object('{"template": "a", "nested": {"b": [1, 2]}}', max_bytes=1024, max_depth=16) == {
        "template": "a",
        "nested": {"b": [1, 2]},
    }
