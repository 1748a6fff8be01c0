"""Starting Debian's Chromium under Playwright.

``playwright install`` downloads its own browser and is never used: the
worker image has the distribution's ``chromium`` package, and the pinned
Playwright version is tested against it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs.errors import JobInputError
from jobs.rpa.options import EntryOptions

CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
)
# The targets' time zone, from the browser's environment rather than the
# context's ``timezone_id``: an emulated zone is sent to every new page (each
# search window, every record) and costs the renderer about 4 % of a record's
# CPU on system C; the environment's applies to every page for nothing.
TIMEZONE = "Asia/Tokyo"


def chromium_path(options: EntryOptions | Mapping[str, Any]) -> str:
    configured = EntryOptions.of(options).chromium_path
    for candidate in (configured,) if configured else CANDIDATES:
        if candidate and Path(candidate).exists():
            return str(candidate)
    found = shutil.which("chromium")
    if found and not configured:
        return found
    raise JobInputError(
        "browser_missing", "Chromium が見つかりません。ワーカーに chromium パッケージを入れてください。"
    )


@contextmanager
def launch(options: EntryOptions | Mapping[str, Any]) -> Iterator[Any]:
    """One headless Chromium for one task; closed however the task ends."""
    from playwright.sync_api import sync_playwright

    options = EntryOptions.of(options)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path(options),
            headless=options.headless,
            args=list(FLAGS),
            env={**os.environ, "TZ": TIMEZONE},
        )
        try:
            yield browser
        finally:
            browser.close()
