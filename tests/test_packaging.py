"""``scripts/check-build.sh`` (``make check-build``, inside ``make test``)
fails when the build backend warns: here on a copy of the project whose
``pyproject.toml`` has the TOML-table licence that setuptools stops
supporting on 2027-02-18. (The real tree passing is ``make check-build``.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_check_build_fails_on_a_deprecation_from_the_backend(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "check-build.sh", tmp_path / "scripts")
    for name in ("README.md", "LICENSE"):
        shutil.copy(REPO / name, tmp_path)
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'license = "MIT"\nlicense-files = ["LICENSE"]\n' in pyproject
    (tmp_path / "pyproject.toml").write_text(
        pyproject.replace('license = "MIT"\nlicense-files = ["LICENSE"]\n', 'license = { text = "MIT" }\n')
    )
    result = subprocess.run(
        [str(tmp_path / "scripts" / "check-build.sh"), sys.executable],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "`project.license` as a TOML table is deprecated" in result.stderr
    assert "check-build: the build backend warned" in result.stderr
