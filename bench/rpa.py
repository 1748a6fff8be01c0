"""Bulk-entry throughput against the stand-in app: records per minute of a
job (ledger, claims, checks) vs a bare hand-written Playwright loop doing the
same steps, with 1 and 2 concurrent contexts, and Chromium's memory.
Prints one JSON object. ``python bench/rpa.py [--records N]``."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digilabo.embedded import Child, start_standin  # noqa: E402
from jobs.db import make_engine, session_factory  # noqa: E402
from jobs.models import Base  # noqa: E402
from jobs.registry import InputFile, JobContext  # noqa: E402
from jobs.rpa import browser  # noqa: E402
from jobs.rpa.core import run  # noqa: E402
from jobs.rpa.ledger import SqlRecordLedger  # noqa: E402
from jobs.rpa.models import TABLES  # noqa: E402

SCRIPT = REPO / "jobs" / "rpa" / "samples" / "shishutsu_futan.yaml"
HEADERS = ["整理番号", "起票日", "款", "項", "目", "節", "金額", "支払先", "件名"]
USER, PASSWORD = "bench", "bench-password"


def start_app(tmp: Path) -> tuple[Child, str]:
    return start_standin(
        tmp, env={**os.environ, "STANDIN_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}, user=USER
    )


def rows(prefix: str, n: int) -> list[list[str]]:
    return [
        [f"{prefix}-{i:05d}", "2025-06-02", "02", "01", "01", "07", str(1000 + i), f"商事{i}", "購入"]
        for i in range(n)
    ]


def job(tmp: Path, url: str, ledger: SqlRecordLedger, prefix: str, n: int) -> None:
    records = tmp / f"{prefix}.csv"
    with records.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([HEADERS, *rows(prefix, n)])
    work = tmp / prefix
    work.mkdir()
    inputs = (
        InputFile("script.yaml", SCRIPT, "application/yaml", 0),
        InputFile(records.name, records, "text/csv", 0),
    )
    options = {"rpa_ledger": ledger, "rpa_target_urls": {"zaimu-standin": url}}
    outcome = run(JobContext(str(uuid.uuid4()), "bench", {}, inputs, work, lambda f, m="": None, options))
    if outcome.units != n:
        raise SystemExit(f"bench job entered {outcome.units} of {n}: {dict(outcome.summary)}")


def bare(url: str, prefix: str, n: int) -> None:
    """What a person would write by hand: log in, then the same fills and clicks."""
    with browser.launch({}) as chromium:
        page = chromium.new_context(base_url=url).new_page()
        page.goto("/login")
        page.fill("#user", USER)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("#login")
        for r in rows(prefix, n):
            page.goto("/entry")
            page.fill("#entry_date", r[1])
            for sel, val in zip(("#kan", "#kou", "#moku", "#setsu"), r[2:6], strict=True):
                page.select_option(sel, val)
            page.fill("#amount", r[6])
            page.fill("#payee", r[7])
            page.fill("#purpose", r[8])
            page.fill("#reference", r[0])
            with page.expect_navigation():
                page.click("#to-confirm")
            with page.expect_navigation():
                page.click("#commit")
            page.locator("#voucher-no").inner_text()


def chromium_rss_mb() -> float:
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if "chromium" in Path(f"/proc/{pid}/comm").read_text():
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(
                    next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
                )
        except (OSError, StopIteration):
            continue
    return round(total / 1024, 1)


def measure(work: Callable[[str], None], contexts: int, n: int) -> tuple[float, float]:
    """(records per minute, peak Chromium RSS in MB) for ``contexts`` parallel runs."""
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak[0] = max(peak[0], chromium_rss_mb())

    threads = [
        threading.Thread(target=work, args=(f"P{uuid.uuid4().hex[:6].upper()}",)) for _ in range(contexts)
    ]
    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    done.set()
    sampler.join()
    return round(n * contexts / elapsed * 60, 1), peak[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=60)
    n = parser.parse_args().records
    os.environ["DIGILABO_CREDENTIAL_ZAIMU_DEMO_USER"] = USER
    os.environ["DIGILABO_CREDENTIAL_ZAIMU_DEMO_PASSWORD"] = PASSWORD
    with tempfile.TemporaryDirectory(prefix="bench-rpa-") as folder:
        tmp = Path(folder)
        proc, url = start_app(tmp)
        engine = make_engine(f"sqlite:///{tmp / 'ledger.db'}")
        Base.metadata.create_all(engine, tables=list(TABLES))
        ledger = SqlRecordLedger(session_factory(engine))
        try:
            report: dict[str, object] = {"benchmark": "rpa_entry", "records_per_context": n}
            for contexts in (1, 2):
                job_rpm, job_mem = measure(lambda p: job(tmp, url, ledger, p, n), contexts, n)
                bare_rpm, bare_mem = measure(lambda p: bare(url, p, n), contexts, n)
                report[f"contexts_{contexts}"] = {
                    "job_records_per_minute": job_rpm,
                    "bare_records_per_minute": bare_rpm,
                    "ratio": round(job_rpm / bare_rpm, 3),
                    "target_ratio": 0.9,
                    "chromium_peak_rss_mb_job": job_mem,
                    "chromium_peak_rss_mb_bare": bare_mem,
                }
            print(json.dumps(report, ensure_ascii=False, indent=2))
        finally:
            proc.stop()
            engine.dispose()


if __name__ == "__main__":
    main()
