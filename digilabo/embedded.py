"""Processes the embedded stack starts: a Redis from the ``redis-server``
binary, the API and one worker per pool.

Nothing assumes a standard port is free: Redis always gets a free port, and
the API falls back to one when its configured port is taken.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from digilabo.lifeline import SUPERVISOR_ENV, die_with_parent

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """No one listens there. SO_REUSEADDR as uvicorn binds: connections of a
    stopped server left in TIME_WAIT do not count (a restart takes its port again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``condition`` until it holds; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Child:
    """A child process with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int, *, group: bool = False) -> None:
        """Send ``sig`` to the child's main process (Celery's warm shutdown
        wants it there alone), or to its whole process group."""
        with suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(self.process.pid, sig)
            elif self.alive():
                self.process.send_signal(sig)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (Celery's warm shutdown, uvicorn's graceful stop), then
        SIGKILL to the whole process group if it does not go."""
        if self.alive():
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", self.name, timeout)
        self.finish()

    def finish(self) -> None:
        """SIGKILL to what is left of the process group (pool processes a
        crashed parent may have left too), reap the child, close its log."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self._log:
            self._log.close()

    def tail(self, lines: int = 20) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def spawn(name: str, argv: list[str], *, env: dict[str, str], log_path: Path | None) -> Child:
    """Start a child in its own process group, output to ``log_path`` (or
    inherited when None). It gets SIGTERM when this process dies
    (``digilabo.lifeline``): call it from the thread that lives longest."""
    out: IO[bytes] | None = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = log_path.open("ab")
    process = subprocess.Popen(
        argv,
        env={**env, SUPERVISOR_ENV: str(os.getpid())},
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
        # Between fork and exec it only calls prctl and getppid: no lock to deadlock on.
        preexec_fn=die_with_parent(),
    )
    return Child(name, process, log_path, out)


def redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if not found:
        raise RuntimeError("redis-server not found: run 'make install' (Debian package redis-server)")
    return found


def secret_file(path: Path) -> str:
    """A random secret kept in ``path`` (mode 0600), created on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    os.chmod(path, 0o600)
    return path.read_text().strip()


def start_redis(
    data_dir: Path,
    *,
    port: int | None = None,
    log_path: Path | None = None,
    appendonly: bool = True,
    password: str | None = None,
) -> tuple[Child, str]:
    """A private redis-server on 127.0.0.1 with AOF (fsync every second) in
    ``data_dir``, so queued jobs survive a restart of the embedded stack.
    With ``password``, clients must authenticate; it is handed to redis-server
    in a 0600 config file, never on its command line (``ps`` shows that)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    port = port or free_port()
    config: list[str] = []
    if password:
        conf = data_dir / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"requirepass {password}\n")
        config = [str(conf.resolve())]
    argv = [
        redis_binary(),
        *config,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data_dir.resolve()),
        "--appendonly",
        "yes" if appendonly else "no",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--protected-mode",
        "yes",
        "--daemonize",
        "no",
    ]
    child = spawn("redis", argv, env=dict(os.environ), log_path=log_path or data_dir / "redis.log")
    try:
        wait_for(lambda: _port_open(port) or not child.alive(), 20, "redis-server to listen")
        if not child.alive():
            raise RuntimeError(f"redis-server exited:\n{child.tail()}")
    except BaseException:
        child.stop()
        raise
    auth = f":{password}@" if password else ""
    return child, f"redis://{auth}127.0.0.1:{port}/0"


def mask_url(url: str) -> str:
    """A URL with its password replaced by ``***`` (for terminals and logs)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]


def start_standin(
    folder: Path,
    *,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    user: str | None = None,
    system: str = "a",
    port: int = 0,
    name: str = "standin",
) -> tuple[Child, str]:
    """The stand-in financial system ``system`` (a or b) on ``port``, or on a
    free port (it binds port 0 and writes the port it got), with its database
    in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    port_file = folder / "standin.port"
    port_file.unlink(missing_ok=True)
    argv = python_argv(
        "-m",
        "standin",
        "--port",
        str(port),
        "--port-file",
        str(port_file),
        "--db",
        str(folder / "standin.db"),
    )
    if user:
        argv += ["--user", user]
    if system != "a":
        argv += ["--system", system]
    child = spawn(name, argv, env=env or dict(os.environ), log_path=log_path or folder / "standin.log")
    try:
        wait_for(lambda: port_file.exists() or not child.alive(), 30, "the stand-in financial system")
        if not child.alive():
            raise RuntimeError(f"the stand-in app exited:\n{child.tail()}")
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        wait_for(lambda: _port_open(int(port_file.read_text().strip())), 30, "the stand-in to listen")
    except BaseException:
        child.stop()
        raise
    return child, url
