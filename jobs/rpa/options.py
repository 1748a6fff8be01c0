"""The bulk-entry kind's options and parameters, typed.

``EntryOptions`` is what the worker hands the core, built once per process by
``options_from`` from the settings values (``DIGILABO_CHROMIUM_PATH``,
``_RPA_TARGET_URLS``, ``_RPA_SECRETS_FILE``, the ``_RPA_*`` liveness figures)
and the record ledger the composition root built on its database
(``jobs.rpa.kind.resources``). ``EntryParams`` is what ``validate_params``
builds from a request's JSON (the job keeps the JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from jobs.rpa.ledger import RecordLedger
from jobs.rpa.liveness import Timings

LEDGER = "rpa_ledger"  # the resource's name among the settings values


@dataclass(frozen=True)
class EntryOptions:
    # None where no composition root built one: the core then refuses to run.
    ledger: RecordLedger | None = None
    chromium_path: str | None = None  # None: Debian's chromium where found
    headless: bool = True
    # {target name: base URL}, overriding the script's own.
    target_urls: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # A file (mode 0600) for credentials not in DIGILABO_CREDENTIAL_<NAME>_*.
    secrets_file: str | None = None
    timings: Timings = field(default_factory=Timings)

    @classmethod
    def of(cls, options: Any) -> EntryOptions:
        """The typed options, also from a plain mapping (tests)."""
        return options if isinstance(options, cls) else options_from(options or {})


def options_from(values: Mapping[str, Any]) -> EntryOptions:
    chromium = values.get("chromium_path")
    secrets = values.get("rpa_secrets_file")
    return EntryOptions(
        ledger=values.get(LEDGER),
        chromium_path=str(chromium) if chromium else None,
        headless=bool(values.get("rpa_headless", True)),
        target_urls=MappingProxyType(dict(values.get("rpa_target_urls") or {})),
        secrets_file=str(secrets) if secrets else None,
        timings=Timings.from_options(values),
    )


@dataclass(frozen=True)
class EntryParams:
    invalid_rows: str = "skip"  # skip | reject
    dry_run: bool = False
    script_sha256: str | None = None
    # Set by intake from the approved script (``jobs.rpa.scripts``).
    script_id: Any = None
    script_version: Any = None
    script_text: Any = None
    given: frozenset[str] = frozenset()  # which script_* keys the request holds

    def as_json(self) -> dict[str, Any]:
        """The JSON the job keeps (only the script keys given)."""
        value: dict[str, Any] = {"invalid_rows": self.invalid_rows, "dry_run": self.dry_run}
        if self.script_sha256 is not None:
            value["script_sha256"] = self.script_sha256
        for key in ("script_id", "script_version", "script_text"):
            if key in self.given:
                value[key] = getattr(self, key)
        return value
