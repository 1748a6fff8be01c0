"""JavaScript dialogs (alert, confirm, prompt, beforeunload) during a step.

A page with a ``dialog`` listener must answer every dialog, or it freezes;
without one Playwright dismisses them silently (a ``confirm`` before 登録
then makes 登録 do nothing). So every page of a session has one listener,
and a step says which dialog it expects: the ``dialog`` option of a click,
or a ``dialog`` step just before the step that opens it. The expected dialog
is checked (type, text) and accepted or dismissed; any other dialog is
dismissed, its text kept for the row's message, and the page closed so the
step waiting on it fails at once instead of running into its timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TYPES_JA = {"alert": "警告", "confirm": "確認", "prompt": "入力", "beforeunload": "ページ移動の確認"}
NOT_SHOWN_JA = "想定した確認ダイアログが表示されませんでした。"


@dataclass(frozen=True)
class Expectation:
    """The dialog one step should open, and the answer to give it."""

    accept: bool = True
    text: str | None = None  # the dialog's message must contain it
    prompt_text: str | None = None
    type: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Expectation:
        return cls(
            accept=bool(args.get("accept", True)),
            text=args.get("text"),
            prompt_text=args.get("prompt_text"),
            type=args.get("type"),
        )


def describe(kind: str, message: str) -> str:
    return f"{TYPES_JA.get(kind, kind)}「{message.strip()}」"


class DialogGuard:
    """Answers the dialogs of one session's pages, one step at a time."""

    def __init__(self) -> None:
        self.armed: Expectation | None = None  # set by a ``dialog`` step, for the next step
        self.current: Expectation | None = None
        self.seen = False
        self.problem: str | None = None

    def reset(self) -> None:
        self.armed, self.current, self.seen, self.problem = None, None, False, None

    def begin(self, option: Mapping[str, Any] | None) -> None:
        """A step starts: the armed expectation or the step's own option applies."""
        self.current = self.armed or (Expectation.from_args(option) if option else None)
        self.armed, self.seen = None, False

    def end(self) -> str | None:
        """The step ended: the problem to report, if any."""
        problem = self.problem
        if problem is None and self.current is not None and not self.seen:
            problem = NOT_SHOWN_JA
        self.current = None
        return problem

    def handle(self, dialog: Any) -> bool:
        """Answer ``dialog``; True when it was not the expected one (the
        caller closes the page so the waiting step fails fast)."""
        kind, message = str(dialog.type), str(dialog.message)
        expected = self.current
        if expected is None or self.seen:
            self.problem = (
                self.problem or f"想定外のダイアログが表示されました（{describe(kind, message)}）。"
            )
        elif expected.type and expected.type != kind:
            self.problem = f"想定と違う種類のダイアログが表示されました（{describe(kind, message)}）。"
        elif expected.text and expected.text.strip() not in message:
            self.problem = f"ダイアログの文言が想定と違います（{describe(kind, message)}、想定「{expected.text.strip()}」）。"
        else:
            self.seen = True
            if expected.accept and expected.prompt_text is not None:
                dialog.accept(expected.prompt_text)
            elif expected.accept:
                dialog.accept()
            else:
                dialog.dismiss()
            return False
        dialog.dismiss()  # never confirm a question nobody expected
        return True
