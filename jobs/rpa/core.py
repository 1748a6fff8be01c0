"""One entry job from start to end: read the script and the records, check
every row, log in once, enter (or, in a dry run, walk) each row, write the
results. Called by the job kind, the CLI and the benchmark alike."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Error as PlaywrightError

from jobs.errors import JobInputError, TransientError
from jobs.registry import JobContext, JobOutcome, OutputFile
from jobs.rpa import browser, credentials, results
from jobs.rpa.attachments import Attachments, is_attachments
from jobs.rpa.batch import Batch, run_rows
from jobs.rpa.ledger import RecordLedger, RecordState
from jobs.rpa.liveness import Timings, heartbeat
from jobs.rpa.options import EntryOptions
from jobs.rpa.records import RawRow, read_records
from jobs.rpa.script import Script, Window, parse_script
from jobs.rpa.session import RecordRejected, SessionExpired, StepFailed, TargetSession
from jobs.rpa.validate import Row, error_text, owners, reference_of, validate_rows

log = logging.getLogger(__name__)
SCRIPT_SUFFIXES = (".yaml", ".yml")
PNG, ZIP = "image/png", "application/zip"


@dataclass(frozen=True)
class Inputs:
    script: Script
    raw: list[RawRow]
    rows: list[Row]
    attachments: Attachments | None = None


def read_inputs(ctx: JobContext) -> Inputs:
    """The script comes with the job's parameters (the approved version that
    intake attached) or, on the CLI, as one of the inputs."""
    scripts = [
        f for f in ctx.inputs if f.path.suffix.lower() in SCRIPT_SUFFIXES or f.name.endswith(SCRIPT_SUFFIXES)
    ]
    zips = [f for f in ctx.inputs if f not in scripts and is_attachments(f.name, f.media_type)]
    records = [f for f in ctx.inputs if f not in scripts and f not in zips]
    if len(zips) > 1:
        raise JobInputError("invalid_inputs", "添付ファイルのZIPは1つにまとめてください。")
    attached = ctx.params.get("script_text")
    if attached is not None and scripts:
        raise JobInputError(
            "invalid_inputs",
            "入力スクリプトは承認済みのものが使われます。レコードファイルだけを添付してください。",
        )
    if (attached is None and len(scripts) != 1) or len(records) != 1:
        raise JobInputError("invalid_inputs", "入力スクリプト1つとレコードファイル1つを指定してください。")
    data = str(attached).encode("utf-8") if attached is not None else scripts[0].path.read_bytes()
    expected = ctx.params.get("script_sha256")
    if expected and hashlib.sha256(data).hexdigest() != expected:
        # The approved version is frozen by its hash; anything else is not approved.
        raise JobInputError("script_changed", "入力スクリプトが承認された版と一致しません。")
    try:
        script = parse_script(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise JobInputError("invalid_script", "入力スクリプトはUTF-8で保存してください。") from None
    raw = read_records(records[0].path, records[0].name)
    attachments = Attachments.open(zips[0].path) if zips else None
    if attachments is not None and not script.upload_columns:
        raise JobInputError(
            "invalid_inputs", "この入力スクリプトは添付ファイルを使いません。ZIPを外して登録してください。"
        )
    return Inputs(script, raw, validate_rows(script, raw, attachments), attachments)


WINDOW_CLOSED_JA = (
    "対象システムの利用時間が終わったため入力していません。"
    "時間内に同じファイルを再登録すると、入力済みの行は重複として飛ばし、残りを入力します。"
)


def in_window(window: Window | None, now: datetime | None = None) -> bool:
    if window is None:
        return True
    local = (now or datetime.now(ZoneInfo(window.timezone))).astimezone(ZoneInfo(window.timezone))
    return local.isoweekday() in window.weekdays and window.start <= local.strftime("%H:%M") < window.end


def check_window(window: Window | None, now: datetime | None = None) -> None:
    if not in_window(window, now):
        assert window is not None
        days = "・".join("月火水木金土日"[d - 1] for d in window.weekdays)
        raise JobInputError(
            "outside_window",
            f"対象システムの利用時間外です（{days} {window.start}〜{window.end}）。時間内に再実行してください。",
        )


def reject_invalid(rows: list[Row]) -> None:
    bad = [r for r in rows if not r.valid]
    if bad:
        shown = "\n".join(f"{r.number}行目 {error_text(r)}" for r in bad[:20])
        more = f"\n…ほか{len(bad) - 20}行" if len(bad) > 20 else ""
        raise JobInputError(
            "invalid_records",
            f"不備のある行が{len(bad)}行あるため、一括で受け付けませんでした。\n{shown}{more}",
            rows=[r.number for r in bad],
        )


def ledger_from(options: EntryOptions) -> RecordLedger:
    """The record ledger the composition root built for this process (see
    ``jobs.rpa.kind.resources``); the core never opens a database itself."""
    given = options.ledger
    if given is None:
        raise JobInputError("no_ledger", "入力記録用のデータベースが設定されていません。")
    return given


def initial_states(script: Script, rows: list[Row]) -> list[RecordState]:
    return [
        RecordState(
            r.number,
            reference_of(script, r.values),
            "pending" if r.valid else "invalid",
            "" if r.valid else error_text(r),
        )
        for r in rows
    ]


def open_session(ctx: JobContext, script: Script, chromium: Any) -> TargetSession:
    options = EntryOptions.of(ctx.options)
    base_url = str(options.target_urls.get(script.target.name, script.target.base_url))
    credential = credentials.resolve(script.target.credential, options)
    session = TargetSession(chromium, script.target, base_url, ctx.job_id, ctx.work_dir)
    session.login(credential)
    return session


def wait_for_slot(ledger: RecordLedger, ctx: JobContext, target: Script, timings: Timings) -> None:
    """Honour the target's concurrency cap across every worker (a dead
    holder's slot frees itself ``slot_ttl`` after its last heartbeat)."""
    limit = target.target.concurrency
    deadline = time.monotonic() + timings.slot_wait
    while not ledger.acquire_slot(target.target.name, ctx.job_id, limit, timings.slot_ttl):
        if time.monotonic() > deadline:
            raise TransientError(
                "target_busy", "対象システムの同時実行数の上限に達しています。しばらくして再実行します。"
            )
        time.sleep(1.0)


