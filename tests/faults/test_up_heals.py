"""``digilabo up`` itself under faults: its cpu worker, its Redis and its API
each SIGKILLed while echo jobs run. The stack stays up (the supervisor
restarts the child), every job finishes exactly once (one ledger entry, no
job left running), and the recovery times are printed for
docs/reliability.md. Then the retention purge is observed under ``up``
(beat every 10 s here, hourly by default).

Heartbeats are fast here (every 1 s, lost after 5 s) so a lost job is found
in seconds; the production defaults are 15 s and 90 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digilabo.embedded import free_port, wait_for
from jobs import auth, store
from jobs.artifacts import ArtifactStore
from jobs.db import make_engine, session_factory, unit_of_work
from jobs.lifecycle import State, transition
from jobs.models import Artifact, Job, LedgerEntry, utcnow
from tests.conftest import REPO, TEST_KINDS
from tests.integration.helpers import submit

pytestmark = pytest.mark.faults

DIGILABO = str(Path(sys.executable).parent / "digilabo")


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    api: httpx.Client
    headers: dict[str, str]
    factory: sessionmaker[Session]
    var: Path
    log: Path
    trace: Path
    env: dict[str, str]

    def close(self) -> None:
        self.api.close()
        bind = self.factory.kw.get("bind")
        if bind is not None:
            bind.dispose()

    def child(self, *words: str) -> int:
        """The pid of the child of ``up`` whose command line has ``words``."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                # Joined: redis-server rewrites its own title into one string.
                command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
            except (OSError, IndexError):
                continue
            if ppid == self.process.pid and all(w.encode() in command for w in words):
                return int(stat.parent.name)
        raise AssertionError(f"no child with {words}")

    def submit(self, count: int, sleep: float) -> list[str]:
        params = {"sleep": sleep, "trace_dir": str(self.trace)}
        ids = []
        for i in range(count):
            response = submit(self.api, self.headers, [(f"{i}.txt", f"{uuid.uuid4()}\n".encode())], params)
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        return ids

    def jobs(self, ids: list[str]) -> list[Job]:
        with self.factory() as session:
            return list(session.scalars(select(Job).where(Job.id.in_(ids))))

    def wait_done(self, ids: list[str], timeout: float) -> float:
        started = time.monotonic()
        wait_for(lambda: all(j.state == "succeeded" for j in self.jobs(ids)), timeout, "the jobs", 0.2)
        return time.monotonic() - started

    def exactly_once(self, ids: list[str]) -> dict[str, int]:
        """Every job succeeded with one ledger entry; its attempts by id."""
        with self.factory() as session:
            entries = dict(
                session.execute(
                    select(LedgerEntry.job_id, func.count())
                    .where(LedgerEntry.job_id.in_(ids))
                    .group_by(LedgerEntry.job_id)
                ).all()
            )
            assert session.scalar(select(func.count()).select_from(Job).where(Job.state == "running")) == 0
        assert entries == dict.fromkeys(ids, 1)
        return {j.id: j.attempts for j in self.jobs(ids)}

    def healthy(self) -> bool:
        try:
            return self.api.get("/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def start_up(root: Path, port: int) -> Up:
    """``digilabo up`` in ``root`` (state in ``root/var``) with the API on
    ``port``, healthy, with a user's token; its output appended to ``root/up.log``."""
    var, trace = root / "var", root / "trace"
    trace.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGILABO_")}
    env.update(
        PYTHONPATH=str(REPO),
        DIGILABO_VAR_DIR=str(var),
        DIGILABO_EXTRA_JOB_KINDS=TEST_KINDS,
        DIGILABO_RUN_AS="",
        DIGILABO_HEARTBEAT_INTERVAL_S="1",
        DIGILABO_HEARTBEAT_TIMEOUT_S="5",
        DIGILABO_REAPER_INTERVAL_S="2",
        DIGILABO_HOUSEKEEPING_INTERVAL_S="10",
    )
    log = root / "up.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [DIGILABO, "up", "--port", str(port), "--allow-root"],
            env=env,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    engine = make_engine(f"sqlite:///{var / 'digilabo.db'}")
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    stack = Up(process, api, {}, session_factory(engine), var, log, trace, env)
    try:
        wait_for(lambda: stack.healthy() or process.poll() is not None, 120, "digilabo up")
        assert process.poll() is None, log.read_text()[-3000:]
        with unit_of_work(stack.factory) as session:
            user = auth.ensure_user("faults-up", session=session, department_code="faults")
            stack.headers = {"Authorization": f"Bearer {auth.create_token(user, session=session)}"}
    except BaseException:
        process.send_signal(signal.SIGINT)
        process.wait(90)
        stack.close()
        raise
    return stack


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    stack = start_up(tmp_path_factory.mktemp("up"), free_port())
    try:
        yield stack
    finally:
        stack.process.send_signal(signal.SIGINT)
        code = stack.process.wait(90)
        stack.close()
    assert code == 0, stack.log.read_text()[-3000:]


def test_worker_killed_under_load(up: Up) -> None:
    ids = up.submit(4, sleep=3)
    wait_for(lambda: any(up.trace.glob("*.runs")), 60, "the first job to start")
    worker = up.child("worker", "cpu")
    os.kill(worker, signal.SIGKILL)  # the worker's main process, as an OOM killer would
    recovered = up.wait_done(ids, 60)
    attempts = up.exactly_once(ids)
    assert sorted(attempts.values()) == [1, 1, 1, 2], attempts
    assert up.process.poll() is None
    wait_for(lambda: "worker-cpu restarted" in up.log.read_text(), 10, "the restart in the log")
    assert up.child("worker", "cpu") != worker
    print(
        f"\nworker SIGKILLed: 4 jobs done {recovered:.1f}s after the kill, attempts {sorted(attempts.values())}"
    )


def test_redis_killed_under_load(up: Up) -> None:
    ids = up.submit(4, sleep=1)
    time.sleep(1.5)  # appendfsync everysec: the AOF has the queued ones
    redis = up.child("redis-server")
    os.kill(redis, signal.SIGKILL)
    recovered = up.wait_done(ids, 60)
    up.exactly_once(ids)
    assert up.process.poll() is None and up.child("redis-server") != redis
    after = up.submit(1, sleep=0)
    up.wait_done(after, 30)
    print(f"\nRedis SIGKILLed: 4 jobs done {recovered:.1f}s after the kill")


def test_api_killed_under_load(up: Up) -> None:
    ids = up.submit(3, sleep=1)
    api = up.child("uvicorn")
    os.kill(api, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: not up.healthy(), 5, "the API to be gone", 0.05)
    wait_for(up.healthy, 60, "the API to answer again", 0.2)
    back = time.monotonic() - killed
    up.wait_done(ids, 60)
    up.exactly_once(ids)
    after = up.submit(1, sleep=0)
    up.wait_done(after, 30)
    assert up.process.poll() is None
    print(f"\nAPI SIGKILLed: answering again after {back:.1f}s")


def test_retention_purge_runs_under_up(up: Up) -> None:
    """A job that finished 100 days ago: beat sends housekeeping, the cpu
    worker purges its files."""
    store_ = ArtifactStore(up.var / "storage")
    blob = store_.put_chunks([f"old recording {uuid.uuid4()}".encode()], 1 << 20)
    with unit_of_work(up.factory) as session:
        job = store.create_job(
            session=session,
            kind="echo",
            queue="cpu",
            department_code="faults",
            submitted_by=None,
            parameters={},
        )
        store.add_artifact(
            session=session,
            job_id=job.id,
            role="input",
            name="old.txt",
            sha256=blob.sha256,
            size=blob.size,
            media_type="text/plain",
        )
        transition(session, job.id, State.RUNNING, attempts=1)
        transition(
            session,
            job.id,
            State.FAILED,
            now=utcnow() - timedelta(days=100),
            error_code="x",
            error_message="x",
        )
        job_id = job.id
    started = time.monotonic()

    def purged() -> bool:
        with up.factory() as session:
            return session.scalar(select(Artifact.purged_at).where(Artifact.job_id == job_id)) is not None

    wait_for(purged, 60, "the retention purge")
    assert not blob.path.exists()
    print(
        f"\nretention purge under up: {time.monotonic() - started:.1f}s after the job was written (beat every 10s)"
    )


def test_state_is_owner_only_and_redis_wants_its_password(up: Up) -> None:
    import redis

    password_file = up.var / "redis" / "password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    for path in (up.var / "digilabo.db", *(up.var / "storage" / "blobs").rglob("*")):
        assert path.stat().st_mode & 0o077 == 0, (path, oct(path.stat().st_mode))
    for folder in (up.var, up.var / "redis", up.var / "storage", up.var / "storage" / "blobs"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    command = Path(f"/proc/{up.child('redis-server')}/cmdline").read_bytes().decode()
    port = int(command.replace("\0", " ").split(":")[-1].split()[0])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).ping()
    assert redis.Redis(port=port, password=password_file.read_text().strip()).ping()
    assert password_file.read_text().strip() not in up.log.read_text()
