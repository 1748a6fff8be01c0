"""What intake checks of an entry job before accepting it: the script's
credential is configured, and the records file reads and has the script's
required columns. A job that would fail on the worker for these reasons is
refused at upload instead of failing after it was queued."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from jobs.errors import JobInputError
from jobs.registry import InputFile
from jobs.rpa import credentials
from jobs.rpa.attachments import Attachments, is_attachments
from jobs.rpa.options import EntryOptions
from jobs.rpa.records import read_records
from jobs.rpa.script import Script, parse_script
from jobs.rpa.validate import check_headers

log = logging.getLogger(__name__)

# What department staff (and API clients) are told: never a setting name.
UNAVAILABLE_JA = "この入力は現在ご利用いただけません。デジラボにお問い合わせください。"


class SetupMissing(JobInputError):
    """The service is not set up for this job (an operator's task, not the
    department's); ``setting`` names what is missing, for operators only."""

    code = "entry_unavailable"
    http_status = 409

    def __init__(self, setting: str, script_id: str) -> None:
        super().__init__(None, UNAVAILABLE_JA, script=script_id)
        self.setting = setting


def credential_configured(
    name: str, options: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> bool:
    """Whether ``credentials.resolve`` would find the credential (no value is
    kept). ``options``: the settings values (intake) or the kind's options."""
    try:
        credentials.resolve(name, EntryOptions.of(options), environ)
    except JobInputError:
        return False
    return True


def missing_setting(
    script: Script, options: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> str:
    """The setting an operator must add for the script, or "" when none."""
    name = script.target.credential
    if credential_configured(name, options, environ):
        return ""
    return f"{credentials.env_prefix(name)}_USER / _PASSWORD"


def check_intake(params: Mapping[str, Any], inputs: Sequence[InputFile], options: Mapping[str, Any]) -> None:
    """Refuse the job now if it cannot run: SetupMissing (operators' part)
    or JobInputError about the records (the department's part)."""
    script = parse_script(str(params["script_text"]))
    setting = missing_setting(script, options)
    if setting:
        log.warning("entry script %s refused at intake: %s is not set", params.get("script_id"), setting)
        raise SetupMissing(setting, str(params.get("script_id", "")))
    zips = [item for item in inputs if is_attachments(item.name, item.media_type)]
    records = [item for item in inputs if item not in zips]
    if len(records) != 1 or len(zips) > 1:
        raise JobInputError(
            "invalid_inputs", "レコードファイル1つ（と、添付する書類があればそのZIP1つ）を指定してください。"
        )
    if zips and not script.upload_columns:
        raise JobInputError(
            "invalid_inputs", "この入力スクリプトは添付ファイルを使いません。ZIPを外して登録してください。"
        )
    for item in zips:
        Attachments.open(item.path)  # readable, within the limits
    check_headers(script, read_records(records[0].path, records[0].name))