def enter_all(ctx: JobContext, inputs: Inputs) -> tuple[dict[int, RecordState], int]:
    """Every row's state, and how many times the session was logged in again."""
    options = EntryOptions.of(ctx.options)
    script, ledger = inputs.script, ledger_from(options)
    states = ledger.prepare(ctx.job_id, initial_states(script, inputs.rows))
    relogins = 0
    if all(s.state in ("entered", "duplicate", "rejected", "invalid", "failed") for s in states.values()):
        return states, relogins  # a redelivery after everything was done
    check_window(script.target.window)
    timings = options.timings
    wait_for_slot(ledger, ctx, script, timings)
    try:
        with (
            heartbeat(ledger, script.target.name, ctx.job_id, timings),
            browser.launch(options) as chromium,
        ):
            session = open_session(ctx, script, chromium)
            session.attachments = inputs.attachments
            try:
                batch = Batch(
                    ctx.job_id,
                    script,
                    session,
                    ledger,
                    ctx.work_dir,
                    stale_after=timings.stale_seconds,
                    always_look_up=ctx.restored,
                )
                # Checked before every record too: a batch that runs into the end of
                # the window stops there; its remaining rows stay pending for a re-run.
                run_rows(
                    batch,
                    inputs.rows,
                    states,
                    ctx.progress,
                    keep_going=lambda: in_window(script.target.window),
                )
            finally:
                relogins = session.relogins
                session.close()
    finally:
        ledger.release_slot(script.target.name, ctx.job_id)
    for row in inputs.rows:
        if row.valid and states[row.number].state == "pending":
            states[row.number] = replace(states[row.number], message=WINDOW_CLOSED_JA)
    return states, relogins


def dry_run(ctx: JobContext, inputs: Inputs) -> dict[int, RecordState]:
    """Validate and walk every step except the final submit; nothing is recorded."""
    script = inputs.script
    states = {s.number: s for s in initial_states(script, inputs.rows)}
    with browser.launch(EntryOptions.of(ctx.options)) as chromium:
        session = open_session(ctx, script, chromium)
        session.attachments = inputs.attachments
        for i, row in enumerate(r for r in inputs.rows if r.valid):
            ctx.progress(i / max(len(inputs.rows), 1), f"{i}件確認済み")
            session.next_record()
            try:
                try:
                    session.run(script.steps, row.values, dry_run=True, lines=row.line_values)
                except SessionExpired:
                    session.relogin()  # nothing is submitted in a dry run: walk it again
                    session.next_record()
                    session.run(script.steps, row.values, dry_run=True, lines=row.line_values)
                states[row.number] = RecordState(row.number, states[row.number].reference, "checked")
            except RecordRejected as exc:
                states[row.number] = RecordState(
                    row.number, states[row.number].reference, "rejected", exc.message
                )
            except (TransientError, StepFailed, PlaywrightError, SessionExpired) as exc:
                message = getattr(exc, "message", None) or str(exc).splitlines()[0]
                states[row.number] = RecordState(row.number, states[row.number].reference, "failed", message)
        session.close()
    return states


def evidence(work_dir: Path) -> list[OutputFile]:
    files = sorted((work_dir / "failures").glob("*")) + sorted((work_dir / "screenshots").glob("*.png"))
    return [OutputFile(f"{p.parent.name}/{p.name}", p, ZIP if p.suffix == ".zip" else PNG) for p in files]


def run(ctx: JobContext) -> JobOutcome:
    inputs = read_inputs(ctx)
    if ctx.params.get("invalid_rows", "skip") == "reject":
        reject_invalid(inputs.rows)
    is_dry = bool(ctx.params.get("dry_run"))
    states, relogins = (dry_run(ctx, inputs), 0) if is_dry else enter_all(ctx, inputs)
    outputs = results.write_results(
        ctx.work_dir, inputs.script, inputs.raw, states, owners(inputs.rows)
    ) + evidence(ctx.work_dir)
    tally = results.counts(states)
    entered = 0 if is_dry else tally.get("entered", 0)
    line = results.summary_line(tally, relogins)
    log.info("job %s: %s", ctx.job_id, line)
    return JobOutcome(
        outputs=tuple(outputs),
        units=float(entered),
        seconds_per_unit=inputs.script.baseline_seconds_per_record,
        # A failed row needs a person: it may or may not be in the target.
        # Pending rows: the batch ran into the end of the target's time window.
        needs_review=not is_dry
        and (tally.get("failed", 0) + tally.get("in_flight", 0) + tally.get("pending", 0)) > 0,
        summary={
            "records": len(states),
            "dry_run": is_dry,
            "script": inputs.script.name,
            **tally,
            "relogins": relogins,
            "summary_line": line,
        },
    )
