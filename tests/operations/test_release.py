"""The release number is written once in the code (every backup's manifest
carries it) and must agree with the package and the changelog."""

from __future__ import annotations

import tomllib

from jobs.release import RELEASE
from tests.conftest import REPO


def test_the_release_agrees_with_pyproject_and_the_changelog() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == RELEASE
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## Unreleased ({RELEASE})" in changelog or f"## {RELEASE} " in changelog
    assert "## 0.1.0 (commit 54b9c29)" in changelog
