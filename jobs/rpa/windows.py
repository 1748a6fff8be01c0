"""Frames and popup windows as places where steps run.

Older financial systems keep the entry form in a frame of a frameset and
choose codes (payee, budget account) in a ``window.open`` search window that
writes the choice back into the opener and closes itself. A ``frame`` step
runs its nested steps inside a named frame (or an iframe found by selector);
a ``popup`` step clicks, waits for the new window, runs its nested steps
there and returns to the opener once the window has closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from jobs.errors import TransientError

POLL_SECONDS = 0.05


class WindowFailed(Exception):
    """A frame or window step cannot work as written (not retried)."""


def find_frame(page: Any, scope: Any, args: dict[str, Any], timeout_ms: float) -> Any:
    """The named frame (any depth) or the iframe ``selector`` finds in ``scope``."""
    if "selector" in args:
        try:
            handle = scope.locator(args["selector"]).first.element_handle(timeout=timeout_ms)
        except PlaywrightTimeout:
            raise TransientError(
                "target_timeout", f"フレーム（{args['selector']}）が見つかりません。"
            ) from None
        frame = handle.content_frame() if handle else None
        if frame is None:
            raise WindowFailed(f"「{args['selector']}」はフレームではありません。")
        return frame
    # A frameset's frames attach while the top document loads: wait for the name.
    deadline = time.monotonic() + timeout_ms / 1000
    while (frame := page.frame(name=args["name"])) is None:
        if time.monotonic() > deadline:
            names = "、".join(f.name for f in page.frames if f.name) or "なし"
            raise TransientError(
                "target_timeout",
                f"フレーム「{args['name']}」が見つかりません（この画面のフレーム: {names}）。",
            )
        page.wait_for_timeout(POLL_SECONDS * 1000)
    return frame


def open_popup(page: Any, scope: Any, selector: str, timeout_ms: float, key: str | None = None) -> Any:
    """Click ``selector`` in ``scope`` (or, with ``key``, press that key in
    it: F4 on a keyboard-driven screen) and return the window it opens."""
    try:
        with page.expect_popup(timeout=timeout_ms) as info:
            if key:
                scope.press(selector, key)
            else:
                scope.click(selector)
        popup = info.value
        popup.wait_for_load_state("domcontentloaded", timeout=timeout_ms)
    except PlaywrightTimeout:
        raise TransientError(
            "target_timeout",
            f"別ウィンドウ（検索画面など）が{timeout_ms / 1000:g}秒以内に開きませんでした（{selector}）。",
        ) from None
    return popup


def run_in_popup(
    popup: Any, steps: tuple[Any, ...], run_step: Callable[[Any], None], *, close: bool, timeout_ms: float
) -> None:
    """Run ``steps`` in ``popup``; then wait for it to close (a search window
    closes itself when a result is chosen), or close it when ``close``."""
    try:
        for i, step in enumerate(steps):
            if popup.is_closed():
                raise WindowFailed(f"別ウィンドウが途中で閉じたため、{i + 1}番目の手順を実行できません。")
            try:
                run_step(step)
            except PlaywrightError:
                # The step's own click may close the window (a result chosen): then it is done.
                if not popup.is_closed() or i < len(steps) - 1:
                    raise
    except BaseException:
        if not popup.is_closed():
            popup.close()  # a failed row leaves no window behind for the next one
        raise
    if popup.is_closed():
        return
    if close:
        popup.close()
        return
    try:
        popup.wait_for_event("close", timeout=timeout_ms)
    except PlaywrightTimeout:
        popup.close()
        raise TransientError(
            "target_timeout",
            f"別ウィンドウが{timeout_ms / 1000:g}秒以内に閉じませんでした（選択が反映されていません）。",
        ) from None
