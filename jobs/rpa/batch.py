"""Entering a batch of records, each exactly once.

For every record: claim its reference (committed) → type it → record the
outcome (committed). A claim that finds the reference already entered makes
the row a duplicate; a claim left ``in_flight`` by a crash is reconciled with
the script's lookup recipe, after waiting out the target's processing time,
before anything is typed again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError

from jobs.errors import TransientError
from jobs.rpa.ledger import FINAL_STATES, Claim, RecordLedger, RecordState
from jobs.rpa.script import Script
from jobs.rpa.session import RecordRejected, SessionExpired, StepFailed, TargetSession
from jobs.rpa.validate import Row

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]
BUSY_JA = "同じ参照キーの行を別のジョブが入力中のため、入力していません。結果を確認してください。"
FOUND_BEFORE_JA = "対象システムに入力済みです（入力前の照会で確認）"
EXPIRED_JA = "対象システムのセッションが繰り返し切れたため、入力できませんでした（再ログイン{n}回）。"


@dataclass(frozen=True)
class Evidence:
    paths: tuple[Path, ...] = ()


@dataclass
class Batch:
    job_id: str
    script: Script
    session: TargetSession
    ledger: RecordLedger
    work_dir: Path
    stale_after: float = 30.0
    # Look every record up before typing it, whatever the script says: set
    # for a job restored from a backup, whose lost machine may have typed
    # records after the snapshot that the restored ledger never saw.
    always_look_up: bool = False
    backoff_base: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    @property
    def target(self) -> str:
        return self.script.target.name

    # --- one record --------------------------------------------------------------------

    def enter(self, row: Row, state: RecordState) -> RecordState:
        claim = self._claim(row, state)
        if claim.kind == "duplicate":
            owner = f"（ジョブ {claim.owner[0][:8]} の {claim.owner[1]} 行目）" if claim.owner else ""
            done = replace(
                state, state="duplicate", message=f"既に入力済みです{owner}", captured=claim.captured
            )
            return self._finish(row, done, release=False)
        if claim.kind == "busy":
            # Another live job is still entering this reference: typing it too could make a second entry.
            return self._finish(row, replace(state, state="failed", message=BUSY_JA), release=False)
        if claim.kind == "reconcile":
            found = self._reconcile(row)
            if isinstance(found, dict):
                done = replace(state, state="entered", message="照合により入力済みを確認", captured=found)
                return self._finish(row, done, release=False)
            if found is False:
                # Unknown whether the crashed attempt went through: never type it blindly.
                done = replace(
                    state,
                    state="failed",
                    message="前回の入力結果を照合できませんでした。対象システムで確認してください。",
                )
                return self._finish(row, done, release=False)
        return self._attempts(row, state)

    def _claim(self, row: Row, state: RecordState) -> Claim:
        deadline = time.monotonic() + self.stale_after + 5
        while True:
            claim = self.ledger.claim(self.job_id, row.number, self.target, state.reference, self.stale_after)
            if claim.kind != "busy" or time.monotonic() > deadline:
                return claim
            self.sleep(1.0)  # another live job is entering the same reference right now

    def _reconcile(self, row: Row) -> dict[str, str] | bool | None:
        """Captured values if the target has the entry, None if not, False if unknown."""
        self.sleep(self.script.target.max_processing_seconds)
        try:
            try:
                self.session.next_record()
                return self.session.lookup(self.script.lookup, row.values)
            except SessionExpired:
                self.session.relogin()  # once: the look-up must not loop on a dead session
                self.session.next_record()
                return self.session.lookup(self.script.lookup, row.values)
        except (TransientError, StepFailed, PlaywrightError, SessionExpired):
            log.warning("job %s: lookup of row %d failed", self.job_id, row.number)
            return False

    def _attempts(self, row: Row, state: RecordState) -> RecordState:
        message, release = "", True
        attempt, relogins, retry_pause = 0, 0, False
        while attempt <= self.script.target.retries:
            if retry_pause:
                self.sleep(min(self.backoff_base * 2 ** (attempt - 1), 10.0) * (0.5 + random.random()))
                self.session.trace_start()  # tracing only while retrying a record that failed once
            retry_pause = False
            try:
                existing = self._look_up_first(row)
                if existing is not None:
                    self._stop_trace(row, keep=False)
                    done = replace(state, state="duplicate", message=FOUND_BEFORE_JA, captured=existing)
                    return self._finish(row, done, release=False)
                captured = self._type(row)
            except RecordRejected as exc:
                self._stop_trace(row, keep=False)
                return self._finish(row, replace(state, state="rejected", message=exc.message), release=True)
            except SessionExpired:
                # Not the target refusing the record, and not an attempt used up.
                submitted = self.session.submitted
                if relogins >= self.script.target.max_relogins_per_row:
                    message, release = EXPIRED_JA.format(n=relogins), not submitted
                    break
                relogins += 1
                self.session.relogin()
                if submitted:  # 登録 may have been sent before the session ended: look first
                    found = self._reconcile(row)
                    if isinstance(found, dict):
                        return self._confirmed(row, state, found)
                    if found is False:
                        message, release = "セッション切れの後、入力結果を照合できませんでした。", False
                        break
                continue
            except (TransientError, StepFailed, PlaywrightError) as exc:
                attempt, retry_pause = attempt + 1, True
                message = getattr(exc, "message", None) or str(exc).splitlines()[0]
                log.info("job %s: row %d attempt %d failed: %s", self.job_id, row.number, attempt, message)
                if self.session.submitted:
                    found = self._reconcile(row)
                    if isinstance(found, dict):
                        return self._confirmed(row, state, found)
                    release = found is None
                    if found is False:
                        break  # cannot tell whether it was entered: never type it again blindly
                if isinstance(exc, StepFailed):
                    break
                continue
            self._stop_trace(row, keep=False)
            return self._finish(
                row, replace(state, state="entered", message="", captured=captured), release=False
            )
        self._evidence(row)
        if not release:
            message += "（入力されたか確認できません。対象システムで確認してください）"
        return self._finish(row, replace(state, state="failed", message=message), release=release)

    def _look_up_first(self, row: Row) -> dict[str, str] | None:
        """``check_before_entry`` (or a restored job): the target's own entry of this
        reference, if any."""
        if not (self.script.check_before_entry or self.always_look_up):
            return None
        self.session.next_record()
        self.session.row_number = row.number
        return self.session.lookup(self.script.lookup, row.values)

    def _type(self, row: Row) -> dict[str, str]:
        self.session.next_record()
        self.session.row_number = row.number
        return self.session.run(self.script.steps, row.values, lines=row.line_values)

    def _confirmed(self, row: Row, state: RecordState, found: dict[str, str]) -> RecordState:
        """A row whose 登録 may have been sent, found entered by the look-up."""
        self._stop_trace(row, keep=False)
        done = replace(state, state="entered", message="照合により入力済みを確認", captured=found)
        return self._finish(row, done, release=False)

    def _finish(self, row: Row, state: RecordState, *, release: bool) -> RecordState:
        self.ledger.finish(self.job_id, row.number, self.target, state, release=release)
        return state

    # --- failure evidence --------------------------------------------------------------

    def _evidence(self, row: Row) -> None:
        folder = self.work_dir / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        self.session.screenshot(folder / f"row{row.number:05d}.png")
        self._stop_trace(row, keep=True)

    def _stop_trace(self, row: Row, *, keep: bool) -> None:
        if not self.session.tracing_chunk:
            return
        path = self.work_dir / "failures" / f"row{row.number:05d}-trace.zip" if keep else None
        try:
            self.session.trace_stop(path)
        except PlaywrightError:
            log.warning("job %s: trace of row %d could not be saved", self.job_id, row.number)


def run_rows(
    batch: Batch,
    rows: list[Row],
    states: dict[int, RecordState],
    progress: Progress,
    keep_going: Callable[[], bool] = lambda: True,
) -> None:
    """Every unfinished row in file order; a redelivered task resumes here.
    Stops before a row when ``keep_going`` says so (the rest stay pending)."""
    todo = [r for r in rows if r.valid and states[r.number].state not in FINAL_STATES]
    done_before = len(rows) - len(todo)
    for i, row in enumerate(todo):
        if not keep_going():
            return
        progress((done_before + i) / max(len(rows), 1), f"{done_before + i}/{len(rows)}件処理済み")
        states[row.number] = batch.enter(row, states[row.number])
