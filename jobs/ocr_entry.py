"""OCR into entry (「確認後に入力」): a department sends forms once, a person
reviews the OCR job, and the confirmed rows are typed by an entry job that is
created when the OCR job succeeds.

The pieces, all in the caller's transaction:
- ``check_script``: when an entry script with ``from_ocr`` is approved, its
  template exists and has every field the mapping reads.
- ``resolve_request``: OCR intake turns ``entry_script`` into the approved
  ``id@version`` whose mapping fits the job's template.
- ``start_entry``: the OCR kind's success hook. It writes the confirmed forms
  as a records sheet (the entry job's one input, so a department can see what
  was typed) and records the entry job, linked by ``source_job_id``; the fair
  dispatcher releases it like any other job.
- ``link``: what job pages show of the pair.

Forms the OCR could not read (another form, an unreadable page) never become
records; values the script's own column checks refuse are invalid rows of
the entry job (``invalid_rows: skip``) and are never typed either.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import store
from jobs.artifacts import ArtifactStore
from jobs.errors import JobInputError, NotFound
from jobs.models import Job
from jobs.rpa.from_ocr import FromOcr, Source, unknown_fields
from jobs.rpa.script import Script, parse_script

log = logging.getLogger(__name__)

ENTRY_KEY = "entry_script"  # the OCR job's parameter
ENTRY_KIND = "rpa_entry"
RECORDS_NAME = "ocr-records.csv"
FORM_HEADER, FILE_HEADER = "OCR帳票番号", "OCRファイル"
MAX_RECORDS_BYTES = 16 * 1024 * 1024
SYSTEM = store.Viewer(user_id=None, name="system", department_code="", role="admin")
NOT_READ_JA = {"template_mismatch": "帳票不一致", "unreadable": "読取不可"}


# --- the template a mapping reads ----------------------------------------------------------


def template_columns(stored: Mapping[str, Any]) -> list[str]:
    """The keys a form of this stored template has in forms.json: its output
    fields and construct columns (``name#part``)."""
    from jobs.ocr.document import columns, forms_document
    from jobs.ocr.template import template_from_dict

    return [key for key, _ in columns(forms_document([], [template_from_dict(stored)]))]


def _check_fields(mapping: FromOcr, stored: Mapping[str, Any], script_name: str) -> None:
    missing = unknown_fields(mapping, template_columns(stored))
    if missing:
        definition = stored.get("definition", {})
        raise JobInputError(
            "unknown_template_field",
            f"入力スクリプト「{script_name}」の from_ocr.columns が読む項目「{'」「'.join(missing)}」は"
            f"帳票定義「{definition.get('id')}@{definition.get('version')}」にありません。",
            fields=missing,
        )


def check_script(script: Script, *, session: Session) -> None:
    """At approval: the template of ``from_ocr`` exists (its newest version)
    and has every field the mapping reads. Raises JobInputError naming them."""
    from jobs.ocr.store import get_version

    if script.from_ocr is None:
        return
    try:
        row = get_version(script.from_ocr.template, None, session=session)
    except NotFound:
        raise JobInputError(
            "unknown_template",
            f"入力スクリプト「{script.name}」の from_ocr.template「{script.from_ocr.template}」は"
            "登録されていない帳票定義です。",
        ) from None
    _check_fields(script.from_ocr, row.stored, script.name)


# --- the request, at OCR intake ------------------------------------------------------------------


def _job_templates(params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [params["template"]] if "template" in params else list(params.get("templates") or [])


def resolve_request(params: Mapping[str, Any], session: Session) -> str:
    """The OCR job's ``entry_script`` (an id, or ``id@version``) as the
    approved ``id@version`` whose mapping reads the job's template;
    ``params`` hold the resolved template definitions."""
    from jobs.rpa import scripts

    ref = params.get(ENTRY_KEY)
    if not isinstance(ref, str) or not ref.strip():
        raise JobInputError(
            "invalid_parameters", "確認後に入力する入力スクリプトのIDを指定してください。", field=ENTRY_KEY
        )
    name, _, version = ref.strip().partition("@")
    try:
        row = scripts.get(name, int(version) if version.isdigit() else None, session=session)
    except NotFound as exc:
        raise JobInputError("script_not_approved", exc.message, field=ENTRY_KEY) from None
    script = parse_script(row.text)
    if script.from_ocr is None:
        raise JobInputError(
            "script_not_for_ocr",
            f"入力スクリプト「{script.name}」はOCR結果からの入力（from_ocr）に対応していません。",
            field=ENTRY_KEY,
        )
    stored = [t for t in _job_templates(params) if _template_id(t) == script.from_ocr.template]
    if not stored:
        raise JobInputError(
            "script_template_mismatch",
            f"入力スクリプト「{script.name}」は帳票定義「{script.from_ocr.template}」の読取結果を入力するものです。"
            "同じ帳票定義で依頼してください。",
            field=ENTRY_KEY,
        )
    # The job reads with the version it names, which may be older than the
    # one the script was approved against.
    _check_fields(script.from_ocr, stored[0], script.name)
    return f"{row.script_id}@{row.version}"


def check_setup(params: Mapping[str, Any], options: Mapping[str, Any], *, session: Session) -> None:
    """At OCR intake, after ``resolve_request``: the entry script's
    credential is configured (else the same refusal an entry job gets), so a
    department does not learn it only after its review."""
    from jobs.rpa import scripts
    from jobs.rpa.intake_check import SetupMissing, missing_setting

    ref = params.get(ENTRY_KEY)
    if not ref:
        return
    name, _, version = str(ref).partition("@")
    row = scripts.get(name, int(version) if version.isdigit() else None, session=session)
    setting = missing_setting(parse_script(row.text), options)
    if setting:
        log.warning("OCR request with entry script %s refused at intake: %s is not set", ref, setting)
        raise SetupMissing(setting, row.script_id)


def _template_id(stored: Mapping[str, Any]) -> str:
    definition = stored.get("definition", {}) if isinstance(stored, Mapping) else {}
    return str(definition.get("id", ""))


# --- the records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    csv: bytes
    rows: int
    skipped: list[dict[str, Any]]  # forms not turned into records: form, file, reason


def reference_for(job_id: str, form: int) -> str:
    """Unique per form of one OCR job, and short enough for a 整理番号."""
    return f"{job_id.replace('-', '')[:8].upper()}-{form:04d}"


def _cell(entry: Mapping[str, Any], key: str) -> str:
    from jobs.ocr.document import cell_text

    if "#" in key:
        return cell_text({key.partition("#")[0]: entry}, key)
    value = entry.get("value")
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return str(entry.get("text") or "")
    return str(value)


def _value(source: Source, form: Mapping[str, Any], job_id: str) -> str:
    if source.value is not None:
        return source.value
    if source.builtin == "$reference":
        return reference_for(job_id, int(form["index"]))
    if source.builtin == "$form":
        return str(form["index"])
    if source.builtin == "$file":
        return str(form["file"])
    name = str(source.field).partition("#")[0]
    return _cell(form["fields"].get(name, {}), str(source.field))


def _skip_reason(form: Mapping[str, Any], template_id: str) -> str | None:
    if form["status"] != "ok":
        return f"{NOT_READ_JA.get(form['status'], form['status'])}: {form.get('message') or ''}".rstrip(": ")
    if str(form.get("template") or "").partition("@")[0] != template_id:
        return "入力スクリプトと別の帳票です"
    if any(e.get("review") and not e.get("reviewed") for e in form["fields"].values()):
        return "確認が終わっていません"  # cannot happen once the job succeeded
    return None


def records(doc: Mapping[str, Any], script: Script, job_id: str) -> Records:
    """The confirmed forms of a reviewed forms.json as the script's records
    sheet (its headers, one row per form), with the forms left out and why."""
    mapping = script.from_ocr
    assert mapping is not None
    headers = {c.name: c.header for c in script.columns}
    columns = [(headers[name], source) for name, source in mapping.columns]
    extra = [h for h in (FORM_HEADER, FILE_HEADER) if h not in headers.values()]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([h for h, _ in columns] + extra)
    rows, skipped = 0, []
    for form in doc["forms"]:
        reason = _skip_reason(form, mapping.template)
        if reason:
            skipped.append({"form": form["index"], "file": form["file"], "reason": reason})
            continue
        meta = {FORM_HEADER: str(form["index"]), FILE_HEADER: str(form["file"])}
        writer.writerow([_value(s, form, job_id) for _, s in columns] + [meta[h] for h in extra])
        rows += 1
    return Records(("\ufeff" + out.getvalue()).encode("utf-8"), rows, skipped)


# --- creating the entry job ------------------------------------------------------------------------


def entry_job_of(job_id: str, *, session: Session) -> Job | None:
    return session.scalar(select(Job).where(Job.source_job_id == job_id))


def _forms_json(job: Job, *, session: Session, artifacts: ArtifactStore) -> dict[str, Any]:
    from jobs.ocr.review import load_document

    return load_document(job, session=session, artifacts=artifacts)


def start_entry(session: Session, job: Job, artifacts: ArtifactStore) -> Job | None:
    """The OCR kind's success hook: the entry job for a job sent with
    ``entry_script``, once. Nothing to type, or a script that no longer
    resolves, leaves a note on the OCR job instead (its page shows it)."""
    ref = (job.parameters or {}).get(ENTRY_KEY)
    if not ref or entry_job_of(job.id, session=session) is not None:
        return None
    from jobs.rpa import scripts

    try:
        params = scripts.resolve_params({"script": ref, "invalid_rows": "skip"}, session)
        script = parse_script(str(params["script_text"]))
        made = records(_forms_json(job, session=session, artifacts=artifacts), script, job.id)
        if made.rows == 0:
            raise JobInputError(
                "no_records", "入力できる帳票がありません（すべて読取不可または帳票不一致）。"
            )
    except JobInputError as exc:
        log.warning("job %s: no entry job: %s", job.id, exc.message)
        job.summary = {**(job.summary or {}), "entry_error": exc.message}
        return None
    # Stored before the commit, like a job's outputs: if the transaction does
    # not commit, the hourly sweep removes the blob no job refers to.
    blob = artifacts.put_chunks([made.csv], MAX_RECORDS_BYTES, RECORDS_NAME)
    entry = store.create_job(
        session=session,
        kind=ENTRY_KIND,
        queue="rpa",
        department_code=job.department_code,
        submitted_by=job.submitted_by,
        parameters={**params, "dry_run": False},
    )
    entry.source_job_id = job.id
    # Queued since now, but sent by nobody yet (no task id): the fair
    # dispatcher releases it in turn, or under direct dispatch whoever
    # commits this transaction sends it (queues.unsent).
    entry.enqueued_at = entry.submitted_at
    store.add_artifact(
        session=session,
        job_id=entry.id,
        role="input",
        name=RECORDS_NAME,
        sha256=blob.sha256,
        size=blob.size,
        media_type="text/csv",
    )
    job.summary = {**(job.summary or {}), "entry_rows": made.rows, "entry_skipped": made.skipped}
    store.audit("entry_from_ocr", session=session, viewer=SYSTEM, job_id=entry.id, source_job_id=job.id)
    if job.urgent:
        inherit_urgent(job, entry, session=session)
    log.info("job %s: entry job %s created with %d rows", job.id, entry.id, made.rows)
    return entry


def inherit_urgent(source: Job, entry: Job, *, session: Session) -> None:
    """至急 forms are typed 至急 too: the entry job is marked urgent, and the
    audit log says it was inherited, from which job, and who raised that one."""
    raised = store.list_audit(session=session, job_id=source.id, action="urgent")
    entry.urgent = True
    store.audit(
        "urgent",
        session=session,
        viewer=SYSTEM,
        job_id=entry.id,
        inherited_from=source.id,
        raised_by=raised[0].actor_name if raised else None,  # the newest
    )


# --- the new-job form ------------------------------------------------------------------------------

NO_ENTRY = "none"  # the form's 「入力しない」 choice (a select with one script would start on it)


def script_choices(session: Session, _viewer: store.Viewer) -> list[tuple[str, str]]:
    """「確認後に入力」 choices: not at all, or an approved script that reads
    OCR results (by name, version and the form it reads)."""
    from jobs.ocr.portal import latest_templates
    from jobs.rpa.portal import approved_newest

    # The form by its name, as the 帳票定義 list shows it (a department user reads no ids).
    names = {t.template_id: t.name for t in latest_templates(session=session)}
    out = [(NO_ENTRY, "入力しない（読み取りと確認だけ）")]
    for row in approved_newest(session=session):
        script = parse_script(row.text)
        if script.from_ocr is not None:
            form = names.get(script.from_ocr.template, script.from_ocr.template)
            out.append((row.script_id, f"{row.name}（第{row.version}版・帳票「{form}」）"))
    return out


def form_value(value: str) -> str:
    return "" if value == NO_ENTRY else value


# --- what job pages show ------------------------------------------------------------------------------

WAITING_JA = {
    "queued": "読取と確認が終わると、確認済みの行を入力する入力ジョブを作成します。",
    "running": "読取と確認が終わると、確認済みの行を入力する入力ジョブを作成します。",
    "needs_review": "確認が終わると、確認済みの行を入力する入力ジョブを作成します。",
    "failed": "OCRジョブが失敗したため、入力ジョブは作成していません（再実行して確認が終われば作成します）。",
    "cancelled": "OCRジョブが取り消されたため、入力ジョブは作成していません。",
}


def link(job: Job, *, session: Session) -> dict[str, Any]:
    """The pair as job pages and the API show it: ``source_job_id`` on an
    entry job; ``entry_script``, ``entry_job_id`` and ``entry_note`` on an
    OCR job sent with 「確認後に入力」. Empty for other jobs."""
    if job.source_job_id:
        return {"source_job_id": job.source_job_id}
    ref = (job.parameters or {}).get(ENTRY_KEY)
    if not ref:
        return {}
    entry = entry_job_of(job.id, session=session)
    if entry is not None:
        return {"entry_script": ref, "entry_job_id": entry.id, "entry_note": ""}
    note = (job.summary or {}).get("entry_error") or WAITING_JA.get(job.state, "")
    return {"entry_script": ref, "entry_job_id": None, "entry_note": note}
