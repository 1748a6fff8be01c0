"""What a long-running process does first: an owner-only umask, and no root.

``digilabo up``, ``worker``, ``beat``, ``exporter`` and ``demo`` call
``secure_process``. Started as root, the process drops to the service user
(``DIGILABO_RUN_AS``, default ``digilabo``) when that user exists, after
handing it the state folders; without it, it refuses with advice unless
``DIGILABO_ALLOW_ROOT`` is set (CI containers, which run everything as root).
Children inherit the umask and the user.
"""

from __future__ import annotations

import logging
import os
import pwd
from pathlib import Path

from config.settings import Settings

log = logging.getLogger(__name__)

UMASK = 0o077


class RootRefused(RuntimeError):
    pass


def advice(user: str) -> str:
    return (
        f"refusing to run as root: create the service user ('useradd --system {user}'; the "
        f"process then switches to it), run as another user, or set DIGILABO_ALLOW_ROOT=1"
    )


def secure_process(settings: Settings) -> str:
    """Set the umask and leave root; returns the user the process runs as."""
    os.umask(UMASK)
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        target = pwd.getpwnam(settings.run_as) if settings.run_as else None
    except KeyError:
        target = None
    if target is not None and target.pw_uid != 0:
        drop_to(target, folders=[settings.var_dir, settings.storage])
        for folder in (settings.var_dir, settings.storage):
            if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
                raise RootRefused(
                    f"switched to {target.pw_name}, which cannot reach {folder.resolve()}: "
                    "let it through the folders above (chmod o+x) or move DIGILABO_VAR_DIR"
                )
        return target.pw_name
    if settings.allow_root:
        log.warning("running as root (DIGILABO_ALLOW_ROOT is set)")
        return "root"
    raise RootRefused(advice(settings.run_as or "digilabo"))


def drop_to(user: pwd.struct_passwd, *, folders: list[Path]) -> None:
    """Give ``folders`` to ``user`` and become it (group first, then user)."""
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for path in (folder, *folder.rglob("*")):
            os.lchown(path, user.pw_uid, user.pw_gid)
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    os.environ["HOME"] = user.pw_dir
    log.info("running as %s", user.pw_name)
