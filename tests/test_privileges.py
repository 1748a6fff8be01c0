"""Processes started as root leave it (or refuse), with an owner-only umask.
The suite runs as root (CI), which is what these tests need."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as the suite has in CI")

PROBE = """
import os
from digilabo.privileges import RootRefused, secure_process
from config.settings import Settings
try:
    user = secure_process(Settings())
except RootRefused as exc:
    print("refused:", exc)
else:
    open(os.path.join(os.environ["DIGILABO_VAR_DIR"], "made-by-child"), "w").close()
    print(user, os.getuid(), oct(os.umask(0)))
"""


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder the service user can reach (pytest's own are root's, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="digilabo-priv-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def probe(tmp_path: Path, **env: str) -> str:
    var = tmp_path / "var"
    (var / "storage").mkdir(parents=True)
    (var / "digilabo.db").write_text("")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, "PYTHONPATH": str(REPO), "DIGILABO_VAR_DIR": str(var), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_root_drops_to_the_service_user_and_hands_it_the_state(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    assert probe(tmp_path, DIGILABO_RUN_AS="nobody") == f"nobody {nobody.pw_uid} 0o77"
    for path in (tmp_path / "var", tmp_path / "var" / "digilabo.db", tmp_path / "var" / "storage"):
        assert path.stat().st_uid == nobody.pw_uid, path
    made = tmp_path / "var" / "made-by-child"
    assert made.stat().st_uid == nobody.pw_uid and made.stat().st_mode & 0o777 == 0o600


def test_root_without_the_service_user_is_refused_with_advice(tmp_path: Path) -> None:
    out = probe(tmp_path, DIGILABO_RUN_AS="no-such-user-d1")
    assert (
        out.startswith("refused:")
        and "useradd --system no-such-user-d1" in out
        and "DIGILABO_ALLOW_ROOT" in out
    )


def test_a_service_user_that_cannot_reach_the_state_is_refused_clearly(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    out = probe(tmp_path, DIGILABO_RUN_AS="nobody")
    assert out.startswith("refused: switched to nobody, which cannot reach") and "chmod o+x" in out


def test_root_is_kept_only_when_allowed(tmp_path: Path) -> None:
    assert probe(tmp_path, DIGILABO_RUN_AS="no-such-user-d1", DIGILABO_ALLOW_ROOT="1") == "root 0 0o77"
