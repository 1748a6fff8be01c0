"""What the page says after a step: the HTTP status of the document it
loaded, an unexpected dialog, the target's validation messages (the record is
*rejected*) and the session-ended page (log in again, retry the row).

Mixed into ``jobs.rpa.session.TargetSession``, whose state these read and set;
each check is a round trip to the browser on every record's path, so they ask
as little and as seldom as they can.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from jobs.errors import TransientError
from jobs.rpa.dialogs import DialogGuard
from jobs.rpa.script import Step, Target
from jobs.rpa.template import render_args


class RecordRejected(Exception):
    """The target refused the record with its own message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StepFailed(Exception):
    """A step cannot work (4xx, a missing element) and retrying will not help."""


class SessionExpired(Exception):
    """The target shows its login page or its session-ended message: log in
    again and retry the row (never the target refusing the record)."""

    message = "対象システムのセッションが切れました。"


class PageChecks:
    """The checks of ``TargetSession`` (its attributes, declared here for the type checker)."""

    target: Target
    page: Any
    scope: Any  # the page, or the frame or window a step runs in
    dialogs: DialogGuard
    _status: int | None
    _logging_in: bool
    _top_moved: bool
    _navigations: int
    _looked_at: tuple[Any, int] | None
    _met: Step | None

    def _check_dialogs(self) -> None:
        problem = self.dialogs.end()
        if problem is not None:
            raise StepFailed(problem)

    def _check_status(self) -> None:
        status, self._status = self._status, None
        if status is None or status < 400:
            return
        if status >= 500:
            raise TransientError(
                "target_error", f"対象システムがエラーを返しました（HTTP {status}）。", status=status
            )
        raise StepFailed(f"対象システムの画面を開けませんでした（HTTP {status}）。")

    def _check_expired(self) -> None:
        """The login page or the session-ended message, in the top page or the
        frame or window the step works in."""
        expired = self.target.session_expired
        if expired is None or self._logging_in:
            return
        # Each place is one round trip to the browser, and this runs several
        # times per record: the top page only when it is the scope or has moved.
        places = [self.scope]
        if self.scope is not self.page and self._top_moved:
            places.insert(0, self.page)
        self._top_moved, seen = False, self._navigations
        with contextlib.suppress(PlaywrightError):  # a window that closed itself meanwhile
            if any(p.locator(expired).count() for p in places):
                raise SessionExpired()
            self._looked_at = (self.scope, seen)

    def _arrived(self, then: Step, values: Mapping[str, Mapping[str, str]]) -> bool:
        """After a navigating step followed by an ``expect``: the new page has
        what the expect waits for and neither validation messages nor the
        session-ended page, asked in one query (a hand-written loop asks for the
        expected text alone). True: both checks passed and the expect is met
        (``_met``). False: nothing is known; the two run as usual."""
        expired = self.target.session_expired
        if then.action not in ("expect", "wait_for") or "url" in then.args or self._logging_in:
            return False
        if expired is not None and self.scope is not self.page and self._top_moved:
            return False  # the top page must be asked too: see _check_validation
        unwanted = self.scope.locator(self.target.validation_messages)
        if expired is not None:
            unwanted = unwanted.or_(self.scope.locator(expired))
        wanted = self._wanted(render_args(then.args, values)).first.filter(visible=True)
        seen = self._navigations
        try:
            if self.scope.locator(":root").filter(has=wanted, has_not=unwanted).count() == 0:
                return False
        except PlaywrightError:
            return False
        self._looked_at, self._met = (self.scope, seen), then
        return True

    def _wanted(self, args: Mapping[str, Any]) -> Any:
        """What a ``wait_for``/``expect`` waits for: its text, or its selector."""
        return (
            self.scope.get_by_text(args["text"]) if "text" in args else self.scope.locator(args["selector"])
        )

    def _looked_at_since_load(self) -> bool:
        """The scope's document was found not to be the session-ended page and
        nothing has navigated since (a response would have said so)."""
        return (
            self._looked_at is not None
            and self._looked_at[0] is self.scope
            and self._looked_at[1] == self._navigations
        )

    def _check_validation(self) -> None:
        found = self.scope.locator(self.target.validation_messages)
        # On every record's path (after each navigating click), so it must be cheap.
        # count() queries in Playwright's utility world, which the other steps use
        # anyway; all_inner_texts() evaluates in the page's main world, which sets up
        # Playwright's injected script a second time on every new document. Texts are
        # read only when there is something to read. The session-ended page is
        # asked for in the same query (or_): a record that goes through costs one
        # round trip here, and the two are told apart only when something matched.
        expired = self.target.session_expired
        if expired is not None and not self._logging_in:
            either, seen = found.or_(self.scope.locator(expired)), self._navigations
            with contextlib.suppress(PlaywrightError):  # see _check_expired
                if either.count() == 0 and (self.scope is self.page or not self._top_moved):
                    self._looked_at = (self.scope, seen)
                    return
            self._check_expired()
        if found.count() == 0:
            return
        messages = [t.strip() for t in found.all_inner_texts() if t.strip()]
        if messages:
            raise RecordRejected(" ／ ".join(messages))
