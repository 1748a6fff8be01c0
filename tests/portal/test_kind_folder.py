"""A kind is one folder: the test kind (tests/support/echo/) brings its own
new-job note, job-page fragment and CLI sub-command, declared on its
JobKind, with no line of the portal or the command naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO, TEST_KINDS, Service
from tests.integration.helpers import wait_until
from tests.portal.conftest import Person

ECHO = REPO / "tests" / "support" / "echo"


def test_the_kinds_fragments_show_on_its_pages(
    service: Service, dept: str, person: Callable[..., Person]
) -> None:
    staff = person(dept)
    form = staff.client.get("/portal/jobs/new?kind=echo")
    assert 'id="echo-note"' in form.text and "param_name_0" in form.text
    other = staff.client.get("/portal/jobs/new?kind=ocr")
    assert 'id="echo-note"' not in other.text
    answer = staff.post(
        "/portal/jobs/new",
        {"kind": "echo"},
        token_from="/portal/jobs/new?kind=echo",
        files=[("files", ("three.txt", b"one\ntwo\nthree\n", "text/plain"))],
    )
    assert answer.status_code == 303, answer.text
    job_url = answer.headers["location"]
    wait_until(lambda: 'id="echo-lines"' in staff.client.get(job_url).text, 60, "the echo job's page")
    assert "3行" in staff.client.get(job_url).text


def test_the_kinds_cli_sub_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    env.update(DIGILABO_VAR_DIR=str(tmp_path / "var"), DIGILABO_EXTRA_JOB_KINDS=TEST_KINDS)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    argv = [
        sys.executable,
        "-m",
        "digilabo",
        "echo",
        str(ECHO / "samples" / "hello.txt"),
        "-o",
        str(tmp_path),
    ]
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "hello.upper.txt").read_text(encoding="utf-8") == "HELLO DIGILABO\nSECOND LINE\n"
    without = subprocess.run(
        [sys.executable, "-m", "digilabo", "--help"],
        env={**env, "DIGILABO_EXTRA_JOB_KINDS": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert " echo " not in without.stdout and " ocr " in without.stdout
