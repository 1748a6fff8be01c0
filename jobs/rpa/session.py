"""One logged-in browser context on a target, and the step interpreter.

Playwright does not raise on an HTTP error page, so every main-frame
navigation's status is watched: 5xx and timeouts are transient (retried by
the batch), 4xx means the script is wrong, and the target's own validation
messages make the record *rejected* (never retried).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from jobs.errors import JobInputError, TransientError
from jobs.rpa import lookups, windows
from jobs.rpa.attachments import Attachments, missing_problem
from jobs.rpa.checks import PageChecks
from jobs.rpa.checks import RecordRejected as RecordRejected
from jobs.rpa.checks import SessionExpired as SessionExpired
from jobs.rpa.checks import StepFailed as StepFailed
from jobs.rpa.credentials import Credential
from jobs.rpa.dialogs import DialogGuard, Expectation
from jobs.rpa.script import Lookup, Step, Target
from jobs.rpa.template import render_args

log = logging.getLogger(__name__)
SCREENSHOT_TIMEOUT_MS = 5000
STAYED = object()  # a ``goto`` that found the page already there


class _DryRunStop(Exception):
    """A dry run reached the submitting click (possibly inside a frame)."""


class TargetSession(PageChecks):
    def __init__(self, browser: Any, target: Target, base_url: str, job_id: str, work_dir: Path) -> None:
        self.target, self.job_id, self.work_dir = target, job_id, work_dir
        self.base_url = base_url.rstrip("/")
        self.row_number = 0
        self.timeout_ms = target.timeout_seconds * 1000
        # The time zone comes from the browser's launch (``jobs.rpa.browser.TIMEZONE``).
        self.context = browser.new_context(base_url=base_url, locale="ja-JP")
        self.context.set_default_timeout(self.timeout_ms)
        self.page: Any = None
        self.scope: Any = None  # the page, or the frame or window a step runs in
        self.credential: Credential | None = None
        self.relogins = 0
        self._dry_run = False
        self._logging_in = False  # the login page is expected then
        self.tracing_chunk = False  # tracing a record being retried
        self.submitted = False
        self._status: int | None = None
        # Whether the top document has navigated since ``_check_expired`` last
        # looked at it while steps work in a frame or window: one that has not
        # cannot have turned into the login page, so it is not queried again.
        self._top_moved = True
        # Navigations seen (any frame), and the scope and count at which the
        # session-ended page was last looked for there and not found.
        self._navigations = 0
        self._looked_at: tuple[Any, int] | None = None
        self._uses = 0
        # A search window just opened and not yet looked at: its first ``fill``
        # looks for the session-ended page in the same call (see ``_do_fill``).
        self._unchecked: Any = None
        # The ``expect`` step that ``_arrived`` found met already: it is skipped.
        self._met: Step | None = None
        # Set when an unexpected dialog closed the page: its close may still be
        # in flight when the next record starts, so is_closed() alone can lie.
        self._page_spent = False
        self.dialogs = DialogGuard()
        # The job's attachment ZIP (``upload`` steps) and the voucher's 明細 lines.
        self.attachments: Attachments | None = None
        self._lines: Sequence[Mapping[str, str]] = ()
        # Dialogs on the context, so every page and search window it opens is
        # watched without subscribing each one (a round trip per window, per
        # record). Navigations are followed by each page's ``framenavigated``,
        # which Playwright reports anyway: a ``response`` listener would make it
        # report every response (scripts, styles, images, XHR) as well. The HTTP
        # status comes from the response a step waits for (``_note``).
        self.context.on("page", self._watch)
        self.context.on("dialog", self._on_dialog)
        self.new_page()

    # --- pages -----------------------------------------------------------------------

    def new_page(self) -> None:
        """A fresh page: a long-lived one grows with every navigation."""
        old, self.page, self._uses = self.page, self.context.new_page(), 0
        self.scope = self.page
        self._page_spent = False
        self._top_moved = True
        if old is not None and not old.is_closed():
            old.close()

    def next_record(self) -> None:
        self._uses += 1
        if self._uses > self.target.new_page_every or self._page_spent or self.page.is_closed():
            self.new_page()  # closed: an unexpected dialog ended the last record
        self.submitted, self._status, self.scope = False, None, self.page
        self._unchecked, self._met = None, None
        self.dialogs.reset()

    def _on_dialog(self, dialog: Any) -> None:
        if self.dialogs.handle(dialog):
            log.info("job %s: row %d: unexpected dialog (%s)", self.job_id, self.row_number, dialog.type)
            self._page_spent = True
            with contextlib.suppress(PlaywrightError):
                dialog.page.close()  # the step waiting on this page fails now, not at its timeout

    def _watch(self, page: Any) -> None:
        page.on("framenavigated", self._on_navigated)

    def _on_navigated(self, frame: Any) -> None:
        # Any frame of any window: the documents looked at before are gone.
        self._navigations += 1
        if frame.parent_frame is None and frame.page is self.page:
            self._top_moved = True

    def _note(self, response: Any) -> None:
        """The HTTP status of the document a step navigated to (None: none
        loaded, e.g. a same-document navigation)."""
        if response is not None:
            self._status = response.status

    def close(self) -> None:
        self.context.close()

    # --- login -----------------------------------------------------------------------

    def login(self, credential: Credential) -> None:
        """Log in once; a wrong password fails the job before any record."""
        values = {"credential": credential.template_values()}
        self.credential = credential
        self._logging_in = True
        try:
            for step in self.target.login:
                self._step(step, values)
            # Wait for whichever answer comes: logged in, the login error, or the
            # target's validation messages (an empty field). The last login step's
            # own validation check is left to this wait (one round trip fewer per
            # login; a hand driver waits for the logged-in page alone).
            answer = self.page.locator(self.target.logged_in)
            for other in filter(None, (self.target.login_error, self.target.validation_messages)):
                answer = answer.or_(self.page.locator(other))
            answer.first.wait_for(timeout=self.timeout_ms)
            if self.page.locator(self.target.logged_in).count() == 0:
                raise StepFailed("login")
        except (RecordRejected, StepFailed, PlaywrightError):
            # Never chain the Playwright error: its call log may quote typed values.
            raise JobInputError(
                "login_failed",
                f"対象システムにログインできませんでした{self._login_message(credential)}。"
                f"資格情報「{credential.name}」を確認してください。",
            ) from None
        finally:
            self._logging_in = False
        log.info("job %s: logged in to %s", self.job_id, self.target.name)

    def relogin(self) -> None:
        """The session ended mid-batch: a fresh page, and the login again."""
        assert self.credential is not None, "relogin before login"
        self.relogins += 1
        log.info("job %s: row %d: session ended, logging in again", self.job_id, self.row_number)
        self.new_page()
        self.submitted = False
        self.dialogs.reset()
        self.login(self.credential)

    def _login_message(self, credential: Credential) -> str:
        if not self.target.login_error:
            return ""
        texts = self.page.locator(self.target.login_error).all_inner_texts()
        text = " ".join(t.strip() for t in texts if t.strip())
        for secret in credential.secrets():
            text = text.replace(secret, "***")
        return f"（{text}）" if text else ""

    # --- steps -----------------------------------------------------------------------

    def run(
        self,
        steps: tuple[Step, ...],
        row: Mapping[str, str],
        *,
        dry_run: bool = False,
        lines: Sequence[Mapping[str, str]] = (),
    ) -> dict[str, str]:
        """Run one record's steps (a voucher's: ``lines`` are its 明細); return the captured values."""
        values = {"row": dict(row)}
        captured: dict[str, str] = {}
        self._dry_run, self._lines = dry_run, lines
        try:
            self._run_steps(steps, values, captured)
        except _DryRunStop:
            pass
        finally:
            self._dry_run, self._lines = False, ()
        return captured

    def _run_steps(
        self, steps: tuple[Step, ...], values: Mapping[str, Mapping[str, str]], captured: dict[str, str]
    ) -> None:
        for i, step in enumerate(steps):
            if step.submits and self._dry_run:
                raise _DryRunStop
            if step.submits:
                self.submitted = True
            if self._met is step:  # the navigating step before it found it there
                self._met = None
                continue
            result = self._step(step, values, captured, then=steps[i + 1] if i + 1 < len(steps) else None)
            if result is not None:
                captured[step.args["column"]] = result

    def _step(
        self,
        step: Step,
        values: Mapping[str, Mapping[str, str]],
        captured: dict[str, str] | None = None,
        *,
        then: Step | None = None,
    ) -> str | None:
        """One step; ``then`` is the step after it in the same place."""
        args = render_args(step.args, values)
        if step.action == "dialog":
            self.dialogs.armed = Expectation.from_args(args)
            return None
        if step.action == "lines":
            self._each_line(step, args, values, {} if captured is None else captured)
            return None
        if step.action == "upload":
            line = values.get("line", {})
            args["file"] = line[args["column"]] if args["column"] in line else values["row"][args["column"]]
        if step.children:
            self._nested(step, args, values, {} if captured is None else captured)
            return None
        self._status = None
        self.dialogs.begin(args.get("dialog"))
        try:
            result = getattr(self, f"_do_{step.action}")(args)
        except PlaywrightTimeout:
            self._check_dialogs()
            self._check_expired()
            self._check_validation()
            self._check_status()
            raise TransientError(
                "target_timeout", f"対象システムの応答がありません（{step.action}）。"
            ) from None
        except PlaywrightError:
            self._check_dialogs()
            if self._unchecked is not None and self._unchecked is self.scope:
                self._check_expired()  # the fill found the session-ended page instead
            raise
        self._check_dialogs()
        self._check_status()
        if args.get("navigation"):
            if self._logging_in and step is self.target.login[-1]:
                pass  # login() waits for its answer next, validation messages included
            elif then is None or not self._arrived(then, values):
                self._check_validation()
        elif step.action == "goto" and result is not STAYED:  # nothing loaded: nothing to look at
            self._check_expired()
        return result if isinstance(result, str) else None

    def _nested(
        self,
        step: Step,
        args: dict[str, Any],
        values: Mapping[str, Mapping[str, str]],
        captured: dict[str, str],
    ) -> None:
        """``frame`` or ``popup``: the nested steps run there, then back here."""
        outer = self.scope
        try:
            if step.action == "frame":
                self.scope = windows.find_frame(self.page, outer, args, self.timeout_ms)
                self._run_steps(step.children, values, captured)
                return
            timeout = float(args.get("timeout_seconds", self.target.timeout_seconds)) * 1000
            popup = windows.open_popup(self.page, outer, args["selector"], timeout, args.get("key"))
            self.scope = popup
            # The window may open on the session-ended page: a ``fill`` first
            # asks in its own call; anything else asks now.
            first = step.children[0] if step.children else None
            if first is not None and first.action == "fill" and self.target.session_expired is not None:
                self._unchecked = popup
            else:
                self._check_expired()
            windows.run_in_popup(
                popup,
                step.children,
                lambda child: self._run_steps((child,), values, captured),
                close=bool(args.get("close")),
                timeout_ms=timeout,
            )
        except windows.WindowFailed as exc:
            raise StepFailed(str(exc)) from None
        finally:
            self.scope, self._unchecked = outer, None

    def _each_line(
        self,
        step: Step,
        args: dict[str, Any],
        values: Mapping[str, Mapping[str, str]],
        captured: dict[str, str],
    ) -> None:
        """``lines``: its steps once per 明細 line (``line.*``, ``line.n`` from 1),
        after its ``add`` steps (行追加) for each line the screen does not show at first."""
        shown = int(args.get("shown", 1))
        for n, line in enumerate(self._lines, 1):
            scoped = {**values, "line": {**line, "n": str(n)}}
            if n > shown:
                self._run_steps(step.add, scoped, captured)
            self._run_steps(step.children, scoped, captured)

    def _do_goto(self, args: dict[str, Any]) -> object:
        # ``skip_if_there``: a frameset whose address never changes is reloaded
        # only on a fresh page (four requests fewer per record, as by hand).
        if args.get("skip_if_there") and self.scope.url == urljoin(f"{self.base_url}/", args["url"]):
            return STAYED
        self._note(self.scope.goto(args["url"]))
        return None

    def _do_fill(self, args: dict[str, Any]) -> None:
        if self._unchecked is None or self._unchecked is not self.scope or self._logging_in:
            self.scope.fill(args["selector"], args["value"])
            return
        # The first fill in a fresh window: the field or the session-ended page,
        # whichever is there, in one round trip. The session-ended page's link or
        # button cannot be filled, so the fill fails at once and ``_step`` asks.
        expired, seen = self.scope.locator(str(self.target.session_expired)), self._navigations
        self.scope.locator(args["selector"]).or_(expired).first.fill(args["value"])
        self._unchecked, self._looked_at = None, (self.scope, seen)

    def _do_select(self, args: dict[str, Any]) -> None:
        # ``value`` matches the option's value attribute only, ``label`` its shown text.
        try:
            if "label" in args:
                self.scope.select_option(args["selector"], label=args["label"])
            else:
                self.scope.select_option(args["selector"], value=args["value"])
            return
        except PlaywrightTimeout:
            problem = self._missing_option(args)
            if problem is None:
                raise
        raise StepFailed(problem) from None

    def _missing_option(self, args: dict[str, Any]) -> str | None:
        """A select that is there but has no such option (an era the screen does
        not offer): the row fails with what it offers, without retries."""
        wanted, by_label = (args["label"], True) if "label" in args else (args["value"], False)
        select = self.scope.locator(args["selector"]).first
        try:
            if not select.count() or not select.is_enabled():
                return None  # not there yet: a timeout like any other
            offered = select.evaluate(
                "(s, byLabel) => [...s.options].map(o => (byLabel ? o.text : o.value).trim())", by_label
            )
        except PlaywrightError:
            return None
        if wanted in offered:
            return None
        shown = "、".join(o for o in offered if o) or "なし"
        return f"選択肢「{wanted}」がありません（画面の選択肢: {shown}）。"

    def _do_upload(self, args: dict[str, Any]) -> None:
        """Attach the file the row names, from the job's attachment ZIP (in memory)."""
        if not args["file"]:
            return
        if self.attachments is None:
            raise StepFailed(missing_problem(args["file"]) + "。")
        try:
            payload = self.attachments.payload(args["file"])
        except ValueError as exc:
            raise StepFailed(str(exc)) from None
        self.scope.set_input_files(args["selector"], files=[payload])

    def _do_check(self, args: dict[str, Any]) -> None:
        self.scope.set_checked(args["selector"], bool(args.get("checked", True)))

    def _navigating(self, frame: Any, action: Callable[[], None]) -> None:
        """``action`` (a click, a key) and the document it loads in ``frame``,
        whose HTTP status is noted (``_note``)."""
        with frame.expect_navigation(wait_until="domcontentloaded") as navigated:
            action()
        self._note(navigated.value)

    def _do_click(self, args: dict[str, Any]) -> None:
        if args.get("navigation"):
            self._navigating(self.scope, lambda: self.scope.click(args["selector"]))
        else:
            self.scope.click(args["selector"])

    def _do_press(self, args: dict[str, Any]) -> None:
        """A key (Enter, F1…F12, Tab) in a field, or wherever the focus is."""

        def press() -> None:
            if "selector" in args:
                self.scope.press(args["selector"], args["key"])
            else:
                self.page.keyboard.press(args["key"])

        if args.get("navigation"):
            self._navigating(self.scope, press)
        else:
            press()

    def _do_type(self, args: dict[str, Any]) -> None:
        """Key by key, for a field that acts on keystrokes (moves on when full,
        formats on keyup) where ``fill`` would only set the value."""
        field = self.scope.locator(args["selector"])
        field.fill("")
        field.press_sequentially(args["value"])

    def _do_hover(self, args: dict[str, Any]) -> None:
        self.scope.hover(args["selector"])

    def _do_wait_for(self, args: dict[str, Any]) -> None:
        if "url" in args:
            self.scope.wait_for_url(args["url"])
            return
        wanted = self._wanted(args)
        if self.target.session_expired is None or self._looked_at_since_load():
            # An ``expect`` right after a checked navigating click: the document
            # it waits in was looked at already (two round trips fewer per record).
            wanted.first.wait_for()
            return
        # The screen a link opened in another frame may be the session-ended
        # page instead: stop waiting at once when it is.
        wanted.or_(self.scope.locator(self.target.session_expired)).first.wait_for()
        self._check_expired()

    def _do_expect(self, args: dict[str, Any]) -> None:
        self._do_wait_for(args)

    def _do_capture(self, args: dict[str, Any]) -> str:
        try:
            return lookups.capture(self.scope, args)
        except ValueError as exc:
            raise StepFailed(str(exc)) from None

    def _do_screenshot(self, args: dict[str, Any]) -> None:
        folder = self.work_dir / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"row{self.row_number:05d}-{args['name']}.png"
        self.page.screenshot(path=str(folder / name), timeout=SCREENSHOT_TIMEOUT_MS)

    # --- lookup and failure evidence --------------------------------------------------

    def lookup(self, lookup: Lookup, row: Mapping[str, str]) -> dict[str, str] | None:
        """Find an existing entry by its reference: its captured values, or None."""
        values = {"row": dict(row)}
        for step in lookup.steps:
            self._step(step, values)
        for _page in range(lookup.max_pages):
            found = lookups.find(self.page, lookup, values)
            if found is not None:
                try:
                    return {c["column"]: lookups.capture(found, c) for c in lookup.capture}
                except ValueError as exc:
                    raise StepFailed(str(exc)) from None
            following = lookups.next_page(self.page, lookup)
            if following is None:
                return None
            frame, link = following
            self._status = None
            self._navigating(frame, link.click)
            self._check_status()
            self._check_expired()
        raise StepFailed(
            f"照会結果が{lookup.max_pages}ページを超えたため、見つかるまで確認できませんでした。"
        )

    def screenshot(self, path: Path) -> bool:
        try:
            self.page.screenshot(path=str(path), timeout=SCREENSHOT_TIMEOUT_MS, full_page=True)
            return True
        except PlaywrightError:
            return False  # evidence is best effort; the record's state is what matters

    def trace_start(self) -> None:
        if self.tracing_chunk:
            return
        try:
            self.context.tracing.start(screenshots=True, snapshots=True)
        except PlaywrightError:
            log.warning("job %s: row %d: tracing could not start", self.job_id, self.row_number)
            return  # evidence is best effort
        self.tracing_chunk = True

    def trace_stop(self, path: Path | None) -> None:
        """Tracing stopped, not only its chunk: once started, Playwright's trace
        records every response of the context (bodies included) until ``stop``,
        between chunks too, so every later record of the job paid for one retry."""
        self.tracing_chunk = False
        self.context.tracing.stop(path=str(path) if path else None)
