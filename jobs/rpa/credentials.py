"""Named credentials for target systems.

Scripts name a credential (``zaimu_demo``); the value comes from the worker's
environment (``DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER`` / ``_PASSWORD``) or from
a secrets file only the service user can read. The value object never prints
its password, so a stray log line or exception cannot leak it.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobs.errors import JobInputError
from jobs.rpa.options import EntryOptions


@dataclass(frozen=True)
class Credential:
    name: str
    user: str = field(repr=False)
    password: str = field(repr=False)

    def template_values(self) -> dict[str, str]:
        return {"user": self.user, "password": self.password}

    def secrets(self) -> tuple[str, ...]:
        return tuple(v for v in (self.user, self.password) if v)


def env_prefix(name: str) -> str:
    return "DIGILABO_CREDENTIAL_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def _missing(name: str) -> JobInputError:
    return JobInputError(
        "missing_credential",
        f"資格情報「{name}」が設定されていません。運用担当者に {env_prefix(name)}_USER / _PASSWORD "
        "の設定を依頼してください。",
        credential=name,
    )


def _from_file(path: Path, name: str) -> Credential | None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # A secrets file others can read is a leak already; refuse to use it.
        raise JobInputError(
            "insecure_secrets_file",
            "資格情報ファイルはサービス利用者だけが読めるようにしてください（chmod 600）。",
        )
    text = path.read_text(encoding="utf-8")
    data: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    entry = (data or {}).get(name) if isinstance(data, dict) else None
    if not isinstance(entry, dict) or not entry.get("user") or "password" not in entry:
        return None
    return Credential(name, str(entry["user"]), str(entry["password"]))


def resolve(name: str, options: EntryOptions, environ: Mapping[str, str] | None = None) -> Credential:
    """The credential called ``name``: environment first, then the secrets file."""
    env = os.environ if environ is None else environ
    prefix = env_prefix(name)
    user, password = env.get(f"{prefix}_USER"), env.get(f"{prefix}_PASSWORD")
    if user and password is not None:
        return Credential(name, user, password)
    secrets_file = options.secrets_file
    if secrets_file and Path(secrets_file).is_file():
        found = _from_file(Path(secrets_file), name)
        if found is not None:
            return found
    raise _missing(name)
