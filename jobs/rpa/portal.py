"""The entry kind's portal pieces: the approved scripts a department chooses
from, Japanese labels for script and record states, the records file input,
the counts on an entry job's page (``templates/job.html``), and the settings
operators must add (the queues page). Plain declarations: the portal renders
them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from jobs.adapters import FileInput, FormField, PortalKind
from jobs.rpa import scripts
from jobs.rpa.intake_check import missing_setting
from jobs.rpa.kind import SAMPLES
from jobs.rpa.results import STATE_LABELS
from jobs.rpa.script import parse_script
from jobs.store import Viewer

STATUS_LABELS = {"pending": "承認待ち", "approved": "承認済み"}
INVALID_ROWS = (
    ("skip", "不備のある行を飛ばす"),
    ("reject", "一件でも不備があれば全体を受け付けない"),
)
# The counts on an entry job's page, in this order; the others only when not zero.
SHOWN_ALWAYS = ("entered", "duplicate", "rejected", "invalid", "failed")
SHOWN_IF_ANY = ("checked", "in_flight", "pending")


def install_samples(*, session: Session) -> None:
    """The bundled sample scripts, approved by the system on first use (as
    intake does when a job names one); only for ids nobody has uploaded."""
    known = {row.script_id for row in scripts.list_scripts(session=session)}
    for path in sorted(SAMPLES.glob("*.yaml")):
        if path.stem not in known:
            scripts.get(path.stem, None, session=session)


def approved_newest(*, session: Session) -> list[scripts.RpaScript]:
    """The newest approved version of every script, by id."""
    install_samples(session=session)
    newest: dict[str, scripts.RpaScript] = {}
    for row in scripts.list_scripts(session=session):  # newest version first
        if row.status == "approved" and row.script_id not in newest:
            newest[row.script_id] = row
    return list(newest.values())


def script_choices(session: Session, _viewer: Viewer) -> list[tuple[str, str]]:
    """New-job choices: the script id (intake takes its newest approved version)."""
    return [
        # Names, not ids: the department picks by what the script does.
        (r.script_id, f"{r.name}（第{r.version}版）")
        for r in approved_newest(session=session)
    ]


def invalid_rows_choices(_session: Session, _viewer: Viewer) -> list[tuple[str, str]]:
    return list(INVALID_ROWS)


def record_counts(summary: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """(state, Japanese label, count) for an entry job's summary."""
    shown = [*SHOWN_ALWAYS, *[s for s in SHOWN_IF_ANY if summary.get(s)]]
    return [(s, STATE_LABELS.get(s, s), int(summary.get(s) or 0)) for s in shown]


def setup_problems(*, session: Session, options: Mapping[str, Any]) -> list[dict[str, str]]:
    """Approved scripts intake refuses for want of a setting, with the
    setting (for operators' eyes only: the queues page)."""
    problems = []
    for row in approved_newest(session=session):
        script = parse_script(row.text)
        setting = missing_setting(script, options)
        if setting:
            problems.append(
                {
                    "script": f"{row.script_id}@{row.version}",
                    "name": row.name,
                    "credential": script.target.credential,
                    "setting": setting,
                }
            )
    return problems


def job_context(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {"record_counts": record_counts(summary) if "records" in summary else []}


PORTAL = PortalKind(
    fields=(
        FormField(
            "script",
            "入力スクリプト",
            kind="select",
            required=True,
            help="承認済みの入力スクリプトの最新版で入力します。一覧にないときは運用担当に登録を依頼してください。",
            max_length=120,
            choices=script_choices,
        ),
        FormField(
            "invalid_rows",
            "不備のある行",
            kind="select",
            max_length=20,
            choices=invalid_rows_choices,
            default="skip",
        ),
        FormField(
            "dry_run",
            "確認のみ（登録しない）",
            kind="checkbox",
            help="入力データと画面の流れを確かめるだけで、財務会計システムには登録しません。",
        ),
    ),
    file_input=FileInput(
        "入力データ（CSV・XLSX）と添付書類（ZIP）",
        ".csv,.xlsx,.zip",
        "1行目が見出しの表です（見出しは入力スクリプトの列名）。"
        "書類を添付する入力スクリプトでは、その書類をまとめたZIPも一緒に選んでください。"
        "入力スクリプトのファイルは添付しないでください。",
    ),
    value_labels={
        "invalid_rows": dict(INVALID_ROWS),
        "dry_run": {True: "はい（登録しない）", False: "いいえ"},
    },
    templates=Path(__file__).parent / "templates",
    job_fragment="job.html",
    job_context=job_context,
)
