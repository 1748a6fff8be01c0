"""The bulk financial-system entry job kind: what the registry loads.

Inputs: the approved entry script (YAML, attached by intake from the approved
version; its sha256 in ``script_sha256``), the department's records
(CSV or XLSX) and, for a script that attaches files, a ZIP of those files. Options the worker passes: ``jobs.rpa.options.EntryOptions``
(the record ledger on the process's database, built by ``resources``, the
Chromium path, target URLs, the secrets file and the liveness ``Timings``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from jobs.errors import JobInputError
from jobs.registry import JobKind, lazy
from jobs.rpa.core import run
from jobs.rpa.options import LEDGER, EntryOptions, EntryParams, options_from

SAMPLES = Path(__file__).parent / "samples"
MEDIA_TYPES = frozenset(
    {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/plain",
        # The scanned forms ``upload`` steps attach, zipped (see jobs.rpa.attachments).
        "application/zip",
    }
)
# A person typing one payment record into the financial system (measured: a
# 3-hour registration run of ~200 records). Scripts carry their own figure.
DEFAULT_SECONDS_PER_RECORD = 54.0


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    invalid_rows = params.get("invalid_rows", "skip")
    if invalid_rows not in ("skip", "reject"):
        raise JobInputError(
            "invalid_parameters",
            "invalid_rows は skip または reject で指定してください。",
            field="invalid_rows",
        )
    dry = params.get("dry_run", False)
    if not isinstance(dry, bool):
        dry = str(dry).lower() in ("1", "true", "yes")
    sha = params.get("script_sha256")
    if sha is not None and (not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise JobInputError("invalid_parameters", "script_sha256 が正しくありません。", field="script_sha256")
    keys = ("script_id", "script_version", "script_text")
    return EntryParams(
        invalid_rows=invalid_rows,
        dry_run=dry,
        script_sha256=sha,
        given=frozenset(k for k in keys if k in params),
        **{k: params[k] for k in keys if k in params},
    ).as_json()


def resources(factory: sessionmaker[Session]) -> dict[str, Any]:
    """The record ledger, on the composition root's session factory."""
    from jobs.rpa.ledger import SqlRecordLedger

    return {LEDGER: SqlRecordLedger(factory)}


def sample() -> tuple[dict[str, Any], list[Path]]:
    """The demo: the bundled script (approved on first use) and 20 records
    against the stand-in app."""
    return {"invalid_rows": "skip", "script": "shishutsu_futan"}, [SAMPLES / "records.csv"]


KIND = JobKind(
    name="rpa_entry",
    label_ja="財務会計システム一括入力",
    queue="rpa",
    service="rpa",
    unit_name="records",
    unit_label_ja="入力件数（件）",
    unit_ja="件",
    default_seconds_per_unit=DEFAULT_SECONDS_PER_RECORD,
    accepted_media_types=MEDIA_TYPES,
    run=run,
    validate_params=validate_params,
    options_type=EntryOptions,
    options_from=options_from,
    params_type=EntryParams,
    # The records (and, for scripts with ``upload`` steps, a ZIP of the files
    # to attach): the approved script is attached by intake.
    min_files=1,
    max_files=2,
    soft_time_limit=4 * 3600,
    time_limit=4 * 3600 + 300,
    sample=sample,
    resolve_params=lazy("jobs.rpa.scripts:resolve_params"),
    public_params=lazy("jobs.rpa.scripts:public_params"),
    check_intake=lazy("jobs.rpa.intake_check:check_intake"),
    resources=resources,
    cli="jobs.rpa.cli:register",
    portal="jobs.rpa.portal:PORTAL",
)
